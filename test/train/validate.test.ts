import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Prediction } from '../../src/infer/predictor.ts';
import { argmaxRows } from '../../src/infer/predictor.ts';
import { lossAndAccuracy } from '../../src/train/validate.ts';

function prediction(logits: number[][], labels: number[]): Prediction {
  const flat = Float32Array.from(logits.flat());
  return {
    count: logits.length, classes: 3, logits: flat, probabilities: new Float32Array(flat.length),
    predicted: argmaxRows(flat, 3), labels: Int32Array.from(labels), excitations: [],
  };
}

describe('validation scores', () => {
  it('mean cross-entropy from the logits and the share of tiles whose largest logit is the label', () => {
    const rows = [[2, 0, -1], [0, 1, 0.5], [3, 3, 0]];
    const labels = [0, 2, 1];
    const expected = rows.reduce((sum, row, i) => sum + Math.log(row.reduce((s, v) => s + Math.exp(v), 0)) - row[labels[i]!]!, 0) / rows.length;
    const scores = lossAndAccuracy(prediction(rows, labels));
    assert.ok(Math.abs(scores.loss - expected) < 1e-12, `${scores.loss} vs ${expected}`);
    // The tie in the last row goes to the first class, as everywhere else.
    assert.deepEqual([scores.correct, scores.accuracy], [1, 1 / 3]);
  });

  it('a non-finite logit gives a non-finite loss, which stops training', () => {
    assert.ok(!Number.isFinite(lossAndAccuracy(prediction([[NaN, 0, 0]], [0])).loss));
  });
});
