import assert from 'node:assert/strict';
import { test } from 'node:test';
import { near, throwsOneLine } from '../helpers/assert.ts';
import {
  classificationMetrics,
  ensembleProbabilities,
  meanStd,
  probabilityRows,
} from '../../src/evaluate/metrics.ts';

// Three classes, six samples. Predictions (argmax) in the last column:
//   s0 true 0  [0.6, 0.3, 0.1] -> 0  right
//   s1 true 0  [0.5, 0.4, 0.1] -> 0  right
//   s2 true 0  [0.2, 0.7, 0.1] -> 1  wrong
//   s3 true 1  [0.2, 0.4, 0.4] -> 1  right (tie between 1 and 2 goes to the lower index)
//   s4 true 1  [0.2, 0.3, 0.5] -> 2  wrong
//   s5 true 2  [0.1, 0.2, 0.7] -> 2  right
const LABELS = [0, 0, 0, 1, 1, 2];
const PROBS = [
  [0.6, 0.3, 0.1],
  [0.5, 0.4, 0.1],
  [0.2, 0.7, 0.1],
  [0.2, 0.4, 0.4],
  [0.2, 0.3, 0.5],
  [0.1, 0.2, 0.7],
];
const NAMES = ['benign', 'in_situ', 'invasive'];

test('hand-computed three-class example', () => {
  const m = classificationMetrics(LABELS, PROBS, NAMES);
  assert.equal(m.samples, 6);
  assert.deepEqual(m.classNames, NAMES);
  // Rows are true classes: s0,s1 -> (0,0); s2 -> (0,1); s3 -> (1,1); s4 -> (1,2); s5 -> (2,2).
  assert.deepEqual(m.confusionMatrix, [
    [2, 1, 0],
    [0, 1, 1],
    [0, 0, 1],
  ]);
  near(m.accuracy, 4 / 6); // diagonal 2 + 1 + 1 = 4 of 6

  const [c0, c1, c2] = m.perClass;
  // class 0: tp 2, predicted 2 (column sum), support 3 (row sum)
  //   P = 2/2 = 1, R = 2/3, F1 = 2·1·(2/3) / (1 + 2/3) = (4/3) / (5/3) = 0.8
  assert.deepEqual([c0!.support, c0!.predicted], [3, 2]);
  near(c0!.precision, 1);
  near(c0!.recall, 2 / 3);
  near(c0!.f1, 0.8);
  // class 1: tp 1, predicted 2 (s2, s3), support 2 -> P = 1/2, R = 1/2, F1 = 1/2
  assert.deepEqual([c1!.support, c1!.predicted], [2, 2]);
  near(c1!.precision, 0.5);
  near(c1!.recall, 0.5);
  near(c1!.f1, 0.5);
  // class 2: tp 1, predicted 2 (s4, s5), support 1 -> P = 1/2, R = 1, F1 = 2·(1/2)·1 / (3/2) = 2/3
  assert.deepEqual([c2!.support, c2!.predicted], [1, 2]);
  near(c2!.precision, 0.5);
  near(c2!.recall, 1);
  near(c2!.f1, 2 / 3);

  // macro-F1 = (4/5 + 1/2 + 2/3) / 3 = (24 + 15 + 20) / 90 = 59/90 = 0.6556
  near(m.macroF1, 59 / 90);
  // balanced accuracy = (2/3 + 1/2 + 1) / 3 = 13/18 = 0.7222
  near(m.balancedAccuracy, 13 / 18);

  // AUC class 0: positives s0 .6, s1 .5, s2 .2; negatives s3 .2, s4 .2, s5 .1.
  //   .6 and .5 beat all 3 negatives (6); .2 ties two (2 × 1/2) and beats .1 (1): 8 of 9 pairs.
  //   Rank check: ascending .1 (1), .2 .2 .2 (midrank 3), .5 (5), .6 (6); (3 + 5 + 6 − 3·4/2) / 9 = 8/9.
  near(c0!.auc, 8 / 9);
  // AUC class 1: positives s3 .4, s4 .3; negatives s0 .3, s1 .4, s2 .7, s5 .2.
  //   .4 beats .3 and .2, ties .4, loses to .7: 2.5; .3 ties .3, beats .2, loses to .4 and .7: 1.5.
  //   (2.5 + 1.5) / 8 = 0.5
  near(c1!.auc, 0.5);
  // AUC class 2: positive s5 .7 beats every negative (.1 .1 .1 .4 .5): 5/5 = 1.
  near(c2!.auc, 1);
  // macro AUC = (8/9 + 1/2 + 1) / 3 = (16 + 9 + 18) / 18 / 3 = 43/54 = 0.7963
  near(m.macroAuc, 43 / 54);

  // log loss = −(ln .6 + ln .5 + ln .2 + ln .4 + ln .3 + ln .7) / 6 = −ln(0.00504) / 6
  //          = (0.51083 + 0.69315 + 1.60944 + 0.91629 + 1.20397 + 0.35667) / 6 = 5.29035 / 6 = 0.881725
  near(m.logLoss, 0.881725, 1e-6);

  assert.match(m.conventions['zeroDivision']!, /zero_division=0/);
  // It goes to metrics.json: a JSON round trip must lose nothing.
  assert.deepEqual(JSON.parse(JSON.stringify(m)), m);
});

