// Whole networks: the gradient of the loss with respect to every parameter, against finite
// differences; and the walker's own guarantees (fan-out sums, pruning, missing rules).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Builder } from '../../src/graph/builder.ts';
import { gradients } from '../../src/graph/autodiff.ts';
import type { Value } from '../../src/graph/ir.ts';
import type { ModelConfig } from '../../src/graph/model.ts';
import type { ModelSpec } from '../../src/graph/resnet.ts';
import { CAFFE_LAYOUT } from '../../src/graph/registry.ts';
import { buildGradientGraph } from '../../src/graph/train.ts';
import { filled } from '../../src/graph/tensor.ts';
import { DEFAULT_CONV_GRAD } from '../../src/graph/conv-grad.ts';
import type { ConvGradPolicy } from '../../src/graph/conv-grad.ts';
import { createRng } from '../../src/util/random.ts';
import { data, floats, int64s, session, stateFeeds } from '../helpers/ort.ts';
import type { Feeds } from '../helpers/ort.ts';

/** A network small enough for finite differences: two stages of one block each. */
function tinyConfig(stem: 'cifar' | 'imagenet', block: 'basic' | 'bottleneck', se: boolean, batch = 4, layout: Partial<ModelSpec> = {}): ModelConfig {
  const spec: ModelSpec = {
    block, stem,
    stages: [{ width: 4, blocks: 1 }, { width: 4, blocks: 1 }],
    ...(se ? { se: { reduction: 2 } } : {}),
    ...layout,
  };
  const side = stem === 'imagenet' ? 12 : 6;
  return { arch: 'tiny', spec, classes: 3, input: [3, side, side], reduction: se ? 2 : null, seed: 3, opset: 17, batch };
}

/**
 * ReLU is swapped for Sigmoid here (the ReLU rule has its own exact check): with ReLU, BatchNorm
 * puts many activations within a step of a kink, and finite differences of the first layers
 * swing by tens of percent whatever the step.
 */
async function checkNetwork(config: ModelConfig, policy: ConvGradPolicy = DEFAULT_CONV_GRAD): Promise<void> {
  const graph = buildGradientGraph(config, {}, { conv: policy }, 'Sigmoid');
  const s = await session(graph);
  const rng = createRng(11);
  const n = config.batch as number;
  const [c, h, w] = config.input;
  const feeds: Feeds = {
    ...stateFeeds(graph),
    images: floats(Array.from({ length: n * c * h * w }, () => rng.normal()), [n, c, h, w]),
    labels: int64s([0, 1, 2, 1].slice(0, n), [n]),
  };
  const out = await s.run(feeds);
  const params = graph.initializers.filter((i) => i.kind === 'parameter');
  // One random direction per parameter tensor, and one over (nearly) all of them at once.
  const direction = (p: (typeof params)[number]): [string, Float32Array] => [p.value.name, Float32Array.from(p.tensor.data as Float32Array, () => rng.normal())];
  // Max pooling has a kink wherever two entries of a window nearly tie, and a step of 1e-3 in
  // the stem's weights crosses dozens of them: those get a step small enough to cross none.
  // Parameters after the pool leave its input, and so its kinks, alone.
  const beforePool = (name: string): boolean => config.spec.stem === 'imagenet' && /^(conv1|bn1)\./.test(name);
  const directions: Map<string, Float32Array>[] = [
    ...params.map((p) => new Map([direction(p)])),
    new Map(params.filter((p) => !beforePool(p.value.name)).map(direction)),
  ];
  for (const dir of directions) {
    const h0 = [...dir.keys()].some(beforePool) ? 2e-5 : 1e-3;
    const loss = async (sign: number): Promise<number> => {
      const shifted = { ...feeds };
      for (const p of params) {
        const v = dir.get(p.value.name);
        if (v) shifted[p.value.name] = floats((p.tensor.data as Float32Array).map((x, k) => x + sign * h0 * v[k]!), p.tensor.dims);
      }
      return data((await s.run(shifted, ['loss']))['loss']!)[0]!;
    };
    const fd = ((await loss(1)) - (await loss(-1))) / (2 * h0);
    let analytic = 0;
    for (const [name, v] of dir) {
      const g = data(out[`${name}.grad`]!);
      for (let k = 0; k < g.length; k++) analytic += g[k]! * v[k]!;
    }
    assert.ok(Math.abs(fd - analytic) <= 3e-3 + 3e-2 * Math.abs(fd), `along ${dir.size > 1 ? 'all parameters' : [...dir.keys()][0]}: autodiff ${analytic}, finite differences ${fd}`);
  }
  await s.release();
}

