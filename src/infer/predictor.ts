/**
 * The one prediction loop of senet-ort: batches of images in, one Prediction per batch out. Training
 * validates with it (eval_step.onnx, fed the state being trained), `evaluate` scores fold models with
 * it, `export` checks an exported model with it and `predict` classifies image files with it.
 *
 * What differs between those uses stays with the caller: where the images come from (the tile
 * loader, image files), which graph runs and how its session was made, and the batch size (ORT's
 * numbers may depend on it, so each use keeps its own). The shared part is here: feeding a batch and
 * the graph's other inputs, padding the last batch for a graph with a fixed batch, cutting the
 * outputs to the batch, and the predicted class.
 *
 * Every graph it runs has an input `images` [N, C, H, W] and an output `probabilities` [N, classes]
 * (softmax), and usually `logits` beside it. For the SE excitation analysis `evaluate` builds the
 * fold's inference graph with each SE block's gate, the value `<block>/excitation` (a Sigmoid,
 * [N, C, 1, 1]), as an extra output: ONNX Runtime returns intermediate values only when they are
 * outputs.
 */
import type * as ort from 'onnxruntime-node';
import { Tensor as OrtTensor } from 'onnxruntime-node';
import type { ArtifactManifest } from '../formats/artifacts.ts';
import { encodeModel } from '../formats/protobuf.ts';
import type { TileLoader } from '../data/loader.ts';
import type { BatchRequest } from '../data/plan.ts';
import type { Tensor } from '../graph/ir.ts';
import { EXCITATION_SUFFIX, buildInferenceGraph, excitationValues, resolveModel, withExcitationOutputs } from '../graph/model.ts';

export { EXCITATION_SUFFIX, excitationValues, withExcitationOutputs } from '../graph/model.ts';
import type { ModelConfig } from '../graph/model.ts';
import { withWeights } from '../graph/weights.ts';
import { argmax } from '../util/numeric.ts';
import { cpuNodes, createSession } from './session.ts';
import type { SessionSettings } from './session.ts';
import type { HostNode } from './placement.ts';


/** A batch of images to predict, as the graph takes them. */
export interface Batch {
  /** n × C × H × W floats. */
  readonly images: Float32Array;
  /** The n images' true labels, when known: handed back with their predictions. */
  readonly labels?: Int32Array;
}

/** One SE block's gate values for a batch: n × channels, row-major. */
export interface BlockExcitation {
  /** The SE module's path, e.g. `layer2.0.se`. */
  name: string;
  channels: number;
  data: Float32Array;
}

/** What a model says about n images. */
export interface Prediction {
  readonly count: number;
  readonly classes: number;
  /** n × classes, row-major; null for a model without a `logits` output. */
  readonly logits: Float32Array | null;
  /** n × classes softmax probabilities, row-major. */
  readonly probabilities: Float32Array;
  /** Per image, the class of the highest probability (the first one on a tie). */
  readonly predicted: Int32Array;
  /** The batch's labels, when it had them. */
  readonly labels: Int32Array | null;
  /** Per SE block, in graph order; empty unless the graph has the gates as outputs. */
  readonly excitations: BlockExcitation[];
}

/** The graph's inputs other than `images` (eval_step.onnx's parameters and statistics), by name. */
export type Weights = ReadonlyMap<string, ort.Tensor>;

/** A model in an ONNX Runtime session, ready to predict. */
export interface Predictor {
  readonly classes: number;
  /** [C, H, W] of one input image. */
  readonly input: readonly [number, number, number];
  /** The batch the graph was exported with, or null when its batch is free. */
  readonly fixedBatch: number | null;
  /** The graph's inputs other than `images`, which `weights` must hold. */
  readonly weightNames: readonly string[];
  /** The SE blocks whose gates each prediction holds. */
  readonly blocks: readonly { name: string; channels: number }[];
  /** On WebGPU, the nodes ONNX Runtime left on the CPU (placement.ts's heavyNodesWarning words the big ones); empty elsewhere. */
  readonly hostNodes: readonly HostNode[];
  /** One batch of n images (n × C × H × W floats). */
  predict(images: Float32Array, n: number, weights?: Weights): Promise<Prediction>;
  /** Batch by batch, in order. */
  predictions(batches: AsyncIterable<Batch> | Iterable<Batch>, weights?: Weights): AsyncGenerator<Prediction>;
  /** Release the session. */
  release(): Promise<void>;
}

/** Where the SE gates are among a graph's outputs. */
interface GateOutput {
  readonly name: string;
  readonly channels: number;
  readonly output: string;
}

