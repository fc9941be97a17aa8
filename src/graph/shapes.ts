/**
 * Shape and type inference, one rule per ONNX op. A rule sees the input values and attributes
 * and returns each output's dtype, shape and (for shape vectors) known contents, or throws a
 * ShapeError whose message the builder prefixes with the node's name and op.
 */
import type { Attrs, DType, Dim, Shape, Value } from './ir.ts';
import { formatShape, isTensor } from './ir.ts';

export class ShapeError extends Error {}

export interface OutputType {
  readonly dtype: DType;
  readonly shape: Shape;
  readonly contents?: readonly Dim[];
}

type Inputs = readonly (Value | null)[];
type ShapeRule = (inputs: Inputs, attrs: Attrs, outputCount: number) => OutputType[];

function fail(message: string): never {
  throw new ShapeError(message);
}

function need(inputs: Inputs, i: number, what: string): Value {
  const v = inputs[i];
  if (!v) fail(`missing input ${i} (${what})`);
  return v;
}

function ints(attrs: Attrs, key: string, fallback: readonly number[]): readonly number[] {
  const a = attrs[key];
  if (a === undefined) return fallback;
  if (!Array.isArray(a)) fail(`attribute ${key} must be a list of ints`);
  return a as readonly number[];
}

function int(attrs: Attrs, key: string, fallback: number): number {
  const a = attrs[key];
  if (a === undefined) return fallback;
  if (typeof a !== 'number') fail(`attribute ${key} must be an int`);
  return a;
}

/** Contents of a shape/axes input that the rule needs at build time. */
function known(v: Value, what: string): readonly Dim[] {
  if (!v.contents) fail(`${what} (${v.name}) must be known while building the graph`);
  return v.contents;
}

function knownInts(v: Value, what: string): number[] {
  return known(v, what).map((d) => {
    if (typeof d !== 'number') fail(`${what} (${v.name}) must hold numbers, not ${d}`);
    return d;
  });
}

function normAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) fail(`axis ${axis} out of range for rank ${rank}`);
  return a;
}

/** A product of dims as a coefficient times symbols, so 'N*1444' / 1444 gives back 'N'. */
interface Factored { coef: number; symbols: string[] }

function factor(dims: readonly Dim[]): Factored {
  let coef = 1;
  const symbols: string[] = [];
  for (const d of dims) {
    if (typeof d === 'number') coef *= d;
    else for (const part of d.split('*')) {
      const n = Number(part);
      if (Number.isFinite(n)) coef *= n;
      else symbols.push(part);
    }
  }
  return { coef, symbols: symbols.sort() };
}

function unfactor(f: Factored): Dim {
  if (f.symbols.length === 0) return f.coef;
  return [...(f.coef === 1 ? [] : [String(f.coef)]), ...f.symbols].join('*');
}

function product(dims: readonly Dim[]): Dim {
  return unfactor(factor(dims));
}

function quotient(a: Factored, b: Factored): Dim | null {
  const symbols = [...a.symbols];
  for (const s of b.symbols) {
    const i = symbols.indexOf(s);
    if (i < 0) return null;
    symbols.splice(i, 1);
  }
  const coef = a.coef / b.coef;
  return Number.isInteger(coef) ? unfactor({ coef, symbols }) : null;
}

/** Numpy broadcasting; a symbol meets 1 or itself. */
export function broadcast(shapes: readonly Shape[]): Dim[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let dim: Dim = 1;
    for (const s of shapes) {
      const d = s[s.length - rank + i] ?? 1;
      if (d === 1 || d === dim) continue;
      if (dim === 1) dim = d;
      else fail(`cannot broadcast ${shapes.map(formatShape).join(' with ')}`);
    }
    out.push(dim);
  }
  return out;
}

const same = (dtype?: DType): ShapeRule => (inputs) => {
  const x = need(inputs, 0, 'X');
  return [{ dtype: dtype ?? x.dtype, shape: x.shape }];
};

const elementwise = (dtype?: DType): ShapeRule => (inputs) => {
  const vs = inputs.map((_, i) => need(inputs, i, `operand ${i}`));
  const dt = vs[0]!.dtype;
  for (const v of vs) if (v.dtype !== dt) fail(`operands differ in type: ${vs.map((x) => x.dtype).join(', ')}`);
  return [{ dtype: dtype ?? dt, shape: broadcast(vs.map((v) => v.shape)) }];
};

