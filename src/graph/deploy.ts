/**
 * The deployable model: trained weights baked in, every BatchNorm folded into the convolution
 * before it, the training input normalisation as the graph's first two ops (so callers feed
 * 8-bit-range RGB), optionally several folds averaged into one ensemble, and optionally the
 * Grad-CAM map of a layer (gradcam.ts), differentiated through the folded convolutions.
 */
import type { Graph, Initializer, Node, Tensor, Value } from './ir.ts';
import { numel } from './ir.ts';
import { Builder } from './builder.ts';
import type { ModelConfig } from './model.ts';
import { modelDoc } from './model.ts';
import type { Net } from './layers.ts';
import { BN_EPS } from './layers.ts';
import { buildResNet } from './resnet.ts';
import { createRng } from '../util/random.ts';
import { withWeights } from './weights.ts';
import { UserError } from '../errors.ts';
import { addGradCam, resolveCamLayer, tapOf } from './gradcam.ts';

/** One trained network and the normalisation its inputs had in training. */
export interface DeployMember {
  /** state_dict names (checkpoint or init.safetensors); extra entries such as momentum are ignored. */
  readonly weights: ReadonlyMap<string, Tensor>;
  /** Where the weights came from (a checkpoint file), for error messages. */
  readonly source: string;
  /** The network saw (pixel / scale - mean) / std per channel. */
  readonly scale: number;
  readonly mean: readonly number[];
  readonly std: readonly number[];
}

function floats(t: Tensor): Float32Array {
  return t.data as Float32Array;
}

/** How closely an exported model's probabilities must follow eval_step.onnx's on the test tiles before it is written. */
export const EXPORT_TOLERANCE = 1e-4;
/** Test tiles that check runs on: enough to catch any folding or normalisation mistake. */
export const VERIFY_TILES = 64;

/**
 * Conv followed by BatchNormalization (inference) becomes one Conv:
 * W' = W * g, b' = (b - mean) * g + beta, with g = gamma / sqrt(var + eps) per output channel.
 * Applies where the conv's output feeds the BN alone; anything else is left as it is.
 */
export function foldBatchNorm(graph: Graph): Graph {
  const consumers = new Map<Value, number>();
  for (const n of graph.nodes) for (const v of n.inputs) if (v) consumers.set(v, (consumers.get(v) ?? 0) + 1);
  for (const v of graph.outputs) consumers.set(v, (consumers.get(v) ?? 0) + 1);
  const tensors = new Map(graph.initializers.map((i) => [i.value, i]));
  const replaced = new Map<Node, Node | null>();
  const added: Initializer[] = [];
  for (const bn of graph.nodes) {
    if (bn.op !== 'BatchNormalization') continue;
    const conv = bn.inputs[0]!.producer;
    if (!conv || conv.op !== 'Conv' || consumers.get(bn.inputs[0]!) !== 1) continue;
    const [gamma, beta, mean, variance] = bn.inputs.slice(1).map((v) => tensors.get(v!));
    const weight = tensors.get(conv.inputs[1]!);
    if (!gamma || !beta || !mean || !variance || !weight) continue;
    const eps = (bn.attrs['epsilon'] as { float: number } | undefined)?.float ?? BN_EPS;
    const out = weight.tensor.dims[0]!;
    const perChannel = numel(weight.tensor.dims) / out;
    const oldBias = conv.inputs[2] ? floats(tensors.get(conv.inputs[2])!.tensor) : new Float32Array(out);
    const w = new Float32Array(floats(weight.tensor));
    const bias = new Float32Array(out);
    for (let o = 0; o < out; o++) {
      const g = floats(gamma.tensor)[o]! / Math.sqrt(floats(variance.tensor)[o]! + eps);
      for (let i = 0; i < perChannel; i++) w[o * perChannel + i]! *= g;
      bias[o] = (oldBias[o]! - floats(mean.tensor)[o]!) * g + floats(beta.tensor)[o]!;
    }
    const wName = `${conv.name}.weight`;
    const bName = `${conv.name}.bias`;
    const mk = (name: string, data: Float32Array, dims: readonly number[]): Initializer => ({
      value: { name, dtype: 'float32', shape: [...dims], producer: null }, tensor: { dtype: 'float32', dims: [...dims], data }, kind: 'parameter',
    });
    const wi = mk(wName, w, weight.tensor.dims);
    const bi = mk(bName, bias, [out]);
    added.push(wi, bi);
    // The folded conv takes over the BN's output value and its name, so nothing downstream changes.
    replaced.set(conv, null);
    replaced.set(bn, { ...conv, inputs: [conv.inputs[0]!, wi.value, bi.value], outputs: bn.outputs });
  }
  const nodes = graph.nodes.flatMap((n) => (replaced.has(n) ? (replaced.get(n) ? [replaced.get(n)!] : []) : [n]));
  const used = new Set<Value>();
  for (const n of nodes) for (const v of n.inputs) if (v) used.add(v);
  const kept = graph.initializers.filter((i) => used.has(i.value) && !added.some((a) => a.value.name === i.value.name));
  return { ...graph, nodes, initializers: [...kept, ...added].filter((i) => used.has(i.value)) };
}

