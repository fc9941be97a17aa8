import type { BootstrapInterval, McNemarResult, PairedComparison, ScoreMetric } from './stats.ts';
import { bootstrapScoreDifference, checkAlpha, mcnemarExact, pairedComparison, round } from './stats.ts';
import { formatP, signed } from '../util/format.ts';

/**
 * From the tests to an answer: the decision rule, and the verdict in words as comparison.json,
 * the terminal and the report give it. The tests themselves (src/evaluate/stats.ts) compute
 * numbers only.
 */

export type VerdictDecision = 'b-better' | 'a-better' | 'no-difference' | 'undetermined';

/** The answer in one sentence, the rule behind it and the caveats a reader should know. */
export interface Verdict {
  decision: VerdictDecision;
  primaryTest: string;
  primaryPValue: number | null;
  alpha: number;
  summary: string;
  caveats: string[];
}

/** The metric as a sentence names it. */
export const METRIC_LABELS: Readonly<Record<ScoreMetric, string>> = { accuracy: 'accuracy', 'balanced-accuracy': 'balanced accuracy' };

const primaryTest = (metric: ScoreMetric): string => `corrected resampled t-test on fold ${METRIC_LABELS[metric]} (Nadeau & Bengio 2003)`;

/** Classes more imbalanced than this (largest to smallest) make balanced accuracy the primary metric. */
export const IMBALANCE_LIMIT = 2;

/**
 * The primary metric for a data set with these tiles per class: balanced accuracy when the largest
 * class outnumbers the smallest more than 2:1, since a network can then score a high accuracy by
 * favouring the majority class; accuracy otherwise. The reason is said in words. The whole data
 * set's counts decide, not the test split's: a grouped split of few slides skews a small test split
 * by chance, and the question is about the data.
 */
export function choosePrimaryMetric(counts: readonly number[], classes: readonly string[]): { metric: ScoreMetric; reason: string } {
  const present = counts.map((n, c) => [n, c] as const).filter(([n]) => n > 0);
  const [most, least] = [present.reduce((m, x) => (x[0] > m[0] ? x : m)), present.reduce((m, x) => (x[0] < m[0] ? x : m))];
  const ratio = most[0] === least[0]
    ? `1:1 (${most[0]} tiles of every class)`
    : `${Number((most[0] / least[0]).toFixed(2))}:1 (${classes[most[1]]}: ${most[0]} tiles, ${classes[least[1]]}: ${least[0]})`;
  return most[0] > IMBALANCE_LIMIT * least[0]
    ? { metric: 'balanced-accuracy', reason: `the data set's classes are imbalanced ${ratio}, more than ${IMBALANCE_LIMIT}:1` }
    : { metric: 'accuracy', reason: `the data set's classes are balanced within ${IMBALANCE_LIMIT}:1, at ${ratio}` };
}

/** What the group-level tests need: both networks' per-fold group scores and per-group correctness. */
export interface GroupLevelInput {
  /** What a group is, in words (`/^\d+/ on file names`). */
  grouping: string;
  foldScoresA: readonly number[];
  foldScoresB: readonly number[];
  correctA: readonly boolean[];
  correctB: readonly boolean[];
}

/** B against A per group (patient, slide), for the test groups whose tiles share one class. */
export interface GroupComparison {
  grouping: string;
  /** The groups compared. */
  groups: number;
  /** The paired fold tests on the group-level metric. */
  folds: PairedComparison;
  /** McNemar's exact test on the fold ensembles' group predictions (its `tiles` counts groups). */
  mcnemar: McNemarResult;
}

/** What `compareRuns` needs: per-fold scores and per-tile correctness of both networks. */
export interface RunComparisonInput {
  nameA: string;
  nameB: string;
  /** Each fold model's score on the test split, in `metric`. */
  foldScoresA: readonly number[];
  foldScoresB: readonly number[];
  correctA: readonly boolean[];
  correctB: readonly boolean[];
  seed: number;
  /** The primary test's metric (default accuracy); balanced accuracy needs `labels`. */
  metric?: ScoreMetric;
  /** Why that metric, in words, for the verdict (e.g. the class imbalance); null or absent when it was asked for. */
  metricReason?: string | null;
  /** Each test tile's class. */
  labels?: readonly number[];
  /** The group-level evidence, or why there is none. */
  groupLevel?: GroupLevelInput | { unavailable: string };
  /** Default 0.05. */
  alpha?: number;
  /** Default 1 / (k − 1), right for k-fold cross-validation scored on the held-out fold. */
  testTrainRatio?: number;
  /** Default 10000. */
  resamples?: number;
  /** Default 1 − alpha. */
  confidence?: number;
}

