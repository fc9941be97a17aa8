// Fine-tuning runs: ort-train --init (a state_dict made here), --freeze, --normalize imagenet; what
// config.json records; --resume refusing changed weights; and the first step from imported weights
// equal to the step from the same weights written as our own init.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import type { Tensor } from '../../src/graph/ir.ts';
import { buildInferenceGraph, resolveModel } from '../../src/graph/model.ts';
import { buildArtifacts } from '../../src/formats/artifacts.ts';
import { writeArtifacts } from '../../src/formats/artifacts-file.ts';
import { encodeSafetensors } from '../../src/formats/safetensors.ts';
import { readSafetensors } from '../../src/formats/safetensors-file.ts';
import { importWeights } from '../../src/formats/state-dict.ts';
import type { PreparedDataset } from '../../src/data/prepared.ts';
import { lastCheckpoint, readNormalization, readRunConfig } from '../../src/formats/rundir.ts';
import { createProgress } from '../../src/train/progress.ts';
import type { TrainInput } from '../../src/train/options.ts';
import { resolveTrainOptions } from '../../src/train/options.ts';
import { IMAGENET_NORMALIZATION } from '../../src/train/init.ts';
import { train } from '../../src/train/trainer.ts';
import { configurationOf } from '../../src/report/configuration.ts';
import { tempDir } from '../data/fixtures.ts';
import { syntheticData } from './fixtures.ts';

const quiet = { progress: createProgress(null, () => undefined) };


const noTiles = { train: [], val: [] };
const fakeDataset: PreparedDataset = {
  dir: '/data', classes: ['a', 'b', 'c'], tileSize: 32, labels: new Map(), splitsFile: '/data/splits.json',
  preparation: { mpp: null, tile: 32, tissue: { method: 'none' }, stain: { method: 'none' } },
  splits: {
    format: 'senet-ort splits', version: 1, tool: 'test', seed: 0, testFraction: 0.2, k: 2, groupBy: { kind: 'source' }, classes: ['a', 'b', 'c'],
    test: [], folds: [noTiles, noTiles], groups: { test: [], folds: [{ val: [] }, { val: [] }], trainOnly: [] },
    counts: { test: {}, folds: [] }, warnings: [],
  },
};

/** A seeded network's parameters and buffers, as a torchvision state_dict would hold them. */
function stateDict(arch: string, classes: number, seed: number, rename: (n: string) => string = (n) => n): Map<string, Tensor> {
  const graph = buildInferenceGraph(resolveModel({ arch, classes, input: [3, 16, 16], seed }));
  const out = new Map<string, Tensor>();
  for (const i of graph.initializers) {
    if (i.kind === 'constant') continue;
    out.set(rename(i.value.name), i.tensor);
    if (i.value.name.endsWith('running_mean')) out.set(rename(i.value.name.replace('running_mean', 'num_batches_tracked')), { dtype: 'int64', dims: [], data: BigInt64Array.of(1n) });
  }
  return out;
}

describe('fine-tuning options', () => {
  it('resolve --init (with its SHA-256), --freeze, --se-width and --normalize imagenet, and refuse bad ones in one line', (t) => {
    const dir = tempDir(t);
    const file = join(dir, 'w.safetensors');
    writeFileSync(file, encodeSafetensors(stateDict('resnet20', 3, 1)));
    const o = resolveTrainOptions({ arch: 'se_resnet20', init: file, freeze: 'layer1,stem', freezeBn: true, seWidth: 'timm', normalize: 'imagenet' }, fakeDataset);
    assert.deepEqual([o.init, o.initFormat, o.freeze, o.freezeBn, o.seWidth, o.normalize], [file, null, ['stem', 'layer1'], true, 'timm', 'imagenet']);
    assert.match(o.initSha256!, /^[0-9a-f]{64}$/);
    const plain = resolveTrainOptions({ arch: 'resnet20' }, fakeDataset);
    assert.deepEqual([plain.init, plain.initSha256, plain.freeze, plain.freezeBn, plain.seWidth], [null, null, [], false, null]);
    const bad: [TrainInput, RegExp][] = [
      [{ freeze: 'layer9' }, /expected a comma-separated list of stem, layer1, layer2, layer3, backbone for --freeze but received "layer9"$/],
      [{ freezeBn: true }, /--freeze-bn applies to frozen parts: give --freeze too/],
      [{ init: join(dir, 'none.safetensors') }, /none\.safetensors: cannot read \(ENOENT\)$/],
      [{ init: file, initFormat: 'caffe' }, /expected torchvision, timm, legacy-se, senet\.pytorch, senet-ort or auto for --init-format but received "caffe"$/],
      [{ seWidth: 'ceil' }, /expected floor or timm for --se-width but received "ceil"$/],
      [{ normalize: 'imagnet' }, /expected fold, none or imagenet for --normalize but received "imagnet"$/],
    ];
    for (const [more, message] of bad) assert.throws(() => resolveTrainOptions({ arch: 'resnet20', ...more }, fakeDataset), message);
  });
});

