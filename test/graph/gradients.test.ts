// Every gradient rule on a tiny graph, against central finite differences in onnxruntime-node.
// The checks are keyed by op, and the ops to check come from the rule table itself and from the
// networks: a rule without a check, a check that never reaches its rule, or a network op without a
// rule fails here.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkGradients, rulesUsed } from '../helpers/gradcheck.ts';
import { GRADIENTS } from '../../src/graph/gradients.ts';
import type { ConvGradPolicy } from '../../src/graph/conv-grad.ts';
import { DEFAULT_CONV_GRAD } from '../../src/graph/conv-grad.ts';
import { batchNorm } from '../../src/graph/layers.ts';
import { STRUCTURE_ONLY, resolveModel } from '../../src/graph/model.ts';
import { modelNames } from '../../src/graph/registry.ts';
import { buildGradientGraph } from '../../src/graph/train.ts';
import { buildExplainGraph } from '../../src/graph/gradcam.ts';
import { createRng } from '../../src/util/random.ts';
import { float } from '../../src/graph/ir.ts';

const positive = (r: { next(): number }): number => 0.5 + r.next();

const CONV_POLICIES: [string, ConvGradPolicy][] = [
  ['ConvTranspose dX, batched dW', { ...DEFAULT_CONV_GRAD, dx: 'transpose', dw: 'batched' }],
  ['flipped-kernel dX, whole-batch Gemm dW', { ...DEFAULT_CONV_GRAD, dx: 'flipped', dw: 'gemm' }],
  ['ConvTranspose dX, shifted-copies dW', { ...DEFAULT_CONV_GRAD, dx: 'transpose', dw: 'shifted' }],
];

/** Conv 3x3 stride 1 and 2, 1x1 stride 1 and 2, 7x7/2, asymmetric pads, bias, under one policy. */
async function checkConv(conv: ConvGradPolicy): Promise<void> {
  const cases: [number[], number[], Record<string, number[]>, boolean][] = [
    [[2, 3, 6, 6], [4, 3, 3, 3], { strides: [1, 1], pads: [1, 1, 1, 1] }, false],
    [[2, 3, 7, 7], [4, 3, 3, 3], { strides: [2, 2], pads: [1, 1, 1, 1] }, false],
    [[2, 3, 6, 6], [4, 3, 3, 3], { strides: [2, 2], pads: [1, 1, 1, 1] }, true],
    [[2, 4, 5, 5], [3, 4, 1, 1], { strides: [1, 1], pads: [0, 0, 0, 0] }, false],
    [[2, 4, 6, 6], [3, 4, 1, 1], { strides: [2, 2], pads: [0, 0, 0, 0] }, false],
    [[1, 2, 9, 9], [2, 2, 7, 7], { strides: [2, 2], pads: [3, 3, 3, 3] }, false],
    [[2, 3, 4, 4], [3, 3, 3, 3], { strides: [1, 1], pads: [0, 0, 0, 0] }, true],
    [[2, 3, 5, 6], [2, 3, 3, 2], { strides: [1, 1], pads: [0, 1, 2, 0] }, false],
  ];
  for (const [x, w, attrs, bias] of cases) {
    const inputs = [{ name: 'x', dims: x }, { name: 'w', dims: w }, ...(bias ? [{ name: 'bias', dims: [w[0]!] }] : [])];
    await checkGradients(inputs, (b, vs) => b.op('Conv', vs, { ...attrs, kernel_shape: w.slice(2) }), { ctx: { conv } });
  }
}

const unary = (op: string, draw?: (r: { next(): number }) => number) => () =>
  checkGradients([{ name: 'x', dims: [3, 5], ...(draw ? { draw } : {}) }], (b, [x]) => b.op(op, [x!]));