/** Everything `compare` writes: the fold tests, the test-split tests, the group-level tests and the verdict. */
export interface RunComparison {
  networks: { a: string; b: string };
  alpha: number;
  /** The fold tests' and the bootstrap's metric. */
  metric: ScoreMetric;
  /** Why that metric; null when it was asked for. */
  metricReason: string | null;
  folds: PairedComparison;
  testSplit: { mcnemar: McNemarResult; bootstrap: BootstrapInterval };
  /** The same tests per group (patient, slide); null when there are no group-level scores. */
  groupLevel: GroupComparison | null;
  /** Why `groupLevel` is null. */
  groupLevelUnavailable: string | null;
  verdict: Verdict;
}

/**
 * The decision rule. "Does SE help?" is a question about the training recipe, so the decisive
 * evidence has to include how results move when the training data change, and only the fold
 * scores carry that. Among the fold tests:
 *  - the plain paired t-test is optimistic: the k training sets overlap (any two share
 *    (k − 2)/(k − 1) of their data), so fold scores are correlated and its variance is too small;
 *  - Nadeau & Bengio (2003, "Inference for the Generalization Error", Machine Learning 52:239–281)
 *    inflate the variance by (1/k + n_test/n_train) instead of 1/k; Bouckaert & Frank (2004) found this
 *    corrected resampled t-test well calibrated, so it is the primary test;
 *  - the exact Wilcoxon test is honest but coarse (5 folds cannot go below p = 0.0625).
 * McNemar and the bootstrap see only the test split's sampling noise for one trained pair, not the
 * training variation, so they corroborate or raise a caveat but never decide.
 * Rule: B (or A) is significantly better when the corrected t-test gives p < alpha, in the direction
 * of the mean fold difference; otherwise no significant difference; undetermined when it is undefined.
 */
export function verdict(
  evidence: { folds: PairedComparison; mcnemar: McNemarResult; bootstrap: BootstrapInterval; groupLevel?: GroupComparison | null },
  names: { a: string; b: string },
  alpha = 0.05,
  primary: { metric: ScoreMetric; reason: string | null } = { metric: 'accuracy', reason: null },
): Verdict {
  checkAlpha(alpha);
  const { folds, mcnemar, bootstrap } = evidence;
  const label = METRIC_LABELS[primary.metric];
  const p = folds.correctedT.pValue;
  const decision = decide(folds, alpha);

  const ci = `${Math.round(bootstrap.confidence * 100)}% bootstrap CI of ${label}(${names.b}) − ${label}(${names.a})`;
  const chosen = primary.metric !== 'accuracy' || primary.reason !== null
    ? `primary metric ${label}${primary.reason === null ? '' : `, since ${primary.reason}`}; `
    : '';
  const details =
    `${chosen}corrected t-test ${formatP(p)}, mean fold difference ${signed(folds.meanDifference)}; ` +
    `paired t-test ${formatP(folds.pairedT.pValue)}, Wilcoxon ${formatP(folds.wilcoxon.pValue)}, ` +
    `McNemar ${formatP(mcnemar.pValue)}; ${ci} [${signed(bootstrap.lower)}, ${signed(bootstrap.upper)}] ` +
    (bootstrap.containsZero ? 'contains 0' : 'excludes 0');
  const headline = {
    'b-better': `${names.b} is significantly better than ${names.a}${inMetric(primary.metric)} at alpha ${alpha}`,
    'a-better': `${names.a} is significantly better than ${names.b}${inMetric(primary.metric)} at alpha ${alpha}`,
    'no-difference': `no significant difference between ${names.a} and ${names.b}${inMetric(primary.metric)} at alpha ${alpha}`,
    undetermined: `undetermined at alpha ${alpha}: the corrected t-test is undefined because ${folds.correctedT.note}`,
  }[decision];

  const caveats = [
    `folds share training data, so fold scores are correlated and the plain paired t-test ` +
      `(${formatP(folds.pairedT.pValue)}) is optimistic; the decision uses the corrected t-test ` +
      `with test/train ratio ${round(folds.correctedT.testTrainRatio, 4)}`,
  ];
  if (folds.wilcoxon.note !== null) caveats.push(folds.wilcoxon.note);
  const testSplitDiffers = mcnemar.pValue < alpha || !bootstrap.containsZero;
  if (decision === 'no-difference' && testSplitDiffers) {
    caveats.push(
      'on the test split alone the networks differ, but that reflects one trained pair of models; ' +
        'the difference does not hold up across folds',
    );
  }
  if ((decision === 'a-better' || decision === 'b-better') && !testSplitDiffers) {
    caveats.push('on the test split the difference is not significant (McNemar and bootstrap); more test tiles would tell');
  }
  const g = evidence.groupLevel;
  if (g) {
    const groupDecision = decide(g.folds, alpha);
    caveats.push(
      `per group (${g.groups} test groups by ${g.grouping}, each of one class, predicted by the mean of its tiles' probabilities): ` +
        `corrected t-test on fold group ${label} ${formatP(g.folds.correctedT.pValue)}, mean fold difference ${signed(g.folds.meanDifference)}; ` +
        `McNemar on the ensembles' group predictions ${formatP(g.mcnemar.pValue)} (${g.mcnemar.onlyACorrect} groups only ${names.a} got right, ${g.mcnemar.onlyBCorrect} only ${names.b}); ` +
        (groupDecision === decision ? 'the same decision as on tiles' : `by the same rule: ${decisionWords(groupDecision, names)}, unlike on tiles; the verdict above is on tiles`),
    );
  }
  return { decision, primaryTest: primaryTest(primary.metric), primaryPValue: p, alpha, summary: `${headline} (${details})`, caveats };
}

