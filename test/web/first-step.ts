// The first training step as onnxruntime-node takes it (the portable step on the CPU, from
// init.safetensors), for the browser app's step to be compared with: the same batch as raw tensors.
import * as ort from 'onnxruntime-node';
import { buildArtifacts } from '../../src/formats/artifacts.ts';
import { decodeCheckpoint, stateNames } from '../../src/formats/checkpoint-codec.ts';
import { resolveModel } from '../../src/graph/model.ts';
import { WEBGPU, trainStepKernels } from '../../src/graph/flavours.ts';
import { encodeModel } from '../../src/formats/protobuf.ts';
import type { FirstStepRequest } from '../../src/web/trainer.ts';
import { relativeError } from '../helpers/step-compare.ts';

/** A batch of 4 images drawn from a formula (no generator to share), with labels, for `arch` at `input`, for `steps` steps. */
export function stepRequest(arch: string, input: readonly [number, number, number], steps = 1): FirstStepRequest {
  const n = 4;
  const size = n * input[0] * input[1] * input[2];
  const images = Float32Array.from({ length: size }, (_, i) => Math.sin(i * 0.37) * 1.5 + Math.cos(i * 0.011));
  return { arch, classes: 5, input, seed: 0, images, labels: [0, 3, 1, 4], lr: 0.05, momentum: 0.9, weightDecay: 1e-4, steps };
}

export interface StepOutputs {
  readonly loss: number;
  readonly logits: Float32Array;
  readonly next: ReadonlyMap<string, Float32Array>;
}

/**
 * onnxruntime-node's step on the request: the portable step on the CPU (one thread, so its own
 * rounding is fixed), or on `webgpu` the webgpu flavour on its WebGPU provider, as `ort-train
 * --device webgpu` runs it.
 */
export async function nodeStep(request: FirstStepRequest, device: 'cpu' | 'webgpu' = 'cpu'): Promise<StepOutputs> {
  const model = resolveModel({ arch: request.arch, classes: request.classes, input: request.input, seed: request.seed });
  const artifacts = buildArtifacts({ ...model, batch: request.labels.length });
  const files = new Map(artifacts.files());
  const init = decodeCheckpoint(files.get('init.safetensors') as Uint8Array, 'init.safetensors', artifacts.manifest);
  const session = device === 'webgpu'
    ? await ort.InferenceSession.create(encodeModel(trainStepKernels(artifacts.trainGraph, WEBGPU), { stateAsInputs: true }), { executionProviders: ['webgpu'], logSeverityLevel: 3 })
    : await ort.InferenceSession.create(files.get('train_step.onnx') as Uint8Array, { intraOpNumThreads: 1 });
  const scalar = (v: number): ort.Tensor => new ort.Tensor('float32', Float32Array.of(v), []);
  const feeds: Record<string, ort.Tensor> = {
    images: new ort.Tensor('float32', request.images, [request.labels.length, ...request.input]),
    labels: new ort.Tensor('int64', BigInt64Array.from(request.labels, (l) => BigInt(l)), [request.labels.length]),
    lr: scalar(request.lr), momentum: scalar(request.momentum), weight_decay: scalar(request.weightDecay),
  };
  const names = stateNames(artifacts.manifest);
  for (const n of names) feeds[n] = new ort.Tensor('float32', init.get(n)!.data as Float32Array, [...init.get(n)!.dims]);
  let out: ort.InferenceSession.ReturnType = {};
  // Each step from the state the one before left, fed back from the host.
  for (let i = 0; i < (request.steps ?? 1); i++) {
    out = await session.run(feeds);
    for (const n of names) feeds[n] = out[`${n}.next`]!;
  }
  await session.release();
  return { loss: (out['loss']!.data as Float32Array)[0]!, logits: out['logits']!.data as Float32Array, next: new Map(names.map((n) => [n, out[`${n}.next`]!.data as Float32Array])) };
}

/** The largest relative error of `got` against `want` over the loss, the logits and every state tensor, and where. */
export function worstError(got: StepOutputs, want: StepOutputs): { error: number; where: string } {
  let worst = { error: Math.abs(got.loss - want.loss) / Math.abs(want.loss), where: 'loss' };
  const check = (where: string, a: Float32Array, b: Float32Array): void => {
    if (a.length !== b.length) throw new Error(`${where}: ${a.length} values against ${b.length}`);
    const error = relativeError(a, b);
    if (!(error <= worst.error)) worst = { error, where };
  };
  check('logits', got.logits, want.logits);
  for (const [name, b] of want.next) check(`${name}.next`, got.next.get(name)!, b);
  return worst;
}

/**
 * What float rounding alone does to onnxruntime-node's step: its worst relative error when the
 * images move by about one unit in the last place (as test/helpers/step-compare.ts nudges them).
 * BatchNorm over a handful of values (resnet18's last stages at 32x32) amplifies it to 1e-4.
 */
export async function roundingError(request: FirstStepRequest, step: StepOutputs): Promise<number> {
  const nudged = { ...request, images: Float32Array.from(request.images, (v, i) => v * (1 + ((i % 7) - 3) * 1.2e-7)) };
  return worstError(await nodeStep(nudged), step).error;
}