/** One check per rule in GRADIENTS, under the rule's op name. */
const CHECKS: Record<string, () => Promise<void>> = {
  Identity: unary('Identity'),
  Add: () => checkGradients([{ name: 'a', dims: [2, 3, 4] }, { name: 'b', dims: [3, 1] }], (b, [x, y]) => b.op('Add', [x!, y!])),
  Sub: () => checkGradients([{ name: 'a', dims: [2, 3] }, { name: 'b', dims: [1, 3] }], (b, [x, y]) => b.op('Sub', [x!, y!])),
  Mul: () => checkGradients([{ name: 'a', dims: [2, 3, 2, 2] }, { name: 'b', dims: [3, 1, 1] }], (b, [x, y]) => b.op('Mul', [x!, y!])),
  Div: () => checkGradients([{ name: 'a', dims: [4, 3] }, { name: 'b', dims: [3], draw: positive }], (b, [x, y]) => b.op('Div', [x!, y!])),
  Neg: unary('Neg'),
  Relu: unary('Relu'),
  Sigmoid: unary('Sigmoid'),
  Sqrt: unary('Sqrt', positive),
  Reciprocal: unary('Reciprocal', positive),
  Exp: unary('Exp'),
  Log: unary('Log', positive),
  Where: async () => {
    const signs = [1, -1, -1, 1, 1, 1, -1, 1, -1, -1, 1, -1];
    await checkGradients([{ name: 'a', dims: [3, 4] }], (b, [x]) =>
      b.op('Where', [b.op('Greater', [b.constant(signs, 'float32', [3, 4]), b.constant(0)]), x!, b.op('Mul', [x!, b.constant(3)])]));
  },
  ReduceMean: async () => {
    await checkGradients([{ name: 'x', dims: [3, 2, 4, 4] }], (b, [x]) => b.reduceMean(x!, [2, 3]));
    await checkGradients([{ name: 'x', dims: [3, 2, 1, 1] }], (b, [x]) => b.reduceMean(x!, [0]));
    await checkGradients([{ name: 'x', dims: [3, 4] }], (b, [x]) => b.reduceMean(x!, [1], false));
  },
  ReduceSum: async () => {
    await checkGradients([{ name: 'x', dims: [3, 4] }], (b, [x]) => b.reduceSum(x!, [0, 1], false));
    await checkGradients([{ name: 'x', dims: [2, 3, 4] }], (b, [x]) => b.reduceSum(x!, [1]));
  },
  GlobalAveragePool: () => checkGradients([{ name: 'x', dims: [2, 3, 5, 5] }], (b, [x]) => b.op('GlobalAveragePool', [x!])),
  Flatten: () => checkGradients([{ name: 'x', dims: [2, 3, 2, 2] }], (b, [x]) => b.op('Flatten', [x!], { axis: 1 })),
  Reshape: () => checkGradients([{ name: 'x', dims: [6] }], (b, [x]) => b.reshape(x!, [2, 3, 1])),
  Squeeze: () => checkGradients([{ name: 'x', dims: [3, 1, 4, 1] }], (b, [x]) => b.op('Squeeze', [x!, b.constant([1, 3], 'int64')])),
  Unsqueeze: () => checkGradients([{ name: 'x', dims: [3, 4] }], (b, [x]) => b.op('Unsqueeze', [x!, b.constant([0, 2], 'int64')])),
  Expand: () => checkGradients([{ name: 'x', dims: [3, 1] }], (b, [x]) => b.op('Expand', [x!, b.constant([2, 3, 4], 'int64')])),
  Transpose: () => checkGradients([{ name: 'x', dims: [2, 3, 4] }], (b, [x]) => b.op('Transpose', [x!], { perm: [2, 0, 1] })),
  LogSoftmax: () => checkGradients([{ name: 'x', dims: [4, 5] }], (b, [x]) => b.op('LogSoftmax', [x!], { axis: 1 })),
  Softmax: () => checkGradients([{ name: 'x', dims: [4, 5] }], (b, [x]) => b.op('Softmax', [x!], { axis: 1 })),
  // Every transposition, with bias.
  Gemm: async () => {
    for (const [transA, transB] of [[0, 0], [0, 1], [1, 0], [1, 1]]) {
      const a = transA ? [3, 4] : [4, 3];
      const w = transB ? [5, 3] : [3, 5];
      await checkGradients([{ name: 'a', dims: a }, { name: 'w', dims: w }, { name: 'c', dims: [5] }], (b, [x, y, z]) =>
        b.op('Gemm', [x!, y!, z!], { transA, transB }));
    }
    await checkGradients([{ name: 'a', dims: [2, 4] }, { name: 'w', dims: [3, 4] }], (b, [x, y]) => b.op('Gemm', [x!, y!], { transB: 1, alpha: float(1) }));
  },
  // Batched and broadcast.
  MatMul: async () => {
    await checkGradients([{ name: 'a', dims: [2, 3, 4] }, { name: 'b', dims: [2, 4, 5] }], (b, [x, y]) => b.op('MatMul', [x!, y!]));
    await checkGradients([{ name: 'a', dims: [2, 3, 4] }, { name: 'b', dims: [4, 5] }], (b, [x, y]) => b.op('MatMul', [x!, y!]));
  },
  Conv: async () => {
    for (const [label, conv] of CONV_POLICIES) {
      await checkConv(conv).catch((err: Error) => { throw new Error(`Conv with ${label}: ${err.message}`); });
    }
  },
  // Inference mode (the explain graph's): x, scale and bias; the running statistics are constants.
  BatchNormalization: async () => {
    await checkGradients([{ name: 'x', dims: [2, 3, 2, 3] }, { name: 'scale', dims: [3] }, { name: 'bias', dims: [3] }], (b, [x, scale, bias]) =>
      b.op('BatchNormalization', [x!, scale!, bias!, b.constant([0.3, -0.5, 0.1]), b.constant([0.8, 1.7, 0.4])], { epsilon: float(1e-5) }));
  },
  // 3x3/2 with overlapping windows adds every contribution; and the legacy stem's ceil_mode
  // without padding on an even size, whose last windows hang over the edge. Distinct values keep
  // the argmax away from ties, where the derivative is undefined.
  MaxPool: async () => {
    for (const [size, window] of [[7, { pads: [1, 1, 1, 1] }], [8, { pads: [0, 0, 0, 0], ceil_mode: 1 }]] as const) {
      const rng = createRng(5);
      const values = [...Array(2 * 2 * size * size).keys()].sort(() => rng.next() - 0.5);
      let k = 0;
      await checkGradients([{ name: 'x', dims: [2, 2, size, size], draw: () => values[k++]! * 0.1 }], (b, [x]) =>
        b.opN('MaxPool', [x!], { kernel_shape: [3, 3], strides: [2, 2], ...window }, { outputs: 2 })[0]!, { step: 1e-3 });
    }
  },
};

