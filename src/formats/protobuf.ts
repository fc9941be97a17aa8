/**
 * Graph IR -> ONNX ModelProto bytes. Deterministic: attributes sorted by name, nodes in build
 * order, tensors as little-endian raw_data, so the same graph always gives the same bytes.
 */
import onnxProto from 'onnx-proto';
import type { AttrValue, Attrs, DType, Graph, Initializer, Node, Tensor, Value } from '../graph/ir.ts';
import { isTensor } from '../graph/ir.ts';
import { checkGraph } from './check.ts';
import { PRODUCER, VERSION } from '../version.ts';

const { onnx } = onnxProto;

const ELEMENT_TYPE: Record<DType, number> = { float32: 1, int32: 6, int64: 7, bool: 9 };

/** The IR version that goes with an opset (onnx/helper.py's VERSION_TABLE). */
export function irVersionFor(opset: number): number {
  if (opset <= 18) return 8;
  if (opset <= 20) return 9;
  return 10;
}

export interface ExportOptions {
  /**
   * Parameters and buffers become graph inputs rather than initializers: the training and
   * evaluation graphs take them from the caller at every step.
   */
  readonly stateAsInputs?: boolean;
  readonly metadata?: Readonly<Record<string, string>>;
  readonly docString?: string;
}

function tensorProto(name: string, t: Tensor): onnxProto.onnx.ITensorProto {
  const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  return { name, dims: [...t.dims], dataType: ELEMENT_TYPE[t.dtype], rawData: bytes };
}

