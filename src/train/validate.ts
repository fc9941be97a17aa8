/**
 * Validation after each epoch: the fold's validation tiles through eval_step.onnx, fed the state
 * being trained (src/infer/predictor.ts), scored by the mean cross-entropy and the accuracy.
 */
import type { Normalization } from '../formats/rundir.ts';
import type { TileLoader } from '../data/loader.ts';
import { planEvaluation } from '../data/plan.ts';
import type { Prediction, Predictor, Weights } from '../infer/predictor.ts';
import { collectPredictions, tileBatches } from '../infer/predictor.ts';

/**
 * Predict `tiles` (indices into the loader's tile set, labelled by `labels`) with `state`, in
 * batches of `batchSize` (or of the graph's fixed batch), and score the predictions.
 */
export async function validate(
  evalStep: Predictor,
  state: Weights,
  data: { readonly loader: TileLoader; readonly tiles: readonly number[]; readonly labels: Int32Array; readonly normalization: Normalization },
  batchSize: number,
): Promise<{ loss: number; accuracy: number; correct: number }> {
  const batches = tileBatches(data.loader, planEvaluation(data.tiles, evalStep.fixedBatch ?? batchSize, data.normalization), data.labels);
  return lossAndAccuracy(await collectPredictions(evalStep.predictions(batches, state), evalStep.classes));
}

/** Mean cross-entropy (from logits, in float64) and accuracy of predictions against their labels. */
export function lossAndAccuracy(p: Prediction): { loss: number; accuracy: number; correct: number } {
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