test('float32 rows (views of one flat ONNX output) give the same confusion matrix', () => {
  const flat = Float32Array.from(PROBS.flat());
  const rows = probabilityRows(flat, 3);
  assert.equal(rows.length, 6);
  const m = classificationMetrics(Int32Array.from(LABELS), rows, NAMES);
  assert.deepEqual(m.confusionMatrix, [
    [2, 1, 0],
    [0, 1, 1],
    [0, 0, 1],
  ]);
  // Same ties survive in float32 (0.2 == 0.2, 0.4 == 0.4), so the AUCs are unchanged.
  near(m.macroAuc, 43 / 54);
  throwsOneLine(() => probabilityRows(flat, 4), /^expected a multiple of 4 values for probabilities but received 18$/);
});

test('a class that is never predicted gets precision 0, and log loss clips a zero probability', () => {
  // preds: s0 .9 -> 0 right, s1 .8 -> 1 right, s2 -> 0 wrong (true 2), s3 -> 1 wrong (true 2)
  const m = classificationMetrics(
    [0, 1, 2, 2],
    [
      [0.9, 0.1, 0],
      [0.2, 0.8, 0],
      [0.6, 0.4, 0],
      [0.3, 0.7, 0],
    ],
    ['a', 'b', 'c'],
  );
  assert.deepEqual(m.confusionMatrix, [
    [1, 0, 0],
    [0, 1, 0],
    [1, 1, 0],
  ]);
  const c = m.perClass[2]!;
  // class c: predicted 0 times -> precision 0/0 := 0; recall 0/2 = 0; F1 := 0
  assert.deepEqual([c.predicted, c.support, c.precision, c.recall, c.f1], [0, 2, 0, 0, 0]);
  // classes a and b: tp 1, predicted 2, support 1 -> P 1/2, R 1, F1 = 1 / (3/2) = 2/3
  near(m.perClass[0]!.f1, 2 / 3);
  near(m.macroF1, (2 / 3 + 2 / 3 + 0) / 3); // 4/9: c counts, it is in the labels
  near(m.balancedAccuracy, (1 + 1 + 0) / 3);
  near(m.accuracy, 0.5);
  // log loss = (−ln .9 − ln .8 − 2 ln 1e-15) / 4 = (0.1053605 + 0.2231436 + 2 · 34.5387764) / 4 = 17.3515142
  near(m.logLoss, 17.3515142, 1e-6);
});

test('a class absent from the labels: recall 0 by convention, left out of balanced accuracy, AUC null', () => {
  // Four classes; d never occurs and is never predicted, c never occurs but is predicted once.
  // preds: s0 -> 0 right, s1 -> 1 right, s2 -> 2 wrong (true 0), s3 -> 1 right
  const m = classificationMetrics(
    [0, 1, 0, 1],
    [
      [0.8, 0.1, 0.1, 0],
      [0.1, 0.8, 0.1, 0],
      [0.1, 0.1, 0.8, 0],
      [0.3, 0.6, 0.1, 0],
    ],
    ['a', 'b', 'c', 'd'],
  );
  near(m.accuracy, 3 / 4);
  const [a, b, c, d] = m.perClass;
  // a: tp 1, predicted 1, support 2 -> P 1, R 1/2, F1 2/3.  b: tp 2, predicted 2, support 2 -> F1 1.
  near(a!.f1, 2 / 3);
  near(b!.f1, 1);
  // c: predicted once, never true -> P 0/1 = 0, R 0/0 := 0, F1 0
  assert.deepEqual([c!.support, c!.predicted, c!.precision, c!.recall, c!.f1], [0, 1, 0, 0, 0]);
  // macro-F1 over a, b, c (d is neither in labels nor predictions): (2/3 + 1 + 0) / 3 = 5/9
  near(m.macroF1, 5 / 9);
  // balanced accuracy over a and b only: (1/2 + 1) / 2 = 0.75
  near(m.balancedAccuracy, 0.75);
  // AUC a: positives s0 .8, s2 .1; negatives s1 .1, s3 .3 -> .8 beats both (2), .1 ties .1 (0.5): 2.5/4
  near(a!.auc, 0.625);
  near(b!.auc, 1); // positives .8, .6 above negatives .1, .1
  assert.equal(c!.auc, null); // no positives
  assert.equal(d!.auc, null);
  near(m.macroAuc, (0.625 + 1) / 2);
});

