/**
 * Validation after each epoch: the fold's validation tiles through eval_step.onnx, fed the state
 * being trained (src/infer/predictor.ts), scored by the mean cross-entropy and the accuracy.
 */
import type { Normalization } from '../formats/rundir.ts';
import type { TileLoader } from '../data/loader.ts';
import { planEvaluation } from '../data/plan.ts';
import type { Predictor, Weights } from '../infer/predictor.ts';
import { collectPredictions, tileBatches } from '../infer/predictor.ts';
import { lossAndAccuracy } from './loss.ts';

export { lossAndAccuracy } from './loss.ts';

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
