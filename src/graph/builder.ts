/**
 * A graph builder in ONNX's words: `b.op('Conv', [x, w], { strides, pads })` returns the output
 * value, shapes are checked as each node is added, and nodes take the module path of the scope
 * they are built in (`layer2.0.conv1`), so errors, Netron and weights line up.
 */
import type { AttrValue, Attrs, DType, Dim, Graph, Initializer, Node, Shape, Tensor, Value } from './ir.ts';
import { formatShape, withoutDeadNodes } from './ir.ts';
import { ShapeError, inferOutputs } from './shapes.ts';
import { UserError } from '../errors.ts';
import { tensorFromNumbers } from './tensor.ts';

export const DEFAULT_OPSET = 17;
export const MIN_OPSET = 17;
export const MAX_OPSET = 21;

/** What the networks build: BN in inference or training form (see layers.ts). */
export type Mode = 'inference' | 'train';

/**
 * A composite layer built from primitive ops that supplies its own closed-form backward, as a
 * torch.autograd.Function does: the walker calls `grad` for the region instead of differentiating
 * its nodes one by one (BatchNorm: 5 full-size passes instead of about 15).
 */
export interface Region {
  readonly name: string;
  readonly inputs: readonly Value[];
  readonly outputs: readonly Value[];
  readonly nodes: ReadonlySet<Node>;
  /** One slot per input, as a gradient rule; `needs[i]` says whether input i's is wanted. */
  readonly grad: (b: Builder, dY: readonly (Value | null)[], needs: readonly boolean[]) => (Value | null)[];
}

interface OpOptions {
  /** Output count, for ops with several (MaxPool with Indices). */
  outputs?: number;
  /** Explicit output value names, e.g. 'logits'. */
  names?: readonly string[];
  /** Node name relative to the current scope, instead of the op type; '' for the scope itself. */
  name?: string;
}

/** What makes two constants the same one: type, shape and values. */
function constantKey(dtype: DType, shape: Shape, values: readonly number[]): string {
  return `${dtype}${formatShape(shape)}:${values.join(',')}`;
}

export class Builder {
  readonly opset: number;
  readonly mode: Mode;
  private readonly nodes: Node[] = [];
  private readonly inputs: Value[] = [];
  private readonly outputs: Value[] = [];
  private readonly inits = new Map<string, Initializer>();
  private readonly names = new Set<string>();
  private readonly nodeNames = new Set<string>();
  private readonly scopes: string[] = [];
  private readonly constants = new Map<string, Value>();
  private readonly regionList: Region[] = [];
  private readonly stopped = new Set<Value>();
  private readonly byName = new Map<string, Value>();

  constructor(options: { opset?: number; mode?: Mode } = {}) {
    this.opset = options.opset ?? DEFAULT_OPSET;
    this.mode = options.mode ?? 'inference';
    if (!Number.isInteger(this.opset) || this.opset < MIN_OPSET || this.opset > MAX_OPSET) {
      throw new UserError(`expected opset between ${MIN_OPSET} and ${MAX_OPSET} for --opset but received ${this.opset}`);
    }
  }

  /**
   * A builder that goes on from a finished graph, such as a graph pass's output (deploy.ts's
   * foldBatchNorm): its initializers, inputs, nodes and outputs come first under their names.
   * Every value is made anew with its producer in this graph (a pass may leave a value's
   * `producer` pointing at a node it replaced, which would hide it from the autodiff), so look
   * values up with `valueNamed`.
   */
  static continuing(graph: Graph, mode: Mode = 'inference'): Builder {
    const b = new Builder({ opset: graph.opset, mode });
    const inputNames = new Set(graph.inputs.map((v) => v.name));
    for (const i of graph.initializers) {
      if (inputNames.has(i.value.name)) {
        b.inputWithDefault(i.value.name, graph.inputs.find((v) => v.name === i.value.name)!.shape, i.tensor);
        continue;
      }
      const v = b.initializer(i.value.name, i.tensor, i.kind);
      if (i.kind === 'constant') b.constants.set(constantKey(i.tensor.dtype, i.tensor.dims, [...i.tensor.data].map(Number)), v);
    }
    for (const v of graph.inputs) if (!b.byName.has(v.name)) b.input(v.name, v.dtype, v.shape);
    for (const n of graph.nodes) {
      const node: { -readonly [K in keyof Node]: Node[K] } = { ...n, inputs: n.inputs.map((v) => (v ? b.valueNamed(v.name) : null)), outputs: [] };
      node.outputs = n.outputs.map((v) => b.value(v.name, v.dtype, v.shape, node, v.contents));
      b.nodeNames.add(n.name);
      b.nodes.push(node);
    }
    for (const v of graph.outputs) b.output(b.valueNamed(v.name));
    return b;
  }

