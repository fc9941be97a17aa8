/**
 * The training artifacts, a public contract (README, "Training artifacts"): train_step.onnx,
 * eval_step.onnx, model.onnx, init.safetensors and artifact.json, all in one directory. Built here
 * as bytes (artifacts-file.ts writes them; the browser app (src/web) puts them in its run folder).
 */
import type { Graph, Tensor, Value } from '../graph/ir.ts';
import type { ModelConfig } from '../graph/model.ts';
import { BATCH_SYMBOL, buildInferenceGraph } from '../graph/model.ts';
import type { LossOptions } from '../graph/train.ts';
import { buildTrainStep } from '../graph/train.ts';
import type { Freeze } from '../graph/freeze.ts';
import { withWeights } from '../graph/weights.ts';
import type { Kernels } from '../graph/flavours.ts';
import { PORTABLE, trainStepKernels } from '../graph/flavours.ts';
import { loweredConvs } from '../graph/nchwc.ts';
import type { InitRecord } from './state-dict.ts';
import type { GradContext } from '../graph/gradients.ts';
import { BN_EPS, BN_MOMENTUM } from '../graph/layers.ts';
import { encodeModel } from './protobuf.ts';
import { inferenceMetadata } from './metadata.ts';
import { encodeSafetensors } from './safetensors.ts';
import { PRODUCER, VERSION } from '../version.ts';

export interface TensorSpec {
  readonly name: string;
  readonly dtype: string;
  readonly shape: readonly (number | string)[];
}

export interface GraphIO {
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
}

/** What artifact.json holds. */
export interface ArtifactManifest {
  readonly format: 'senet-ort-training-artifacts';
  readonly formatVersion: 1;
  readonly producer: string;
  readonly producerVersion: string;
  readonly architecture: string;
  readonly classes: number;
  readonly inputShape: readonly number[];
  readonly reduction: number | null;
  /** SE hidden width rounding (floor or timm), null for a plain ResNet; absent in older artifacts (floor). */
  readonly seWidth?: 'floor' | 'timm' | null;
  readonly opset: number;
  readonly seed: number;
  /** The training step's batch: a number, or the symbol of a free batch dimension. */
  readonly batch: number | string;
  readonly loss: { readonly labelSmoothing: number; readonly classWeights: readonly number[] | null };
  readonly parameters: readonly string[];
  readonly momentumBuffers: readonly string[];
  readonly runningStatistics: readonly string[];
  /** Frozen parts and their parameters (no gradient, `.next` = the input); absent in older artifacts. */
  readonly freeze?: { readonly parts: readonly string[]; readonly bn: boolean; readonly parameters: readonly string[] };
  /** Where init.safetensors' weights came from, when not from the seed; absent in older artifacts. */
  readonly init?: InitRecord | null;
  /**
   * The kernels train_step.onnx uses: portable (plain ONNX), x64 (ONNX Runtime's NCHWc ops, for
   * the recorded block size only; `convs` of them), or webgpu (plain ONNX around the WebGPU
   * provider's gaps). Absent in older artifacts: portable.
   */
  readonly kernels?: Kernels & { readonly convs?: number };
  readonly semantics: Readonly<Record<string, string>>;
  readonly graphs: { readonly train_step: GraphIO; readonly eval_step: GraphIO; readonly model: GraphIO };
}

const spec = (v: Value): TensorSpec => ({ name: v.name, dtype: v.dtype, shape: [...v.shape] });

function graphIO(graph: Graph, stateAsInputs: boolean): GraphIO {
  const state = stateAsInputs ? graph.initializers.filter((i) => i.kind !== 'constant').map((i) => i.value) : [];
  return { inputs: [...graph.inputs, ...state].map(spec), outputs: graph.outputs.map(spec) };
}

export const SEMANTICS: Readonly<Record<string, string>> = {
  loss: 'torch.nn.CrossEntropyLoss(weight, label_smoothing), mean reduction: sum_i sum_k w_k ((1-e) onehot_ik + e/K) (-log softmax_ik) / sum_i w_{y_i}',
  update: 'torch.optim.SGD(lr, momentum, weight_decay, dampening=0, nesterov=False): g = grad + weight_decay * p; buf = momentum * buf + g; p = p - lr * buf; buffers start at zero',
  batchnorm: `torch.nn.BatchNorm2d in train mode: batch mean and biased variance over (N,H,W), eps ${BN_EPS}; running_mean = ${1 - BN_MOMENTUM} running_mean + ${BN_MOMENTUM} mean; running_var = ${1 - BN_MOMENTUM} running_var + ${BN_MOMENTUM} unbiased variance`,
  state: 'every state input <name> has an output <name>.next; feed it back as <name> for the next step',
  freeze: 'parameters in freeze.parameters get no gradient: <param>.next = <param>, <param>.momentum.next = <param>.momentum; with freeze.bn the BatchNorms of frozen parts use their running statistics (inference mode), which pass through unchanged',
  eval: 'eval_step: BatchNorm in inference mode with running statistics; probabilities = softmax(logits)',
  kernels: 'kernels.flavour portable: train_step uses standard ONNX ops only; x64: it uses ONNX Runtime\'s com.microsoft.nchwc ops laid out for kernels.block channels, and runs only on an x86-64 CPU whose NCHWc block is that size; webgpu: standard ONNX ops only, rewritten around two gaps of ONNX Runtime\'s WebGPU provider (grouped shift convs folded into the batch, MaxPool backward without Indices), runs on any provider (state and checkpoints keep the public layout in every flavour)',
  names: 'parameter and buffer names are PyTorch state_dict names of the torchvision layout (SE: timm-style layerX.Y.se.fc1/fc2)',
};

