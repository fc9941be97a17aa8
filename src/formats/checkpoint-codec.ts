/**
 * Checkpoints: the whole training state (parameters, SGD momentum buffers, BatchNorm running
 * statistics) as one safetensors file under the names of init.safetensors, so a checkpoint loads
 * wherever the initial weights do (the train and eval steps, PyTorch's load_file). The metadata
 * holds only what the state is (architecture, fold, epoch), nothing about when, so the same
 * training writes the same bytes. Bytes in and out only (checkpoint.ts reads and writes the
 * files; the browser app (src/web) puts the bytes in its run folder).
 */
import type { Tensor } from '../graph/ir.ts';
import { numel } from '../graph/ir.ts';
import { decodeSafetensors, encodeSafetensors } from './safetensors.ts';
import type { ArtifactManifest } from './artifacts.ts';
import { UserError } from '../errors.ts';
import { PRODUCER, VERSION } from '../version.ts';

/** Every state tensor's name, in init.safetensors' order: parameters, momentum, running statistics. */
export function stateNames(manifest: ArtifactManifest): string[] {
  return [...manifest.parameters, ...manifest.momentumBuffers, ...manifest.runningStatistics];
}

export interface CheckpointInfo {
  readonly architecture: string;
  readonly fold: number;
  readonly epoch: number;
}

/** The state as a checkpoint's bytes, in `names` order. */
export function encodeCheckpoint(names: readonly string[], state: (name: string) => { dims: readonly number[]; data: Float32Array }, info: CheckpointInfo): Uint8Array {
  const tensors = new Map<string, Tensor>();
  for (const name of names) {
    const t = state(name);
    tensors.set(name, { dtype: 'float32', dims: [...t.dims], data: t.data });
  }
  return encodeSafetensors(tensors, {
    format: 'senet-ort checkpoint',
    producer: `${PRODUCER} ${VERSION}`,
    architecture: info.architecture,
    fold: String(info.fold),
    epoch: String(info.epoch),
  });
}

/**
 * A checkpoint's (or init.safetensors') bytes from `source`, checked to hold every state tensor
 * with the shape the artifacts expect.
 */
export function decodeCheckpoint(bytes: Uint8Array, source: string, manifest: ArtifactManifest): Map<string, Tensor> {
  const { tensors } = decodeSafetensors(bytes, source);
  const shapes = new Map(manifest.graphs.train_step.inputs.map((i) => [i.name, i.shape]));
  for (const name of stateNames(manifest)) {
    const t = tensors.get(name);
    if (!t) throw new UserError(`${source}: no tensor ${name}; it does not belong to these ${manifest.architecture} artifacts`);
    const shape = shapes.get(name);
    if (t.dtype !== 'float32' || (shape && (shape.length !== t.dims.length || shape.some((d, i) => d !== t.dims[i])))) {
      throw new UserError(`${source}: tensor ${name} is ${t.dtype}[${t.dims.join(',')}], expected float32[${shape?.join(',')}]`);
    }
    if (numel(t.dims) !== t.data.length) throw new UserError(`${source}: tensor ${name} has ${t.data.length} values for shape [${t.dims.join(',')}]`);
  }
  return tensors;
}
