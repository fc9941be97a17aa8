import assert from 'node:assert/strict';
import { test } from 'node:test';
import wilcoxon from '@stdlib/stats-wilcoxon';
import { near, throwsOneLine } from '../helpers/assert.ts';
import {
  bootstrapScoreDifference,
  mcnemarExact,
  pairedComparison,
} from '../../src/evaluate/stats.ts';
import { tiles } from './tiles.ts';

test('paired and corrected t-test on 4 folds, checked against the closed-form t(3) distribution', () => {
  // d = B − A = [0.01, 0.03, 0.02, 0.04]; mean 0.025;
  // squared deviations 0.015² + 0.005² + 0.005² + 0.015² = 5e-4; s² = 5e-4 / 3; se = s / 2
  // t = 0.025 / (sqrt(5e-4 / 3) / 2) = sqrt(15) = 3.8730, df 3.
  // For 3 df the t distribution has a closed form: with θ = atan(|t| / √3),
  //   two-sided p = 1 − (2/π)(θ + sin θ cos θ); θ = atan(√5) = 1.150262, sin θ cos θ = √5/6 = 0.372678
  //   p = 1 − (2/π)(1.522940) = 0.030466   (t table: t.975 = 3.182 < 3.873 < t.99 = 4.541, so 0.02 < p < 0.05)
  const r = pairedComparison([0.8, 0.82, 0.81, 0.79], [0.81, 0.85, 0.83, 0.83]);
  assert.equal(r.folds, 4);
  assert.deepEqual(r.differences, [0.01, 0.03, 0.02, 0.04]);
  near(r.meanDifference, 0.025);
  near(r.stdDifference, Math.sqrt(5e-4 / 3));
  near(r.pairedT.statistic, Math.sqrt(15), 1e-9);
  assert.equal(r.pairedT.df, 3);
  near(r.pairedT.pValue, 0.030466291662, 1e-9);
  assert.equal(r.pairedT.note, null);

  // Corrected (Nadeau & Bengio): variance factor 1/4 + 1/3 (k = 4, ratio 1/(k − 1)) instead of 1/4:
  //   t = sqrt(15) · sqrt((1/4) / (7/12)) = sqrt(45/7) = 2.535463
  //   θ = atan(sqrt(15/7)) ; p = 1 − (2/π)(θ + sin θ cos θ) = 0.085016 (t.95 = 2.353 < 2.535 < t.975 = 3.182)
  near(r.correctedT.testTrainRatio, 1 / 3);
  near(r.correctedT.statistic, Math.sqrt(45 / 7), 1e-9);
  near(r.correctedT.pValue, 0.085016373401, 1e-9);
});

test('4 folds all in favour of B: Wilcoxon p = 0.125, and it says 4 folds can never reach 0.05', () => {
  // 2^4 = 16 equally likely sign patterns; only all-plus and all-minus are as extreme as W+ = 1+2+3+4 = 10,
  // so p = 2/16 = 0.125, which is also the smallest p that 4 folds can give.
  const r = pairedComparison([0.8, 0.82, 0.81, 0.79], [0.81, 0.85, 0.83, 0.83]);
  assert.equal(r.wilcoxon.statistic, 10);
  assert.equal(r.wilcoxon.nonZero, 4);
  assert.equal(r.wilcoxon.pValue, 0.125);
  assert.equal(r.wilcoxon.minAchievablePValue, 0.125);
  assert.match(r.wilcoxon.note!, /with 4 non-zero fold differences .* cannot give p below 0\.125, so it can never reach p < 0\.05/);
});

test('Wilcoxon on 5 folds with one loss, enumerated by hand', () => {
  // d = [+1, −2, +3, +4, +5] (× 0.01): ranks 1..5, W+ = 1 + 3 + 4 + 5 = 13, centre 15/2 = 7.5.
  // As extreme: W+ ≥ 13 or W+ ≤ 2. Subsets of {1..5} with sum ≤ 2: {}, {1}, {2} -> 3; by symmetry 3 more.
  // p = 6/32 = 0.1875. Smallest possible p with 5 folds: 2/32 = 0.0625, still above 0.05.
  const r = pairedComparison([0.8, 0.8, 0.8, 0.8, 0.8], [0.81, 0.78, 0.83, 0.84, 0.85]);
  assert.deepEqual(r.differences, [0.01, -0.02, 0.03, 0.04, 0.05]);
  assert.equal(r.wilcoxon.statistic, 13);
  assert.equal(r.wilcoxon.pValue, 0.1875);
  assert.equal(r.wilcoxon.minAchievablePValue, 0.0625);
  assert.notEqual(r.wilcoxon.note, null);
});

