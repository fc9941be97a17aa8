import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { argmax } from '../../src/util/numeric.ts';

describe('argmax', () => {
  it('gives the index of the largest value, the lowest on a tie', () => {
    assert.equal(argmax([0.1, 0.7, 0.2]), 1);
    assert.equal(argmax([0.4, 0.1, 0.4]), 0);
    assert.equal(argmax(Float32Array.of(-3, -1, -2)), 1);
  });

  it('looks at `count` values from `from` and counts from there (one row of a flat batch)', () => {
    const rows = Float32Array.of(0.9, 0.1, 0, /* row 1 */ 0.2, 0.3, 0.5, /* row 2 */ 0.6, 0.6, 0.1);
    assert.deepEqual([0, 1, 2].map((r) => argmax(rows, r * 3, 3)), [0, 2, 0]);
    assert.equal(argmax(rows, 3), 3, 'without count: to the end (0.9 is before from)');
  });
});