  /** The current module path, e.g. `layer1.0.se`. */
  get path(): string {
    return this.scopes.join('.');
  }

  /** Build inside a module: nodes and parameters made by `body` are named under `name`. */
  scope<T>(name: string | number, body: () => T): T {
    this.scopes.push(String(name));
    try {
      return body();
    } finally {
      this.scopes.pop();
    }
  }

  input(name: string, dtype: DType, shape: Shape): Value {
    const v = this.value(name, dtype, shape, null);
    this.inputs.push(v);
    return v;
  }

  /**
   * An input that may be left out: `tensor` is its value then (an initializer of the same name, as
   * ONNX allows since IR version 4), though the input is declared with `shape`.
   */
  inputWithDefault(name: string, shape: Shape, tensor: Tensor): Value {
    const v = this.value(name, tensor.dtype, shape, null);
    this.inits.set(name, { value: v, tensor, kind: 'constant' });
    this.inputs.push(v);
    return v;
  }

  /** A learnt or stored tensor named `<scope>.<local>`: `conv1.weight`, `bn1.running_mean`. */
  parameter(local: string, tensor: Tensor, kind: 'parameter' | 'buffer' = 'parameter'): Value {
    const name = this.path ? `${this.path}.${local}` : local;
    return this.initializer(name, tensor, kind);
  }

  initializer(name: string, tensor: Tensor, kind: Initializer['kind']): Value {
    const value = this.value(name, tensor.dtype, tensor.dims, null, tensor.dtype === 'int64' && tensor.dims.length <= 1 ? [...tensor.data as BigInt64Array].map(Number) : undefined);
    this.inits.set(name, { value, tensor, kind });
    return value;
  }

  /** A constant, shared between uses: `b.constant([0, 2, 3], 'int64')`, `b.constant(1e-5)`. */
  constant(values: number | readonly number[], dtype: DType = 'float32', dims?: readonly number[]): Value {
    const shape = dims ?? (typeof values === 'number' ? [] : [values.length]);
    const list = typeof values === 'number' ? [values] : values;
    const key = constantKey(dtype, shape, list);
    const hit = this.constants.get(key);
    if (hit) return hit;
    let name = '';
    for (let i = this.constants.size; name === '' || this.names.has(name); i++) name = `const.${dtype === 'float32' ? 'f' : 'i'}.${i}`;
    const v = this.initializer(name, tensorFromNumbers(list, dtype, shape), 'constant');
    this.constants.set(key, v);
    return v;
  }

  /** A value made once per key and reused, such as a one-hot patch kernel of a given size. */
  shared(key: string, make: () => Value): Value {
    const hit = this.constants.get(key);
    if (hit) return hit;
    const v = make();
    this.constants.set(key, v);
    return v;
  }

  output(value: Value): Value {
    if (this.outputs.includes(value)) throw new UserError(`graph output ${value.name} given twice`);
    this.outputs.push(value);
    return value;
  }

  op(op: string, inputs: readonly (Value | null)[], attrs: Record<string, AttrValue | undefined> = {}, options: OpOptions = {}): Value {
    return this.opN(op, inputs, attrs, { ...options, outputs: options.outputs ?? 1 })[0]!;
  }

  /** An op with several outputs: `const [y, indices] = b.opN('MaxPool', [x], attrs, { outputs: 2 })`. */
  opN(op: string, inputs: readonly (Value | null)[], attrs: Record<string, AttrValue | undefined> = {}, options: OpOptions = {}): Value[] {
    const name = this.nodeName(options.name ?? op);
    const clean: Attrs = Object.fromEntries(Object.entries(attrs).filter(([, a]) => a !== undefined));
    let types;
    try {
      types = inferOutputs(op, inputs, clean, options.outputs ?? 1);
    } catch (err) {
      if (err instanceof ShapeError) {
        const shapes = inputs.map((v) => (v ? formatShape(v.shape) : '-')).join(', ');
        throw new UserError(`node ${name} (${op}): ${err.message} (inputs ${shapes})`);
      }
      throw err;
    }
    const node: { -readonly [K in keyof Node]: Node[K] } = { name, op, inputs, outputs: [], attrs: clean };
    node.outputs = types.map((t, i) => {
      const vname = options.names?.[i] ?? (types.length === 1 ? name : `${name}:${i}`);
      return this.value(vname, t.dtype, t.shape, node, t.contents);
    });
    this.nodes.push(node);
    return [...node.outputs];
  }

