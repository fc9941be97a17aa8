/**
 * The graph IR, in ONNX's own vocabulary: a node is an op type with input and output values and
 * attributes; a graph is nodes plus inputs, outputs and initializers.
 */

export type DType = 'float32' | 'int64' | 'int32' | 'bool';

/** A dimension: a size, or a symbolic name such as 'N' for the batch. */
export type Dim = number | string;
export type Shape = readonly Dim[];

export type TensorData = Float32Array | BigInt64Array | Int32Array | Uint8Array;

/** A constant tensor: weights, initial buffers, small constants. */
export interface Tensor {
  readonly dtype: DType;
  readonly dims: readonly number[];
  readonly data: TensorData;
}

/** One edge of the graph: a named, typed, shaped value, produced by at most one node. */
export interface Value {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: Shape;
  /** The node that computes it; null for graph inputs and initializers. */
  readonly producer: Node | null;
  /**
   * For small int64 vectors that describe shapes or axes: their contents when known while
   * building (a constant, or `Shape(x)` of a value whose shape is known, symbols included).
   * Shape inference of Reshape, Expand, Slice and friends reads it.
   */
  readonly contents?: readonly Dim[];
}

/**
 * Attribute values. ONNX tells ints from floats, JavaScript does not: a float attribute is
 * written `{ float: x }` (see `float()`), a plain number is an int.
 */
export type AttrValue = number | readonly number[] | string | { readonly float: number } | Tensor;
export type Attrs = Readonly<Record<string, AttrValue | undefined>>;

export interface Node {
  /** The module path (`layer2.0.conv1`), unique in the graph. */
  readonly name: string;
  readonly op: string;
  /**
   * The operator set the op belongs to: absent for ONNX's own; `com.microsoft.nchwc` for ONNX
   * Runtime's blocked-layout CPU kernels, which only the x64 training step uses (nchwc.ts).
   */
  readonly domain?: string;
  /** A null slot is an omitted optional input (ONNX's empty name). */
  readonly inputs: readonly (Value | null)[];
  readonly outputs: readonly Value[];
  readonly attrs: Attrs;
}

export interface Initializer {
  readonly value: Value;
  readonly tensor: Tensor;
  /**
   * parameter: SGD updates it (weights, biases); buffer: state that is not learnt by gradient
   * (BatchNorm running statistics); constant: part of the graph's arithmetic.
   */
  readonly kind: 'parameter' | 'buffer' | 'constant';
}

export interface Graph {
  readonly name: string;
  readonly opset: number;
  readonly nodes: readonly Node[];
  readonly inputs: readonly Value[];
  readonly outputs: readonly Value[];
  readonly initializers: readonly Initializer[];
  readonly docString?: string;
}

/**
 * The graph without the nodes no output depends on (ORT would run them: a backward pass or a graph
 * pass may leave some behind) and without constants nothing reads; parameters and buffers stay.
 */
export function withoutDeadNodes(graph: Graph): Graph {
  const used = new Set<Value>(graph.outputs);
  const live: Node[] = [];
  for (let i = graph.nodes.length - 1; i >= 0; i--) {
    const n = graph.nodes[i]!;
    if (!n.outputs.some((v) => used.has(v))) continue;
    live.push(n);
    for (const v of n.inputs) if (v) used.add(v);
  }
  return { ...graph, nodes: live.reverse(), initializers: graph.initializers.filter((i) => i.kind !== 'constant' || used.has(i.value)) };
}

export function float(x: number): { readonly float: number } {
  return { float: x };
}

export function isTensor(a: AttrValue): a is Tensor {
  return typeof a === 'object' && a !== null && 'dims' in a;
}

export function numel(dims: readonly number[]): number {
  return dims.reduce((p, d) => p * d, 1);
}

export function formatShape(shape: Shape): string {
  return `[${shape.join(',')}]`;
}
