// Every gradient rule on a tiny graph, against central finite differences in onnxruntime-node.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkGradients } from '../helpers/gradcheck.ts';
import { GRADIENTS } from '../../src/graph/gradients.ts';
import type { ConvGradPolicy } from '../../src/graph/conv-grad.ts';
import { DEFAULT_CONV_GRAD } from '../../src/graph/conv-grad.ts';
import { batchNorm } from '../../src/graph/layers.ts';
import { createRng } from '../../src/util/random.ts';
import { float } from '../../src/graph/ir.ts';

const positive = (r: { next(): number }): number => 0.5 + r.next();

describe('gradient rules against finite differences', () => {
  it('Add, Sub, Mul, Div with broadcasting', async () => {
    await checkGradients([{ name: 'a', dims: [2, 3, 4] }, { name: 'b', dims: [3, 1] }], (b, [x, y]) => b.op('Add', [x!, y!]));
    await checkGradients([{ name: 'a', dims: [2, 3] }, { name: 'b', dims: [1, 3] }], (b, [x, y]) => b.op('Sub', [x!, y!]));
    await checkGradients([{ name: 'a', dims: [2, 3, 2, 2] }, { name: 'b', dims: [3, 1, 1] }], (b, [x, y]) => b.op('Mul', [x!, y!]));
    await checkGradients([{ name: 'a', dims: [4, 3] }, { name: 'b', dims: [3], draw: positive }], (b, [x, y]) => b.op('Div', [x!, y!]));
  });

  it('unary ops: Neg, Relu, Sigmoid, Sqrt, Reciprocal, Exp, Log', async () => {
    for (const op of ['Neg', 'Relu', 'Sigmoid', 'Exp']) await checkGradients([{ name: 'x', dims: [3, 5] }], (b, [x]) => b.op(op, [x!]));
    for (const op of ['Sqrt', 'Reciprocal', 'Log']) await checkGradients([{ name: 'x', dims: [3, 5], draw: positive }], (b, [x]) => b.op(op, [x!]));
  });

  it('reductions and pooling: ReduceMean, ReduceSum, GlobalAveragePool', async () => {
    await checkGradients([{ name: 'x', dims: [3, 2, 4, 4] }], (b, [x]) => b.reduceMean(x!, [2, 3]));
    await checkGradients([{ name: 'x', dims: [3, 2, 1, 1] }], (b, [x]) => b.reduceMean(x!, [0]));
    await checkGradients([{ name: 'x', dims: [3, 4] }], (b, [x]) => b.reduceMean(x!, [1], false));
    await checkGradients([{ name: 'x', dims: [3, 4] }], (b, [x]) => b.reduceSum(x!, [0, 1], false));
    await checkGradients([{ name: 'x', dims: [2, 3, 5, 5] }], (b, [x]) => b.op('GlobalAveragePool', [x!]));
  });

  it('shape ops: Flatten, Reshape, Transpose, Expand', async () => {
    await checkGradients([{ name: 'x', dims: [2, 3, 2, 2] }], (b, [x]) => b.op('Flatten', [x!], { axis: 1 }));
    await checkGradients([{ name: 'x', dims: [6] }], (b, [x]) => b.reshape(x!, [2, 3, 1]));
    await checkGradients([{ name: 'x', dims: [2, 3, 4] }], (b, [x]) => b.op('Transpose', [x!], { perm: [2, 0, 1] }));
    await checkGradients([{ name: 'x', dims: [3, 1] }], (b, [x]) => b.op('Expand', [x!, b.constant([2, 3, 4], 'int64')]));
  });

  it('Where routes the gradient by its condition', async () => {
    const signs = [1, -1, -1, 1, 1, 1, -1, 1, -1, -1, 1, -1];
    await checkGradients([{ name: 'a', dims: [3, 4] }], (b, [x]) =>
      b.op('Where', [b.op('Greater', [b.constant(signs, 'float32', [3, 4]), b.constant(0)]), x!, b.op('Mul', [x!, b.constant(3)])]));
  });

  it('LogSoftmax and Softmax', async () => {
    await checkGradients([{ name: 'x', dims: [4, 5] }], (b, [x]) => b.op('LogSoftmax', [x!], { axis: 1 }));
    await checkGradients([{ name: 'x', dims: [4, 5] }], (b, [x]) => b.op('Softmax', [x!], { axis: 1 }));
  });

  it('Gemm in every transposition, with bias', async () => {
    for (const [transA, transB] of [[0, 0], [0, 1], [1, 0], [1, 1]]) {
      const a = transA ? [3, 4] : [4, 3];
      const w = transB ? [5, 3] : [3, 5];
      await checkGradients([{ name: 'a', dims: a }, { name: 'w', dims: w }, { name: 'c', dims: [5] }], (b, [x, y, z]) =>
        b.op('Gemm', [x!, y!, z!], { transA, transB }));
    }
    await checkGradients([{ name: 'a', dims: [2, 4] }, { name: 'w', dims: [3, 4] }], (b, [x, y]) => b.op('Gemm', [x!, y!], { transB: 1, alpha: float(1) }));
  });

  it('MatMul, batched and broadcast', async () => {
    await checkGradients([{ name: 'a', dims: [2, 3, 4] }, { name: 'b', dims: [2, 4, 5] }], (b, [x, y]) => b.op('MatMul', [x!, y!]));
    await checkGradients([{ name: 'a', dims: [2, 3, 4] }, { name: 'b', dims: [4, 5] }], (b, [x, y]) => b.op('MatMul', [x!, y!]));
  });

  const policies: [string, ConvGradPolicy][] = [
    ['ConvTranspose dX, batched dW', { ...DEFAULT_CONV_GRAD, dx: 'transpose', dw: 'batched' }],
    ['flipped-kernel dX, whole-batch Gemm dW', { ...DEFAULT_CONV_GRAD, dx: 'flipped', dw: 'gemm' }],
    ['ConvTranspose dX, shifted-copies dW', { ...DEFAULT_CONV_GRAD, dx: 'transpose', dw: 'shifted' }],
  ];
  for (const [label, conv] of policies) {
    it(`Conv with ${label}: 3x3 stride 1 and 2, 1x1 stride 1 and 2, 7x7/2, bias`, async () => {
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
    });
  }

  it('MaxPool 3x3/2 with overlapping windows adds every contribution', async () => {
    // Distinct values keep the argmax away from ties, where the derivative is undefined.
    const rng = createRng(5);
    const values = [...Array(2 * 2 * 7 * 7).keys()].sort(() => rng.next() - 0.5);
    let k = 0;
    await checkGradients([{ name: 'x', dims: [2, 2, 7, 7], draw: () => values[k++]! * 0.1 }], (b, [x]) =>
      b.opN('MaxPool', [x!], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }, { outputs: 2 })[0]!, { step: 1e-3 });
  });

  it('BatchNorm in training mode, built from primitives', async () => {
    await checkGradients([{ name: 'x', dims: [3, 2, 4, 4] }], (b, [x]) =>
      batchNorm({ b, rng: createRng(0), runningStats: [] }, 'bn', x!));
  });

  it('every op the networks use has a rule', () => {
    for (const op of ['Conv', 'Relu', 'Add', 'Mul', 'Sigmoid', 'GlobalAveragePool', 'ReduceMean', 'MaxPool', 'Flatten', 'Reshape', 'Gemm', 'MatMul', 'LogSoftmax', 'Sub', 'Sqrt', 'Reciprocal', 'Div', 'Neg', 'ReduceSum']) {
      assert.ok(GRADIENTS[op], `no rule for ${op}`);
    }
  });
});
