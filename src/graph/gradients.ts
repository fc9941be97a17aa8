/**
 * One gradient rule per ONNX op, in one table (tinygrad's gradient.py, PyTorch's
 * derivatives.yaml). The walker in autodiff.ts knows nothing about ops; this file knows nothing
 * about walking.
 *
 * A rule is `(b, node, dY, needs, ctx) => grads`, where
 *   b      the builder the backward nodes go into (already scoped under `<node>.grad`),
 *   node   the forward node: node.inputs (X, W, ...), node.outputs (Y, ...), node.attrs,
 *   dY     the gradient of the loss with respect to each output (null where none flows),
 *   needs  needs[i] is true when input i's gradient is wanted (build nothing else),
 *   ctx    formulation choices (conv backward) that change speed, never results,
 * and returns one slot per node input: the gradient, or null (not needed, or not
 * differentiable: shapes, indices, labels), or broadcast(g) for a gradient g smaller than its
 * input that broadcasts to the input's shape (a reduction's). Long rules call the named helpers
 * below the table.
 */
import type { Builder } from './builder.ts';
import type { Node, Shape, Value } from './ir.ts';
import { numel } from './ir.ts';
import { tensorFromNumbers } from './tensor.ts';
import { convInputGrad, convWeightGrad } from './conv-grad.ts';
import type { ConvGradPolicy } from './conv-grad.ts';

export interface GradContext {
  readonly conv: ConvGradPolicy;
}

/**
 * A gradient left smaller than its input: broadcasting it to the input's shape is implied. The
 * walker adds it to a full-size part as it is (Add broadcasts) and expands it (expandTo) only
 * where it is the whole gradient, so a reduction's gradient that joins a fan-out sum costs no
 * full-size pass of its own (GlobalAveragePool in the SE gate).
 */
export interface Broadcast {
  readonly broadcast: Value;
}

export type Grad = Value | Broadcast | null;

const broadcast = (g: Value): Broadcast => ({ broadcast: g });

export type GradRule = (b: Builder, node: Node, dY: readonly (Value | null)[], needs: readonly boolean[], ctx: GradContext) => Grad[];

const input = (node: Node, i: number): Value => node.inputs[i]!;
const output = (node: Node, i = 0): Value => node.outputs[i]!;

/** Sums a broadcast gradient back down to the shape of the operand it came from. */
export function unbroadcast(b: Builder, g: Value, target: Shape): Value {
  if (g.shape.length === target.length && g.shape.every((d, i) => d === target[i])) return g;
  const offset = g.shape.length - target.length;
  const axes: number[] = [];
  g.shape.forEach((d, i) => {
    const t = i < offset ? undefined : target[i - offset];
    if (t === undefined || (t === 1 && d !== 1)) axes.push(i);
  });
  const summed = axes.length ? b.reduceSum(g, axes, true) : g;
  return offset > 0 || summed.shape.length !== target.length ? b.reshape(summed, target.map((d) => (typeof d === 'number' ? d : 0))) : summed;
}

/** Broadcasts g to the shape of x: what a Broadcast gradient stands for. */
export function expandTo(b: Builder, g: Value, x: Value): Value {
  return b.op('Expand', [g, b.op('Shape', [x])]);
}

/** 1 / (elements averaged per output), from static shapes when known, else at run time. */
export function meanScale(b: Builder, x: Value, y: Value): Value {
  const [nx, ny] = [x.shape, y.shape].map((s) => (s.every((d) => typeof d === 'number') ? numel(s as number[]) : null));
  if (nx !== null && ny !== null) return b.constant(ny / nx);
  const size = (v: Value): Value => b.op('Cast', [b.op('Size', [v])], { to: 1 });
  return b.op('Div', [size(y), size(x)]);
}

function reducedAxes(node: Node): number[] {
  const x = input(node, 0);
  const fromInput = node.inputs[1]?.contents as number[] | undefined;
  const axes = fromInput ?? (node.attrs['axes'] as number[] | undefined) ?? x.shape.map((_, i) => i);
  return axes.map((a) => (a < 0 ? a + x.shape.length : a));
}

/** dY of a reduction, with the reduced axes restored when keepdims = 0. */
function keptDims(b: Builder, node: Node, g: Value): Value {
  if (node.attrs['keepdims'] === 0) return b.op('Unsqueeze', [g, b.constant(reducedAxes(node), 'int64')]);
  return g;
}

