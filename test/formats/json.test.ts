import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseJson, readJson } from '../../src/formats/json.ts';
import { oneLineAt } from '../helpers/assert.ts';
import { tempDir } from '../data/fixtures.ts';

describe('readJson', () => {
  it('parses a JSON file', (t) => {
    const path = join(tempDir(t), 'state.json');
    writeFileSync(path, '{"fold": 1, "last": null}\n');
    assert.deepEqual(readJson(path, 'the fold state'), { fold: 1, last: null });
  });

  it('a missing file: what it should be, or how to make it', (t) => {
    const path = join(tempDir(t), 'metrics.json');
    assert.equal(oneLineAt(() => readJson(path, 'the metrics'), path), `${path}: not found; expected the metrics`);
    assert.equal(oneLineAt(() => readJson(path, 'the metrics', 'evaluate the run first'), path), `${path}: not found; evaluate the run first`);
  });

  it('an unreadable file names its error code', (t) => {
    const path = join(tempDir(t), 'config.json');
    mkdirSync(path);
    assert.equal(oneLineAt(() => readJson(path, 'the run config'), path), `${path}: cannot read the run config (EISDIR)`);
  });

  it('invalid JSON names what the file should be and the parser\'s reason, on one line', (t) => {
    const path = join(tempDir(t), 'splits.json');
    writeFileSync(path, '{"test": [\n"a.png",\n');
    assert.match(oneLineAt(() => readJson(path, 'the splits'), path).slice(path.length), /^: the splits is not valid JSON \(.+\)$/);
    assert.match(oneLineAt(() => parseJson('{', `${path}:3`, 'an epoch record'), `${path}:3`).slice(path.length), /^:3: an epoch record is not valid JSON \(.+\)$/);
  });
});
