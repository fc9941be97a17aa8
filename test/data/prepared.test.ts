import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { splitDataset, tileDataset } from '../../src/data/index.ts';
import { readPreparedDataset, readSplits, splitFiles, tileGroups } from '../../src/data/prepared.ts';
import { oneLineAt } from '../helpers/assert.ts';
import { put, synthetic, tempDir } from './fixtures.ts';

/** A tiled and split data set of two classes, four 16x16 tiles each, in `<root>/tiles`. */
async function prepared(root: string): Promise<string> {
  for (const [c, colour] of [['a', [200, 40, 40]], ['b', [40, 200, 40]]] as const) {
    for (let i = 0; i < 4; i++) put(join(root, 'in', c, `s${i}.png`), await synthetic(16, 16, [colour[0], colour[1] + i, colour[2]]).png().toBuffer());
  }
  const data = join(root, 'tiles');
  await tileDataset({ input: join(root, 'in'), output: data, tile: 16 });
  splitDataset({ dir: data, folds: 2, testFraction: 0.25 });
  return data;
}

describe('prepared data sets', () => {
  it('labels every split tile by its class index in dataset.json', async (t) => {
    const root = tempDir(t);
    const data = await prepared(root);
    const dataset = readPreparedDataset(data);
    assert.deepEqual(dataset.classes, ['a', 'b']);
    assert.equal(dataset.tileSize, 16);
    const files = splitFiles(dataset);
    assert.equal(files.length, 8);
    for (const f of files) assert.equal(dataset.labels.get(f), f.startsWith('a') ? 0 : 1);
    assert.throws(() => readPreparedDataset(root), /dataset\.json: not found; prepare the data set first: senet-ort tile <images> .* --split$/);
  });

  it('reads how the tiles were prepared, and reconstructs it for a data set from before it was recorded', async (t) => {
    const data = await prepared(tempDir(t));
    // 16x16 images are one tile each: passed through with the tissue filter off.
    assert.deepEqual(readPreparedDataset(data).preparation, { mpp: null, tile: 16, tissue: { method: 'none' }, stain: { method: 'none' } });
    const path = join(data, 'dataset.json');
    const dataset = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    const { preparation: _, ...older } = dataset;
    writeFileSync(path, JSON.stringify({ ...older, options: { tile: 16, stride: 16, scale: 1, whiteThreshold: 210, maxWhite: 0.4, filter: true } }));
    assert.deepEqual(readPreparedDataset(data).preparation, { mpp: null, tile: 16, tissue: { method: 'white', whiteThreshold: 210, maxWhite: 0.4 }, stain: { method: 'none' } });
  });

  it('a broken splits.json is one line naming the file and what is wrong', async (t) => {
    const data = await prepared(tempDir(t));
    const path = join(data, 'splits.json');
    const good = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    const broken = (splits: unknown): string => {
      writeFileSync(path, typeof splits === 'string' ? splits : JSON.stringify(splits));
      return oneLineAt(() => readPreparedDataset(data), path);
    };
    assert.match(broken('{"test": ['), /splits\.json: a senet-ort splits file is not valid JSON \(.+\)$/);
    assert.match(broken([]), /splits\.json: expected "format": "senet-ort splits"/);
    assert.match(broken({ ...good, test: 'all' }), /splits\.json: expected "test", a list of tile files \(a senet-ort splits file, written by `senet-ort split`\)$/);
    assert.match(broken({ ...good, folds: [] }), /splits\.json: expected "folds", a list of at least one fold/);
    assert.match(broken({ ...good, folds: [{ train: [] }] }), /splits\.json: expected fold 1 to have "train" and "val" lists of tile files/);
    assert.match(broken({ ...good, classes: ['b', 'a'] }), /splits\.json: its classes \(b, a\) differ from dataset\.json's \(a, b\); split the data set again$/);
    assert.match(broken({ ...good, test: ['nowhere.png'] }), /splits\.json: tile nowhere\.png is not in manifest\.csv with a known class/);
    assert.match(broken({ ...good, tileGroups: ['a'] }), /splits\.json: expected "tileGroups", an object of tile file to group name/);
    const [first] = Object.keys(good['tileGroups'] as object);
    const { [first!]: _dropped, ...rest } = good['tileGroups'] as Record<string, string>;
    assert.match(broken({ ...good, tileGroups: rest }), new RegExp(`splits\\.json: tile ${first!.replace(/\./g, '\\.')} has no group in "tileGroups"; split the data set again$`));
    const moved = join(data, 'gone.json');
    assert.match(oneLineAt(() => readSplits(moved, 'split the data set first'), moved), /gone\.json: not found; split the data set first$/);
  });
});

describe('tileGroups', () => {
  it("reads each tile's group from splits.json, and resolves splits written before it as split did then", async (t) => {
    const data = await prepared(tempDir(t));
    const recorded = tileGroups(readPreparedDataset(data));
    assert.equal(recorded.source, 'splits.json');
    assert.deepEqual([...recorded.groups].sort(), splitFiles(readPreparedDataset(data)).map((f) => [f, f.replace(/^(\w)__(s\d)__.*$/, '$1/$2.png')]).sort());
    // An older splits.json: no tileGroups, and a regex groupBy without "on", which matched the source path.
    const path = join(data, 'splits.json');
    const old = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    delete old['tileGroups'];
    writeFileSync(path, JSON.stringify({ ...old, groupBy: { kind: 'regex', pattern: '^(\\w)/' } }));
    const resolved = tileGroups(readPreparedDataset(data));
    assert.equal(resolved.source, 'resolved again');
    for (const [file, group] of resolved.groups) assert.equal(group, file[0]);
    writeFileSync(path, JSON.stringify({ ...old, groupBy: { kind: 'file', file: join(data, 'moved.csv') } }));
    assert.throws(() => tileGroups(readPreparedDataset(data)), { name: 'UserError', message: `expected existing file for --groups but received ${JSON.stringify(join(data, 'moved.csv'))}` });
  });
});