function valueInfo(v: Value): onnxProto.onnx.IValueInfoProto {
  return {
    name: v.name,
    type: {
      tensorType: {
        elemType: ELEMENT_TYPE[v.dtype],
        shape: { dim: v.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attribute(name: string, a: AttrValue): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof a === 'number') return { name, type: T.INT, i: a };
  if (typeof a === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(a) };
  if (Array.isArray(a)) return { name, type: T.INTS, ints: [...(a as number[])] };
  if (isTensor(a)) return { name, type: T.TENSOR, t: tensorProto('', a) };
  return { name, type: T.FLOAT, f: (a as { float: number }).float };
}

/** Operator sets besides ONNX's that the graph's nodes use (each at version 1, the only one there is). */
function otherDomains(graph: Graph): string[] {
  return [...new Set(graph.nodes.flatMap((n) => (n.domain ? [n.domain] : [])))].sort();
}

export function toModelProto(graph: Graph, options: ExportOptions = {}): onnxProto.onnx.IModelProto {
  checkGraph(graph);
  const state = graph.initializers.filter((i) => i.kind !== 'constant');
  const asInputs = options.stateAsInputs ? state : [];
  const initializers = graph.initializers.filter((i) => !asInputs.includes(i));
  const boundary = new Set<Value>([...graph.inputs, ...graph.outputs, ...graph.initializers.map((i) => i.value)]);
  const intermediates = graph.nodes.flatMap((n) => n.outputs).filter((v) => !boundary.has(v));
  const metadata = { producer: PRODUCER, producer_version: VERSION, ...options.metadata };
  return {
    irVersion: irVersionFor(graph.opset),
    opsetImport: [{ domain: '', version: graph.opset }, ...otherDomains(graph).map((domain) => ({ domain, version: 1 }))],
    producerName: PRODUCER,
    producerVersion: VERSION,
    docString: options.docString ?? graph.docString ?? '',
    metadataProps: Object.keys(metadata).sort().map((key) => ({ key, value: metadata[key as keyof typeof metadata]! })),
    graph: {
      name: graph.name,
      docString: graph.docString ?? '',
      node: graph.nodes.map((n) => ({
        name: n.name,
        opType: n.op,
        domain: n.domain ?? '',
        input: n.inputs.map((v) => v?.name ?? ''),
        output: n.outputs.map((v) => v.name),
        attribute: Object.keys(n.attrs).sort().map((k) => attribute(k, n.attrs[k]!)),
      })),
      input: [...graph.inputs, ...asInputs.map((i) => i.value)].map(valueInfo),
      output: graph.outputs.map(valueInfo),
      initializer: initializers.map((i) => tensorProto(i.value.name, i.tensor)),
      valueInfo: intermediates.map(valueInfo),
    },
  };
}

export function encodeModel(graph: Graph, options: ExportOptions = {}): Uint8Array {
  return onnx.ModelProto.encode(onnx.ModelProto.fromObject(toModelProto(graph, options))).finish();
}

export function decodeModel(bytes: Uint8Array): onnxProto.onnx.ModelProto {
  return onnx.ModelProto.decode(bytes);
}

const DTYPE_OF = new Map(Object.entries(ELEMENT_TYPE).map(([k, v]) => [v, k as DType]));

function dtypeOf(elemType: number | null | undefined, what: string): DType {
  const d = DTYPE_OF.get(elemType ?? 0);
  if (!d) throw new Error(`${what}: element type ${elemType} is not one the IR knows`);
  return d;
}

function tensorOf(t: onnxProto.onnx.ITensorProto): Tensor {
  const dtype = dtypeOf(t.dataType, t.name ?? 'tensor');
  const dims = (t.dims ?? []).map(Number);
  const raw = t.rawData ?? new Uint8Array();
  const copy = new Uint8Array(raw); // a copy, aligned: protobufjs hands out views into the model's bytes
  const data = dtype === 'float32' ? new Float32Array(copy.buffer) : dtype === 'int64' ? new BigInt64Array(copy.buffer) : dtype === 'int32' ? new Int32Array(copy.buffer) : copy;
  return { dtype, dims, data };
}

function attributeOf(a: onnxProto.onnx.IAttributeProto): AttrValue {
  const T = onnx.AttributeProto.AttributeType;
  switch (a.type) {
    case T.INT: return Number(a.i);
    case T.INTS: return (a.ints ?? []).map(Number);
    case T.FLOAT: return { float: a.f ?? 0 };
    case T.STRING: return new TextDecoder().decode(a.s ?? new Uint8Array());
    case T.TENSOR: return tensorOf(a.t!);
    default: throw new Error(`attribute ${a.name}: type ${a.type} is not one the IR knows`);
  }
}

/**
 * ModelProto -> graph IR, for models this project wrote (every value typed and shaped, tensors as
 * raw_data): what a graph pass needs to rewrite a stored training step. Graph inputs come back
 * as inputs, state included; initializers as constants.
 */
export function graphFromModel(model: onnxProto.onnx.IModelProto): Graph {
  const g = model.graph!;
  const opset = Number(model.opsetImport?.find((o) => !o.domain)?.version ?? 0);
  const types = new Map<string, { dtype: DType; shape: (number | string)[] }>();
  for (const info of [...(g.input ?? []), ...(g.output ?? []), ...(g.valueInfo ?? [])]) {
    const t = info.type?.tensorType;
    types.set(info.name!, { dtype: dtypeOf(t?.elemType, info.name!), shape: (t?.shape?.dim ?? []).map((d) => (d.dimParam ? d.dimParam : Number(d.dimValue))) });
  }
  const values = new Map<string, Value>();
  const initializers: Initializer[] = (g.initializer ?? []).map((t) => {
    const tensor = tensorOf(t);
    const value: Value = { name: t.name!, dtype: tensor.dtype, shape: tensor.dims, producer: null, ...(tensor.dtype === 'int64' && tensor.dims.length <= 1 ? { contents: [...(tensor.data as BigInt64Array)].map(Number) } : {}) };
    values.set(value.name, value);
    return { value, tensor, kind: 'constant' };
  });
  const typed = (name: string, producer: Node | null): Value => {
    const t = types.get(name);
    if (!t) throw new Error(`value ${name} has no type in the model`);
    return { name, dtype: t.dtype, shape: t.shape, producer };
  };
  const inputs = (g.input ?? []).filter((i) => !values.has(i.name!)).map((i) => {
    const v = typed(i.name!, null);
    values.set(v.name, v);
    return v;
  });
  const nodes: Node[] = (g.node ?? []).map((n) => {
    const attrs: Attrs = Object.fromEntries((n.attribute ?? []).map((a) => [a.name!, attributeOf(a)]));
    const node: { -readonly [K in keyof Node]: Node[K] } = {
      name: n.name ?? '', op: n.opType!, attrs, outputs: [],
      inputs: (n.input ?? []).map((name) => {
        if (!name) return null;
        const v = values.get(name);
        if (!v) throw new Error(`node ${n.name} reads ${name} before it is defined`);
        return v;
      }),
      ...(n.domain ? { domain: n.domain } : {}),
    };
    node.outputs = (n.output ?? []).map((name) => {
      const v = typed(name, node);
      values.set(name, v);
      return v;
    });
    return node;
  });
  const outputs = (g.output ?? []).map((o) => {
    const v = values.get(o.name!);
    if (!v) throw new Error(`output ${o.name} is never computed`);
    return v;
  });
  return { name: g.name ?? '', opset, nodes, inputs, outputs, initializers, ...(g.docString ? { docString: g.docString } : {}) };
}

/** A model's metadata_props as a record. */
export function modelMetadata(model: onnxProto.onnx.IModelProto): Record<string, string> {
  return Object.fromEntries((model.metadataProps ?? []).map((p) => [p.key!, p.value ?? '']));
}

/**
 * The model with its symbolic batch (the first dimension of its inputs and outputs, a name such as
 * 'N') set to `batch`, and the inferred shapes of inner values dropped, for ONNX Runtime to infer
 * again. For providers that plan shapes once (WebGPU sends a symbolic batch's shape arithmetic to
 * the CPU); a model whose batch is fixed already is returned unchanged.
 */
export function withFixedBatch(bytes: Uint8Array, batch: number): Uint8Array {
  const model = decodeModel(bytes);
  const g = model.graph!;
  let changed = false;
  const fixed = new Set<string>();
  for (const v of [...(g.input ?? []), ...(g.output ?? [])]) {
    const dim = v.type?.tensorType?.shape?.dim?.[0];
    if (dim && dim.dimParam) {
      // A oneof: the name must go, or it would be written after the size and win.
      delete (dim as { dimParam?: string }).dimParam;
      dim.dimValue = batch;
      changed = true;
      fixed.add(v.name!);
    }
  }
  // An input's default of one row (Grad-CAM's `class`: -1) is repeated over the fixed batch,
  // since ONNX Runtime wants a default of the input's declared shape.
  for (const t of g.initializer ?? []) {
    const dims = (t.dims ?? []).map(Number);
    if (!fixed.has(t.name!) || dims[0] !== 1 || !t.rawData) continue;
    const row = t.rawData;
    const data = new Uint8Array(row.length * batch);
    for (let i = 0; i < batch; i++) data.set(row, i * row.length);
    t.rawData = data;
    t.dims = [batch, ...dims.slice(1)];
  }
  if (!changed) return bytes;
  g.valueInfo = [];
  return onnx.ModelProto.encode(model).finish();
}

/**
 * The model with the input `name` required: the initializer that gave it a default is dropped.
 * onnxruntime-node (1.30) lists only inputs without an initializer and ignores a feed for any other,
 * so code that runs such a model there feeds the default itself. Unchanged when there is none.
 */
export function withRequiredInput(bytes: Uint8Array, name: string): Uint8Array {
  const model = decodeModel(bytes);
  const g = model.graph!;
  const kept = (g.initializer ?? []).filter((t) => t.name !== name);
  if (kept.length === (g.initializer ?? []).length) return bytes;
  g.initializer = kept;
  return onnx.ModelProto.encode(model).finish();
}
