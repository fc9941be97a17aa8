// Checkpoints as bytes, which the browser app writes into its run folder: the bytes a file holds,
// read back with the same checks.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { buildArtifacts } from '../../src/formats/artifacts.ts';
import { decodeCheckpoint, encodeCheckpoint, stateNames } from '../../src/formats/checkpoint-codec.ts';
import { saveCheckpoint } from '../../src/formats/checkpoint.ts';
import { resolveModel } from '../../src/graph/model.ts';
import { tempDir } from '../data/fixtures.ts';

it('encodeCheckpoint gives the bytes saveCheckpoint writes, and decodeCheckpoint checks them against the artifacts', (t) => {
  const artifacts = buildArtifacts(resolveModel({ arch: 'resnet20', classes: 3, input: [3, 16, 16] }));
  const init = new Map(artifacts.files()).get('init.safetensors') as Uint8Array;
  const state = decodeCheckpoint(init, 'init.safetensors', artifacts.manifest);
  const names = stateNames(artifacts.manifest);
  assert.deepEqual([...state.keys()], names);
  const tensor = (name: string): { dims: readonly number[]; data: Float32Array } => ({ dims: state.get(name)!.dims, data: state.get(name)!.data as Float32Array });
  const bytes = encodeCheckpoint(names, tensor, { architecture: 'resnet20', fold: 1, epoch: 3 });
  const path = join(tempDir(t), 'epoch-3.safetensors');
  saveCheckpoint(path, names, tensor, { architecture: 'resnet20', fold: 1, epoch: 3 });
  assert.deepEqual(new Uint8Array(readFileSync(path)), bytes);
  assert.deepEqual(decodeCheckpoint(bytes, 'epoch-3.safetensors', artifacts.manifest).get('fc.weight')!.data, state.get('fc.weight')!.data);
  const other = buildArtifacts(resolveModel({ arch: 'resnet20', classes: 4, input: [3, 16, 16] })).manifest;
  assert.throws(() => decodeCheckpoint(bytes, 'epoch-3.safetensors', other), /^UserError: epoch-3\.safetensors: tensor fc\.weight is float32\[3,64\], expected float32\[4,64\]$/);
});