describe('whole-network gradients against finite differences', () => {
  it('CIFAR stem, basic blocks, stride 1 and 2 with projection', () => checkNetwork(tinyConfig('cifar', 'basic', false)));
  it('CIFAR stem, basic blocks with SE', () => checkNetwork(tinyConfig('cifar', 'basic', true)));
  it('ImageNet stem (7x7/2 conv, 3x3/2 max pool), bottleneck blocks with SE', () => checkNetwork(tinyConfig('imagenet', 'bottleneck', true)));
  it('ImageNet stem, basic blocks without SE', () => checkNetwork(tinyConfig('imagenet', 'basic', false)));
  // 12x12 images: the stem's conv gives 6x6, where the ceil-mode pool's last window hangs over the edge.
  it('Caffe layout (legacy_*): ceil-mode stem pool without padding, bottlenecks strided on the first 1x1, with SE', () =>
    checkNetwork(tinyConfig('imagenet', 'bottleneck', true, 4, CAFFE_LAYOUT)));
  // Seed 4: with seed 3, bn1.bias's directional derivative (0.005) moves the loss by less than
  // float32 resolves under the stem's 2e-5 step.
  it('Caffe layout (legacy_*): basic blocks with a ReLU before SE', () => checkNetwork({ ...tinyConfig('imagenet', 'basic', true, 4, CAFFE_LAYOUT), seed: 4 }));
  it('the other conv formulations give the same gradients as the default', async () => {
    await checkNetwork(tinyConfig('cifar', 'basic', true), { ...DEFAULT_CONV_GRAD, dx: 'transpose', dw: 'shifted' });
    // With the max-pool stem, compare formulations with each other: they must agree far more
    // closely than finite differences can tell.
    const config = tinyConfig('imagenet', 'basic', true);
    const rng = createRng(4);
    const images = floats(Array.from({ length: 4 * 3 * 144 }, () => rng.normal()), [4, 3, 12, 12]);
    const gradientsWith = async (conv: ConvGradPolicy): Promise<Map<string, Float32Array>> => {
      const graph = buildGradientGraph(config, {}, { conv });
      const out = await (await session(graph)).run({ ...stateFeeds(graph), images, labels: int64s([0, 1, 2, 1], [4]) });
      return new Map(graph.outputs.map((v) => [v.name, data(out[v.name]!)]));
    };
    const reference = await gradientsWith(DEFAULT_CONV_GRAD);
    for (const policy of [{ dx: 'transpose', dw: 'shifted' }, { dx: 'transpose', dw: 'batched' }, { dx: 'flipped', dw: 'gemm', shiftedMinSize: 1000, batchedMinSize: 1000 }] as const) {
      const other = await gradientsWith({ ...DEFAULT_CONV_GRAD, ...policy });
      for (const [name, g] of reference) {
        const h = other.get(name)!;
        g.forEach((v, i) => assert.ok(Math.abs(v - h[i]!) <= 1e-5 + 1e-4 * Math.abs(v), `${JSON.stringify(policy)}: ${name}[${i}] ${h[i]} vs ${v}`));
      }
    }
  });
});