  /**
   * `x` as a constant to the autodiff (torch's detach, JAX's stop_gradient): an Identity whose
   * output no gradient passes back through, for a choice made from the values being
   * differentiated, such as the class that Grad-CAM explains.
   */
  stopGradient(x: Value): Value {
    const y = this.op('Identity', [x], {}, { name: 'stop_gradient' });
    this.stopped.add(y);
    return y;
  }

  /** The values made by stopGradient. */
  stops(): ReadonlySet<Value> {
    return new Set(this.stopped);
  }

  /** A value of the graph by its name. */
  valueNamed(name: string): Value {
    const v = this.byName.get(name);
    if (!v) throw new Error(`no value named ${name} in the graph`);
    return v;
  }

  // Ops whose form changed between opsets, written once here.

  reduceMean(x: Value, axes: readonly number[], keepdims = true): Value {
    const k = keepdims ? 1 : 0;
    return this.opset >= 18
      ? this.op('ReduceMean', [x, this.constant(axes, 'int64')], { keepdims: k })
      : this.op('ReduceMean', [x], { axes, keepdims: k });
  }

  reduceSumSquare(x: Value, axes: readonly number[], keepdims = true): Value {
    const k = keepdims ? 1 : 0;
    return this.opset >= 18
      ? this.op('ReduceSumSquare', [x, this.constant(axes, 'int64')], { keepdims: k })
      : this.op('ReduceSumSquare', [x], { axes, keepdims: k });
  }

  reduceSum(x: Value, axes: readonly number[], keepdims = true): Value {
    return this.op('ReduceSum', [x, this.constant(axes, 'int64')], { keepdims: keepdims ? 1 : 0 });
  }

  reshape(x: Value, shape: readonly Dim[] | Value): Value {
    const s = Array.isArray(shape) ? this.constant(shape as number[], 'int64') : (shape as Value);
    return this.op('Reshape', [x, s]);
  }

  graph(name: string, docString?: string): Graph {
    // A backward pass may leave a node behind when it finds a cheaper way to the same gradient.
    return withoutDeadNodes({
      name, opset: this.opset, nodes: [...this.nodes], inputs: [...this.inputs], outputs: [...this.outputs], initializers: [...this.inits.values()],
      ...(docString ? { docString } : {}),
    });
  }

  /** Where the next node goes: pass it to `region()` to group the nodes built from here on. */
  mark(): number {
    return this.nodes.length;
  }

  /** Declares the nodes built since `mark` a region with a closed-form backward (see Region). */
  region(since: number, inputs: readonly Value[], outputs: readonly Value[], grad: Region['grad']): void {
    this.regionList.push({ name: this.path, inputs, outputs, nodes: new Set(this.nodes.slice(since)), grad });
  }

  regions(): readonly Region[] {
    return [...this.regionList];
  }

  /** The nodes built so far, in build (topological) order. */
  nodesSoFar(): readonly Node[] {
    return [...this.nodes];
  }

  /** Every initializer so far, in creation order (parameters in state_dict order). */
  initializers(): Initializer[] {
    return [...this.inits.values()];
  }

  /** `name: ''` names the node after its module (`layer1.0.conv1`); otherwise `<module>/<op>`. */
  private nodeName(local: string): string {
    const base = local === '' ? this.path : this.path ? `${this.path}/${local}` : local;
    let name = base;
    for (let i = 1; this.nodeNames.has(name) || this.names.has(name); i++) name = `${base}_${i}`;
    this.nodeNames.add(name);
    return name;
  }

  private value(name: string, dtype: DType, shape: Shape, producer: Node | null, contents?: readonly Dim[]): Value {
    if (this.names.has(name)) throw new UserError(`duplicate value name ${name}`);
    this.names.add(name);
    const v: Value = { name, dtype, shape: [...shape], producer, ...(contents ? { contents } : {}) };
    this.byName.set(name, v);
    return v;
  }
}