/** How a fine-tuning run starts: imported weights (every parameter and buffer, by name) and what is frozen. */
export interface ArtifactSetup {
  readonly weights?: ReadonlyMap<string, Tensor>;
  readonly init?: InitRecord;
  readonly freeze?: Freeze;
  /** The training step's kernels (default portable, the contract's plain ONNX). */
  readonly kernels?: Kernels;
}

/** The artifacts: the manifest, and the files' names and bytes, encoded when asked for. */
export interface TrainingArtifacts {
  readonly manifest: ArtifactManifest;
  /** The training step's graph as built (its kernels' flavour), before encoding. */
  readonly trainGraph: Graph;
  files(): [string, Uint8Array | string][];
}

export function buildArtifacts(config: ModelConfig, loss: LossOptions = {}, ctx?: GradContext, setup: ArtifactSetup = {}): TrainingArtifacts {
  const train = buildTrainStep(config, loss, ctx, setup.freeze);
  const kernels = setup.kernels ?? PORTABLE;
  const trainGraph = trainStepKernels(train.graph, kernels);
  // A fixed batch is for the training step (ORT then plans its memory once); evaluation and
  // inference keep a symbolic batch, since the last batch of a split is usually smaller.
  const seeded = buildInferenceGraph({ ...config, batch: BATCH_SYMBOL });
  const inference = setup.weights ? withWeights(seeded, setup.weights, setup.init?.file ?? 'weights') : seeded;
  const evalGraph: Graph = { ...inference, name: `${config.arch}.eval_step` };
  const metadata = inferenceMetadata({ ...config, batch: BATCH_SYMBOL });

  const init = new Map<string, Tensor>();
  for (const i of [...train.parameters, ...train.momentum, ...train.runningStats]) init.set(i.value.name, setup.weights?.get(i.value.name) ?? i.tensor);

  const manifest: ArtifactManifest = {
    format: 'senet-ort-training-artifacts',
    formatVersion: 1,
    producer: PRODUCER,
    producerVersion: VERSION,
    architecture: config.arch,
    classes: config.classes,
    inputShape: [...config.input],
    reduction: config.reduction,
    seWidth: config.seWidth ?? (config.reduction === null ? null : 'floor'),
    opset: config.opset,
    seed: config.seed,
    batch: config.batch,
    loss: { labelSmoothing: loss.labelSmoothing ?? 0, classWeights: loss.classWeights ? [...loss.classWeights] : null },
    parameters: train.parameters.map((p) => p.value.name),
    momentumBuffers: train.momentum.map((p) => p.value.name),
    runningStatistics: train.runningStats.map((p) => p.value.name),
    freeze: { parts: [...(setup.freeze?.parts ?? [])], bn: setup.freeze?.bn ?? false, parameters: [...train.frozen] },
    init: setup.init ?? null,
    kernels: kernels.flavour === 'x64' ? { ...kernels, convs: loweredConvs(trainGraph) } : kernels,
    semantics: SEMANTICS,
    graphs: { train_step: graphIO(trainGraph, true), eval_step: graphIO(evalGraph, true), model: graphIO(inference, false) },
  };

  const files = (): [string, Uint8Array | string][] => [
    ['train_step.onnx', encodeModel(trainGraph, { stateAsInputs: true, metadata: { ...metadata, graph: 'train_step' } })],
    ['eval_step.onnx', encodeModel(evalGraph, { stateAsInputs: true, metadata: { ...metadata, graph: 'eval_step' } })],
    ['model.onnx', encodeModel(inference, { metadata })],
    ['init.safetensors', encodeSafetensors(init, { architecture: config.arch, producer: `${PRODUCER} ${VERSION}` })],
    ['artifact.json', JSON.stringify(manifest, null, 2) + '\n'],
  ];
  return { manifest, trainGraph, files };
}
