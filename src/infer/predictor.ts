/**
 * Running one trained fold model on tiles: the part of `evaluate` that needs ONNX Runtime.
 *
 * The model is the inference graph rebuilt from the run's artifact.json (the same builder and
 * options that wrote model.onnx and eval_step.onnx), with the checkpoint's tensors in place of the
 * initial weights. For the SE excitation analysis each SE block's gate, the value
 * `<block>/excitation` (a Sigmoid, [N, C, 1, 1]), is added to the graph's outputs: ONNX Runtime
 * returns intermediate values only when they are outputs.
 */
import type * as ort from 'onnxruntime-node';
import { Tensor as OrtTensor } from 'onnxruntime-node';
import type { ArtifactManifest } from '../formats/artifacts.ts';
import { encodeModel } from '../formats/protobuf.ts';
import type { Graph, Tensor, Value } from '../graph/ir.ts';
import { buildInferenceGraph, resolveModel } from '../graph/model.ts';
import type { ModelConfig } from '../graph/model.ts';
import { createSession } from './session.ts';
import type { SessionSettings } from './session.ts';
import { withWeights } from '../graph/weights.ts';

/** Suffix of an SE block's sigmoid output: `layer2.0.se/excitation` belongs to the block `layer2.0.se`. */
export const EXCITATION_SUFFIX = '/excitation';

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

/** The SE gates of a graph, shallow to deep; none for a plain ResNet. */
export function excitationValues(graph: Graph): Value[] {
  return graph.nodes.flatMap((n) => n.outputs).filter((v) => v.name.endsWith(EXCITATION_SUFFIX));
}

/** The same graph with every SE gate as an extra output, after `logits` and `probabilities`. */
export function withExcitationOutputs(graph: Graph): Graph {
  return { ...graph, outputs: [...graph.outputs, ...excitationValues(graph)] };
}

/** One SE block's gate values for a batch: n × channels, row-major. */
export interface BlockExcitation {
  /** The SE module's path, e.g. `layer2.0.se`. */
  name: string;
  channels: number;
  data: Float32Array;
}

export interface Prediction {
  /** n × classes softmax probabilities, row-major. */
  probabilities: Float32Array;
  /** Per SE block, in graph order; empty when the predictor was made without excitation. */
  excitations: BlockExcitation[];
}

/** A fold model loaded into an ONNX Runtime session. */
export interface Predictor {
  readonly classes: number;
  /** [C, H, W] of one input image. */
  readonly input: readonly [number, number, number];
  /** The SE blocks whose gates `predict` returns. */
  readonly blocks: readonly { name: string; channels: number }[];
  /** Run a batch of n normalised images (n × C × H × W floats). */
  predict(images: Float32Array, n: number): Promise<Prediction>;
  release(): Promise<void>;
}

/**
 * Load the model for prediction: the inference graph from `config` with the checkpoint's `state`
 * and, when `excitation` is set, the SE gates as extra outputs.
 */
export async function createPredictor(
  config: ModelConfig,
  state: ReadonlyMap<string, Tensor>,
  source: string,
  settings: SessionSettings,
  options: { excitation?: boolean } = {},
): Promise<Predictor> {
  let graph = withWeights(buildInferenceGraph(config), state, source);
  const gates = options.excitation ? excitationValues(graph) : [];
  if (gates.length > 0) graph = withExcitationOutputs(graph);
  const session = await createSession(encodeModel(graph), settings);
  const blocks = gates.map((v) => ({ name: v.name.slice(0, -EXCITATION_SUFFIX.length), channels: v.shape[1] as number, output: v.name }));
  const [c, h, w] = config.input;
  const plane = c * h * w;
  return {
    classes: config.classes,
    input: config.input,
    blocks: blocks.map(({ name, channels }) => ({ name, channels })),
    async predict(images: Float32Array, n: number): Promise<Prediction> {
      if (images.length !== n * plane) throw new Error(`predict: ${images.length} floats for ${n} images of ${c}x${h}x${w}`);
      const feeds: Record<string, ort.Tensor> = { images: new OrtTensor('float32', images, [n, c, h, w]) };
      const out = await session.run(feeds);
      const probabilities = out['probabilities']!.data as Float32Array;
      return {
        probabilities,
        excitations: blocks.map((b) => ({ name: b.name, channels: b.channels, data: out[b.output]!.data as Float32Array })),
      };
    },
    release: () => session.release(),
  };
}
