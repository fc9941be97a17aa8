/** Checkpoint files (the format is checkpoint-codec.ts's): written atomically, read and checked against the artifacts. */
import { readFileSync } from 'node:fs';
import type { Tensor } from '../graph/ir.ts';
import type { ArtifactManifest } from './artifacts.ts';
import { UserError } from '../errors.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import type { CheckpointInfo } from './checkpoint-codec.ts';
import { decodeCheckpoint, encodeCheckpoint } from './checkpoint-codec.ts';

export type { CheckpointInfo } from './checkpoint-codec.ts';
export { stateNames } from './checkpoint-codec.ts';

/** Write the state atomically, in `names` order. */
export function saveCheckpoint(path: string, names: readonly string[], state: (name: string) => { dims: readonly number[]; data: Float32Array }, info: CheckpointInfo): void {
  writeFileAtomic(path, encodeCheckpoint(names, state, info));
}

/**
 * Read a checkpoint (or init.safetensors) and check it holds every state tensor with the shape
 * the artifacts expect.
 */
export function loadCheckpoint(path: string, manifest: ArtifactManifest): Map<string, Tensor> {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new UserError(`${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  return decodeCheckpoint(bytes, path, manifest);
}