test('a single sample', () => {
  const m = classificationMetrics([1], [[0.25, 0.75]], ['neg', 'pos']);
  assert.equal(m.accuracy, 1);
  assert.deepEqual(m.confusionMatrix, [
    [0, 0],
    [0, 1],
  ]);
  // Only class 1 occurs (in labels and predictions): F1 1, recall 1.
  assert.equal(m.macroF1, 1);
  assert.equal(m.balancedAccuracy, 1);
  // One sample has no negatives for class 1 and no positives for class 0: no AUC at all.
  assert.deepEqual(
    m.perClass.map((c) => c.auc),
    [null, null],
  );
  assert.equal(m.macroAuc, null);
  near(m.logLoss, 0.2876821, 1e-7); // −ln 0.75
});

test('bad input is a one-line UserError naming the offending entry', () => {
  const names = ['a', 'b', 'c'];
  throwsOneLine(
    () => classificationMetrics([0, 1], [[1, 0, 0]], names),
    /^expected 2 probability rows \(one per label\) for probs but received 1$/,
  );
  throwsOneLine(
    () => classificationMetrics([0, 3], [[1, 0, 0], [0, 1, 0]], names),
    /^expected class index from 0 to 2 for labels\[1\] but received 3$/,
  );
  throwsOneLine(
    () => classificationMetrics([0, 1.5], [[1, 0, 0], [0, 1, 0]], names),
    /for labels\[1\] but received 1.5$/,
  );
  throwsOneLine(
    () => classificationMetrics([0, 1], [[1, 0, 0], [0.5, 0.5]], names),
    /^expected 3 probabilities \(one per class\) for probs\[1\] but received 2$/,
  );
  throwsOneLine(
    () => classificationMetrics([0, 1], [[1, 0, 0], [0, Number.NaN, 1]], names),
    /^expected probability in \[0, 1\] for probs\[1\]\[1\] but received NaN$/,
  );
  // Logits passed by mistake: each value in range but the row sums to 1.5.
  throwsOneLine(
    () => classificationMetrics([0], [[0.5, 0.5, 0.5]], names),
    /^expected probabilities summing to 1 for probs\[0\] but received sum 1.5$/,
  );
  throwsOneLine(() => classificationMetrics([], [], names), /^expected at least one sample for labels/);
  throwsOneLine(() => classificationMetrics([0], [[1]], ['only']), /^expected at least 2 class names/);
});

test('meanStd uses the sample standard deviation (n − 1)', () => {
  // [1, 2, 3, 4]: mean 2.5; squared deviations 2.25 + 0.25 + 0.25 + 2.25 = 5; 5 / 3 -> sd sqrt(5/3) = 1.29099
  const s = meanStd([1, 2, 3, 4]);
  assert.equal(s.n, 4);
  near(s.mean, 2.5);
  near(s.std, Math.sqrt(5 / 3));
  assert.deepEqual(meanStd([0.7]), { n: 1, mean: 0.7, std: null });
  throwsOneLine(() => meanStd([]), /^expected at least one value for values but received 0$/);
  throwsOneLine(() => meanStd([1, Number.NaN]), /^expected finite number for values\[1\] but received NaN$/);
});

test('ensembleProbabilities is the elementwise mean over folds', () => {
  const mean = ensembleProbabilities([
    [
      [1, 0],
      [0.5, 0.5],
    ],
    [Float32Array.of(0, 1), Float32Array.of(0.75, 0.25)],
  ]);
  // (1 + 0)/2, (0 + 1)/2; (0.5 + 0.75)/2 = 0.625, (0.5 + 0.25)/2 = 0.375
  assert.deepEqual(mean, [
    [0.5, 0.5],
    [0.625, 0.375],
  ]);
  throwsOneLine(() => ensembleProbabilities([]), /^expected at least one fold for foldProbs but received 0$/);
  throwsOneLine(
    () => ensembleProbabilities([[[1, 0]], [[1, 0], [0, 1]]]),
    /^expected 1 rows \(as many as fold 0\) for foldProbs\[1\] but received 2$/,
  );
  throwsOneLine(
    () => ensembleProbabilities([[[1, 0]], [[1, 0, 0]]]),
    /^expected 2 values \(as many as fold 0\) for foldProbs\[1\]\[0\] but received 3$/,
  );
  throwsOneLine(
    () => ensembleProbabilities([[[1, 0]], [[Number.NaN, 0]]]),
    /^expected finite probability for foldProbs\[1\]\[0\]\[0\] but received NaN$/,
  );
});
