import { UserError, expected } from '../errors.ts';
import { argmax } from '../util/numeric.ts';

/**
 * Predicted class probabilities: one row per sample, one column per class (a softmax output).
 * Rows may be plain arrays or Float32Array views; `probabilityRows` cuts a flat ONNX output into rows.
 */
export type ProbabilityRows = readonly ArrayLike<number>[];

/** The scores of one class, treated one-vs-rest. */
export interface ClassMetrics {
  name: string;
  /** Samples whose true label is this class. */
  support: number;
  /** Samples predicted (argmax) as this class. */
  predicted: number;
  /** tp / predicted; 0 when the class is never predicted (zero_division = 0). */
  precision: number;
  /** tp / support; 0 when the class is absent from the labels (zero_division = 0). */
  recall: number;
  /** Harmonic mean of precision and recall; 0 when both are 0. */
  f1: number;
  /** One-vs-rest ROC AUC; null when the labels hold no positives or no negatives for this class. */
  auc: number | null;
}

/** Everything `evaluate` writes to metrics.json for one set of predictions. */
export interface ClassificationMetrics {
  samples: number;
  classNames: string[];
  accuracy: number;
  /** Mean recall over the classes that occur in the labels. */
  balancedAccuracy: number;
  /** Mean F1 over the classes that occur in the labels or the predictions. */
  macroF1: number;
  /** Mean of the defined one-vs-rest AUCs; null when no class has both positives and negatives. */
  macroAuc: number | null;
  /** Mean −ln(probability of the true class), probabilities clipped to [1e-15, 1 − 1e-15]. */
  logLoss: number;
  perClass: ClassMetrics[];
  /** counts[true class][predicted class]. */
  confusionMatrix: number[][];
  /** The conventions above, in words, so that metrics.json explains itself. */
  conventions: Record<string, string>;
}

/** Mean and spread of a metric over folds. */
export interface MeanStd {
  n: number;
  mean: number;
  /** Sample standard deviation (divides by n − 1); null for a single value, where it is undefined. */
  std: number | null;
}

const CONVENTIONS: Readonly<Record<string, string>> = {
  prediction: 'argmax of the probabilities; ties go to the lowest class index',
  confusionMatrix: 'rows are true classes, columns are predicted classes',
  zeroDivision: 'precision, recall and F1 are 0 when their denominator is 0 (scikit-learn zero_division=0)',
  macroF1: 'mean F1 over classes that occur in the labels or the predictions (scikit-learn default labels)',
  balancedAccuracy: 'mean recall over classes that occur in the labels',
  auc: 'one-vs-rest ROC AUC by the rank (Mann-Whitney) formula, ties count half; null for a class without positives or negatives; macro = mean of the defined ones',
  logLoss: 'mean negative natural log of the true-class probability, clipped to [1e-15, 1 - 1e-15]',
};

const LOG_LOSS_EPS = 1e-15;
// Softmax outputs in float32 sum to 1 within about 1e-6; logits or unnormalised scores miss by far more.
const ROW_SUM_TOLERANCE = 1e-3;

/** Accuracy, per-class and macro scores, AUC, log loss and the confusion matrix, as a JSON-ready object. */
export function classificationMetrics(
  labels: ArrayLike<number>,
  probs: ProbabilityRows,
  classNames: readonly string[],
): ClassificationMetrics {
  checkPredictions(labels, probs, classNames);
  const numClasses = classNames.length;
  const predictions = Array.from(probs, (row) => argmax(row));
  const confusion = confusionMatrix(labels, predictions, numClasses);

  const perClass: ClassMetrics[] = classNames.map((name, c) => {
    const tp = confusion[c]![c]!;
    const support = sum(confusion[c]!);
    const predicted = sum(confusion.map((row) => row[c]!));
    const precision = safeDivide(tp, predicted);
    const recall = safeDivide(tp, support);
    const f1 = safeDivide(2 * precision * recall, precision + recall);
    return { name, support, predicted, precision, recall, f1, auc: oneVsRestAuc(labels, probs, c) };
  });

  const correct = predictions.filter((p, i) => p === labels[i]).length;
  const inLabels = perClass.filter((m) => m.support > 0);
  const inLabelsOrPredictions = perClass.filter((m) => m.support > 0 || m.predicted > 0);
  const aucs = perClass.flatMap((m) => (m.auc === null ? [] : [m.auc]));

  return {
    samples: labels.length,
    classNames: [...classNames],
    accuracy: correct / labels.length,
    balancedAccuracy: mean(inLabels.map((m) => m.recall)),
    macroF1: mean(inLabelsOrPredictions.map((m) => m.f1)),
    macroAuc: aucs.length > 0 ? mean(aucs) : null,
    logLoss: logLoss(labels, probs),
    perClass,
    confusionMatrix: confusion,
    conventions: { ...CONVENTIONS },
  };
}

/** The fold ensemble: the elementwise mean of each fold model's probabilities on the same samples. */
export function ensembleProbabilities(foldProbs: readonly ProbabilityRows[]): number[][] {
  const first = foldProbs[0];
  if (first === undefined) throw expected('at least one fold', 'foldProbs', 0);
  foldProbs.forEach((rows, f) => {
    if (rows.length !== first.length) {
      throw expected(`${first.length} rows (as many as fold 0)`, `foldProbs[${f}]`, rows.length);
    }
    rows.forEach((row, i) => {
      if (row.length !== first[i]!.length) {
        throw expected(`${first[i]!.length} values (as many as fold 0)`, `foldProbs[${f}][${i}]`, row.length);
      }
      for (let c = 0; c < row.length; c++) {
        if (!Number.isFinite(row[c])) throw expected('finite probability', `foldProbs[${f}][${i}][${c}]`, row[c]);
      }
    });
  });
  return first.map((row, i) =>
    Array.from({ length: row.length }, (_, c) => mean(foldProbs.map((rows) => rows[i]![c]!))),
  );
}

