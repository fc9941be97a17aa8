import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { prefetch } from '../../src/util/prefetch.ts';

describe('prefetch', () => {
  it('makes the next items while the consumer works on this one, in order', async () => {
    const log: string[] = [];
    async function* source(): AsyncGenerator<number> {
      for (let i = 0; i < 4; i++) {
        log.push(`make ${i}`);
        await new Promise((r) => setTimeout(r, 1));
        yield i;
      }
    }
    const got: number[] = [];
    for await (const i of prefetch(source(), 2)) {
      log.push(`use ${i}`);
      await new Promise((r) => setTimeout(r, 5));
      got.push(i);
    }
    assert.deepEqual(got, [0, 1, 2, 3]);
    // Item 1 is being made before item 0 is used: the work overlaps.
    assert.ok(log.indexOf('make 1') < log.indexOf('use 0'), log.join(', '));
  });

  it('passes a failure on when its item is reached, without an unhandled rejection before', async () => {
    async function* source(): AsyncGenerator<number> {
      yield 1;
      throw new Error('band 2 is corrupt');
    }
    const got: number[] = [];
    await assert.rejects(async () => {
      for await (const i of prefetch(source(), 3)) {
        await new Promise((r) => setTimeout(r, 5));
        got.push(i);
      }
    }, /band 2 is corrupt/);
    assert.deepEqual(got, [1]);
  });
});
