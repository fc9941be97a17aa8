import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { tileDataset } from '../../src/data/dataset.ts';
import { LINKED_FROM, prepareSource, sourceKind } from '../../src/data/prepare.ts';
import { readPreparedDataset } from '../../src/data/prepared.ts';
import { splitDataset } from '../../src/data/split.ts';
import { patientPatches, put, SAMPLE, synthetic, tempDir } from './fixtures.ts';

const byPatient = { groupRegex: '^\\d+' };
const pngs = (dir: string): string[] => readdirSync(dir).filter((f) => f.endsWith('.png')).sort();

describe('prepareSource: images, a tiled data set or a split one, made a split data set', () => {
  it('images: tiled at their own size and split, grouped as asked', async (t) => {
    const root = tempDir(t);
    const source = await patientPatches(root);
    const p = await prepareSource({ source, output: join(root, 'data'), split: { ...byPatient, folds: 2 } });
    assert.deepEqual([p.kind, p.data, p.tiled?.ready?.tile, p.tiled?.tiles, p.linked], ['images', join(root, 'data'), 48, 60, null]);
    const dataset = readPreparedDataset(p.data);
    assert.equal(dataset.splits.folds.length, 2);
    assert.equal(new Set(Object.values(dataset.splits.tileGroups!)).size, 6);
    // The tiling options reach tile: --tile 40 cuts each 48 px patch once.
    const cut = await prepareSource({ source, output: join(root, 'cut'), tiling: { tile: 40 }, split: byPatient });
    assert.deepEqual([cut.tiled?.ready, cut.tiled?.mode, readPreparedDataset(cut.data).tileSize], [null, 'grid', 40]);
  });

  it('a tiled data set: its tiles linked into the output and split there, the data set left as it was', async (t) => {
    const root = tempDir(t);
    const tiles = join(root, 'tiles');
    await tileDataset({ input: await patientPatches(root), output: tiles });
    const before = readdirSync(tiles).sort();
    const output = join(root, 'study', 'data');
    const p = await prepareSource({ source: tiles, output, split: { ...byPatient, testFraction: 0.3 } });
    assert.deepEqual([p.kind, p.data, p.tiled, p.linked], ['tiled', output, null, 60]);
    assert.deepEqual(readdirSync(tiles).sort(), before, 'nothing written into the data set given');
    assert.deepEqual(pngs(output), pngs(tiles));
    const file = pngs(tiles)[0]!;
    assert.equal(statSync(join(output, file)).ino, statSync(join(tiles, file)).ino, 'a hard link on one file system');
    for (const f of ['dataset.json', 'manifest.csv', 'rejected.csv']) assert.equal(readFileSync(join(output, f), 'utf8'), readFileSync(join(tiles, f), 'utf8'), f);
    assert.equal(readFileSync(join(output, LINKED_FROM), 'utf8'), `${tiles}\n`);
    const dataset = readPreparedDataset(output);
    assert.equal(dataset.splits.testFraction, 0.3);
    assert.equal(dataset.splits.test.length + dataset.splits.folds[0]!.train.length + dataset.splits.folds[0]!.val.length, 60);

    // Again after the data set was tiled anew: a rewritten tile is linked anew, a dropped one removed, the split the same.
    const splits = readFileSync(join(output, 'splits.json'), 'utf8');
    const patch = join(root, 'patches', '0', '10253_idx5_x1001_y51_class0.png');
    put(patch, await synthetic(48, 48, [200, 80, 160]).png().toBuffer());
    utimesSync(patch, new Date(), new Date(Date.now() + 5000));
    rmSync(join(root, 'patches', '1', '9036_idx5_x1201_y301_class1.png'));
    await tileDataset({ input: join(root, 'patches'), output: tiles });
    const again = await prepareSource({ source: tiles, output, split: { ...byPatient, testFraction: 0.3 } });
    assert.equal(again.linked, 59);
    assert.deepEqual(pngs(output), pngs(tiles));
    const rewritten = '0__10253_idx5_x1001_y51_class0__x0_y0.png';
    assert.ok(readFileSync(join(output, rewritten)).equals(readFileSync(join(tiles, rewritten))), 'the rewritten tile');
    assert.notEqual(readFileSync(join(output, 'splits.json'), 'utf8'), splits);
    assert.equal(readPreparedDataset(output).splits.folds[0]!.train.length + readPreparedDataset(output).splits.folds[0]!.val.length + readPreparedDataset(output).splits.test.length, 59);

    // An output that holds something else is left alone.
    put(join(root, 'busy', 'notes.txt'), 'mine');
    await assert.rejects(prepareSource({ source: tiles, output: join(root, 'busy') }), { message: `${join(root, 'busy')}: not empty and not made from ${tiles}; move it away or choose another folder` });
    assert.equal(sourceKind(join(root, 'busy')), 'images');
  });

  it('a split data set: used where it is', async (t) => {
    const root = tempDir(t);
    const tiles = join(root, 'tiles');
    await tileDataset({ input: SAMPLE, output: tiles });
    splitDataset({ dir: tiles });
    const p = await prepareSource({ source: tiles, output: join(root, 'data'), split: {}, tiling: {} });
    assert.deepEqual([p.kind, p.data, p.tiled, p.linked, p.split], ['split', tiles, null, null, null]);
    assert.equal(existsSync(join(root, 'data')), false);
  });

  it('refuses options that would be ignored, and what is not a data set, in one line before writing', async (t) => {
    const root = tempDir(t);
    const tiles = join(root, 'tiles');
    await tileDataset({ input: SAMPLE, output: tiles });
    const output = join(root, 'data');
    await assert.rejects(prepareSource({ source: tiles, output, tiling: { tile: 48 } }), {
      name: 'UserError', message: `${tiles}: already tiled (dataset.json); --tile applies to images, so leave it out or tile the images again with senet-ort tile`,
    });
    splitDataset({ dir: tiles });
    await assert.rejects(prepareSource({ source: tiles, output, tiling: { mpp: 0.5, stainNormalize: 'macenko', filter: false } }), {
      message: `${tiles}: already tiled (dataset.json); --mpp, --stain-normalize and --no-filter apply to images, so leave them out or tile the images again with senet-ort tile`,
    });
    await assert.rejects(prepareSource({ source: tiles, output, split: { groupRegex: '^\\d+', groupOn: 'path', seed: 2 } }), {
      message: `${tiles}: already split (splits.json); --split-seed, --group-regex and --group-on apply when splitting, so leave them out or split again with senet-ort split`,
    });
    await assert.rejects(prepareSource({ source: join(root, 'missing'), output }), { message: `${join(root, 'missing')}: not found; give a folder of class folders or a prepared data set` });
    put(join(root, 'other', 'dataset.json'), '{"name": "someone else\'s"}');
    await assert.rejects(prepareSource({ source: join(root, 'other'), output }), { message: `${join(root, 'other', 'dataset.json')}: not a data set description written by senet-ort tile; a folder of images holds class folders only` });
    assert.equal(existsSync(output), false);
  });
});