function decisionWords(decision: VerdictDecision, names: { a: string; b: string }): string {
  return { 'b-better': `${names.b} better`, 'a-better': `${names.a} better`, 'no-difference': 'no significant difference', undetermined: 'undetermined' }[decision];
}

/** The decision rule on the fold tests (see `verdict`). */
function decide(folds: PairedComparison, alpha: number): VerdictDecision {
  const p = folds.correctedT.pValue;
  return p === null ? 'undetermined' : p >= alpha ? 'no-difference' : folds.meanDifference > 0 ? 'b-better' : 'a-better';
}

/** " in balanced accuracy" where the metric is not plain accuracy, which headlines have always meant. */
const inMetric = (metric: ScoreMetric): string => (metric === 'accuracy' ? '' : ` in ${METRIC_LABELS[metric]}`);

/** Every test above, bundled into one JSON-ready object. */
export function compareRuns(input: RunComparisonInput): RunComparison {
  const alpha = checkAlpha(input.alpha ?? 0.05);
  const metric = input.metric ?? 'accuracy';
  const folds = pairedComparison(input.foldScoresA, input.foldScoresB, {
    alpha,
    testTrainRatio: input.testTrainRatio,
  });
  const mcnemar = mcnemarExact(input.correctA, input.correctB);
  const bootstrap = bootstrapScoreDifference(input.correctA, input.correctB, {
    seed: input.seed,
    metric,
    ...(input.labels ? { labels: input.labels } : {}),
    resamples: input.resamples ?? 10_000,
    confidence: input.confidence ?? 1 - alpha,
  });
  const g = input.groupLevel;
  const groupLevel: GroupComparison | null = g === undefined || 'unavailable' in g ? null : {
    grouping: g.grouping,
    groups: g.correctA.length,
    folds: pairedComparison(g.foldScoresA, g.foldScoresB, { alpha, testTrainRatio: input.testTrainRatio }),
    mcnemar: mcnemarExact(g.correctA, g.correctB),
  };
  const names = { a: input.nameA, b: input.nameB };
  const reason = input.metricReason ?? null;
  return {
    networks: names,
    alpha,
    metric,
    metricReason: reason,
    folds,
    testSplit: { mcnemar, bootstrap },
    groupLevel,
    groupLevelUnavailable: g === undefined ? 'no group-level scores were given' : 'unavailable' in g ? g.unavailable : null,
    verdict: verdict({ folds, mcnemar, bootstrap, groupLevel }, names, alpha, { metric, reason }),
  };
}

/** The verdict in one line, as the terminal and the report's headline say it. */
export function verdictLine(c: RunComparison): string {
  const { a, b } = c.networks;
  const metric = inMetric(c.metric);
  switch (c.verdict.decision) {
    case 'b-better':
      return `${b} is significantly better than ${a}${metric} at alpha ${c.alpha}`;
    case 'a-better':
      return `${a} is significantly better than ${b}${metric} at alpha ${c.alpha}`;
    case 'no-difference':
      return `no significant difference${metric} at alpha ${c.alpha}`;
    case 'undetermined':
      return `undetermined at alpha ${c.alpha}`;
  }
}
