// Tests on ONNX Runtime's WebGPU provider: skipped where no adapter runs kernels, except under
// CI=true (needs.ts). Without a GPU, SwiftShader (Chromium's CPU Vulkan driver) is an adapter:
// VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json.
import * as ort from 'onnxruntime-node';
import type { Graph } from '../../src/graph/ir.ts';
import { encodeModel } from '../../src/formats/protobuf.ts';
import { webgpuStatus } from '../../src/infer/webgpu.ts';
import { needs } from './needs.ts';

/** A skip reason where WebGPU is not usable here, false where it is; under CI=true a missing adapter throws. */
export async function webgpuSkip(): Promise<string | false> {
  const status = await webgpuStatus();
  return needs(status.usable, `a WebGPU adapter (${status.reason}; without a GPU, SwiftShader is one: VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json)`);
}

/** A session on the WebGPU provider for a graph, its state (parameters, buffers) as inputs. */
export function webgpuSession(graph: Graph, options: { stateAsInputs?: boolean } = {}): Promise<ort.InferenceSession> {
  const bytes = encodeModel(graph, { stateAsInputs: options.stateAsInputs ?? true });
  return ort.InferenceSession.create(bytes, { executionProviders: ['webgpu'], logSeverityLevel: 3 });
}
