/**
 * Which training step a run executes. The artifacts hold the portable step (plain ONNX, every
 * ONNX Runtime build and execution provider); on an x86-64 CPU, where ONNX Runtime has its
 * blocked-layout (NCHWc) kernels, the run lowers it for the block size a probe finds, in memory,
 * so artifacts made on one machine (a sweep's submit host) train at full speed on another (its
 * AVX2 or AVX-512 compute nodes). A step already built for x64 (`gen-graph --kernels x64`) runs
 * only where the probe finds the block it was built for: with another block it would compute
 * garbage, so it is refused. On WebGPU the run makes the webgpu flavour the same way; the portable
 * step itself would train with wrong weight gradients there, so it is refused.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { Kernels } from '../graph/flavours.ts';
import { PORTABLE, WEBGPU, trainStepKernels } from '../graph/flavours.ts';
import type { NchwcBlock } from '../graph/nchwc.ts';
import { isNchwcBlock, probeGraph } from '../graph/nchwc.ts';
import type { ArtifactManifest } from '../formats/artifacts.ts';
import { decodeModel, encodeModel, graphFromModel, modelMetadata } from '../formats/protobuf.ts';
import { UserError } from '../errors.ts';

export const KERNEL_CHOICES = ['auto', 'portable', 'x64', 'webgpu'] as const;
export type KernelChoice = (typeof KERNEL_CHOICES)[number];

let probe: Promise<NchwcBlock | null> | undefined;

/**
 * The NCHWc block of this CPU, or null where ONNX Runtime has no NCHWc kernels (arm64, other
 * builds): ReorderInput pads a 4-channel tensor to one block. Probed once per process.
 */
export function nchwcBlock(): Promise<NchwcBlock | null> {
  probe ??= (async () => {
    try {
      const session = await ort.InferenceSession.create(encodeModel(probeGraph()), { logSeverityLevel: 4 });
      const out = await session.run({ x: new ort.Tensor('float32', new Float32Array(4), [1, 4, 1, 1]) });
      await session.release();
      const channels = out['y']?.dims[1];
      return channels !== undefined && isNchwcBlock(channels) ? channels : null;
    } catch {
      return null;
    }
  })();
  return probe;
}

export function describeKernels(k: Kernels): string {
  if (k.flavour === 'x64') return `x64 kernels (NCHWc block ${k.block})`;
  return k.flavour === 'webgpu' ? 'webgpu kernels (shift convs folded, MaxPool backward by first maxima)' : 'portable kernels';
}

/** The kernels a stored train_step.onnx was built with (artifacts from before the x64 flavour: portable). */
export function storedKernels(manifest: ArtifactManifest, dir: string): Kernels {
  const k = manifest.kernels ?? PORTABLE;
  if (k.flavour === 'portable' || k.flavour === 'webgpu' || (k.flavour === 'x64' && isNchwcBlock(k.block))) return k;
  throw new UserError(`${join(dir, 'artifact.json')}: "kernels" ${JSON.stringify(k)} is none of {"flavour": "portable"}, {"flavour": "webgpu"}, {"flavour": "x64", "block": 8 or 16}; remove the artifacts to have them generated`);
}

/** The portable step in `file` lowered for `kernels`, as ONNX bytes; a file that does not decode is one line. */
function lowered(file: string, kernels: Kernels): Uint8Array {
  let model;
  let graph;
  try {
    model = decodeModel(readFileSync(file));
    graph = graphFromModel(model);
  } catch (err) {
    throw new UserError(`${file}: cannot be read as a training step (${String((err as Error)?.message ?? err).split('\n')[0]}); remove the artifacts to have them generated`);
  }
  let step;
  try {
    step = trainStepKernels(graph, kernels);
  } catch (err) {
    throw new UserError(`${file}: cannot be made into the ${kernels.flavour} step (${String((err as Error)?.message ?? err).split('\n')[0]})`);
  }
  return encodeModel(step, { metadata: modelMetadata(model), docString: model.docString ?? '' });
}

/**
 * Kernels that cannot train on `device`, refused in one line (before a run writes anything): x64 on
 * a GPU, where they would run on the CPU, and the portable step on WebGPU, which computes it wrongly.
 */
export function refuseKernels(choice: string | undefined, device: string | undefined): void {
  if (device === 'webgpu' && choice === 'portable') throw new UserError(`--kernels portable: ONNX Runtime's WebGPU provider computes the portable step's grouped convs wrongly (weight gradients off by up to 1.5x the update) and has no MaxPool Indices; use --kernels webgpu (the default on --device webgpu)`);
  if (device !== undefined && device !== 'cpu' && choice === 'x64') throw new UserError(`--kernels x64: the x64 kernels run on the CPU; use --device cpu, or ${device === 'webgpu' ? '--kernels webgpu on --device webgpu' : '--kernels portable'}`);
}

/**
 * The training step to run for `choice` on this machine: the stored file, or its x64 or webgpu
 * lowering as ONNX bytes. Refuses a stored x64 step whose block this CPU does not have, `x64`
 * where there are no NCHWc kernels (or on a GPU, where they would run on the CPU), and the
 * portable step on WebGPU.
 */
export async function trainStepFor(dir: string, manifest: ArtifactManifest, choice: KernelChoice, device: string): Promise<{ model: string | Uint8Array; kernels: Kernels }> {
  const file = join(dir, 'train_step.onnx');
  const stored = storedKernels(manifest, dir);
  if (stored.flavour === 'x64') {
    const block = await nchwcBlock();
    if (block !== stored.block) {
      const here = block === null ? 'this machine has no NCHWc kernels' : `this CPU's block is ${block}`;
      throw new UserError(`${file}: built for x64 kernels with an NCHWc block of ${stored.block}, but ${here}; it would compute garbage, so it does not run. Regenerate the artifacts here (remove them, or gen-graph --train --kernels portable)`);
    }
    if (device !== 'cpu') throw new UserError(`${file}: built for x64 CPU kernels, which --device ${device} cannot run; regenerate the artifacts with --kernels portable`);
    return { model: file, kernels: stored };
  }
  if (stored.flavour === 'webgpu') return { model: file, kernels: stored };
  refuseKernels(choice, device);
  if (device === 'webgpu' || choice === 'webgpu') return { model: lowered(file, WEBGPU), kernels: WEBGPU };
  if (choice === 'portable' || (choice === 'auto' && device !== 'cpu')) return { model: file, kernels: PORTABLE };
  const block = await nchwcBlock();
  if (block === null) {
    if (choice === 'x64') throw new UserError(`--kernels x64: ONNX Runtime has no NCHWc kernels on this machine (${process.arch}); use --kernels portable`);
    return { model: file, kernels: PORTABLE };
  }
  const x64: Kernels = { flavour: 'x64', block };
  return { model: lowered(file, x64), kernels: x64 };
}
