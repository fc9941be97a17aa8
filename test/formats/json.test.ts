import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { UserError } from '../../src/errors.ts';
import { parseJson, readJson } from '../../src/formats/json.ts';
import { tempDir } from '../data/fixtures.ts';

/** The UserError `f` throws, checked to be one line that starts with `path: `. */
function oneLine(f: () => unknown, path: string): string {
  try {
    f();
  } catch (err) {
    assert.ok(err instanceof UserError, String(err));
    assert.ok(!err.message.includes('\n'), err.message);
    assert.ok(err.message.startsWith(`${path}: `), err.message);
    return err.message.slice(path.length + 2);
  }
  assert.fail('expected a UserError');
}

describe('readJson', () => {
  it('parses a JSON file', (t) => {
    const path = join(tempDir(t), 'state.json');
    writeFileSync(path, '{"fold": 1, "last": null}\n');
    assert.deepEqual(readJson(path, 'the fold state'), { fold: 1, last: null });
  });

  it('a missing file: what it should be, or how to make it', (t) => {
    const path = join(tempDir(t), 'metrics.json');
    assert.equal(oneLine(() => readJson(path, 'the metrics'), path), 'not found; expected the metrics');
    assert.equal(oneLine(() => readJson(path, 'the metrics', 'evaluate the run first'), path), 'not found; evaluate the run first');
  });

  it('an unreadable file names its error code', (t) => {
    const path = join(tempDir(t), 'config.json');
    mkdirSync(path);
    assert.equal(oneLine(() => readJson(path, 'the run config'), path), 'cannot read the run config (EISDIR)');
  });

  it('invalid JSON names what the file should be and the parser\'s reason, on one line', (t) => {
    const path = join(tempDir(t), 'splits.json');
    writeFileSync(path, '{"test": [\n"a.png",\n');
    assert.match(oneLine(() => readJson(path, 'the splits'), path), /^the splits is not valid JSON \(.+\)$/);
    assert.match(oneLine(() => parseJson('{', `${path}:3`, 'an epoch record'), `${path}:3`), /^an epoch record is not valid JSON \(.+\)$/);
  });
});
