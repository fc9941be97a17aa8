import binomialTest from '@stdlib/stats-binomial-test';
import tCdf from '@stdlib/stats-base-dists-t-cdf';
import ttest from '@stdlib/stats-ttest';
import { expected } from '../errors.ts';
import { createRng } from '../util/random.ts';
import { midranks } from './metrics.ts';
import { signed } from '../util/format.ts';

/**
 * Does network B beat network A? Both were trained on the same k folds and evaluated on the same
 * test split, so every comparison here is paired: fold against fold, tile against tile.
 * Differences are always B − A, so a positive number means B is better.
 */

/**
 * The score the comparison is about: accuracy, or balanced accuracy (the mean recall over the classes
 * present), which a majority class cannot flatter when classes are imbalanced.
 */
export type ScoreMetric = 'accuracy' | 'balanced-accuracy';
export const SCORE_METRICS: readonly ScoreMetric[] = ['accuracy', 'balanced-accuracy'];

/** A t-test on the per-fold differences; statistic and p are null where the test is undefined. */
export interface TTestResult {
  statistic: number | null;
  df: number;
  /** Two-sided. */
  pValue: number | null;
  /** Why the statistic or p-value is missing or special; null when the test ran normally. */
  note: string | null;
}

/** The Nadeau & Bengio corrected resampled t-test, with the ratio it was corrected for. */
export interface CorrectedTTestResult extends TTestResult {
  /** Test-set size over training-set size for one fold: 1 / (k − 1) for k-fold cross-validation. */
  testTrainRatio: number;
}

/** The exact Wilcoxon signed-rank test on the per-fold differences. */
export interface WilcoxonResult {
  /** W+: the sum of the ranks of |difference| over the folds where B scored higher. */
  statistic: number;
  /** Folds with a non-zero difference; zero differences are dropped (Wilcoxon's method). */
  nonZero: number;
  /** Two-sided, from the exact sign-flip distribution (midranks for ties). */
  pValue: number;
  /** The smallest two-sided p-value this many non-zero differences can ever give: 2 / 2^nonZero. */
  minAchievablePValue: number;
  note: string | null;
}

/** B against A over the cross-validation folds. */
export interface PairedComparison {
  folds: number;
  /** Score of B minus score of A, per fold (rounded to 12 decimals; see `foldDifferences`). */
  differences: number[];
  meanDifference: number;
  /** Sample standard deviation (n − 1) of the differences. */
  stdDifference: number;
  pairedT: TTestResult;
  correctedT: CorrectedTTestResult;
  wilcoxon: WilcoxonResult;
}

/** B against A tile by tile on the test split: McNemar's exact test. */
export interface McNemarResult {
  tiles: number;
  bothCorrect: number;
  /** McNemar's b: A right, B wrong. */
  onlyACorrect: number;
  /** McNemar's c: A wrong, B right. */
  onlyBCorrect: number;
  bothWrong: number;
  /** Two-sided exact binomial p of b against b + c at 1/2; 1 when there are no discordant tiles. */
  pValue: number;
}

/** Paired percentile-bootstrap interval of score(B) − score(A) on the test split. */
export interface BootstrapInterval {
  /** The score: accuracy, or balanced accuracy. */
  metric: ScoreMetric;
  /** score(B) − score(A) on the whole test split. */
  estimate: number;
  lower: number;
  upper: number;
  confidence: number;
  resamples: number;
  seed: number;
  containsZero: boolean;
}

export interface BootstrapOptions {
  seed: number;
  /** Default accuracy; balanced accuracy needs `labels`. */
  metric?: ScoreMetric;
  /** Each tile's true class, for balanced accuracy. */
  labels?: ArrayLike<number>;
  /** Default 10000. */
  resamples?: number;
  /** Default 0.95. */
  confidence?: number;
}

/**
 * Paired tests on per-fold scores (accuracy, or any other score in [0, 1]) of A and B.
 * `testTrainRatio` defaults to 1 / (k − 1), the ratio of held-out to training data in k-fold CV.
 */
export function pairedComparison(
  accA: readonly number[],
  accB: readonly number[],
  options: { testTrainRatio?: number; alpha?: number } = {},
): PairedComparison {
  const differences = foldDifferences(accA, accB);
  const n = differences.length;
  const testTrainRatio = options.testTrainRatio ?? 1 / (n - 1);
  if (!(testTrainRatio > 0 && Number.isFinite(testTrainRatio))) {
    throw expected('positive number', 'testTrainRatio', testTrainRatio);
  }
  const alpha = checkAlpha(options.alpha ?? 0.05);
  const meanDifference = mean(differences);
  const stdDifference = Math.sqrt(differences.reduce((s, d) => s + (d - meanDifference) ** 2, 0) / (n - 1));
  return {
    folds: n,
    differences,
    meanDifference,
    stdDifference,
    pairedT: tTest(differences, 0),
    correctedT: { ...tTest(differences, testTrainRatio), testTrainRatio },
    wilcoxon: wilcoxonExact(differences, alpha),
  };
}

