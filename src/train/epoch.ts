/**
 * Training steps: a step runner on the training state (state.ts), and one epoch of steps over the
 * loader's batches with the running loss and accuracy.
 */
import * as ort from 'onnxruntime-node';
import type { TrainOptions } from '../formats/rundir.ts';
import type { TileLoader } from '../data/loader.ts';
import type { BatchRequest } from '../data/plan.ts';
import { scheduleOf } from './options.ts';
import type { Progress } from './progress.ts';
import { learningRate } from './schedule.ts';
import type { TrainingState } from './state.ts';

/** One training step on the training state: the batch and the learning rate in, the loss and logits out. */
export type StepRunner = (images: Float32Array, labels: BigInt64Array, lr: number) => Promise<{ loss: number; logits: Float32Array }>;

export function stepRunner(session: ort.InferenceSession, state: TrainingState, options: TrainOptions): StepRunner {
  const scalar = (v: number): ort.Tensor => new ort.Tensor('float32', Float32Array.of(v), []);
  const lr = scalar(options.lr);
  const feeds: Record<string, ort.Tensor> = { lr, momentum: scalar(options.momentum), weight_decay: scalar(options.weightDecay) };
  const shape = [...options.input];
  return (images, labels, rate) => {
    (lr.data as Float32Array)[0] = rate;
    feeds['images'] = new ort.Tensor('float32', images, [labels.length, ...shape]);
    feeds['labels'] = new ort.Tensor('int64', labels, [labels.length]);
    return state.step(session, feeds);
  };
}

/** Bytes that cross between host and device in one step on a GPU whose state stays there: the batch in, loss and logits out. */
export function stepTransferBytes(options: TrainOptions, batch: number, classes: number): { up: number; down: number } {
  const image = options.input.reduce((p, d) => p * d, 1);
  return { up: batch * image * 4 + batch * 8 + 3 * 4, down: 4 + batch * classes * 4 };
}

/** What an epoch of steps needs from its run. */
export interface EpochContext {
  readonly options: TrainOptions;
  readonly loader: TileLoader;
  /** Label of each tile in the loader's tile set. */
  readonly labels: Int32Array;
  readonly progress: Progress;
  /** Aborted: stop before the next step (finished epochs stay committed). */
  readonly signal?: AbortSignal;
}

export interface EpochTotals {
  readonly lossSum: number;
  readonly correct: number;
  readonly seen: number;
  /** Seconds spent waiting for the loader. */
  readonly waited: number;
  /** Learning rate of the epoch's first step. */
  readonly firstLr: number;
  /** The step whose loss was not finite, which ended the epoch there; null when every step was fine. */
  readonly diverged: { readonly step: number; readonly loss: number } | null;
  /** The step before which the signal stopped the epoch; null when it ran to its end. */
  readonly stopped: number | null;
}

/** The training steps of one epoch, with the running loss and accuracy and the time spent waiting for data. */
export async function trainEpoch(ctx: EpochContext, fold: number, epoch: number, batches: readonly BatchRequest[], step: StepRunner): Promise<EpochTotals> {
  const schedule = scheduleOf(ctx.options);
  const started = performance.now();
  const totals = { lossSum: 0, correct: 0, seen: 0, waited: 0, firstLr: learningRate(schedule, epoch - 1, 0, batches.length), diverged: null, stopped: null };
  const stream = ctx.loader.stream(batches);
  for (let i = 0; i < batches.length; i++) {
    if (ctx.signal?.aborted) {
      await stream.return(undefined);
      return { ...totals, stopped: i + 1 };
    }
    const waitStart = performance.now();
    const images = (await stream.next()).value as Float32Array;
    totals.waited += (performance.now() - waitStart) / 1000;
    const batch = batches[i]!;
    const labels = BigInt64Array.from(batch.indices, (t) => BigInt(ctx.labels[t]!));
    const { loss, logits } = await step(images, labels, learningRate(schedule, epoch - 1, i, batches.length));
    if (!Number.isFinite(loss)) {
      await stream.return(undefined);
      return { ...totals, diverged: { step: i + 1, loss } };
    }
    totals.lossSum += loss * labels.length;
    totals.seen += labels.length;
    totals.correct += countCorrect(logits, batch.indices, ctx.labels);
    const elapsed = (performance.now() - started) / 1000;
    ctx.progress.step({ fold, epoch, epochs: ctx.options.epochs, step: i + 1, steps: batches.length, loss: totals.lossSum / totals.seen, accuracy: totals.correct / totals.seen, imagesPerSecond: totals.seen / elapsed, elapsed });
  }
  return totals;
}

function countCorrect(logits: Float32Array, indices: Int32Array, labels: Int32Array): number {
  const classes = logits.length / indices.length;
  let correct = 0;
  for (let i = 0; i < indices.length; i++) {
    let arg = 0;
    for (let c = 1; c < classes; c++) if (logits[i * classes + c]! > logits[i * classes + arg]!) arg = c;
    if (arg === labels[indices[i]!]) correct++;
  }
  return correct;
}
