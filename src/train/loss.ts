/**
 * The validation scores of predictions, with no runtime in sight: the mean cross-entropy and the
 * accuracy (validate.ts runs eval_step.onnx on ONNX Runtime; the browser app on its own).
 */
import type { Prediction } from '../infer/predictor.ts';

/** Mean cross-entropy (from logits, in float64) and accuracy of predictions against their labels. */
export function lossAndAccuracy(p: Pick<Prediction, 'labels' | 'logits' | 'classes'>): { loss: number; accuracy: number; correct: number } {
  const { labels, logits } = p;
  // eval_step.onnx has a logits output, and validation batches carry their labels.
  if (!labels || !logits) throw new Error('lossAndAccuracy: a prediction without logits or labels');
  let loss = 0;
  let correct = 0;
  for (let i = 0; i < labels.length; i++) {
    const row = logits.subarray(i * p.classes, (i + 1) * p.classes);
    let max = -Infinity;
    let arg = 0;
    for (let c = 0; c < p.classes; c++) if (row[c]! > max) [max, arg] = [row[c]!, c];
    let sum = 0;
    for (let c = 0; c < p.classes; c++) sum += Math.exp(row[c]! - max);
    loss += Math.log(sum) + max - row[labels[i]!]!;
    if (arg === labels[i]) correct++;
  }
  return { loss: loss / labels.length, accuracy: correct / labels.length, correct };
}