/** McNemar's exact test on the tiles where exactly one of the two networks is right. */
export function mcnemarExact(correctA: readonly boolean[], correctB: readonly boolean[]): McNemarResult {
  checkTiles(correctA, correctB);
  const counts = { bothCorrect: 0, onlyACorrect: 0, onlyBCorrect: 0, bothWrong: 0 };
  correctA.forEach((a, i) => {
    const b = correctB[i];
    if (a && b) counts.bothCorrect += 1;
    else if (a) counts.onlyACorrect += 1;
    else if (b) counts.onlyBCorrect += 1;
    else counts.bothWrong += 1;
  });
  const discordant = counts.onlyACorrect + counts.onlyBCorrect;
  // Under H0 each discordant tile is A's or B's with probability 1/2. Summing the two tails can
  // overshoot 1 by a rounding error when b = c, hence the clamp.
  const pValue = discordant === 0 ? 1 : Math.min(1, binomialTest(counts.onlyACorrect, discordant, { p: 0.5 }).pValue);
  return { tiles: correctA.length, ...counts, pValue };
}

/**
 * Paired percentile bootstrap of score(B) − score(A): draw the test tiles with replacement (the
 * same draw for both networks, which keeps their correlation) and take the (1 ± confidence)/2
 * quantiles (linear interpolation, R's type 7) of the resampled differences. Same seed, same interval.
 * Balanced accuracy on a resample averages the recall of the classes drawn into it.
 */
export function bootstrapScoreDifference(
  correctA: readonly boolean[],
  correctB: readonly boolean[],
  options: BootstrapOptions,
): BootstrapInterval {
  checkTiles(correctA, correctB);
  const resamples = options.resamples ?? 10_000;
  const confidence = options.confidence ?? 0.95;
  const metric = options.metric ?? 'accuracy';
  if (!Number.isInteger(resamples) || resamples < 1) throw expected('positive integer', 'resamples', resamples);
  if (!(confidence > 0 && confidence < 1)) throw expected('number between 0 and 1', 'confidence', confidence);
  const n = correctA.length;
  // Accuracy is balanced accuracy with one class.
  const labels = metric === 'accuracy' ? new Int32Array(n) : Int32Array.from(options.labels ?? [], Number);
  if (labels.length !== n) throw expected(`${n} class labels, one per tile`, 'balanced accuracy', labels.length);
  const classes = Math.max(...labels) + 1;
  const rng = createRng(options.seed);

  // Per tile: +1 where only B is right, −1 where only A is right, 0 otherwise.
  const tileDifference = correctA.map((a, i) => Number(correctB[i]) - Number(a));
  const drawn = new Float64Array(classes);
  const gained = new Float64Array(classes);
  const score = (pick: (i: number) => number): number => {
    drawn.fill(0);
    gained.fill(0);
    for (let i = 0; i < n; i++) {
      const j = pick(i);
      drawn[labels[j]!]! += 1;
      gained[labels[j]!]! += tileDifference[j]!;
    }
    let total = 0;
    let present = 0;
    for (let c = 0; c < classes; c++) {
      if (drawn[c] === 0) continue;
      total += gained[c]! / drawn[c]!;
      present += 1;
    }
    return total / present;
  };
  const estimate = score((i) => i);
  const resampled = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) resampled[r] = score(() => rng.int(n));
  resampled.sort();
  const lower = quantile(resampled, (1 - confidence) / 2);
  const upper = quantile(resampled, (1 + confidence) / 2);
  return { metric, estimate, lower, upper, confidence, resamples, seed: options.seed, containsZero: lower <= 0 && upper >= 0 };
}

/**
 * Holm's step-down adjustment for m comparisons made at once (a sweep's grid points): adjusted
 * p_(i) = max over j <= i of min(1, (m - j + 1) p_(j)), nulls left out. It keeps the family-wise
 * error at alpha with more power than Bonferroni.
 */
export function holm(p: readonly (number | null)[]): (number | null)[] {
  const order = p.map((v, i) => [v, i] as const).filter((x): x is readonly [number, number] => x[0] !== null).sort((a, b) => a[0] - b[0]);
  const m = order.length;
  const out: (number | null)[] = p.map(() => null);
  let running = 0;
  order.forEach(([v, i], rank) => {
    running = Math.max(running, Math.min(1, (m - rank) * v));
    out[i] = running;
  });
  return out;
}

/**
 * B − A per fold, rounded to 12 decimals. Scores are fractions such as 43/50, and 0.87 − 0.85 and
 * 0.85 − 0.83 differ in the last bits; rounding turns that noise back into the exact ties and zeros
 * that the Wilcoxon ranks and the zero-variance checks must see.
 */
