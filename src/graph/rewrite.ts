/**
 * What a graph pass (nchwc.ts, webgpu.ts) emits its nodes with: a node list, the initializers, and
 * the names taken, so every new value gets a name of its own while a replaced value keeps its.
 */
import type { DType, Dim, Graph, Node, Value } from './ir.ts';
import { tensorFromNumbers } from './tensor.ts';

export interface Emitter {
  readonly nodes: Node[];
  readonly initializers: Graph['initializers'][number][];
  readonly names: Set<string>;
  readonly opset: number;
}

export function emitterFor(graph: Graph): Emitter {
  return {
    nodes: [], initializers: [...graph.initializers], opset: graph.opset,
    names: new Set([...graph.inputs, ...graph.initializers.map((i) => i.value), ...graph.nodes.flatMap((n) => n.outputs)].map((v) => v.name)),
  };
}

export function value(e: Emitter, name: string, shape: readonly Dim[], producer: Node | null, dtype: Value['dtype'] = 'float32'): Value {
  let unique = name;
  for (let i = 1; e.names.has(unique); i++) unique = `${name}_${i}`;
  e.names.add(unique);
  return { name: unique, dtype, shape: [...shape], producer };
}

/** One node with one output; `outName` keeps the name of the value it replaces (free it first). */
export function emit(
  e: Emitter, name: string, op: string, inputs: readonly (Value | null)[], outShape: readonly Dim[],
  attrs: Node['attrs'] = {}, domain?: string, outName?: string, dtype: DType = 'float32',
): Value {
  const node: { -readonly [K in keyof Node]: Node[K] } = { name, op, inputs, outputs: [], attrs, ...(domain ? { domain } : {}) };
  node.outputs = [value(e, outName ?? name, outShape, node, dtype)];
  e.nodes.push(node);
  return node.outputs[0]!;
}

/** A constant initializer. */
export function constant(e: Emitter, name: string, values: readonly number[], dtype: DType, dims: readonly number[]): Value {
  const v = value(e, name, dims, null, dtype);
  const contents = dtype === 'int64' && dims.length <= 1 ? { contents: [...values] } : {};
  e.initializers.push({ value: { ...v, ...contents }, tensor: tensorFromNumbers(values, dtype, dims), kind: 'constant' });
  return e.initializers.at(-1)!.value;
}

export function int64(e: Emitter, name: string, values: readonly number[]): Value {
  return constant(e, name, values, 'int64', [values.length]);
}

export function reshape(e: Emitter, name: string, x: Value, shape: readonly number[], outShape: readonly Dim[], outName?: string): Value {
  return emit(e, name, 'Reshape', [x, int64(e, `${name}/shape`, shape)], outShape, {}, undefined, outName);
}

/** A product of dims, symbolic where one is (`N*64`): for the shapes of folded batches. */
export function times(a: Dim, b: number): Dim {
  return typeof a === 'number' ? a * b : `${a}*${b}`;
}