/**
 * images (float32 [N,C,H,W], 0-255 RGB) -> logits, probabilities. With several members the
 * probabilities are their mean and `logits` holds its log (log-probabilities of the ensemble).
 * With `explain` (a layer, gradcam.ts's camLayers) also the `class` input and the `cam` output.
 */
export function buildDeployGraph(config: ModelConfig, members: readonly DeployMember[], explain?: string): Graph {
  const layer = explain === undefined ? undefined : resolveCamLayer(config.spec, explain);
  if (members.length === 0) throw new UserError('nothing to export: no trained network given');
  const b = new Builder({ opset: config.opset, mode: 'inference' });
  const channels = config.input[0];
  const images = b.input('images', 'float32', [config.batch, ...config.input]);
  const probabilities: Value[] = [];
  const logits: Value[] = [];
  const layers: Value[] = [];
  members.forEach((m, k) => {
    const scope = members.length > 1 ? `fold${k + 1}` : '';
    const body = (): void => {
      // (pixel / scale - mean) / std = pixel * a + c, per channel.
      const a = m.std.map((s) => 1 / (m.scale * s));
      const c = m.mean.map((mu, i) => -mu / m.std[i]!);
      const normalised = b.op('Add', [b.op('Mul', [images, b.constant(a, 'float32', [channels, 1, 1])]), b.constant(c, 'float32', [channels, 1, 1])], {}, { name: 'normalize' });
      const taps = new Map<string, Value>();
      const net: Net = { b, rng: createRng(config.seed), runningStats: [], taps };
      const y = buildResNet(net, config.spec, normalised, config.classes);
      logits.push(y);
      if (layer !== undefined) layers.push(tapOf(taps, layer));
      probabilities.push(b.op('Softmax', [y], { axis: 1 }));
    };
    if (scope) b.scope(scope, body);
    else body();
  });
  if (members.length === 1) {
    b.output(b.op('Identity', [logits[0]!], {}, { names: ['logits'], name: 'logits' }));
    b.output(b.op('Identity', [probabilities[0]!], {}, { names: ['probabilities'], name: 'probabilities' }));
  } else {
    let sum = probabilities[0]!;
    for (const p of probabilities.slice(1)) sum = b.op('Add', [sum, p], {}, { name: 'ensemble' });
    const mean = b.op('Mul', [sum, b.constant(1 / members.length)], {}, { names: ['probabilities'], name: 'probabilities' });
    b.output(b.op('Log', [mean], {}, { names: ['logits'], name: 'logits' }));
    b.output(mean);
  }
  const doc = `${modelDoc(config)}; ${members.length > 1 ? `ensemble of ${members.length} folds` : 'trained weights'}; input 0-255 RGB`;
  let graph = b.graph(config.arch, doc);
  members.forEach((m, k) => { graph = withWeights(graph, m.weights, m.source, members.length > 1 ? `fold${k + 1}.` : ''); });
  const folded = foldBatchNorm(graph);
  if (layer === undefined) return folded;
  // The backward pass goes through the folded convolutions, so the model holds each weight once.
  const e = Builder.continuing(folded);
  const named = (v: Value): Value => e.valueNamed(v.name);
  addGradCam(e, { logits: logits.map(named), layers: layers.map(named), probabilities: e.valueNamed('probabilities') });
  return e.graph(config.arch, `${doc}; Grad-CAM of ${layer}`);
}