const zero = (b: Builder): Value => b.constant(0);

/** The gradient for input 0 and none for the rest (axes, shapes), however many the node has. */
const onlyFirst = (node: Node, g: Value | Broadcast): Grad[] => node.inputs.map((_, i) => (i === 0 ? g : null));

export const GRADIENTS: Record<string, GradRule> = {
  Identity: (_b, _n, [dy]) => [dy!],
  Add: (b, n, [dy], needs) => [
    needs[0] ? unbroadcast(b, dy!, input(n, 0).shape) : null,
    needs[1] ? unbroadcast(b, dy!, input(n, 1).shape) : null,
  ],
  Sub: (b, n, [dy], needs) => [
    needs[0] ? unbroadcast(b, dy!, input(n, 0).shape) : null,
    needs[1] ? unbroadcast(b, b.op('Neg', [dy!]), input(n, 1).shape) : null,
  ],
  Mul: (b, n, [dy], needs) => [
    needs[0] ? unbroadcast(b, b.op('Mul', [dy!, input(n, 1)]), input(n, 0).shape) : null,
    needs[1] ? unbroadcast(b, b.op('Mul', [dy!, input(n, 0)]), input(n, 1).shape) : null,
  ],
  // d(a/b) = da/b - a db/b^2 = da/b - y db/b
  Div: (b, n, [dy], needs) => {
    const scaled = b.op('Div', [dy!, input(n, 1)]);
    return [
      needs[0] ? unbroadcast(b, scaled, input(n, 0).shape) : null,
      needs[1] ? unbroadcast(b, b.op('Neg', [b.op('Mul', [scaled, output(n)])]), input(n, 1).shape) : null,
    ];
  },
  Neg: (b, _n, [dy]) => [b.op('Neg', [dy!])],
  // Relu: dY times the mask Y > 0 cast to float. ORT's Where costs more than Cast and Mul
  // together (23 ms against 11 on a batch of 32 maps of 150x150x16).
  Relu: (b, n, [dy]) => [b.op('Mul', [dy!, b.op('Cast', [b.op('Greater', [output(n), zero(b)])], { to: 1 })])],
  Sigmoid: (b, n, [dy]) => {
    const y = output(n);
    return [b.op('Mul', [dy!, b.op('Mul', [y, b.op('Sub', [b.constant(1), y])])])];
  },
  Sqrt: (b, n, [dy]) => [b.op('Div', [b.op('Mul', [dy!, b.constant(0.5)]), output(n)])],
  Reciprocal: (b, n, [dy]) => [b.op('Neg', [b.op('Mul', [dy!, b.op('Mul', [output(n), output(n)])])])],
  Exp: (b, n, [dy]) => [b.op('Mul', [dy!, output(n)])],
  Log: (b, n, [dy]) => [b.op('Div', [dy!, input(n, 0)])],
  Where: (b, n, [dy], needs) => [
    null,
    needs[1] ? unbroadcast(b, b.op('Where', [input(n, 0), dy!, zero(b)]), input(n, 1).shape) : null,
    needs[2] ? unbroadcast(b, b.op('Where', [input(n, 0), zero(b), dy!]), input(n, 2).shape) : null,
  ],

  // dY (scaled) broadcast back over the reduced axes: the scaling runs on the small tensor.
  ReduceMean: (b, n, [dy]) => onlyFirst(n, broadcast(b.op('Mul', [keptDims(b, n, dy!), meanScale(b, input(n, 0), output(n))]))),
  ReduceSum: (b, n, [dy]) => onlyFirst(n, broadcast(keptDims(b, n, dy!))),
  GlobalAveragePool: (b, n, [dy]) => [broadcast(b.op('Mul', [dy!, meanScale(b, input(n, 0), output(n))]))],
  Flatten: (b, n, [dy]) => [b.reshape(dy!, b.op('Shape', [input(n, 0)]))],
  Reshape: (b, n, [dy]) => onlyFirst(n, b.reshape(dy!, b.op('Shape', [input(n, 0)]))),
  Squeeze: (b, n, [dy]) => onlyFirst(n, b.reshape(dy!, b.op('Shape', [input(n, 0)]))),
  Unsqueeze: (b, n, [dy]) => onlyFirst(n, b.reshape(dy!, b.op('Shape', [input(n, 0)]))),
  Expand: (b, n, [dy]) => onlyFirst(n, unbroadcast(b, dy!, input(n, 0).shape)),
  Transpose: (b, n, [dy]) => {
    const perm = (n.attrs['perm'] as number[] | undefined) ?? input(n, 0).shape.map((_, i, s) => s.length - 1 - i);
    const inverse = perm.map((_, i) => perm.indexOf(i));
    return [b.op('Transpose', [dy!], { perm: inverse })];
  },

  // log_softmax: dX = dY - softmax(X) * sum(dY) along the axis
  LogSoftmax: (b, n, [dy]) => {
    const axis = (n.attrs['axis'] as number | undefined) ?? -1;
    const total = b.reduceSum(dy!, [axis], true);
    return [b.op('Sub', [dy!, b.op('Mul', [b.op('Exp', [output(n)]), total])])];
  },
  // softmax: dX = Y * (dY - sum(dY * Y)) along the axis
  Softmax: (b, n, [dy]) => {
    const axis = (n.attrs['axis'] as number | undefined) ?? -1;
    const y = output(n);
    const total = b.reduceSum(b.op('Mul', [dy!, y]), [axis], true);
    return [b.op('Mul', [y, b.op('Sub', [dy!, total])])];
  },

  Gemm: (b, n, [dy], needs) => gemmGrad(b, n, dy!, needs),
  MatMul: (b, n, [dy], needs) => {
    const [a, w] = [input(n, 0), input(n, 1)];
    const swap = (v: Value): Value => {
      const perm = v.shape.map((_, i) => i);
      perm.splice(-2, 2, perm.length - 1, perm.length - 2);
      return b.op('Transpose', [v], { perm });
    };
    return [
      needs[0] ? unbroadcast(b, b.op('MatMul', [dy!, swap(w)]), a.shape) : null,
      needs[1] ? unbroadcast(b, b.op('MatMul', [swap(a), dy!]), w.shape) : null,
    ];
  },

  Conv: (b, n, [dy], needs, ctx) => [
    needs[0] ? convInputGrad(b, n, dy!, ctx.conv) : null,
    needs[1] ? convWeightGrad(b, n, dy!, ctx.conv) : null,
    ...(n.inputs.length > 2 ? [needs[2] ? b.reduceSum(dy!, [0, 2, 3], false) : null] : []),
  ],
  MaxPool: (b, n, [dy]) => [maxPoolGrad(b, n, dy!)],
  BatchNormalization: (b, n, [dy], needs) => batchNormInferenceGrad(b, n, dy!, needs),
};

