import type { BootstrapInterval, McNemarResult, PairedComparison } from './stats.ts';
import { bootstrapAccuracyDifference, checkAlpha, mcnemarExact, pairedComparison, round } from './stats.ts';
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

const PRIMARY_TEST = 'corrected resampled t-test on fold scores (Nadeau & Bengio 2003)';

/** What `compareRuns` needs: per-fold scores and per-tile correctness of both networks. */
export interface RunComparisonInput {
  nameA: string;
  nameB: string;
  foldAccuracyA: readonly number[];
  foldAccuracyB: readonly number[];
  correctA: readonly boolean[];
  correctB: readonly boolean[];
  seed: number;
  /** Default 0.05. */
  alpha?: number;
  /** Default 1 / (k − 1), right for k-fold cross-validation scored on the held-out fold. */
  testTrainRatio?: number;
  /** Default 10000. */
  resamples?: number;
  /** Default 1 − alpha. */
  confidence?: number;
}

/** Everything `compare` writes: the fold tests, the test-split tests and the verdict. */
export interface RunComparison {
  networks: { a: string; b: string };
  alpha: number;
  folds: PairedComparison;
  testSplit: { mcnemar: McNemarResult; bootstrap: BootstrapInterval };
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
  evidence: { folds: PairedComparison; mcnemar: McNemarResult; bootstrap: BootstrapInterval },
  names: { a: string; b: string },
  alpha = 0.05,
): Verdict {
  checkAlpha(alpha);
  const { folds, mcnemar, bootstrap } = evidence;
  const p = folds.correctedT.pValue;
  const decision: VerdictDecision =
    p === null ? 'undetermined' : p >= alpha ? 'no-difference' : folds.meanDifference > 0 ? 'b-better' : 'a-better';

  const ci = `${Math.round(bootstrap.confidence * 100)}% bootstrap CI of accuracy(${names.b}) − accuracy(${names.a})`;
  const details =
    `corrected t-test ${formatP(p)}, mean fold difference ${signed(folds.meanDifference)}; ` +
    `paired t-test ${formatP(folds.pairedT.pValue)}, Wilcoxon ${formatP(folds.wilcoxon.pValue)}, ` +
    `McNemar ${formatP(mcnemar.pValue)}; ${ci} [${signed(bootstrap.lower)}, ${signed(bootstrap.upper)}] ` +
    (bootstrap.containsZero ? 'contains 0' : 'excludes 0');
  const headline = {
    'b-better': `${names.b} is significantly better than ${names.a} at alpha ${alpha}`,
    'a-better': `${names.a} is significantly better than ${names.b} at alpha ${alpha}`,
    'no-difference': `no significant difference between ${names.a} and ${names.b} at alpha ${alpha}`,
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
  return { decision, primaryTest: PRIMARY_TEST, primaryPValue: p, alpha, summary: `${headline} (${details})`, caveats };
}

/** Every test above, bundled into one JSON-ready object. */
export function compareRuns(input: RunComparisonInput): RunComparison {
  const alpha = checkAlpha(input.alpha ?? 0.05);
  const folds = pairedComparison(input.foldAccuracyA, input.foldAccuracyB, {
    alpha,
    testTrainRatio: input.testTrainRatio,
  });
  const mcnemar = mcnemarExact(input.correctA, input.correctB);
  const bootstrap = bootstrapAccuracyDifference(input.correctA, input.correctB, {
    seed: input.seed,
    resamples: input.resamples ?? 10_000,
    confidence: input.confidence ?? 1 - alpha,
  });
  const names = { a: input.nameA, b: input.nameB };
  return {
    networks: names,
    alpha,
    folds,
    testSplit: { mcnemar, bootstrap },
    verdict: verdict({ folds, mcnemar, bootstrap }, names, alpha),
  };
}

/** The verdict in one line, as the terminal and the report's headline say it. */
export function verdictLine(c: RunComparison): string {
  const { a, b } = c.networks;
  switch (c.verdict.decision) {
    case 'b-better':
      return `${b} is significantly better than ${a} at alpha ${c.alpha}`;
    case 'a-better':
      return `${a} is significantly better than ${b} at alpha ${c.alpha}`;
    case 'no-difference':
      return `no significant difference at alpha ${c.alpha}`;
    case 'undetermined':
      return `undetermined at alpha ${c.alpha}`;
  }
}
