import assert from 'node:assert/strict';
import { test } from 'node:test';
import { near, throwsOneLine } from '../helpers/assert.ts';
import { choosePrimaryMetric, compareRuns, verdictLine } from '../../src/evaluate/verdict.ts';
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
    foldScoresA: [0.8, 0.82, 0.81, 0.79],
    foldScoresB: [0.81, 0.85, 0.83, 0.83],
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
  const foldScoresA = [0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8];
  const foldScoresB = [0.82, 0.83, 0.81, 0.82, 0.84, 0.83, 0.82, 0.81, 0.83, 0.83];
  const [correctA, correctB] = tiles({ both: 300, onlyA: 20, onlyB: 40, neither: 40 });
  const r = compareRuns({ nameA: 'resnet18', nameB: 'se_resnet18', foldScoresA, foldScoresB, correctA, correctB, seed: 1, resamples: 2000 });
  assert.equal(r.verdict.decision, 'b-better');
  assert.ok(r.verdict.primaryPValue! < 0.05);
  assert.match(r.verdict.summary, /^se_resnet18 is significantly better than resnet18 at alpha 0\.05 \(corrected t-test p < 0\.001/);
  assert.equal(r.folds.wilcoxon.note, null); // 10 folds: smallest p 2/1024

  // Swapping the networks swaps the verdict.
  const swapped = compareRuns({
    nameA: 'se_resnet18',
    nameB: 'resnet18',
    foldScoresA: foldScoresB,
    foldScoresB: foldScoresA,
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
    foldScoresA: [0.8, 0.85, 0.83],
    foldScoresB: [0.82, 0.87, 0.85],
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
    () => compareRuns({ nameA: 'a', nameB: 'b', foldScoresA: [0.8, 0.9], foldScoresB: [0.8, 0.9], correctA, correctB, seed: 1, alpha: 0 }),
    /^expected number between 0 and 1 for alpha but received 0$/,
  );
});