/** Y = A' B' + C (alpha = beta = 1), with A' = A or A^T and B' = B or B^T. */
function gemmGrad(b: Builder, n: Node, dy: Value, needs: readonly boolean[]): Grad[] {
  for (const k of ['alpha', 'beta']) {
    const f = (n.attrs[k] as { float: number } | undefined)?.float ?? 1;
    if (f !== 1) throw new Error(`node ${n.name} (Gemm): gradient assumes ${k} = 1`);
  }
  const [a, w, c] = [input(n, 0), input(n, 1), n.inputs[2] ?? null];
  const transA = n.attrs['transA'] === 1 ? 1 : 0;
  const transB = n.attrs['transB'] === 1 ? 1 : 0;
  // dA' = dY B'^T, dB' = A'^T dY; transposing back where A or B was stored transposed.
  const dA = !needs[0] ? null : transA
    ? b.op('Gemm', [w, dy], { transA: transB, transB: 1 })
    : b.op('Gemm', [dy, w], { transB: transB ? 0 : 1 });
  const dW = !needs[1] ? null : transB
    ? b.op('Gemm', [dy, a], { transA: 1, transB: transA ? 1 : 0 })
    : b.op('Gemm', [a, dy], { transA: transA ? 0 : 1 });
  if (!c) return [dA, dW];
  return [dA, dW, needs[2] ? unbroadcast(b, dy, c.shape) : null];
}

/**
 * MaxPool backward: scatter-add dY to the argmax positions the forward recorded in Indices
 * (flat over N*C*H*W). MaxUnpool would keep one contribution where 3x3/2 windows overlap.
 */
