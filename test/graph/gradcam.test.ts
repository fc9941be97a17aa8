// Grad-CAM in the graph: a tiny network's map, at the last stage and at a mid-stage layer (where
// it goes through the autodiff: convolutions, eval-mode BatchNorm, SE), against finite differences
// of the explained logit with respect to the layer's activations; the class input; the layer names.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Graph, Node, Tensor, Value } from '../../src/graph/ir.ts';
import type { ModelConfig } from '../../src/graph/model.ts';
import { buildInferenceGraph, buildNetwork, resolveModel } from '../../src/graph/model.ts';
import type { ModelSpec } from '../../src/graph/resnet.ts';
import { CAM_OUTPUT, CLASS_INPUT, buildExplainGraph, classRequired, camLayers, defaultCamLayer, resolveCamLayer } from '../../src/graph/gradcam.ts';
import { withWeights } from '../../src/graph/weights.ts';
import { createRng } from '../../src/util/random.ts';
import { data, floats, int64s, session } from '../helpers/ort.ts';
import { trainedLike } from '../helpers/trained.ts';

/** Two stages of one block each: small enough for a finite difference per channel. */
function tinyConfig(stem: 'cifar' | 'imagenet', block: 'basic' | 'bottleneck', se: boolean): ModelConfig {
  const spec: ModelSpec = { block, stem, stages: [{ width: 4, blocks: 1 }, { width: 8, blocks: 2 }], ...(se ? { se: { reduction: 2 } } : {}) };
  const side = stem === 'imagenet' ? 16 : 8;
  return { arch: 'tiny', spec, classes: 3, input: [3, side, side], reduction: se ? 2 : null, seed: 3, opset: 17, batch: 2 };
}

/**
 * The inference graph with the layer's output A as an output too, and every node that read A
 * reading A + offset instead, `offset` being a new input: logits as a function of A.
 */
function withOffset(graph: Graph, a: Value): Graph {
  const offset: Value = { name: 'offset', dtype: 'float32', shape: a.shape, producer: null };
  const add: { -readonly [K in keyof Node]: Node[K] } = { name: 'offset/Add', op: 'Add', inputs: [a, offset], outputs: [], attrs: {} };
  const shifted: Value = { name: 'shifted', dtype: 'float32', shape: a.shape, producer: add };
  add.outputs = [shifted];
  const nodes = graph.nodes.flatMap((n) => (n.outputs.includes(a) ? [n, add] : [{ ...n, inputs: n.inputs.map((v) => (v === a ? shifted : v)) }]));
  return { ...graph, nodes, inputs: [...graph.inputs, offset], outputs: [...graph.outputs, a] };
}

/** Grad-CAM by finite differences: alpha_k is the derivative of the logit along channel k of A (all ones), over h*w. */
async function camByFiniteDifferences(config: ModelConfig, weights: Map<string, Tensor>, layer: string, images: Float32Array, classOf: (logits: Float32Array, n: number) => number): Promise<{ cam: number[]; classes: number[] }> {
  const taps = new Map<string, Value>();
  const { net, logits } = buildNetwork(config, 'inference', undefined, undefined, undefined, taps);
  net.b.output(net.b.op('Identity', [logits], {}, { names: ['logits'], name: 'logits' }));
  const a = taps.get(layer)!;
  const graph = withOffset(withWeights(net.b.graph('tiny'), weights, 'weights'), a);
  const s = await session(graph, { stateAsInputs: false });
  const [n, c, h, w] = a.shape as number[];
  const run = async (offset: Float32Array): Promise<{ logits: Float32Array; a: Float32Array }> => {
    const out = await s.run({ images: floats(images, [n!, ...config.input]), offset: floats(offset, [n!, c!, h!, w!]) });
    return { logits: data(out['logits']!), a: data(out[a.name]!) };
  };
  const base = await run(new Float32Array(n! * c! * h! * w!));
  const k = config.classes;
  const classes = Array.from({ length: n! }, (_, i) => classOf(base.logits, i));
  const plane = h! * w!;
  const step = 1e-3;
  const alpha = new Float64Array(n! * c!);
  for (let ch = 0; ch < c!; ch++) {
    const along = (sign: number): Float32Array => {
      const o = new Float32Array(n! * c! * plane);
      for (let i = 0; i < n!; i++) o.fill(sign * step, (i * c! + ch) * plane, (i * c! + ch + 1) * plane);
      return o;
    };
    const [plus, minus] = [(await run(along(1))).logits, (await run(along(-1))).logits];
    for (let i = 0; i < n!; i++) alpha[i * c! + ch] = (plus[i * k + classes[i]!]! - minus[i * k + classes[i]!]!) / (2 * step) / plane;
  }
  const cam: number[] = [];
  for (let i = 0; i < n!; i++) {
    for (let p = 0; p < plane; p++) {
      let sum = 0;
      for (let ch = 0; ch < c!; ch++) sum += alpha[i * c! + ch]! * base.a[(i * c! + ch) * plane + p]!;
      cam.push(Math.max(0, sum));
    }
  }
  await s.release();
  return { cam, classes };
}