function foldDifferences(accA: readonly number[], accB: readonly number[]): number[] {
  if (accA.length < 2) throw expected('at least 2 folds', 'accA', accA.length);
  if (accB.length !== accA.length) throw expected(`${accA.length} fold scores (as many as accA)`, 'accB', accB.length);
  return accA.map((a, i) => {
    const b = accB[i]!;
    if (!Number.isFinite(a)) throw expected('finite number', `accA[${i}]`, a);
    if (!Number.isFinite(b)) throw expected('finite number', `accB[${i}]`, b);
    return Math.round((b - a) * 1e12) / 1e12;
  });
}

/**
 * Two-sided one-sample t-test of mean(d) = 0, with the variance of the mean taken as
 * s² · (1/n + testTrainRatio): ratio 0 is the ordinary paired t-test, ratio n_test/n_train is
 * Nadeau & Bengio's corrected resampled t-test. Both have n − 1 degrees of freedom.
 */
function tTest(d: readonly number[], testTrainRatio: number): TTestResult {
  const n = d.length;
  const df = n - 1;
  if (d.every((x) => x === d[0])) {
    // Zero variance: t = mean / 0. With all differences 0 that is 0/0, and "no difference at all"
    // is the honest reading; with a constant non-zero difference t is ±∞ on no spread at all, which
    // no test can weigh, so it is reported as undefined rather than as p = 0.
    return d[0] === 0
      ? { statistic: null, df, pValue: 1, note: 'all fold differences are 0: t is 0/0, reported as p = 1' }
      : {
          statistic: null,
          df,
          pValue: null,
          note: `every fold differs by exactly ${signed(d[0]!)}, so the differences have zero variance and t is undefined`,
        };
  }
  const plain = ttest(d as number[]);
  const statistic = plain.statistic * Math.sqrt(1 / n / (1 / n + testTrainRatio));
  // Two-sided: both tails of Student's t with n − 1 degrees of freedom, taken from the lower one
  // (1 − cdf(|t|) would lose digits to cancellation for large |t|).
  const pValue = Math.min(1, 2 * tCdf(-Math.abs(statistic), df));
  return { statistic, df, pValue, note: null };
}

/**
 * Exact two-sided Wilcoxon signed-rank test. Under H0 each non-zero difference is equally likely
 * to be positive or negative, so W+ is a sum of independent coin flips times the (mid)ranks; its
 * exact distribution is built by convolution over doubled ranks (integers even with ties).
 * @stdlib/stats-wilcoxon is not used: it switches silently to a normal approximation as soon as
 * there is one zero difference or one tie (common with fold accuracies), can return p > 1
 * in the centre of the distribution, and throws when all differences are zero.
 */
function wilcoxonExact(d: readonly number[], alpha: number): WilcoxonResult {
  const nonZero = d.filter((x) => x !== 0);
  const n = nonZero.length;
  if (n === 0) {
    return { statistic: 0, nonZero: 0, pValue: 1, minAchievablePValue: 1, note: 'all fold differences are 0: p = 1' };
  }
  const doubledRanks = midranks(nonZero.map(Math.abs)).map((r) => 2 * r);
  const observed = sum(doubledRanks.filter((_, i) => nonZero[i]! > 0));
  let probability = [1]; // probability[s]: P(doubled W+ = s) over the folds seen so far
  for (const r of doubledRanks) {
    const next = new Array<number>(probability.length + r).fill(0);
    probability.forEach((q, s) => {
      next[s]! += q / 2;
      next[s + r]! += q / 2;
    });
    probability = next;
  }
  const centre = sum(doubledRanks) / 2; // n(n + 1) / 2 in doubled units: an integer
  const observedDistance = Math.abs(observed - centre);
  const pValue = Math.min(1, sum(probability.filter((_, s) => Math.abs(s - centre) >= observedDistance)));
  // Only "all positive" and "all negative" reach the extremes, each with probability 2^−n.
  const minAchievablePValue = Math.min(1, 2 ** (1 - n));
  const note =
    minAchievablePValue >= alpha
      ? `with ${n} non-zero fold differences the exact Wilcoxon test cannot give p below ` +
        `${round(minAchievablePValue, 4)}, so it can never reach p < ${alpha}; read it as a direction check`
      : null;
  return { statistic: observed / 2, nonZero: n, pValue, minAchievablePValue, note };
}

function checkTiles(correctA: readonly boolean[], correctB: readonly boolean[]): void {
  if (correctA.length === 0) throw expected('at least one test tile', 'correctA', 0);
  if (correctB.length !== correctA.length) {
    throw expected(`${correctA.length} tiles (as many as correctA)`, 'correctB', correctB.length);
  }
}

export function checkAlpha(alpha: number): number {
  if (!(alpha > 0 && alpha < 1)) throw expected('number between 0 and 1', 'alpha', alpha);
  return alpha;
}

/** Linear interpolation between order statistics (R type 7, numpy's default) of sorted values. */
function quantile(sorted: Float64Array, q: number): number {
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}

export function round(x: number, decimals: number): number {
  return Math.round(x * 10 ** decimals) / 10 ** decimals;
}

function sum(values: readonly number[]): number {
  return values.reduce((s, v) => s + v, 0);
}

function mean(values: readonly number[]): number {
  return sum(values) / values.length;
}