test('Wilcoxon with tied differences uses midranks and stays exact', () => {
  // Raw differences 0.85−0.83, 0.87−0.85, 0.83−0.81 differ in the last bits; rounded they tie at 0.02.
  // |d| = [.02, .02, .02, .01] -> ranks: .01 -> 1, the three .02 share (2+3+4)/3 = 3. W+ = 9, centre 5.
  // As extreme (|W+ − 5| ≥ 4): W+ ≤ 1 -> {} or {rank 1}: 2 patterns; W+ ≥ 9: their complements, 2.
  // p = 4/16 = 0.25. (@stdlib/stats-wilcoxon would switch to a normal approximation here.)
  const r = pairedComparison([0.83, 0.85, 0.81, 0.8], [0.85, 0.87, 0.83, 0.79]);
  assert.deepEqual(r.differences, [0.02, 0.02, 0.02, -0.01]);
  assert.equal(r.wilcoxon.statistic, 9);
  assert.equal(r.wilcoxon.pValue, 0.25);
});

test('a zero difference is dropped from Wilcoxon but kept in the t-tests', () => {
  // d = [0, .01, .02, .03, .04]: Wilcoxon sees 4 non-zero, all positive -> p = 2/16 = 0.125.
  // t-test on all 5: mean .02, s² = (.02² + .01² + 0 + .01² + .02²) / 4 = 2.5e-4, se = sqrt(2.5e-4 / 5) = .0070711
  //   t = .02 / .0070711 = 2√2 = 2.828427, df 4. Closed form for 4 df:
  //   F(t) = 1/2 + (3/8) · t/sqrt(1 + t²/4) · (1 − (t²/(1 + t²/4)) / 12) = 1/2 + (3/8)(1.632993)(0.777778) = 0.976290
  //   p = 2 (1 − F) = 0.047421 (t table: t.975(4) = 2.776 < 2.828, so just under 0.05)
  // Corrected, ratio 1/4: t = 2√2 · sqrt((1/5) / (1/5 + 1/4)) = 2√2 · 2/3 = 1.885618; same formula -> p = 0.132419
  const r = pairedComparison([0.8, 0.8, 0.8, 0.8, 0.8], [0.8, 0.81, 0.82, 0.83, 0.84]);
  assert.equal(r.wilcoxon.nonZero, 4);
  assert.equal(r.wilcoxon.pValue, 0.125);
  near(r.pairedT.statistic, 2 * Math.SQRT2, 1e-9);
  near(r.pairedT.pValue, 0.04742065558, 1e-9);
  near(r.correctedT.statistic, (4 * Math.SQRT2) / 3, 1e-9);
  near(r.correctedT.pValue, 0.13241892222, 1e-9);
});

test('exact Wilcoxon agrees with @stdlib/stats-wilcoxon where stdlib is exact (no ties, no zeros)', () => {
  const accA = [0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8];
  const accB = [0.83, 0.79, 0.82, 0.85, 0.84, 0.794, 0.867];
  const r = pairedComparison(accA, accB);
  const reference = wilcoxon(r.differences);
  assert.equal(r.wilcoxon.statistic, reference.statistic);
  near(r.wilcoxon.pValue, reference.pValue, 1e-12);
  // W+ = ranks of .03 (4), .02 (3), .05 (6), .04 (5), .067 (7) = 25; W− = 1 + 2 = 3.
  // As extreme: W+ ≤ 3, i.e. subsets {} {1} {2} {3} {1,2} = 5 patterns, times 2 -> p = 10/128 = 0.078125
  assert.equal(r.wilcoxon.statistic, 25);
  assert.equal(r.wilcoxon.pValue, 0.078125);
  assert.equal(r.wilcoxon.minAchievablePValue, 2 / 128);
  assert.equal(r.wilcoxon.note, null); // 7 folds can reach 0.05
});