function spatial(
  x: Shape, kernel: readonly number[], attrs: Attrs, ceil = false,
): { out: Dim[]; strides: readonly number[]; pads: readonly number[]; dilations: readonly number[] } {
  const n = kernel.length;
  const strides = ints(attrs, 'strides', Array(n).fill(1));
  const pads = ints(attrs, 'pads', Array(2 * n).fill(0));
  const dilations = ints(attrs, 'dilations', Array(n).fill(1));
  if (attrs['auto_pad'] !== undefined && attrs['auto_pad'] !== 'NOTSET') fail('auto_pad is not supported; give pads');
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const size = x[2 + i];
    if (typeof size !== 'number') fail(`spatial size must be static, got ${formatShape(x)}`);
    const span = (kernel[i]! - 1) * dilations[i]! + 1;
    const padded = size + pads[i]! + pads[i + n]!;
    if (padded < span) fail(`input ${formatShape(x)} is smaller than the kernel ${kernel.join('x')}`);
    const steps = (padded - span) / strides[i]!;
    let o = (ceil ? Math.ceil(steps) : Math.floor(steps)) + 1;
    // As ONNX and PyTorch define ceil_mode, and ONNX Runtime's kernel computes it (its shape
    // inference, as of 1.30, does not): a last window that would start in the end padding is dropped.
    if (ceil && (o - 1) * strides[i]! >= size + pads[i]!) o--;
    out.push(o);
  }
  return { out, strides, pads, dilations };
}

function reduce(inputs: Inputs, attrs: Attrs, axesFromInput: boolean): OutputType[] {
  const x = need(inputs, 0, 'data');
  const axesValue = axesFromInput ? inputs[1] : null;
  const axes = axesValue ? knownInts(axesValue, 'axes') : ints(attrs, 'axes', []);
  const keep = int(attrs, 'keepdims', 1) === 1;
  const set = new Set((axes.length ? axes : x.shape.map((_, i) => i)).map((a) => normAxis(a, x.shape.length)));
  const shape: Dim[] = [];
  x.shape.forEach((d, i) => {
    if (!set.has(i)) shape.push(d);
    else if (keep) shape.push(1);
  });
  return [{ dtype: x.dtype, shape }];
}