describe('gradient rules against finite differences', () => {
  it('every rule in the table has a check, and every check a rule', () => {
    assert.deepEqual(Object.keys(GRADIENTS).filter((op) => !(op in CHECKS)), [], 'rules without a check');
    assert.deepEqual(Object.keys(CHECKS).filter((op) => !(op in GRADIENTS)), [], 'checks without a rule');
  });

  for (const [op, check] of Object.entries(CHECKS)) {
    it(op, async () => {
      const used = await rulesUsed(check);
      assert.ok(used.has(op), `the ${op} check never reached the ${op} rule (reached: ${[...used].join(', ')})`);
    });
  }

  it('BatchNorm in training mode, built from primitives', async () => {
    await checkGradients([{ name: 'x', dims: [3, 2, 4, 4] }], (b, [x]) =>
      batchNorm({ b, rng: createRng(0), runningStats: [] }, 'bn', x!));
  });
});

describe('the networks and the rule table', () => {
  it('every registered network, with every loss option and for Grad-CAM, differentiates with rules that have checks', async () => {
    // Depth adds no op: each network is built with at most 2 blocks per stage (a downsampling
    // block and a plain one), and networks that then coincide are built once.
    const built = new Map<string, string[]>();
    for (const arch of modelNames()) {
      const config = resolveModel({ arch, classes: 3, input: [3, 32, 32], batch: 2 });
      const spec = { ...config.spec, stages: config.spec.stages.map((s) => ({ ...s, blocks: Math.min(s.blocks, 2) })) };
      const key = JSON.stringify(spec);
      built.set(key, [...(built.get(key) ?? []), arch]);
      if (built.get(key)!.length > 1) continue;
      const used = await rulesUsed(() => buildGradientGraph({ ...config, spec }, { labelSmoothing: 0.1, classWeights: [1, 2, 3] }));
      // An op with no rule on the way to the loss already stopped the walker ("no gradient rule").
      assert.deepEqual([...used].filter((op) => !(op in CHECKS)), [], `${arch}: rules without a check`);
      assert.ok(used.has('Conv') && used.has('Gemm'), `${arch}: the spy saw the rules run`);
      // Grad-CAM at the stem differentiates the whole inference network, BatchNorm in eval mode.
      const explained = await rulesUsed(() => buildExplainGraph({ ...config, spec }, 'stem', STRUCTURE_ONLY));
      assert.deepEqual([...explained].filter((op) => !(op in CHECKS)), [], `${arch}: Grad-CAM uses rules without a check`);
      assert.ok(explained.has('BatchNormalization') && explained.has('Conv'), `${arch}: the spy saw Grad-CAM's rules run`);
    }
    assert.equal([...built.values()].flat().length, modelNames().length);
  });
});