test('zero variance: all differences 0 give p = 1; a constant non-zero difference leaves t undefined', () => {
  const same = pairedComparison([0.8, 0.9, 0.85], [0.8, 0.9, 0.85]);
  assert.deepEqual(same.differences, [0, 0, 0]);
  assert.equal(same.pairedT.statistic, null);
  assert.equal(same.pairedT.pValue, 1);
  assert.equal(same.correctedT.pValue, 1);
  assert.match(same.pairedT.note!, /all fold differences are 0/);
  assert.equal(same.wilcoxon.pValue, 1);
  assert.equal(same.wilcoxon.nonZero, 0);

  const constant = pairedComparison([0.8, 0.85, 0.83], [0.82, 0.87, 0.85]); // +0.02 each, after rounding
  assert.equal(constant.pairedT.statistic, null);
  assert.equal(constant.pairedT.pValue, null);
  assert.equal(constant.correctedT.pValue, null);
  assert.match(constant.correctedT.note!, /every fold differs by exactly \+0\.020/);
  // Wilcoxon is still defined: 3 positive differences with tied ranks 2, 2, 2 -> W+ = 6, p = 2/8 = 0.25
  assert.equal(constant.wilcoxon.statistic, 6);
  assert.equal(constant.wilcoxon.pValue, 0.25);
});

test('pairedComparison rejects bad fold scores with one line', () => {
  throwsOneLine(() => pairedComparison([0.8], [0.9]), /^expected at least 2 folds for accA but received 1$/);
  throwsOneLine(
    () => pairedComparison([0.8, 0.9], [0.9]),
    /^expected 2 fold scores \(as many as accA\) for accB but received 1$/,
  );
  throwsOneLine(() => pairedComparison([0.8, 0.9], [0.9, Number.NaN]), /^expected finite number for accB\[1\] but received NaN$/);
  throwsOneLine(
    () => pairedComparison([0.8, 0.9], [0.9, 0.8], { testTrainRatio: 0 }),
    /^expected positive number for testTrainRatio but received 0$/,
  );
});

test('McNemar exact: b = 1, c = 6 gives p = 2 · (1 + 7) / 128 = 0.125', () => {
  // Discordant n = 7; P(X ≤ 1) for Binomial(7, 1/2) = (C(7,0) + C(7,1)) / 2^7 = 8/128; two-sided doubles it.
  const [a, b] = tiles({ both: 40, onlyA: 1, onlyB: 6, neither: 3 });
  const r = mcnemarExact(a, b);
  assert.deepEqual(
    { tiles: r.tiles, bothCorrect: r.bothCorrect, onlyACorrect: r.onlyACorrect, onlyBCorrect: r.onlyBCorrect, bothWrong: r.bothWrong },
    { tiles: 50, bothCorrect: 40, onlyACorrect: 1, onlyBCorrect: 6, bothWrong: 3 },
  );
  near(r.pValue, 0.125, 1e-12);
});

test('McNemar exact: other hand cases', () => {
  // b = 0, c = 5: 2 · (1/2)^5 = 0.0625
  near(mcnemarExact(...tiles({ both: 5, onlyA: 0, onlyB: 5, neither: 0 })).pValue, 0.0625, 1e-12);
  // b = 5, c = 1: 2 · (C(6,0) + C(6,1)) / 64 = 14/64 = 0.21875 (symmetric in b and c)
  near(mcnemarExact(...tiles({ both: 0, onlyA: 5, onlyB: 1, neither: 0 })).pValue, 14 / 64, 1e-12);
  // b = c = 3: the observation is the centre, p = 1 (never above 1)
  assert.equal(mcnemarExact(...tiles({ both: 2, onlyA: 3, onlyB: 3, neither: 2 })).pValue, 1);
  // no discordant tiles: nothing to test, p = 1
  assert.equal(mcnemarExact(...tiles({ both: 7, onlyA: 0, onlyB: 0, neither: 3 })).pValue, 1);
  throwsOneLine(() => mcnemarExact([true], [true, false]), /^expected 1 tiles \(as many as correctA\) for correctB but received 2$/);
  throwsOneLine(() => mcnemarExact([], []), /^expected at least one test tile for correctA but received 0$/);
});

test('bootstrap: degenerate splits give degenerate intervals', () => {
  // B right and A wrong everywhere: every resample has difference 1.
  const allB = bootstrapScoreDifference(...tiles({ both: 0, onlyA: 0, onlyB: 20, neither: 0 }), { seed: 1, resamples: 200 });
  assert.deepEqual([allB.estimate, allB.lower, allB.upper, allB.containsZero], [1, 1, 1, false]);
  // Identical correctness: every resample has difference 0.
  const same = bootstrapScoreDifference(...tiles({ both: 12, onlyA: 0, onlyB: 0, neither: 8 }), { seed: 1, resamples: 200 });
  assert.deepEqual([same.estimate, same.lower, same.upper, same.containsZero], [0, 0, 0, true]);
});

