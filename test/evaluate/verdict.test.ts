import assert from 'node:assert/strict';
import { test } from 'node:test';
import { near, throwsOneLine } from '../helpers/assert.ts';
import { compareRuns } from '../../src/evaluate/verdict.ts';
import { tiles } from './tiles.ts';

test('compareRuns: no significant difference, with the reasons spelled out', () => {
  // Fold data of the 4-fold t-test case: corrected p = 0.085 >= 0.05 although the plain t-test gives 0.030.
  // Test split: b = 1, c = 6 -> McNemar p = 0.125. Tile differences: 6 × (+1), 1 × (−1), 43 × 0 of 50,
  // estimate 5/50 = 0.1. Bootstrap (bounds pinned for seed 7, justified roughly): a resample's difference is
  // ≤ 0 when its only-B draws (about Poisson(6)) do not outnumber its only-A draws (about Poisson(1)),
  // which happens about 3% of the time, so the 2.5% quantile is 0; per-tile variance 7/50 − 0.1² = 0.13,
  // se = sqrt(0.13 / 50) = 0.051, and the upper bound 0.1 + 1.96 · 0.051 = 0.2. The CI contains 0.
  const [correctA, correctB] = tiles({ both: 40, onlyA: 1, onlyB: 6, neither: 3 });
  const r = compareRuns({
    nameA: 'resnet18',
    nameB: 'se_resnet18',
    foldAccuracyA: [0.8, 0.82, 0.81, 0.79],
    foldAccuracyB: [0.81, 0.85, 0.83, 0.83],
    correctA,
    correctB,
    seed: 7,
    resamples: 2000,
  });
  assert.deepEqual(r.networks, { a: 'resnet18', b: 'se_resnet18' });
  assert.equal(r.verdict.decision, 'no-difference');
  near(r.verdict.primaryPValue, 0.085016373401, 1e-9);
  assert.match(
    r.verdict.summary,
    /^no significant difference between resnet18 and se_resnet18 at alpha 0\.05 \(corrected t-test p = 0\.085, mean fold difference \+0\.025; paired t-test p = 0\.0305, Wilcoxon p = 0\.125, McNemar p = 0\.125; 95% bootstrap CI of accuracy\(se_resnet18\) − accuracy\(resnet18\) \[0\.000, \+0\.200\] contains 0\)$/,
  );
  assert.ok(r.verdict.caveats.some((c) => /plain paired t-test \(p = 0\.0305\) is optimistic/.test(c)));
  assert.ok(r.verdict.caveats.some((c) => /can never reach p < 0\.05/.test(c)));
  assert.equal(r.testSplit.bootstrap.confidence, 0.95); // 1 − alpha
  assert.deepEqual(JSON.parse(JSON.stringify(r)), r);
});

test('compareRuns: a clear, consistent gain is significant in the right direction', () => {
  // 10 folds, B ahead by 0.01 to 0.04 in every fold: mean 0.024, sd 0.0097 ->
  // plain t = 0.024 / (0.0097 / √10) ≈ 7.8; corrected (ratio 1/9): t ≈ 7.8 · sqrt(0.1 / (0.1 + 1/9)) ≈ 5.4, df 9,
  // far beyond t.975(9) = 2.262, so p < 0.05 by any reading.
  const foldAccuracyA = [0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8];
  const foldAccuracyB = [0.82, 0.83, 0.81, 0.82, 0.84, 0.83, 0.82, 0.81, 0.83, 0.83];
  const [correctA, correctB] = tiles({ both: 300, onlyA: 20, onlyB: 40, neither: 40 });
  const r = compareRuns({ nameA: 'resnet18', nameB: 'se_resnet18', foldAccuracyA, foldAccuracyB, correctA, correctB, seed: 1, resamples: 2000 });
  assert.equal(r.verdict.decision, 'b-better');
  assert.ok(r.verdict.primaryPValue! < 0.05);
  assert.match(r.verdict.summary, /^se_resnet18 is significantly better than resnet18 at alpha 0\.05 \(corrected t-test p < 0\.001/);
  assert.equal(r.folds.wilcoxon.note, null); // 10 folds: smallest p 2/1024

  // Swapping the networks swaps the verdict.
  const swapped = compareRuns({
    nameA: 'se_resnet18',
    nameB: 'resnet18',
    foldAccuracyA: foldAccuracyB,
    foldAccuracyB: foldAccuracyA,
    correctA: correctB,
    correctB: correctA,
    seed: 1,
    resamples: 2000,
  });
  assert.equal(swapped.verdict.decision, 'a-better');
  assert.match(swapped.verdict.summary, /^se_resnet18 is significantly better than resnet18/);
});

test('compareRuns: constant fold differences leave the verdict undetermined', () => {
  const [correctA, correctB] = tiles({ both: 10, onlyA: 0, onlyB: 0, neither: 2 });
  const r = compareRuns({
    nameA: 'a',
    nameB: 'b',
    foldAccuracyA: [0.8, 0.85, 0.83],
    foldAccuracyB: [0.82, 0.87, 0.85],
    correctA,
    correctB,
    seed: 1,
    resamples: 100,
    alpha: 0.1,
  });
  assert.equal(r.verdict.decision, 'undetermined');
  assert.equal(r.verdict.primaryPValue, null);
  assert.match(r.verdict.summary, /^undetermined at alpha 0\.1: the corrected t-test is undefined because every fold differs by exactly \+0\.020/);
  assert.equal(r.testSplit.bootstrap.confidence, 0.9);
  throwsOneLine(
    () => compareRuns({ nameA: 'a', nameB: 'b', foldAccuracyA: [0.8, 0.9], foldAccuracyB: [0.8, 0.9], correctA, correctB, seed: 1, alpha: 0 }),
    /^expected number between 0 and 1 for alpha but received 0$/,
  );
});
