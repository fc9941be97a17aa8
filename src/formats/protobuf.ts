/**
 * Graph IR -> ONNX ModelProto bytes. Deterministic: attributes sorted by name, nodes in build
 * order, tensors as little-endian raw_data, so the same graph always gives the same bytes.
 */
import onnxProto from 'onnx-proto';
import type { AttrValue, DType, Graph, Tensor, Value } from '../graph/ir.ts';
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
    opsetImport: [{ domain: '', version: graph.opset }],
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
        domain: '',
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
