import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { PreparedDataset } from '../../src/data/prepared.ts';
import { readPreparedDataset } from '../../src/data/prepared.ts';
import type { Splits } from '../../src/data/grouped-split.ts';
import { splitDataset, tileDataset } from '../../src/data/index.ts';
import { nonTestCounts, resolveClassWeights } from '../../src/train/class-weights.ts';
import { resolveTrainOptions } from '../../src/train/options.ts';
import { createProgress } from '../../src/train/progress.ts';
import { train } from '../../src/train/trainer.ts';
import { readRunConfig } from '../../src/formats/rundir.ts';
import { near } from '../helpers/assert.ts';
import { put, synthetic, tempDir } from '../data/fixtures.ts';

/** Two folds over 8 development tiles (6 of a, 2 of b) and a test split of 3 a tiles and 1 b tile. */
function dataset(): PreparedDataset {
  const labels = new Map<string, number>();
  const tile = (c: 'a' | 'b', i: number): string => {
    labels.set(`${c}${i}.png`, c === 'a' ? 0 : 1);
    return `${c}${i}.png`;
  };
  const dev = [0, 1, 2, 3, 4, 5].map((i) => tile('a', i)).concat([tile('b', 0), tile('b', 1)]);
  const test = [tile('a', 6), tile('a', 7), tile('a', 8), tile('b', 2)];
  const folds = [
    { train: dev.filter((_, i) => i % 2 === 0), val: dev.filter((_, i) => i % 2 === 1) },
    { train: dev.filter((_, i) => i % 2 === 1), val: dev.filter((_, i) => i % 2 === 0) },
  ];
  return {
    dir: '/data', classes: ['a', 'b'], tileSize: 16, labels, splitsFile: '/data/splits.json', splits: { test, folds } as Partial<Splits> as Splits,
    preparation: { mpp: null, tile: 16, tissue: { method: 'none' }, stain: { method: 'none' } },
  };
}

describe('class weights', () => {
  it("balanced: scikit-learn's n / (classes x count) over the non-test tiles, each counted once", () => {
    const d = dataset();
    assert.deepEqual(nonTestCounts(d), [6, 2]);
    // 8 tiles, 2 classes: a 8 / (2 · 6) = 2/3, b 8 / (2 · 2) = 2. The test tiles (3 a, 1 b) do not count.
    const { classWeights, classWeighting } = resolveClassWeights('balanced', d);
    assert.equal(classWeighting, 'balanced');
    near(classWeights![0]!, 2 / 3, 1e-15);
    near(classWeights![1]!, 2, 1e-15);
    assert.deepEqual(resolveClassWeights([1, 3], d), { classWeights: [1, 3], classWeighting: 'given' });
    assert.deepEqual(resolveClassWeights(undefined, d), { classWeights: null, classWeighting: null });
    const options = resolveTrainOptions({ data: '/data', arch: 'resnet20', classWeights: 'balanced' }, d);
    assert.deepEqual([options.classWeights, options.classWeighting], [classWeights, 'balanced']);
  });

  it('refuses balanced weights for a class with no tile outside the test split', () => {
    const d = dataset();
    const noB: PreparedDataset = { ...d, splits: { ...d.splits, folds: d.splits.folds.map((f) => ({ train: f.train.filter((x) => x.startsWith('a')), val: f.val.filter((x) => x.startsWith('a')) })) } };
    assert.throws(() => resolveClassWeights('balanced', noB), { name: 'UserError', message: '--class-weights balanced: class b has no tile outside the test split, so it has no weight; split the data set again' });
  });

  it('a run records them in config.json and in its training graph once, and resumes with or without the flag', async (t) => {
    const root = tempDir(t);
    for (const [c, n, colour] of [['a', 9, [200, 60, 60]], ['b', 3, [60, 60, 200]]] as const) {
      for (let i = 0; i < n; i++) put(join(root, 'in', c, `${c}${i}.png`), await synthetic(16, 16, [colour[0], colour[1] + i * 3, colour[2]]).png().toBuffer());
    }
    const data = join(root, 'tiles');
    await tileDataset({ input: join(root, 'in'), output: data, tile: 16 });
    const { splits } = splitDataset({ dir: data, folds: 2, testFraction: 0.25 });
    // Independently of the code under test: fold 1's training and validation tiles are every non-test tile.
    const dev = ['a', 'b'].map((c) => splits.counts.folds[0]!.train[c]! + splits.counts.folds[0]!.val[c]!);
    const want = dev.map((n) => (dev[0]! + dev[1]!) / (2 * n));
    const out = join(root, 'run');
    const quiet = { progress: createProgress(null, () => undefined) };
    const run = { data, out, arch: 'resnet20', input: [3, 16, 16] as const, epochs: 1, itersPerEpoch: 1, batchSize: 4, threads: 1, workers: 1, classWeights: 'balanced' as const };
    await train({ ...run, folds: [1] }, quiet);
    const options = readRunConfig(out).options;
    assert.equal(options.classWeighting, 'balanced');
    options.classWeights!.forEach((w, c) => near(w, want[c]!, 1e-12));
    const artifact = JSON.parse(readFileSync(join(out, 'artifact.json'), 'utf8')) as { loss: { classWeights: number[] } };
    assert.deepEqual(artifact.loss.classWeights, options.classWeights);
    assert.deepEqual(resolveTrainOptions({ ...run, classWeights: 'balanced' }, readPreparedDataset(data)).classWeights, options.classWeights);
    // Fold 2 with the flag, then a resume without it: the same weights, so the run goes on.
    await train({ ...run, folds: [2] }, quiet);
    await train({ out, folds: [2], resume: true }, quiet);
    await assert.rejects(train({ ...run, classWeights: [1, 1], folds: [2], resume: true }, quiet), /holds a run with --class-weights [\d.]+,[\d.]+, not 1,1; use another --out/);
  });
});
