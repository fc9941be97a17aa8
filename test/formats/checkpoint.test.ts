import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { buildArtifacts } from '../../src/formats/artifacts.ts';
import { writeArtifacts } from '../../src/formats/artifacts-file.ts';
import { readSafetensors, writeSafetensors } from '../../src/formats/safetensors-file.ts';
import { resolveModel } from '../../src/graph/model.ts';
import { loadCheckpoint, saveCheckpoint, stateNames } from '../../src/formats/checkpoint.ts';
import { tempDir } from '../data/fixtures.ts';

describe('checkpoints', () => {
  it('hold the whole training state under init.safetensors\' names, in its order, with fixed metadata', (t) => {
    const dir = tempDir(t);
    const artifacts = buildArtifacts(resolveModel({ arch: 'se_resnet20', classes: 3, input: [3, 16, 16] }));
    const { manifest } = artifacts;
    writeArtifacts(artifacts, dir);
    const init = loadCheckpoint(join(dir, 'init.safetensors'), manifest);
    const names = stateNames(manifest);
    assert.deepEqual([...init.keys()], names);
    assert.ok(names.includes('layer1.0.se.fc1.weight') && names.includes('fc.weight.momentum') && names.includes('bn1.running_var'));
    const path = join(dir, 'checkpoints', 'epoch-1.safetensors');
    const state = (name: string): { dims: readonly number[]; data: Float32Array } => ({ dims: init.get(name)!.dims, data: (init.get(name)!.data as Float32Array).map((v) => v + 1) });
    saveCheckpoint(path, names, state, { architecture: 'se_resnet20', fold: 2, epoch: 1 });
    const back = loadCheckpoint(path, manifest);
    assert.deepEqual([...back.keys()], names);
    assert.deepEqual(back.get('conv1.weight')!.data, state('conv1.weight').data);
    assert.deepEqual(readSafetensors(path).metadata, { format: 'senet-ort checkpoint', producer: readSafetensors(path).metadata['producer']!, architecture: 'se_resnet20', fold: '2', epoch: '1' });
    const again = join(dir, 'again.safetensors');
    saveCheckpoint(again, names, state, { architecture: 'se_resnet20', fold: 2, epoch: 1 });
    assert.deepEqual(readFileSync(again), readFileSync(path)); // same state, same bytes
  });

  it('refuse a file without a state tensor or with a wrong shape, naming it', (t) => {
    const dir = tempDir(t);
    const artifacts = buildArtifacts(resolveModel({ arch: 'resnet20', classes: 3, input: [3, 16, 16] }));
    const { manifest } = artifacts;
    writeArtifacts(artifacts, dir);
    const init = loadCheckpoint(join(dir, 'init.safetensors'), manifest);
    const missing = new Map(init);
    missing.delete('fc.bias');
    writeSafetensors(join(dir, 'missing.safetensors'), missing);
    assert.throws(() => loadCheckpoint(join(dir, 'missing.safetensors'), manifest), /missing\.safetensors: no tensor fc\.bias; it does not belong to these resnet20 artifacts$/);
    const wrong = new Map(init);
    wrong.set('fc.bias', { dtype: 'float32', dims: [4], data: new Float32Array(4) });
    writeSafetensors(join(dir, 'wrong.safetensors'), wrong);
    assert.throws(() => loadCheckpoint(join(dir, 'wrong.safetensors'), manifest), /wrong\.safetensors: tensor fc\.bias is float32\[4\], expected float32\[3\]$/);
  });
});