describe('ort-train --init', () => {
  it('starts from the file, keeps frozen parts bit-identical, records it all and refuses to resume with other weights', async (t) => {
    const root = tempDir(t);
    const data = await syntheticData(root);
    const source = stateDict('resnet20', 10, 5); // a 10-class classifier: re-initialised for 3 classes
    const file = join(root, 'resnet20-cifar10.safetensors');
    writeFileSync(file, encodeSafetensors(source));
    const out = join(root, 'run');
    const input: TrainInput = { data, out, arch: 'resnet20', input: [3, 16, 16], epochs: 1, batchSize: 4, lr: 0.05, threads: 2, workers: 1, folds: [1], init: file, freeze: 'stem,layer1', normalize: 'imagenet' };
    const lines: string[] = [];
    await train(input, { progress: createProgress(null, (s: string) => lines.push(...s.split('\n'))) });
    assert.ok(lines.some((l) => /initial weights: .*resnet20-cifar10\.safetensors \(torchvision layout, 105 tensors, sha256 [0-9a-f]{12}\)/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /classifier has 10 classes, this network 3: fc\.weight and fc\.bias are re-initialised/.test(l)));
    assert.ok(lines.some((l) => /^frozen: stem, layer1$/.test(l)));

    const config = readRunConfig(out);
    assert.equal(config.options.init, file);
    assert.match(config.options.initSha256!, /^[0-9a-f]{64}$/);
    assert.deepEqual(config.options.freeze, ['stem', 'layer1']);
    assert.equal(config.init!.layout, 'torchvision');
    assert.deepEqual(config.init!.reinitialised, ['fc.weight', 'fc.bias']);
    assert.equal(JSON.parse(readFileSync(join(out, 'artifact.json'), 'utf8')).freeze.parameters.length, 3 + 3 * 2 * 3);
    assert.deepEqual(readNormalization(out, 1).mean, IMAGENET_NORMALIZATION.mean);
    const table = configurationOf(config);
    assert.match(String(table['initial weights']), /resnet20-cifar10\.safetensors \(torchvision, sha256 [0-9a-f]{16}; fc\.weight re-initialised, fc\.bias re-initialised\)$/);
    assert.equal(table['frozen'], 'stem, layer1');
    assert.equal(table['normalisation'], 'ImageNet mean and sd (torchvision)');

    const init = readSafetensors(join(out, 'init.safetensors')).tensors;
    const trained = readSafetensors(lastCheckpoint(out, 1)!).tensors;
    for (const name of ['conv1.weight', 'bn1.bias', 'layer1.2.conv2.weight', 'layer2.0.conv1.weight', 'layer3.1.bn1.running_var']) {
      assert.deepEqual(init.get(name)!.data, source.get(name)!.data, name);
    }
    for (const name of ['conv1.weight', 'bn1.weight', 'layer1.0.conv1.weight', 'layer1.2.bn2.bias']) {
      assert.deepEqual(trained.get(name)!.data, source.get(name)!.data, `${name} frozen`);
    }
    assert.notDeepEqual(trained.get('layer2.0.conv1.weight')!.data, source.get('layer2.0.conv1.weight')!.data);

    // --resume with other weights, or the same path with other bytes, is refused in one line.
    const other = join(root, 'other.safetensors');
    writeFileSync(other, encodeSafetensors(stateDict('resnet20', 3, 6)));
    await assert.rejects(train({ ...input, init: other, epochs: 2, resume: true }, quiet), (err: Error) => /holds a run started from --init .*resnet20-cifar10\.safetensors, not --init .*other\.safetensors; use another --out/.test(err.message));
    writeFileSync(file, encodeSafetensors(stateDict('resnet20', 10, 7)));
    await assert.rejects(train({ out, epochs: 2, resume: true }, quiet), (err: Error) => /resnet20-cifar10\.safetensors: changed since .*run started from it \(sha256 [0-9a-f]{12}, was [0-9a-f]{12}\); use another --out$/.test(err.message));
    // A bad file leaves no run behind.
    await assert.rejects(train({ ...input, out: join(root, 'run2'), arch: 'se_resnet20' }, quiet), /the file has no SE blocks: try --arch resnet20$/);
    assert.ok(!existsSync(join(root, 'run2', 'config.json')));
    // Artifacts already in a run folder (gen-graph --train) that do not hold the --init weights are refused.
    writeFileSync(file, encodeSafetensors(source));
    writeArtifacts(buildArtifacts({ ...resolveModel({ arch: 'resnet20', classes: 3, input: [3, 16, 16] }), batch: 4 }), join(root, 'run3'));
    await assert.rejects(train({ ...input, out: join(root, 'run3') }, quiet), /run3\/artifact\.json: artifacts for \{"seWidth":null,"freeze":\[\],"freezeBn":false\}, but this run needs \{"seWidth":null,"freeze":\["stem","layer1"\],"freezeBn":false\}; remove them/);
    await assert.rejects(train({ ...input, freeze: null, out: join(root, 'run3') }, quiet), /run3\/artifact\.json: artifacts with seeded weights, but this run starts from weights with sha256 [0-9a-f]{12} \(--init .*\); remove them to have them generated$/);
  });

  it('takes the same first step from imported weights as from the same weights written as our own init', async (t) => {
    const dir = tempDir(t);
    const config = { ...resolveModel({ arch: 'se_resnet20', classes: 3, input: [3, 16, 16] }), batch: 4 };
    const target = buildInferenceGraph({ ...config, batch: 'N' });
    // The weights as a legacy SE-ResNet file (renamed keys) and as this project's init.safetensors.
    const legacy = stateDict('se_resnet20', 3, 9, (n) => n.replace(/^(conv1|bn1)\./, 'layer0.$1.').replace('.se.', '.se_module.').replace(/^fc\./, 'last_linear.'));
    writeFileSync(join(dir, 'legacy.safetensors'), encodeSafetensors(legacy));
    const imported = importWeights(join(dir, 'legacy.safetensors'), target);
    assert.equal(imported.record.layout, 'legacy-se');
    const a = buildArtifacts(config, {}, undefined, { weights: imported.tensors, init: imported.record });
    writeArtifacts(a, join(dir, 'a'));
    const ours = new Map<string, Tensor>();
    for (const [name, t2] of stateDict('se_resnet20', 3, 9)) if (t2.dtype === 'float32') ours.set(name, t2);
    for (const name of [...ours.keys()]) if (!/running_(mean|var)$/.test(name)) ours.set(`${name}.momentum`, { dtype: 'float32', dims: ours.get(name)!.dims, data: new Float32Array(ours.get(name)!.data.length) });
    writeFileSync(join(dir, 'ours.safetensors'), encodeSafetensors(ours, { producer: 'senet-ort test' }));
    const again = importWeights(join(dir, 'ours.safetensors'), target);
    assert.equal(again.record.layout, 'senet-ort');
    writeArtifacts(buildArtifacts(config, {}, undefined, { weights: again.tensors }), join(dir, 'b'));

    const step = async (run: string): Promise<ort.InferenceSession.OnnxValueMapType> => {
      const session = await ort.InferenceSession.create(join(dir, run, 'train_step.onnx'), { intraOpNumThreads: 1 });
      const feeds: Record<string, ort.Tensor> = {};
      for (const [name, t2] of readSafetensors(join(dir, run, 'init.safetensors')).tensors) feeds[name] = new ort.Tensor('float32', t2.data as Float32Array, [...t2.dims]);
      feeds['images'] = new ort.Tensor('float32', Float32Array.from({ length: 4 * 3 * 16 * 16 }, (_, i) => Math.sin(i * 0.37)), [4, 3, 16, 16]);
      feeds['labels'] = new ort.Tensor('int64', BigInt64Array.of(0n, 1n, 2n, 1n), [4]);
      for (const [name, v] of [['lr', 0.1], ['momentum', 0.9], ['weight_decay', 0.0001]] as const) feeds[name] = new ort.Tensor('float32', Float32Array.of(v), []);
      return session.run(feeds);
    };
    const [outA, outB] = [await step('a'), await step('b')];
    assert.equal((outA['loss']!.data as Float32Array)[0], (outB['loss']!.data as Float32Array)[0]);
    for (const name of Object.keys(outA)) assert.deepEqual(outA[name]!.data, outB[name]!.data, name);
  });
});