const RULES: Record<string, ShapeRule> = {
  Identity: same(), Relu: same(), Sigmoid: same(), Sqrt: same(), Reciprocal: same(), Neg: same(),
  Exp: same(), Log: same(), Abs: same(), Sign: same(), Softmax: same(), LogSoftmax: same(),
  Add: elementwise(), Sub: elementwise(), Mul: elementwise(), Div: elementwise(), Pow: elementwise(),
  Greater: elementwise('bool'), Less: elementwise('bool'), Equal: elementwise('bool'),

  Where: (inputs) => {
    const [c, a, b] = [need(inputs, 0, 'condition'), need(inputs, 1, 'X'), need(inputs, 2, 'Y')];
    if (c.dtype !== 'bool') fail('condition must be bool');
    if (a.dtype !== b.dtype) fail(`X and Y differ in type: ${a.dtype}, ${b.dtype}`);
    return [{ dtype: a.dtype, shape: broadcast([c.shape, a.shape, b.shape]) }];
  },

  Cast: (inputs, attrs) => {
    const to = attrs['to'];
    const dtype = ({ 1: 'float32', 6: 'int32', 7: 'int64', 9: 'bool' } as Record<number, DType>)[to as number];
    if (!dtype) fail(`unsupported Cast target ${String(to)}`);
    const x = need(inputs, 0, 'input');
    return [{ dtype, shape: x.shape, ...(x.contents ? { contents: x.contents } : {}) }];
  },

  Conv: (inputs, attrs) => {
    const [x, w, b] = [need(inputs, 0, 'X'), need(inputs, 1, 'W'), inputs[2]];
    if (x.shape.length !== 4 || w.shape.length !== 4) fail(`expected 4-D X and W, got ${formatShape(x.shape)} and ${formatShape(w.shape)}`);
    const group = int(attrs, 'group', 1);
    const [m, cPerGroup] = w.shape as number[];
    if (x.shape[1] !== cPerGroup! * group) fail(`X has ${x.shape[1]} channels but W ${formatShape(w.shape)} with group ${group} expects ${cPerGroup! * group}`);
    if (b && (b.shape.length !== 1 || b.shape[0] !== m)) fail(`bias ${formatShape(b.shape)} does not match ${m} output channels`);
    const kernel = ints(attrs, 'kernel_shape', w.shape.slice(2) as number[]);
    return [{ dtype: x.dtype, shape: [x.shape[0]!, m!, ...spatial(x.shape, kernel, attrs).out] }];
  },

  ConvTranspose: (inputs, attrs) => {
    const [x, w] = [need(inputs, 0, 'X'), need(inputs, 1, 'W')];
    const group = int(attrs, 'group', 1);
    if (x.shape[1] !== w.shape[0]) fail(`X has ${x.shape[1]} channels but W ${formatShape(w.shape)} expects ${w.shape[0]}`);
    const kernel = w.shape.slice(2) as number[];
    const strides = ints(attrs, 'strides', [1, 1]);
    const pads = ints(attrs, 'pads', [0, 0, 0, 0]);
    const outPad = ints(attrs, 'output_padding', [0, 0]);
    const dil = ints(attrs, 'dilations', [1, 1]);
    const out = [0, 1].map((i) => {
      const size = x.shape[2 + i] as number;
      return strides[i]! * (size - 1) + outPad[i]! + (kernel[i]! - 1) * dil[i]! + 1 - pads[i]! - pads[i + 2]!;
    });
    return [{ dtype: x.dtype, shape: [x.shape[0]!, (w.shape[1] as number) * group, ...out] }];
  },

  BatchNormalization: (inputs) => {
    const x = need(inputs, 0, 'X');
    for (let i = 1; i <= 4; i++) {
      const p = need(inputs, i, 'statistics');
      if (p.shape.length !== 1 || p.shape[0] !== x.shape[1]) fail(`input ${i} ${formatShape(p.shape)} does not match ${x.shape[1]} channels`);
    }
    return [{ dtype: x.dtype, shape: x.shape }];
  },

  MaxPool: (inputs, attrs, outputCount) => {
    const x = need(inputs, 0, 'X');
    const kernel = ints(attrs, 'kernel_shape', []);
    if (kernel.length !== 2) fail('kernel_shape must have two entries');
    const shape = [x.shape[0]!, x.shape[1]!, ...spatial(x.shape, kernel, attrs, int(attrs, 'ceil_mode', 0) === 1).out];
    const outs: OutputType[] = [{ dtype: x.dtype, shape }];
    if (outputCount > 1) outs.push({ dtype: 'int64', shape });
    return outs;
  },

  GlobalAveragePool: (inputs) => {
    const x = need(inputs, 0, 'X');
    return [{ dtype: x.dtype, shape: [x.shape[0]!, x.shape[1]!, ...x.shape.slice(2).map(() => 1)] }];
  },

  ReduceMean: (inputs, attrs) => reduce(inputs, attrs, inputs.length > 1),
  ReduceSum: (inputs, attrs) => reduce(inputs, attrs, true),
  ReduceSumSquare: (inputs, attrs) => reduce(inputs, attrs, inputs.length > 1),
  ReduceMax: (inputs, attrs) => reduce(inputs, attrs, inputs.length > 1),

  ArgMax: (inputs, attrs) => {
    const x = need(inputs, 0, 'data');
    const axis = normAxis(int(attrs, 'axis', 0), x.shape.length);
    const keep = int(attrs, 'keepdims', 1) === 1;
    return [{ dtype: 'int64', shape: x.shape.flatMap((d, i) => (i !== axis ? [d] : keep ? [1] : [])) }];
  },

  Flatten: (inputs, attrs) => {
    const x = need(inputs, 0, 'input');
    const axis = int(attrs, 'axis', 1);
    const a = axis < 0 ? axis + x.shape.length : axis;
    return [{ dtype: x.dtype, shape: [product(x.shape.slice(0, a)), product(x.shape.slice(a))] }];
  },

  Gemm: (inputs, attrs) => {
    const [a, b, c] = [need(inputs, 0, 'A'), need(inputs, 1, 'B'), inputs[2]];
    if (a.shape.length !== 2 || b.shape.length !== 2) fail(`expected 2-D A and B, got ${formatShape(a.shape)} and ${formatShape(b.shape)}`);
    const [m, ka] = int(attrs, 'transA', 0) ? [a.shape[1]!, a.shape[0]!] : [a.shape[0]!, a.shape[1]!];
    const [kb, n] = int(attrs, 'transB', 0) ? [b.shape[1]!, b.shape[0]!] : [b.shape[0]!, b.shape[1]!];
    if (ka !== kb) fail(`inner dimensions differ: ${formatShape(a.shape)} x ${formatShape(b.shape)}`);
    if (c) broadcast([c.shape, [m, n]]);
    return [{ dtype: a.dtype, shape: [m, n] }];
  },

  MatMul: (inputs) => {
    const [a, b] = [need(inputs, 0, 'A'), need(inputs, 1, 'B')];
    if (a.shape.length < 2 || b.shape.length < 2) fail('expected operands of rank 2 or more');
    const [m, ka] = a.shape.slice(-2);
    const [kb, n] = b.shape.slice(-2);
    if (ka !== kb) fail(`inner dimensions differ: ${formatShape(a.shape)} x ${formatShape(b.shape)}`);
    return [{ dtype: a.dtype, shape: [...broadcast([a.shape.slice(0, -2), b.shape.slice(0, -2)]), m!, n!] }];
  },

  Reshape: (inputs) => {
    const [x, s] = [need(inputs, 0, 'data'), need(inputs, 1, 'shape')];
    const target = known(s, 'shape');
    const shape: Dim[] = target.map((d, i) => (d === 0 ? x.shape[i]! : d));
    const inferred = shape.indexOf(-1);
    if (inferred >= 0) {
      const rest = quotient(factor(x.shape), factor(shape.filter((_, i) => i !== inferred)));
      if (rest === null) fail(`cannot infer -1 in ${formatShape(target)} from ${formatShape(x.shape)}`);
      shape[inferred] = rest;
    }
    const [a, b] = [product(x.shape), product(shape)];
    if (a !== b) fail(`cannot reshape ${formatShape(x.shape)} to ${formatShape(shape)}`);
    return [{ dtype: x.dtype, shape }];
  },

  Expand: (inputs) => {
    const [x, s] = [need(inputs, 0, 'input'), need(inputs, 1, 'shape')];
    return [{ dtype: x.dtype, shape: broadcast([x.shape, known(s, 'shape')]) }];
  },

  Transpose: (inputs, attrs) => {
    const x = need(inputs, 0, 'data');
    const perm = ints(attrs, 'perm', x.shape.map((_, i) => x.shape.length - 1 - i));
    return [{ dtype: x.dtype, shape: perm.map((p) => x.shape[p]!) }];
  },

  Squeeze: (inputs) => {
    const x = need(inputs, 0, 'data');
    const axes = new Set(knownInts(need(inputs, 1, 'axes'), 'axes').map((a) => normAxis(a, x.shape.length)));
    for (const a of axes) if (x.shape[a] !== 1) fail(`cannot squeeze axis ${a} of ${formatShape(x.shape)}`);
    return [{ dtype: x.dtype, shape: x.shape.filter((_, i) => !axes.has(i)) }];
  },

  Unsqueeze: (inputs) => {
    const x = need(inputs, 0, 'data');
    const axes = knownInts(need(inputs, 1, 'axes'), 'axes');
    const rank = x.shape.length + axes.length;
    const set = new Set(axes.map((a) => normAxis(a, rank)));
    const shape: Dim[] = [];
    let j = 0;
    for (let i = 0; i < rank; i++) shape.push(set.has(i) ? 1 : x.shape[j++]!);
    return [{ dtype: x.dtype, shape, ...(x.contents && x.shape.length === 0 ? { contents: x.contents } : {}) }];
  },

  Concat: (inputs, attrs) => {
    const vs = inputs.map((_, i) => need(inputs, i, `input ${i}`));
    const axis = normAxis(int(attrs, 'axis', 0), vs[0]!.shape.length);
    const shape = [...vs[0]!.shape];
    const sizes = vs.map((v) => v.shape[axis]!);
    shape[axis] = sizes.every((d) => typeof d === 'number') ? (sizes as number[]).reduce((a, d) => a + d, 0) : sizes.join('+');
    const contents = vs.every((v) => v.contents) ? vs.flatMap((v) => v.contents!) : undefined;
    return [{ dtype: vs[0]!.dtype, shape, ...(contents ? { contents } : {}) }];
  },

  Shape: (inputs) => {
    const x = need(inputs, 0, 'data');
    return [{ dtype: 'int64', shape: [x.shape.length], contents: x.shape }];
  },

  Size: (inputs) => {
    const x = need(inputs, 0, 'data');
    const n = product(x.shape);
    return [{ dtype: 'int64', shape: [], contents: [n] }];
  },

  Gather: (inputs, attrs) => {
    const [x, idx] = [need(inputs, 0, 'data'), need(inputs, 1, 'indices')];
    const axis = normAxis(int(attrs, 'axis', 0), x.shape.length);
    const shape = [...x.shape.slice(0, axis), ...idx.shape, ...x.shape.slice(axis + 1)];
    let contents: Dim[] | undefined;
    if (x.contents && idx.contents && x.shape.length === 1) contents = idx.contents.map((i) => x.contents![i as number]!);
    return [{ dtype: x.dtype, shape, ...(contents ? { contents } : {}) }];
  },

  Slice: (inputs) => {
    const x = need(inputs, 0, 'data');
    const starts = knownInts(need(inputs, 1, 'starts'), 'starts');
    const ends = knownInts(need(inputs, 2, 'ends'), 'ends');
    const axes = inputs[3] ? knownInts(inputs[3], 'axes') : starts.map((_, i) => i);
    const steps = inputs[4] ? knownInts(inputs[4], 'steps') : starts.map(() => 1);
    const shape = [...x.shape];
    axes.forEach((axis, i) => {
      const a = normAxis(axis, x.shape.length);
      const size = x.shape[a];
      if (typeof size !== 'number') fail(`cannot slice symbolic axis ${a}`);
      const clamp = (v: number): number => Math.min(Math.max(v < 0 ? v + size : v, 0), size);
      const [s, e, st] = [clamp(starts[i]!), clamp(ends[i]!), steps[i]!];
      if (st <= 0) fail('only positive steps are supported');
      shape[a] = Math.max(0, Math.ceil((e - s) / st));
    });
    return [{ dtype: x.dtype, shape }];
  },

  OneHot: (inputs, attrs) => {
    const [idx, depth, values] = [need(inputs, 0, 'indices'), need(inputs, 1, 'depth'), need(inputs, 2, 'values')];
    const d = knownInts(depth, 'depth')[0]!;
    const axis = int(attrs, 'axis', -1);
    const shape: Dim[] = [...idx.shape];
    shape.splice(axis < 0 ? shape.length + 1 + axis : axis, 0, d);
    return [{ dtype: values.dtype, shape }];
  },

  Pad: (inputs) => {
    const x = need(inputs, 0, 'data');
    const pads = knownInts(need(inputs, 1, 'pads'), 'pads');
    const rank = x.shape.length;
    if (pads.length !== 2 * rank) fail(`pads has ${pads.length} entries for rank ${rank}`);
    return [{ dtype: x.dtype, shape: x.shape.map((d, i) => (pads[i] === 0 && pads[i + rank] === 0 ? d : (d as number) + pads[i]! + pads[i + rank]!)) }];
  },

  ConstantOfShape: (inputs, attrs) => {
    const value = attrs['value'];
    const dtype = value !== undefined && isTensor(value) ? value.dtype : 'float32';
    return [{ dtype, shape: known(need(inputs, 0, 'shape'), 'shape') }];
  },

  ScatterElements: (inputs) => {
    const [data, idx, upd] = [need(inputs, 0, 'data'), need(inputs, 1, 'indices'), need(inputs, 2, 'updates')];
    if (idx.shape.length !== upd.shape.length) fail('indices and updates differ in rank');
    return [{ dtype: data.dtype, shape: data.shape }];
  },
};

export function inferOutputs(op: string, inputs: Inputs, attrs: Attrs, outputCount: number): OutputType[] {
  const rule = RULES[op];
  if (!rule) fail(`no shape rule for op ${op}`);
  for (const a of Object.values(attrs)) if (a !== undefined && isTensor(a) && !a.data) fail('tensor attribute without data');
  const outs = rule(inputs, attrs, outputCount);
  if (outs.length < outputCount) fail(`op ${op} gives ${outs.length} outputs, ${outputCount} requested`);
  return outs.slice(0, outputCount);
}