test('bootstrap on two tiles: resampled differences are 0, 1/2, 1 with probabilities 1/4, 1/2, 1/4', () => {
  // Tile differences [+1, 0]; a resample of 2 tiles has mean 0 (both draws the 0 tile, 1/4), 1/2 (1/2) or 1 (1/4).
  // The 2.5% and 97.5% quantiles of 10000 such resamples are therefore 0 and 1.
  const r = bootstrapScoreDifference([false, true], [true, true], { seed: 3 });
  assert.equal(r.resamples, 10_000);
  assert.equal(r.confidence, 0.95);
  assert.deepEqual([r.estimate, r.lower, r.upper], [0.5, 0, 1]);
});

test('bootstrap interval is close to the normal-theory interval on a larger split, and reproducible', () => {
  // 400 tiles: 40 only-B, 20 only-A -> estimate (40 − 20) / 400 = 0.05.
  // Per-tile difference variance: E[d²] − mean² = 60/400 − 0.05² = 0.1475; se = sqrt(0.1475 / 400) = 0.019203
  // Normal 95% interval: 0.05 ± 1.96 · 0.019203 = [0.01236, 0.08764]; the percentile bootstrap should land
  // within a few steps of 1/400 = 0.0025 of that.
  const [a, b] = tiles({ both: 300, onlyA: 20, onlyB: 40, neither: 40 });
  const r = bootstrapScoreDifference(a, b, { seed: 42, resamples: 4000 });
  near(r.estimate, 0.05, 1e-12);
  near(r.lower, 0.01236, 0.006);
  near(r.upper, 0.08764, 0.006);
  assert.equal(r.containsZero, false);
  assert.deepEqual(bootstrapScoreDifference(a, b, { seed: 42, resamples: 4000 }), r);
  const other = bootstrapScoreDifference(a, b, { seed: 43, resamples: 4000 });
  assert.notDeepEqual([other.lower, other.upper], [r.lower, r.upper]);
  // A 50% interval is narrower: about 0.05 ± 0.674 · 0.0192 = [0.037, 0.063].
  const half = bootstrapScoreDifference(a, b, { seed: 42, resamples: 4000, confidence: 0.5 });
  near(half.lower, 0.037, 0.005);
  near(half.upper, 0.063, 0.005);
});

test('bootstrap of balanced accuracy: the recall of each class drawn, averaged', () => {
  // Class 0 has 3 tiles, class 1 one. A is right on class 0 only, B misses one class-0 tile but gets class 1:
  // accuracy 3/4 each (difference 0); balanced accuracy A (1 + 0) / 2 = 0.5, B (2/3 + 1) / 2 = 5/6: +1/3.
  const labels = [0, 0, 0, 1];
  const a = [true, true, true, false];
  const b = [false, true, true, true];
  assert.equal(bootstrapScoreDifference(a, b, { seed: 1, resamples: 50 }).estimate, 0);
  const r = bootstrapScoreDifference(a, b, { seed: 1, resamples: 2000, metric: 'balanced-accuracy', labels });
  assert.equal(r.metric, 'balanced-accuracy');
  near(r.estimate, 1 / 3, 1e-12);
  // A resample without the class-1 tile scores class 0 alone, from −1 (only the tile B misses) to 0; one
  // with it scores (class-0 difference + 1) / 2, up to 1. So the interval spans 0 but stays in [−1, 1].
  assert.ok(r.lower < 0 && r.lower >= -1 && r.upper <= 1, `[${r.lower}, ${r.upper}]`);
  // Three tiles, labels [0, 0, 1], differences [+1, 0, 0]: accuracy +1/3, balanced accuracy (1/2 + 0) / 2 = +1/4.
  near(bootstrapScoreDifference([false, true, true], [true, true, true], { seed: 1, resamples: 10, metric: 'balanced-accuracy', labels: [0, 0, 1] }).estimate, 0.25, 1e-12);
  throwsOneLine(() => bootstrapScoreDifference(a, b, { seed: 1, metric: 'balanced-accuracy' }), /^expected 4 class labels, one per tile for balanced accuracy but received 0$/);
});

test('bootstrap rejects bad options with one line', () => {
  const [a, b] = tiles({ both: 1, onlyA: 1, onlyB: 1, neither: 1 });
  throwsOneLine(() => bootstrapScoreDifference(a, b, { seed: 1, resamples: 0 }), /^expected positive integer for resamples but received 0$/);
  throwsOneLine(() => bootstrapScoreDifference(a, b, { seed: 1, confidence: 1 }), /^expected number between 0 and 1 for confidence but received 1$/);
  throwsOneLine(() => bootstrapScoreDifference(a, b, { seed: -1 }), /for seed but received -1$/);
});