/** Predict with a session made by the caller; the predictor releases it. */
export function predictorOn(
  session: ort.InferenceSession,
  model: { readonly classes: number; readonly input: readonly [number, number, number] },
  gates: readonly GateOutput[] = [],
): Predictor {
  const { classes, input } = model;
  const [c, h, w] = input;
  const plane = c * h * w;
  // A graph exported with a fixed batch takes only full batches: the last one is padded with zeros.
  const images = session.inputMetadata.find((m) => m.name === 'images');
  const fixedBatch = images?.isTensor && typeof images.shape[0] === 'number' ? images.shape[0] : null;
  const weightNames = session.inputNames.filter((name) => name !== 'images');
  const hasLogits = session.outputNames.includes('logits');
  const fetches = [...(hasLogits ? ['logits'] : []), 'probabilities', ...gates.map((g) => g.output)];

  async function predict(batch: Float32Array, n: number, weights?: Weights, labels?: Int32Array): Promise<Prediction> {
    if (batch.length !== n * plane) throw new Error(`predict: ${batch.length} floats for ${n} images of ${c}x${h}x${w}`);
    const feeds: Record<string, ort.Tensor> = {};
    for (const name of weightNames) {
      const t = weights?.get(name);
      if (!t) throw new Error(`predict: no tensor for the graph input ${name}`);
      feeds[name] = t;
    }
    const full = fixedBatch !== null && n < fixedBatch ? padded(batch, fixedBatch * plane) : batch;
    feeds['images'] = new OrtTensor('float32', full, [full.length / plane, c, h, w]);
    const out = await session.run(feeds, fetches);
    const rows = (name: string, width: number): Float32Array => {
      const data = out[name]!.data as Float32Array;
      return data.length === n * width ? data : data.subarray(0, n * width);
    };
    const probabilities = rows('probabilities', classes);
    return {
      count: n,
      classes,
      logits: hasLogits ? rows('logits', classes) : null,
      probabilities,
      predicted: argmaxRows(probabilities, classes),
      labels: labels ?? null,
      excitations: gates.map((g) => ({ name: g.name, channels: g.channels, data: rows(g.output, g.channels) })),
    };
  }

  return {
    classes,
    input,
    fixedBatch,
    weightNames,
    blocks: gates.map(({ name, channels }) => ({ name, channels })),
    hostNodes: cpuNodes(session),
    predict: (batch, n, weights) => predict(batch, n, weights),
    async *predictions(batches, weights) {
      for await (const batch of batches) yield await predict(batch.images, batch.images.length / plane, weights, batch.labels);
    },
    release: () => session.release(),
  };
}

function padded(data: Float32Array, length: number): Float32Array {
  const out = new Float32Array(length);
  out.set(data);
  return out;
}

/** The index of each row's largest value, the first one on a tie. */
export function argmaxRows(rows: Float32Array, width: number): Int32Array {
  const n = rows.length / width;
  const arg = new Int32Array(n);
  for (let i = 0; i < n; i++) arg[i] = argmax(rows, i * width, width);
  return arg;
}

/** The predictions of several batches as one, in order. */
export async function collectPredictions(predictions: AsyncIterable<Prediction>, classes: number): Promise<Prediction> {
  const parts: Prediction[] = [];
  for await (const p of predictions) parts.push(p);
  const join = (pick: (p: Prediction) => Float32Array): Float32Array => concat(parts.map(pick), Float32Array);
  const hasLogits = parts.every((p) => p.logits !== null);
  const hasLabels = parts.length > 0 && parts.every((p) => p.labels !== null);
  return {
    count: parts.reduce((n, p) => n + p.count, 0),
    classes,
    logits: hasLogits ? join((p) => p.logits!) : null,
    probabilities: join((p) => p.probabilities),
    predicted: concat(parts.map((p) => p.predicted), Int32Array),
    labels: hasLabels ? concat(parts.map((p) => p.labels!), Int32Array) : null,
    excitations: (parts[0]?.excitations ?? []).map((b, k) => ({ ...b, data: join((p) => p.excitations[k]!.data) })),
  };
}

function concat<T extends Float32Array | Int32Array>(parts: readonly T[], Kind: { new (length: number): T }): T {
  const out = new Kind(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The loader's batches for `requests`, each with its tiles' labels (`labels` is indexed like the loader's tiles). */
export async function* tileBatches(loader: TileLoader, requests: readonly BatchRequest[], labels?: Int32Array): AsyncGenerator<Batch> {
  let k = 0;
  for await (const images of loader.stream(requests)) {
    const indices = requests[k++]!.indices;
    yield labels ? { images, labels: Int32Array.from(indices, (t) => labels[t]!) } : { images };
  }
}

// ---------------------------------------------------------------------------------------------
// A fold model for `evaluate`: the inference graph with a checkpoint's weights in it.

/** The model configuration that the run's artifacts were generated from. */
export function configFromManifest(manifest: ArtifactManifest): ModelConfig {
  const [c, h, w] = manifest.inputShape;
  return resolveModel({
    arch: manifest.architecture,
    classes: manifest.classes,
    input: [c!, h!, w!],
    ...(manifest.reduction === null ? {} : { reduction: manifest.reduction }),
    ...(manifest.seWidth ? { seWidth: manifest.seWidth } : {}),
    seed: manifest.seed,
    opset: manifest.opset,
  });
}

/**
 * Load a fold model for prediction: the inference graph from `config` with the checkpoint's
 * `state` (read from `source`) and, when `excitation` is set, the SE gates as extra outputs.
 * On WebGPU `settings.batch` is required: the graph is fixed to it (else every layer's shape
 * arithmetic would run on the CPU), and the last batch is padded to it.
 */
export async function createPredictor(
  config: ModelConfig,
  state: ReadonlyMap<string, Tensor>,
  source: string,
  settings: SessionSettings,
  options: { excitation?: boolean } = {},
): Promise<Predictor> {
  if (settings.device === 'webgpu' && settings.batch === undefined) throw new Error(`createPredictor(${source}): a webgpu session needs settings.batch, the batch the graph is fixed to`);
  let graph = withWeights(buildInferenceGraph(config), state, source);
  const gates = options.excitation ? excitationValues(graph) : [];
  if (gates.length > 0) graph = withExcitationOutputs(graph);
  const session = await createSession(encodeModel(graph), settings);
  return predictorOn(session, config, gates.map((v) => ({ name: v.name.slice(0, -EXCITATION_SUFFIX.length), channels: v.shape[1] as number, output: v.name })));
}