function maxPoolGrad(b: Builder, n: Node, dy: Value): Value {
  const indices = n.outputs[1];
  if (!indices) throw new Error(`node ${n.name} (MaxPool): backward needs the Indices output; build it with outputs: 2`);
  const x = input(n, 0);
  const zeros = b.op('ConstantOfShape', [b.op('Shape', [x])], { value: tensorFromNumbers([0], 'float32', [1]) });
  const flat = b.reshape(zeros, [-1]);
  const scattered = b.op('ScatterElements', [flat, b.reshape(indices, [-1]), b.reshape(dy, [-1])], { axis: 0, reduction: 'add' });
  return b.reshape(scattered, b.op('Shape', [x]));
}

/**
 * BatchNormalization in inference mode, y = (x - mean) invStd scale + bias with invStd =
 * 1 / sqrt(var + eps) per channel (axis 1): dx = dy scale invStd, dscale = sum(dy (x - mean)
 * invStd), dbias = sum(dy), the sums over every axis but 1. The running statistics get none. Training
 * mode's batch statistics are layers.ts's region (batchNormTrainGrad), never this op's own mode.
 */
function batchNormInferenceGrad(b: Builder, n: Node, dy: Value, needs: readonly boolean[]): Grad[] {
  if (n.attrs['training_mode'] === 1) throw new Error(`node ${n.name} (BatchNormalization): gradient assumes inference mode`);
  const [x, scale, , mean, variance] = [0, 1, 2, 3, 4].map((i) => input(n, i));
  const eps = (n.attrs['epsilon'] as { float: number } | undefined)?.float ?? 1e-5;
  const rank = x!.shape.length;
  // Per-channel [C] as [C, 1, ..., 1], to broadcast against [N, C, ...].
  const perChannel = (v: Value): Value => b.reshape(v, [-1, ...new Array<number>(rank - 2).fill(1)]);
  const invStd = b.op('Reciprocal', [b.op('Sqrt', [b.op('Add', [variance!, b.constant(eps)])])]);
  const others = x!.shape.map((_, i) => i).filter((i) => i !== 1);
  return [
    needs[0] ? b.op('Mul', [dy, perChannel(b.op('Mul', [scale!, invStd]))]) : null,
    needs[1] ? b.reduceSum(b.op('Mul', [dy, b.op('Mul', [b.op('Sub', [x!, perChannel(mean!)]), perChannel(invStd)])]), others, false) : null,
    needs[2] ? b.reduceSum(dy, others, false) : null,
    null,
    null,
  ];
}

/** What BatchNorm's forward (layers.ts) keeps for its backward; all per-channel tensors are [1,C,1,1]. */
export interface BatchNormSaved {
  readonly dy: Value;
  readonly centred: Value;
  readonly invStd: Value;
  /** gamma * invStd */
  readonly scale: Value;
}

/**
 * BatchNorm in training mode, closed form (inputs x, gamma, beta), with sums over N*H*W = m:
 *   dx = scale (dy - sum(dy)/m - xc invStd^2 sum(dy xc)/m),
 *   dgamma = invStd sum(dy xc), dbeta = sum(dy).
 * Sums reduce over H*W first, then N, as the forward's means do.
 */
export function batchNormTrainGrad(b: Builder, s: BatchNormSaved, needs: readonly boolean[]): (Value | null)[] {
  const channels = s.centred.shape[1] as number;
  const sum = (v: Value): Value => b.reduceSum(b.reduceSum(v, [2, 3]), [0]);
  const sumDy = sum(s.dy);
  const sumDyXc = sum(b.op('Mul', [s.dy, s.centred]));
  let dx: Value | null = null;
  if (needs[0]) {
    const invM = b.op('Neg', [meanScale(b, s.dy, sumDy)]);
    const k0 = b.op('Mul', [b.op('Mul', [s.scale, sumDy]), invM]);
    const k1 = b.op('Mul', [b.op('Mul', [b.op('Mul', [s.scale, b.op('Mul', [s.invStd, s.invStd])]), sumDyXc]), invM]);
    dx = b.op('Add', [b.op('Add', [b.op('Mul', [s.dy, s.scale]), b.op('Mul', [s.centred, k1])]), k0]);
  }
  return [
    dx,
    needs[1] ? b.reshape(b.op('Mul', [sumDyXc, s.invStd]), [channels]) : null,
    needs[2] ? b.reshape(sumDy, [channels]) : null,
  ];
}
