// Comparing a training step that computes another way (the x64 step, the webgpu step on WebGPU)
// with the portable step on the CPU, against what float rounding alone does to the portable step.
import * as ort from 'onnxruntime-node';
import type { Graph } from '../../src/graph/ir.ts';
import type { ModelConfig } from '../../src/graph/model.ts';
import type { TrainStep } from '../../src/graph/train.ts';
import { buildTrainStep } from '../../src/graph/train.ts';
import { DEFAULT_CONV_GRAD } from '../../src/graph/conv-grad.ts';
import { data, floats, int64s, session, stateFeeds } from './ort.ts';
import type { Feeds } from './ort.ts';

/** ||a - b|| / ||b||: a float32 reordering of sums moves it by about 1e-7. */
export function relativeError(a: Float32Array, b: Float32Array): number {
  let d = 0;
  let n = 0;
  for (let i = 0; i < b.length; i++) {
    d += (a[i]! - b[i]!) ** 2;
    n += b[i]! ** 2;
  }
  return Math.sqrt(d / (n || 1));
}

/** The step compared: a graph (run on the CPU, as the portable one), a session, or a way to make one. */
export type OtherStep = Graph | ort.InferenceSession | (() => Promise<ort.InferenceSession>);

export interface StepError {
  readonly name: string;
  /** The other step's relative error against the portable step's. */
  readonly error: number;
  /** What float rounding alone moves the portable step's output by. */
  readonly rounding: number;
}

function open(other: OtherStep): Promise<ort.InferenceSession> {
  if (typeof other === 'function') return other();
  if ('run' in other) return Promise.resolve(other);
  return session(other);
}

/**
 * Runs the portable step (on the CPU) and the other one from the same state, twice, and returns
 * each output's relative error against the portable step's, next to what float rounding alone does
 * to it: the larger of the portable step's error when its images move by a few units in the last
 * place, and that of a second portable step whose backward convs sum in another order (every dX by
 * ConvTranspose, every dW by one Gemm) on those images. A step that rounds differently in every
 * conv, forward and backward, with BatchNorm over a handful of values deep in a small network,
 * moves some outputs by 1e-3 by rounding alone, and a ReLU or max-pool input within rounding of a
 * tie moves a gradient row outright. Both steps start each step from the portable step's state.
 * `random` draws the batch of 4 images (standard normal). With `nudges` > 1 the images move in
 * that many patterns (up to 7) and the rounding is the largest: one nudge is a single sample of how
 * far rounding moves an output, and for a scalar (the loss) it can fall two orders of magnitude
 * short of what another pattern, or a step that rounds differently in every op, moves it by.
 */
export async function stepErrors(step: TrainStep, other: OtherStep, input: readonly number[], otherOrder: TrainStep, random: (n: number) => number[], nudges = 1): Promise<StepError[]> {
  const [portable, lowered, reordered] = await Promise.all([session(step.graph), open(other), session(otherOrder.graph)]);
  const n = 4;
  const images = random(n * input[0]! * input[1]! * input[2]!);
  const nudge = (j: number): Float32Array => Float32Array.from(images, (v, i) => v * (1 + (((i + 3 * j) % 7) - 3) * 1.2e-7));
  const nudged = nudge(0);
  const fixed: Feeds = { labels: int64s([0, 3, 1, 4], [n]), lr: floats([0.05], []), momentum: floats([0.9], []), weight_decay: floats([1e-4], []) };
  let feeds: Feeds = { ...stateFeeds(step.graph), ...fixed, images: floats(images, [n, ...input]) };
  const errors: StepError[] = [];
  for (let k = 0; k < 2; k++) {
    const a = await portable.run(feeds);
    const b = await lowered.run(feeds);
    const c = await portable.run({ ...feeds, images: floats(nudged, [n, ...input]) });
    const d = await reordered.run({ ...feeds, images: floats(nudged, [n, ...input]) });
    const more: ort.InferenceSession.ReturnType[] = [];
    for (let j = 1; j < nudges; j++) more.push(await portable.run({ ...feeds, images: floats(nudge(j), [n, ...input]) }));
    for (const name of Object.keys(a)) {
      const rounding = Math.max(...[c, d, ...more].map((r) => relativeError(data(r[name]!), data(a[name]!))));
      errors.push({ name: `step ${k + 1}, ${name}`, error: relativeError(data(b[name]!), data(a[name]!)), rounding });
    }
    const next: Feeds = { ...feeds };
    for (const name of Object.keys(feeds)) if (a[`${name}.next`]) next[name] = a[`${name}.next`] as ort.Tensor;
    feeds = next;
  }
  return errors;
}

/** The same network with every dX by ConvTranspose and every dW by one Gemm: another summation order. */
export function otherOrder(config: ModelConfig, activation?: string): TrainStep {
  return buildTrainStep(config, {}, { conv: { ...DEFAULT_CONV_GRAD, dx: 'transpose', dw: 'gemm' } }, undefined, activation);
}

/** Within float rounding: no further from the portable step than rounding moves it (x10), or 1e-5. */
export const outsideRounding = (e: { error: number; rounding: number }): boolean => e.error > 10 * e.rounding + 1e-5;

/**
 * The momentum and bias updates: scaled gradients (biases start at zero), which jump where a ReLU
 * input sits within rounding of zero; compared on the sigmoid network only.
 */
export const gradientLike = (name: string): boolean => name.endsWith('.momentum.next') || name.endsWith('.bias.next');
