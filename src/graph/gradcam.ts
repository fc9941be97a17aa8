/**
 * Grad-CAM (Selvaraju et al., ICCV 2017) inside the ONNX graph, made by the project's own
 * autodiff: for the chosen layer's output A [N,C,h,w] and the logit y_c of the class explained,
 *   cam = ReLU(sum_k alpha_k A_k),  alpha_k = mean over h, w of dy_c / dA_k,
 * with BatchNorm in inference mode. The class is the `class` input, or where that is negative (its
 * default, -1) the predicted class; choosing it is a stop in the autodiff, not something
 * differentiated. The map stays unnormalised and at the layer's resolution, so that its numbers
 * can be checked; `explain` and the report scale and upsample it.
 */
import type { Builder } from './builder.ts';
import type { Graph, Value } from './ir.ts';
import { gradients } from './autodiff.ts';
import type { ModelConfig } from './model.ts';
import { buildNetwork, modelDoc } from './model.ts';
import type { ModelSpec } from './resnet.ts';
import { tensorFromNumbers } from './tensor.ts';
import type { Rng } from '../util/random.ts';
import { expected } from '../errors.ts';

export const CLASS_INPUT = 'class';
export const CAM_OUTPUT = 'cam';
/** The `class` input's default: explain the predicted class. */
export const PREDICTED_CLASS = -1;

/** The layers a map can be taken at, in network order: the stem, then each stage's blocks and the stage. */
export function camLayers(spec: ModelSpec): string[] {
  return ['stem', ...spec.stages.flatMap((s, i) => [...Array.from({ length: s.blocks }, (_, j) => `layer${i + 1}.${j}`), `layer${i + 1}`])];
}

/** The last stage's output, where Grad-CAM is usually taken (and reduces to CAM: only pooling and fc follow). */
export function defaultCamLayer(spec: ModelSpec): string {
  return `layer${spec.stages.length}`;
}

/** The layer named, or the default; an unknown name is refused with the valid ones. */
export function resolveCamLayer(spec: ModelSpec, name: string | undefined, flag = '--layer'): string {
  const layer = name ?? defaultCamLayer(spec);
  const valid = camLayers(spec);
  if (!valid.includes(layer)) throw expected(`one of ${valid.join(', ')}`, flag, layer);
  return layer;
}

/** What Grad-CAM is taken of: each member network's logits and layer output, and the probabilities whose argmax is the predicted class. */
export interface CamSources {
  readonly logits: readonly Value[];
  readonly layers: readonly Value[];
  readonly probabilities: Value;
}

/**
 * Adds the `class` input (int64 [N], default -1) and the `cam` output [N,h,w] to the graph being
 * built. With several members (a fold ensemble) each one's map is taken for the same class (the
 * ensemble's prediction, or the class given) and the maps are averaged.
 */
export function addGradCam(b: Builder, sources: CamSources): Value {
  const { logits, layers, probabilities } = sources;
  if (logits.length === 0 || logits.length !== layers.length) throw new Error(`Grad-CAM needs one layer per member network: ${logits.length} logits, ${layers.length} layers`);
  const classes = logits[0]!.shape[1] as number;
  const batch = probabilities.shape[0]!;
  // ONNX Runtime wants a default of the input's shape where the batch is fixed; a symbolic batch takes one value, broadcast.
  const size = typeof batch === 'number' ? batch : 1;
  const requested = b.inputWithDefault(CLASS_INPUT, [batch], tensorFromNumbers(new Array<number>(size).fill(PREDICTED_CLASS), 'int64', [size]));
  return b.scope('gradcam', () => {
    const predicted = b.op('ArgMax', [probabilities], { axis: 1, keepdims: 0 }, { name: 'predicted' });
    const chosen = b.op('Where', [b.op('Less', [requested, b.constant(0, 'int64')]), predicted, requested], {}, { name: 'class' });
    // A class outside [0, classes) one-hots to zeros, so its map is zero.
    const onehot = b.stopGradient(b.op('OneHot', [chosen, b.constant(classes, 'int64'), b.constant([0, 1])], { axis: -1 }, { name: 'onehot' }));
    // The sum over the batch and the members of each one's logit of its class: an image's (and a
    // member's) logit depends on its own activations alone, so one backward pass serves them all.
    const scores = logits.map((y) => b.reduceSum(b.op('Mul', [y, onehot]), [0, 1], false));
    let score = scores[0]!;
    for (const s of scores.slice(1)) score = b.op('Add', [score, s], {}, { name: 'score' });
    const grads = gradients(b, score, layers);
    const maps = layers.map((a, k) => {
      const g = grads[k];
      if (!g) throw new Error(`Grad-CAM: the logits do not depend on ${a.name}`);
      const alpha = b.reduceMean(g, [2, 3]);
      return b.op('Relu', [b.reduceSum(b.op('Mul', [alpha, a]), [1], false)], {}, { name: 'map' });
    });
    let sum = maps[0]!;
    for (const m of maps.slice(1)) sum = b.op('Add', [sum, m], {}, { name: 'maps' });
    const mean = maps.length > 1 ? b.op('Mul', [sum, b.constant(1 / maps.length)]) : sum;
    return b.output(b.op('Identity', [mean], {}, { names: [CAM_OUTPUT], name: CAM_OUTPUT }));
  });
}

/**
 * The inference graph of `gen-graph --explain`: `images` and `class` in; `logits`, `probabilities`
 * and the Grad-CAM map `cam` of `layer` out. BatchNorm stays an op of its own, in inference mode.
 */
export function buildExplainGraph(config: ModelConfig, layer: string, rng?: Rng): Graph {
  const taps = new Map<string, Value>();
  const { net, logits } = buildNetwork(config, 'inference', undefined, rng, undefined, taps);
  const { b } = net;
  const probabilities = b.op('Softmax', [logits], { axis: 1 }, { names: ['probabilities'], name: 'probabilities' });
  b.output(b.op('Identity', [logits], {}, { names: ['logits'], name: 'logits' }));
  b.output(probabilities);
  addGradCam(b, { logits: [logits], layers: [tapOf(taps, resolveCamLayer(config.spec, layer))], probabilities });
  return b.graph(config.arch, `${modelDoc(config)}; Grad-CAM of ${layer}`);
}

/**
 * The graph with `class` a required input, its default dropped: onnxruntime-node (1.30) ignores a
 * feed for an input that has an initializer, so the project's own sessions feed -1 themselves.
 */
export function classRequired(graph: Graph): Graph {
  return { ...graph, initializers: graph.initializers.filter((i) => i.value.name !== CLASS_INPUT) };
}

/** The output of `layer` among those buildResNet recorded (Net.taps). */
export function tapOf(taps: ReadonlyMap<string, Value>, layer: string): Value {
  const v = taps.get(layer);
  if (!v) throw new Error(`the network recorded no output for layer ${layer}`);
  return v;
}
