// Which nodes ORT left on the CPU, read from the Memcpy nodes of the optimised model it saves, and
// the warning that names the heavy ones. The model is written by hand the way ORT saves one: the
// WebGPU side's values end in _WebGpuExecutionProvider where a copy meets them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import onnxProto from 'onnx-proto';
import { heavyNodesWarning, hostNodes } from '../../src/infer/placement.ts';

const { onnx } = onnxProto;

function node(op: string, name: string, input: string[], output: string[]): onnxProto.onnx.INodeProto {
  return { opType: op, name, input, output };
}

function info(name: string, dims: number[]): onnxProto.onnx.IValueInfoProto {
  return { name, type: { tensorType: { elemType: 1, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } };
}

// x -> Relu (GPU) -> MemcpyToHost -> Softmax (CPU, 256x256) -> Neg (CPU, 2x2) -> MemcpyFromHost -> Relu (GPU);
// OneHot of a graph input (CPU) -> MemcpyFromHost -> Add (GPU).
const model = onnx.ModelProto.fromObject({
  graph: {
    node: [
      node('Relu', 'gpu1', ['x'], ['a_WebGpuExecutionProvider']),
      node('MemcpyToHost', 'copy1', ['a_WebGpuExecutionProvider'], ['a']),
      node('Softmax', 'big', ['a'], ['b']),
      node('Neg', 'small', ['b'], ['c']),
      node('MemcpyFromHost', 'copy2', ['c'], ['c_WebGpuExecutionProvider']),
      node('Relu', 'gpu2', ['c_WebGpuExecutionProvider'], ['d']),
      node('OneHot', 'labels', ['l', 'depth', 'values'], ['e']),
      node('MemcpyFromHost', 'copy3', ['e'], ['e_WebGpuExecutionProvider']),
      node('Add', 'gpu3', ['d', 'e_WebGpuExecutionProvider'], ['f']),
    ],
    valueInfo: [info('a', [256, 256]), info('b', [256, 256]), info('c', [2, 2]), info('e', [2, 2])],
    output: [info('f', [2, 2])],
  },
});

describe('nodes placed on the CPU', () => {
  it('are those fed by MemcpyToHost, feeding MemcpyFromHost, or fed only by such nodes, with their largest output', () => {
    assert.deepEqual(hostNodes(model), [
      { name: 'big', op: 'Softmax', elements: 65536 },
      { name: 'small', op: 'Neg', elements: 4 },
      { name: 'labels', op: 'OneHot', elements: 4 },
    ]);
  });

  it('the warning names the heavy ones only, and there is none without them', () => {
    const nodes = hostNodes(model);
    assert.equal(heavyNodesWarning(nodes, 'the training step'), 'warning: ONNX Runtime runs 1 large node of the training step on the CPU, not the GPU, copying between them at every run: Softmax big (65536 values)');
    assert.equal(heavyNodesWarning(nodes.filter((n) => n.name !== 'big'), 'the training step'), null);
  });
});
