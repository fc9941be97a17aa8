/** safetensors files (the format itself is in safetensors.ts): written atomically, read with one-line errors. */
import { readFileSync } from 'node:fs';
import type { Tensor } from '../graph/ir.ts';
import { UserError } from '../errors.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import type { TensorMap } from './safetensors.ts';
import { decodeSafetensors, encodeSafetensors } from './safetensors.ts';

export function writeSafetensors(path: string, tensors: ReadonlyMap<string, Tensor>, metadata: Readonly<Record<string, string>> = {}): void {
  writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

export function readSafetensors(path: string): { tensors: TensorMap; metadata: Record<string, string> } {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new UserError(`${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  return decodeSafetensors(bytes, path);
}