const argmax = (logits: Float32Array, k: number, i: number): number => {
  let best = 0;
  for (let c = 1; c < k; c++) if (logits[i * k + c]! > logits[i * k + best]!) best = c;
  return best;
};

async function checkLayer(config: ModelConfig, layer: string, explicit?: number[]): Promise<void> {
  const weights = trainedLike(buildInferenceGraph(config), 7);
  const rng = createRng(2);
  const images = Float32Array.from({ length: 2 * config.input.reduce((p, d) => p * d, 1) }, () => rng.normal());
  const explain = withWeights(buildExplainGraph(config, layer), weights, 'weights');
  const s = await session(explicit ? classRequired(explain) : explain, { stateAsInputs: false });
  const out = await s.run({ images: floats(images, [2, ...config.input]), ...(explicit ? { [CLASS_INPUT]: int64s(explicit, [2]) } : {}) });
  await s.release();
  const got = data(out[CAM_OUTPUT]!);
  const want = await camByFiniteDifferences(config, weights, layer, images, explicit ? (_, i) => explicit[i]! : (l, i) => argmax(l, config.classes, i));
  assert.equal(got.length, want.cam.length);
  const scale = Math.max(...want.cam);
  assert.ok(scale > 0, 'the map is not all zero');
  got.forEach((v, i) => assert.ok(Math.abs(v - want.cam[i]!) <= 1e-3 * scale + 2e-2 * Math.abs(want.cam[i]!), `${layer}: cam[${i}] ${v} from the graph, ${want.cam[i]} by finite differences`));
  if (!explicit) {
    const predicted = data(out['probabilities']!);
    assert.deepEqual(want.classes, [0, 1].map((i) => argmax(predicted, config.classes, i)), 'the default explains the predicted class');
  }
}

describe('Grad-CAM against finite differences', () => {
  const cifar = tinyConfig('cifar', 'basic', true);
  it('at the last stage (CAM: pooling and fc follow), CIFAR stem, basic blocks with SE', () => checkLayer(cifar, 'layer2'));
  it('at a mid-stage layer, through convolutions, eval-mode BatchNorm and SE', () => checkLayer(cifar, 'layer1'));
  it('at a block inside a stage, for a class given', () => checkLayer(cifar, 'layer2.0', [2, 0]));
  const imagenet = tinyConfig('imagenet', 'bottleneck', false);
  it('ImageNet stem, bottleneck blocks: the stem\'s output (after the max pool)', () => checkLayer(imagenet, 'stem'));
  it('ImageNet stem, bottleneck blocks: the last stage, for a class given', () => checkLayer(imagenet, 'layer2', [1, 1]));
});

describe('the explain graph', () => {
  const config = resolveModel({ arch: 'se_resnet20', classes: 4, input: [3, 16, 16] });

  it('takes images and an optional class, and gives logits, probabilities and a map at the layer\'s resolution', () => {
    const graph = buildExplainGraph(config, 'layer2');
    assert.deepEqual(graph.inputs.map((v) => [v.name, v.dtype, v.shape]), [['images', 'float32', ['N', 3, 16, 16]], [CLASS_INPUT, 'int64', ['N']]]);
    assert.deepEqual(graph.outputs.map((v) => [v.name, v.shape]), [['logits', ['N', 4]], ['probabilities', ['N', 4]], [CAM_OUTPUT, ['N', 8, 8]]]);
    const fallback = graph.initializers.find((i) => i.value.name === CLASS_INPUT)!;
    assert.deepEqual([...fallback.tensor.data as BigInt64Array], [-1n], 'class defaults to -1, the predicted class');
    assert.ok(graph.nodes.some((n) => n.op === 'BatchNormalization'), 'BatchNorm stays, in inference mode');
    assert.ok(!graph.nodes.some((n) => n.op === 'ScatterElements'), 'no MaxPool backward: nothing before the layer is differentiated');
  });

  it('gives a zero map for a class outside the network\'s classes, and takes -1 for the predicted one per image', async () => {
    const graph = classRequired(buildExplainGraph(config, 'layer2'));
    const s = await session(graph, { stateAsInputs: false });
    const images = floats(Array.from({ length: 2 * 3 * 256 }, (_, i) => Math.sin(i)), [2, 3, 16, 16]);
    const cam = data((await s.run({ images, [CLASS_INPUT]: int64s([4, -1], [2]) }))[CAM_OUTPUT]!);
    assert.ok(cam.slice(0, 64).every((v) => v === 0));
    assert.ok(cam.slice(64).some((v) => v > 0));
  });

  it('names the layers a map can be taken at, and refuses others with the list', () => {
    assert.deepEqual(camLayers(config.spec), ['stem', 'layer1.0', 'layer1.1', 'layer1.2', 'layer1', 'layer2.0', 'layer2.1', 'layer2.2', 'layer2', 'layer3.0', 'layer3.1', 'layer3.2', 'layer3']);
    assert.equal(defaultCamLayer(config.spec), 'layer3');
    assert.equal(resolveCamLayer(config.spec, undefined), 'layer3');
    assert.throws(() => resolveCamLayer(config.spec, 'layer4'), /^UserError: expected one of stem, layer1\.0, .*, layer3 for --layer but received "layer4"$/);
  });
});