describe('the walker', () => {
  it('sums the gradients of a value used twice (a residual skip)', async () => {
    const b = new Builder();
    const x = b.initializer('x', filled([3], 2), 'parameter');
    const y = b.op('Add', [b.op('Mul', [x, x]), x]); // y = x^2 + x, dy/dx = 2x + 1 = 5
    const loss = b.reduceSum(y, [0], false);
    const [g] = gradients(b, loss, [x]);
    b.output(g!);
    const s = await session(b.graph('fanout'));
    const out = await s.run(stateFeeds(b.graph('fanout')));
    assert.deepEqual([...data(out[g!.name]!)], [5, 5, 5]);
  });

  it('builds nothing for values the loss does not depend on', () => {
    const b = new Builder();
    const x = b.initializer('x', filled([3], 1), 'parameter');
    const unused = b.initializer('unused', filled([3], 1), 'parameter');
    b.op('Relu', [unused]);
    const loss = b.reduceSum(b.op('Sigmoid', [x]), [0], false);
    const before = b.nodesSoFar().length;
    const [gx, gu] = gradients(b, loss, [x, unused]);
    assert.ok(gx);
    assert.equal(gu, null);
    assert.ok(!b.nodesSoFar().slice(before).some((n) => n.name.startsWith('Relu')), 'no backward node for the unused branch');
  });

  it('adds a broadcast part (GlobalAveragePool\'s) unexpanded, and the graph keeps no unread node', async () => {
    const b = new Builder();
    const x = b.initializer('x', { dtype: 'float32', dims: [1, 2, 2, 2], data: Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]) }, 'parameter');
    // loss = sum(x * mean_hw(x)): x feeds a full-size Mul and a pooled branch.
    const loss = b.reduceSum(b.op('Mul', [x, b.op('GlobalAveragePool', [x])]), [0, 1, 2, 3], false);
    const [g] = gradients(b, loss, [x]);
    b.output(g!);
    const graph = b.graph('pooled');
    // One Expand remains: the loss's ReduceSum broadcasting its scalar gradient, which the Muls read.
    assert.deepEqual(graph.nodes.filter((n) => n.op === 'Expand').map((n) => n.inputs[0]!.shape), [[1, 1, 1, 1]], 'the pooled gradient joins unexpanded');
    const produced = new Set(graph.nodes.flatMap((n) => n.outputs));
    const read = new Set([...graph.nodes.flatMap((n) => n.inputs), ...graph.outputs]);
    assert.ok([...produced].every((v) => read.has(v)), 'every node output is read');
    // Nor did the walker build one for pruning to drop: the pooled part was never expanded.
    const built = b.nodesSoFar();
    const readBeforePruning = new Set([...built.flatMap((n) => n.inputs), g!, loss]);
    assert.deepEqual(built.flatMap((n) => n.outputs).filter((v) => !readBeforePruning.has(v)).map((v) => v.name), [], 'nodes built but never read');
    // d/dx_i = m_c + sum_j x_j / 4 per channel c: channel 0 (1..4) 2.5 + 2.5, channel 1 (5..8) 6.5 + 6.5.
    const out = await (await session(graph)).run(stateFeeds(graph));
    assert.deepEqual([...data(out[g!.name]!)], [5, 5, 5, 5, 13, 13, 13, 13]);
  });

  it('passes no gradient back through a stop, so the ops that chose the value need no rule', async () => {
    // loss = sum over rows of x at the row's argmax: the one-hot is a choice, not a function to differentiate.
    const build = (stop: boolean): { b: Builder; x: Value; loss: Value } => {
      const b = new Builder();
      const x = b.initializer('x', { dtype: 'float32', dims: [2, 3], data: Float32Array.from([1, 5, 2, 7, 0, 3]) }, 'parameter');
      const onehot = b.op('OneHot', [b.op('ArgMax', [x], { axis: 1, keepdims: 0 }), b.constant(3, 'int64'), b.constant([0, 1])], { axis: -1 });
      const loss = b.reduceSum(b.op('Mul', [x, stop ? b.stopGradient(onehot) : onehot]), [0, 1], false);
      return { b, x, loss };
    };
    assert.throws(() => { const { b, x, loss } = build(false); gradients(b, loss, [x]); }, /\(OneHot\): no gradient rule/);
    const { b, x, loss } = build(true);
    const [g] = gradients(b, loss, [x]);
    b.output(g!);
    const graph = b.graph('stopped');
    assert.deepEqual([...data((await (await session(graph)).run(stateFeeds(graph)))[g!.name]!)], [0, 1, 0, 1, 0, 0]);
  });

  it('stops with the node and op when no rule exists, never a silent zero', () => {
    const b = new Builder();
    const x = b.initializer('x', filled([2, 2], 1), 'parameter');
    const loss = b.reduceSum(b.scope('head', () => b.op('Abs', [x])), [0, 1], false);
    assert.throws(() => gradients(b, loss, [x]), /node head\/Abs \(Abs\): no gradient rule/);
  });
});