/** Cut a flat row-major [samples, classes] tensor (what ONNX Runtime returns) into row views. */
export function probabilityRows(flat: Float32Array, numClasses: number): Float32Array[] {
  if (!Number.isInteger(numClasses) || numClasses < 1) throw expected('positive integer', 'numClasses', numClasses);
  if (flat.length % numClasses !== 0) {
    throw expected(`a multiple of ${numClasses} values`, 'probabilities', flat.length);
  }
  return Array.from({ length: flat.length / numClasses }, (_, i) =>
    flat.subarray(i * numClasses, (i + 1) * numClasses),
  );
}

/** Mean and sample standard deviation (n − 1 in the denominator, the unbiased variance) of fold scores. */
export function meanStd(values: readonly number[]): MeanStd {
  if (values.length === 0) throw expected('at least one value', 'values', 0);
  values.forEach((v, i) => {
    if (!Number.isFinite(v)) throw expected('finite number', `values[${i}]`, v);
  });
  const m = mean(values);
  const n = values.length;
  const std = n > 1 ? Math.sqrt(values.reduce((s, v) => s + (v - m) ** 2, 0) / (n - 1)) : null;
  return { n, mean: m, std };
}

function checkPredictions(labels: ArrayLike<number>, probs: ProbabilityRows, classNames: readonly string[]): void {
  const numClasses = classNames.length;
  if (numClasses < 2) throw expected('at least 2 class names', 'classNames', numClasses);
  if (labels.length === 0) throw expected('at least one sample', 'labels', 0);
  if (probs.length !== labels.length) {
    throw expected(`${labels.length} probability rows (one per label)`, 'probs', probs.length);
  }
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i];
    if (!Number.isInteger(label) || label! < 0 || label! >= numClasses) {
      throw expected(`class index from 0 to ${numClasses - 1}`, `labels[${i}]`, label);
    }
    const row = probs[i]!;
    if (row.length !== numClasses) {
      throw expected(`${numClasses} probabilities (one per class)`, `probs[${i}]`, row.length);
    }
    let rowSum = 0;
    for (let c = 0; c < numClasses; c++) {
      const p = row[c]!;
      if (!(p >= 0 && p <= 1)) throw expected('probability in [0, 1]', `probs[${i}][${c}]`, p);
      rowSum += p;
    }
    if (Math.abs(rowSum - 1) > ROW_SUM_TOLERANCE) {
      throw new UserError(`expected probabilities summing to 1 for probs[${i}] but received sum ${rowSum}`);
    }
  }
}

function confusionMatrix(labels: ArrayLike<number>, predictions: readonly number[], numClasses: number): number[][] {
  const counts = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  predictions.forEach((p, i) => {
    counts[labels[i]!]![p]! += 1;
  });
  return counts;
}

/**
 * AUC of "class c against the rest" by the Mann-Whitney formula: the probability that a random
 * positive scores above a random negative, ties counting half. With midranks r over all samples,
 * AUC = (sum of positive ranks − nPos(nPos + 1)/2) / (nPos · nNeg).
 */
function oneVsRestAuc(labels: ArrayLike<number>, probs: ProbabilityRows, c: number): number | null {
  const scores = probs.map((row) => row[c]!);
  const ranks = midranks(scores);
  let nPos = 0;
  let positiveRankSum = 0;
  for (let i = 0; i < scores.length; i++) {
    if (labels[i] === c) {
      nPos += 1;
      positiveRankSum += ranks[i]!;
    }
  }
  const nNeg = scores.length - nPos;
  if (nPos === 0 || nNeg === 0) return null;
  return (positiveRankSum - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}

/** 1-based ranks in ascending order; equal values share the mean of the ranks they span (midranks). */
export function midranks(values: readonly number[]): number[] {
  const order = values.map((_, i) => i).sort((a, b) => values[a]! - values[b]!);
  const ranks = new Array<number>(values.length);
  for (let start = 0; start < order.length; ) {
    let end = start;
    while (end + 1 < order.length && values[order[end + 1]!] === values[order[start]!]) end += 1;
    const rank = (start + end) / 2 + 1;
    for (let k = start; k <= end; k++) ranks[order[k]!] = rank;
    start = end + 1;
  }
  return ranks;
}

function logLoss(labels: ArrayLike<number>, probs: ProbabilityRows): number {
  let total = 0;
  for (let i = 0; i < labels.length; i++) {
    const p = probs[i]![labels[i]!]!;
    total -= Math.log(Math.min(Math.max(p, LOG_LOSS_EPS), 1 - LOG_LOSS_EPS));
  }
  return total / labels.length;
}

function safeDivide(numerator: number, denominator: number): number {
  return denominator === 0 ? 0 : numerator / denominator;
}

function sum(values: readonly number[]): number {
  return values.reduce((s, v) => s + v, 0);
}

function mean(values: readonly number[]): number {
  return sum(values) / values.length;
}
