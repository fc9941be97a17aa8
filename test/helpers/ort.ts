// Running IR graphs in onnxruntime-node from tests.
import * as ort from 'onnxruntime-node';
import type { Graph, Tensor } from '../../src/graph/ir.ts';
import { encodeModel } from '../../src/formats/protobuf.ts';

export type Feeds = Record<string, ort.Tensor>;

export function toOrt(t: Tensor): ort.Tensor {
  return new ort.Tensor(t.dtype === 'float32' ? 'float32' : 'int64', t.data as Float32Array, [...t.dims]);
}

export function floats(data: ArrayLike<number>, dims: readonly number[]): ort.Tensor {
  return new ort.Tensor('float32', Float32Array.from(data), [...dims]);
}

export function int64s(data: readonly number[], dims: readonly number[]): ort.Tensor {
  return new ort.Tensor('int64', BigInt64Array.from(data.map(BigInt)), [...dims]);
}

export async function session(graph: Graph, options: { stateAsInputs?: boolean; optimize?: boolean } = {}): Promise<ort.InferenceSession> {
  const bytes = encodeModel(graph, { stateAsInputs: options.stateAsInputs ?? true });
  return ort.InferenceSession.create(bytes, {
    graphOptimizationLevel: options.optimize === false ? 'disabled' : 'all',
    intraOpNumThreads: 2,
  });
}

/** Feeds for every parameter and buffer of a graph, from its initial tensors. */
export function stateFeeds(graph: Graph): Feeds {
  const feeds: Feeds = {};
  for (const i of graph.initializers) if (i.kind !== 'constant') feeds[i.value.name] = toOrt(i.tensor);
  return feeds;
}

export function data(t: ort.Tensor): Float32Array {
  return t.data as Float32Array;
}
