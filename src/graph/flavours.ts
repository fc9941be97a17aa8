/**
 * The flavours of the training step. The portable step is plain ONNX and runs everywhere; the
 * others are made from it by a pass, for one place's kernels: x64 (ONNX Runtime's NCHWc CPU
 * kernels of one block size, nchwc.ts) and webgpu (around two gaps of its WebGPU provider,
 * webgpu.ts). A flavour changes how the step computes, never what: a run may go on in another.
 */
import type { Graph } from './ir.ts';
import type { NchwcBlock, NchwcPolicy } from './nchwc.ts';
import { DEFAULT_NCHWC, lowerToNchwc } from './nchwc.ts';
import { lowerForWebgpu } from './webgpu.ts';

export type Kernels =
  | { readonly flavour: 'portable' }
  | { readonly flavour: 'x64'; readonly block: NchwcBlock }
  | { readonly flavour: 'webgpu' };

export const PORTABLE: Kernels = { flavour: 'portable' };
export const WEBGPU: Kernels = { flavour: 'webgpu' };

/** The training step for the given kernels: the portable graph itself, or its lowering. */
export function trainStepKernels(graph: Graph, kernels: Kernels, policy: NchwcPolicy = DEFAULT_NCHWC): Graph {
  if (kernels.flavour === 'x64') return lowerToNchwc(graph, kernels.block, policy);
  if (kernels.flavour === 'webgpu') return lowerForWebgpu(graph);
  return graph;
}