test('compareRuns per group: McNemar on the groups and the corrected t-test on group scores, against hand-computed values', () => {
  // The tiles as in the first test (no significant difference). Ten test patients, each of one class:
  // both ensembles right on 4, only B on 5, neither on 1. McNemar: b = 0, c = 5, p = 2 · (1/2)^5 = 0.0625.
  const [correctA, correctB] = tiles({ both: 40, onlyA: 1, onlyB: 6, neither: 3 });
  const [groupsA, groupsB] = tiles({ both: 4, onlyA: 0, onlyB: 5, neither: 1 });
  const r = compareRuns({
    nameA: 'resnet20', nameB: 'se_resnet20',
    foldScoresA: [0.8, 0.82, 0.81, 0.79], foldScoresB: [0.81, 0.85, 0.83, 0.83],
    correctA, correctB, seed: 7, resamples: 500,
    groupLevel: { grouping: '/^\\d+/ on file names', foldScoresA: [0.5, 0.6, 0.5, 0.6], foldScoresB: [0.7, 0.8, 0.8, 0.8], correctA: groupsA, correctB: groupsB },
  });
  const g = r.groupLevel!;
  assert.equal(r.groupLevelUnavailable, null);
  assert.equal(g.groups, 10);
  assert.deepEqual({ ...g.mcnemar, pValue: 0 }, { tiles: 10, bothCorrect: 4, onlyACorrect: 0, onlyBCorrect: 5, bothWrong: 1, pValue: 0 });
  near(g.mcnemar.pValue, 0.0625, 1e-12);
  // Group fold differences 0.2, 0.2, 0.3, 0.2: mean 0.225, sd 0.05; corrected t = 0.225 / (0.05 · sqrt(1/4 + 1/3)) on
  // 3 df, whose two-sided p is 1 − (2/π)(u/(1 + u²) + atan u) with u = t/√3 (Student's t with 3 df in closed form).
  const t = 0.225 / (0.05 * Math.sqrt(1 / 4 + 1 / 3));
  const u = t / Math.sqrt(3);
  near(g.folds.correctedT.statistic!, t, 1e-9);
  near(g.folds.correctedT.pValue!, 1 - (2 / Math.PI) * (u / (1 + u * u) + Math.atan(u)), 1e-9);
  assert.ok(g.folds.correctedT.pValue! < 0.05);
  // The tiles decide; the groups' different reading is said.
  assert.equal(r.verdict.decision, 'no-difference');
  const caveat = r.verdict.caveats.find((c) => c.startsWith('per group'))!;
  assert.match(caveat, /^per group \(10 test groups by \/\^\\d\+\/ on file names, each of one class, predicted by the mean of its tiles' probabilities\): corrected t-test on fold group accuracy p = 0\.00\d+, mean fold difference \+0\.225; McNemar on the ensembles' group predictions p = 0\.0625 \(0 groups only resnet20 got right, 5 only se_resnet20\); by the same rule: se_resnet20 better, unlike on tiles; the verdict above is on tiles$/);
  assert.deepEqual(JSON.parse(JSON.stringify(r)), r);

  const without = compareRuns({ nameA: 'a', nameB: 'b', foldScoresA: [0.8, 0.82], foldScoresB: [0.81, 0.85], correctA, correctB, seed: 7, resamples: 50, groupLevel: { unavailable: 'every test group holds one tile' } });
  assert.deepEqual([without.groupLevel, without.groupLevelUnavailable], [null, 'every test group holds one tile']);
  assert.ok(!without.verdict.caveats.some((c) => c.startsWith('per group')));
});

test('balanced accuracy as the primary metric: chosen beyond 2:1, and said in the verdict', () => {
  assert.deepEqual(choosePrimaryMetric([72, 28], ['0', '1']), { metric: 'balanced-accuracy', reason: "the data set's classes are imbalanced 2.57:1 (0: 72 tiles, 1: 28), more than 2:1" });
  assert.deepEqual(choosePrimaryMetric([40, 20, 0, 25], ['a', 'b', 'c', 'd']), { metric: 'accuracy', reason: "the data set's classes are balanced within 2:1, at 2:1 (a: 40 tiles, b: 20)" });
  assert.equal(choosePrimaryMetric([41, 20], ['a', 'b']).metric, 'balanced-accuracy');
  assert.equal(choosePrimaryMetric([5, 5], ['a', 'b']).reason, "the data set's classes are balanced within 2:1, at 1:1 (5 tiles of every class)");
  const [correctA, correctB] = tiles({ both: 40, onlyA: 1, onlyB: 6, neither: 3 });
  const labels = correctA.map((_, i) => (i % 4 === 0 ? 1 : 0));
  const r = compareRuns({
    nameA: 'resnet20', nameB: 'se_resnet20', foldScoresA: [0.6, 0.62, 0.61, 0.59], foldScoresB: [0.61, 0.65, 0.63, 0.63], correctA, correctB, labels, seed: 7, resamples: 200,
    metric: 'balanced-accuracy', metricReason: choosePrimaryMetric([38, 12], ['0', '1']).reason,
  });
  assert.equal(r.metric, 'balanced-accuracy');
  assert.equal(r.testSplit.bootstrap.metric, 'balanced-accuracy');
  assert.equal(r.verdict.primaryTest, 'corrected resampled t-test on fold balanced accuracy (Nadeau & Bengio 2003)');
  assert.match(r.verdict.summary, /^no significant difference between resnet20 and se_resnet20 in balanced accuracy at alpha 0\.05 \(primary metric balanced accuracy, since the data set's classes are imbalanced 3\.17:1 \(0: 38 tiles, 1: 12\), more than 2:1; corrected t-test p = 0\.085, .*95% bootstrap CI of balanced accuracy\(se_resnet20\) − balanced accuracy\(resnet20\) \[/);
  assert.equal(verdictLine(r), 'no significant difference in balanced accuracy at alpha 0.05');
  throwsOneLine(() => compareRuns({ nameA: 'a', nameB: 'b', foldScoresA: [0.6, 0.62], foldScoresB: [0.61, 0.65], correctA, correctB, seed: 7, metric: 'balanced-accuracy' }), /for balanced accuracy but received 0$/);
});
