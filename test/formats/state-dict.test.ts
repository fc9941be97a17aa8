// Published weights in every layout, written here from known tensors, loaded back tensor by tensor;
// and the one-line errors for a wrong shape, a missing tensor and a PyTorch pickle.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Graph, Tensor } from '../../src/graph/ir.ts';
import type { ModelOptions } from '../../src/graph/model.ts';
import { STRUCTURE_ONLY, buildInferenceGraph, resolveModel } from '../../src/graph/model.ts';
import { encodeSafetensors } from '../../src/formats/safetensors.ts';
import type { WeightLayout } from '../../src/formats/state-dict.ts';
import { detectLayout, importWeights, matchStateDict } from '../../src/formats/state-dict.ts';
import { UserError } from '../../src/errors.ts';
import { tempDir } from '../data/fixtures.ts';

const graphOf = (options: ModelOptions): Graph => buildInferenceGraph(resolveModel({ classes: 8, input: [3, 16, 16], ...options }));

/** The graph's parameters and buffers, by name. */
function stateOf(graph: Graph): Map<string, Tensor> {
  return new Map(graph.initializers.filter((i) => i.kind !== 'constant').map((i) => [i.value.name, i.tensor]));
}

/** Writes `tensors` as a safetensors file and returns its path. */
function write(dir: string, name: string, tensors: Map<string, Tensor>, metadata: Record<string, string> = {}): string {
  const path = join(dir, name);
  writeFileSync(path, encodeSafetensors(tensors, metadata));
  return path;
}

/** num_batches_tracked beside every running_mean, as torch's BatchNorm2d writes it. */
function withBatchesTracked(state: Map<string, Tensor>): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const [name, t] of state) {
    out.set(name, t);
    if (name.endsWith('.running_mean')) out.set(name.replace('running_mean', 'num_batches_tracked'), { dtype: 'int64', dims: [], data: BigInt64Array.of(7n) });
  }
  return out;
}

function renamed(state: Map<string, Tensor>, rename: (name: string) => string): Map<string, Tensor> {
  return new Map([...state].map(([n, t]) => [rename(n), t]));
}

/** Our name as timm's legacy SENet and Cadene's se_resnet name it. */
const toLegacy = (n: string): string => n.replace(/^(conv1|bn1)\./, 'layer0.$1.').replace('.se.', '.se_module.').replace(/^fc\./, 'last_linear.');

/** Every tensor of the imported map equals the source's. */
function assertSame(imported: Map<string, Tensor>, source: Map<string, Tensor>, skip: (name: string) => boolean = () => false): void {
  assert.deepEqual([...imported.keys()].sort(), [...source.keys()].sort());
  for (const [name, t] of source) {
    if (skip(name)) continue;
    assert.deepEqual(imported.get(name)!.dims, t.dims, name);
    assert.deepEqual(imported.get(name)!.data, t.data, name);
  }
}

describe('importing published weights', () => {
  it('takes torchvision state_dicts as they are, ignoring num_batches_tracked', (t) => {
    const dir = tempDir(t);
    const source = stateOf(graphOf({ arch: 'resnet20', seed: 1 }));
    const file = write(dir, 'resnet.safetensors', withBatchesTracked(source));
    const { tensors, record } = importWeights(file, graphOf({ arch: 'resnet20', seed: 2 }));
    assertSame(tensors, source);
    assert.equal(record.layout, 'torchvision');
    assert.equal(record.ignored, 21); // one num_batches_tracked per BatchNorm
    assert.deepEqual(record.reinitialised, []);
    assert.equal(record.sha256.length, 64);
  });

  it('takes timm SE-ResNets with --se-width timm, and says to add it when it is missing', (t) => {
    const dir = tempDir(t);
    const source = stateOf(graphOf({ arch: 'se_resnet20', seed: 1, seWidth: 'timm' }));
    assert.deepEqual(source.get('layer1.0.se.fc1.weight')!.dims, [8, 16, 1, 1]);
    const file = write(dir, 'timm.safetensors', withBatchesTracked(source));
    const { tensors, record } = importWeights(file, graphOf({ arch: 'se_resnet20', seed: 2, seWidth: 'timm' }));
    assertSame(tensors, source);
    assert.equal(record.layout, 'timm');
    assert.throws(() => importWeights(file, graphOf({ arch: 'se_resnet20' })), (err: Error) => {
      assert.ok(err instanceof UserError);
      assert.match(err.message, /^.*timm\.safetensors: does not fit se_resnet20 as a timm state_dict: 27 wrongly shaped \(layer1\.0\.se\.fc1\.weight \[8,16,1,1\], expected \[1,16,1,1\], .*; timm rounds SE widths to multiples of 8: add --se-width timm$/);
      assert.doesNotMatch(err.message, /\n/);
      return true;
    });
  });

  it('renames legacy SE-ResNets (Cadene, timm legacy_seresnet)', (t) => {
    const dir = tempDir(t);
    const source = stateOf(graphOf({ arch: 'se_resnet20', seed: 1 }));
    const legacy = renamed(source, toLegacy);
    assert.ok(legacy.has('layer0.conv1.weight') && legacy.has('layer1.0.se_module.fc1.bias') && legacy.has('last_linear.weight'));
    const file = write(dir, 'legacy.safetensors', withBatchesTracked(legacy));
    const { tensors, record } = importWeights(file, graphOf({ arch: 'se_resnet20', seed: 2 }));
    assertSame(tensors, source);
    assert.equal(record.layout, 'legacy-se');
    assert.deepEqual(record.notes, ['warning: legacy SE-ResNet weights (Cadene\'s se_resnet*, timm\'s legacy_seresnet*) were trained in the SENet authors\' Caffe layout, which se_resnet20 does not have (stem pooling, block layout): they fit but compute other features until fine-tuned']);
  });

  it('warns when weights meet a network of the other layout, naming the network they were trained in', () => {
    const structure = (arch: string): Graph => buildInferenceGraph(resolveModel({ arch, input: [3, 32, 32] }), STRUCTURE_ONLY);
    const warnings = (graph: Graph, source: Map<string, Tensor>, layout: WeightLayout): string[] =>
      matchStateDict(graph, source, 'w.safetensors', { layout, sha256: '' }).record.notes.filter((n) => n.startsWith('warning:'));
    const library = structure('se_resnet50');
    const legacy = structure('legacy_se_resnet50');
    const ours = stateOf(library);
    const theirs = renamed(ours, toLegacy);
    assert.deepEqual(warnings(legacy, theirs, 'legacy-se'), []);
    assert.deepEqual(warnings(library, ours, 'timm'), []);
    assert.deepEqual(warnings(library, theirs, 'legacy-se'), ['warning: legacy SE-ResNet weights (Cadene\'s se_resnet*, timm\'s legacy_seresnet*) were trained in the SENet authors\' Caffe layout, which se_resnet50 does not have (stem pooling, block layout): they fit but compute other features until fine-tuned; legacy_se_resnet50 is the network they were trained in']);
    assert.deepEqual(warnings(legacy, ours, 'timm'), ['warning: timm weights were trained in torchvision\'s layout, which legacy_se_resnet50 does not have (stem pooling, block layout): they fit but compute other features until fine-tuned; se_resnet50 is the network they were trained in']);
    assert.match(warnings(structure('legacy_resnet18'), stateOf(structure('resnet18')), 'torchvision')[0]!, /^warning: torchvision weights .*; resnet18 is the network they were trained in$/);
    assert.match(warnings(structure('se_resnet18'), renamed(stateOf(structure('se_resnet18')), toLegacy), 'legacy-se')[0]!, /; legacy_se_resnet18 is the network they were trained in$/);
    // Our own checkpoints say nothing of their layout, and a run resumes them into the network that wrote them.
    assert.deepEqual(warnings(legacy, ours, 'senet-ort'), []);
  });

  it('names the legacy SE network when a legacy SE file meets a plain legacy network', () => {
    const theirs = renamed(stateOf(buildInferenceGraph(resolveModel({ arch: 'legacy_se_resnet18', input: [3, 32, 32] }), STRUCTURE_ONLY)), toLegacy);
    const plain = buildInferenceGraph(resolveModel({ arch: 'legacy_resnet18', input: [3, 32, 32] }), STRUCTURE_ONLY);
    assert.throws(() => matchStateDict(plain, theirs, 'w.safetensors', { layout: 'legacy-se', sha256: '' }), /^UserError: w\.safetensors: does not fit legacy_resnet18 as a legacy-se state_dict: 32 unexpected .*; the file is an SE-ResNet: try --arch legacy_se_resnet18$/);
  });

  it('reshapes senet.pytorch\'s Linear SE layers to 1x1 convs, their missing biases at zero', (t) => {
    const dir = tempDir(t);
    const source = stateOf(graphOf({ arch: 'se_resnet20', seed: 1, reduction: 4 }));
    const moskomule = new Map<string, Tensor>();
    for (const [name, tensor] of source) {
      const m = /^(.*\.se)\.fc([12])\.(weight|bias)$/.exec(name);
      if (!m) moskomule.set(name, tensor);
      else if (m[3] === 'weight') moskomule.set(`${m[1]}.fc.${m[2] === '1' ? 0 : 2}.weight`, { ...tensor, dims: tensor.dims.slice(0, 2) });
    }
    assert.deepEqual(moskomule.get('layer2.0.se.fc.0.weight')!.dims, [8, 32]);
    const file = write(dir, 'senet.safetensors', moskomule);
    assert.equal(detectLayout([...moskomule.keys()]), 'senet.pytorch');
    const { tensors, record } = importWeights(file, graphOf({ arch: 'se_resnet20', seed: 2, reduction: 4 }));
    assertSame(tensors, source, (n) => /se\.fc[12]\.bias$/.test(n));
    assert.equal(record.zeroed.length, 18);
    for (const name of record.zeroed) assert.ok((tensors.get(name)!.data as Float32Array).every((v) => v === 0), name);
    assert.ok(record.notes.some((n) => /18 SE biases start at zero/.test(n)));
  });

  it('takes this project\'s own checkpoints, momentum buffers left out', (t) => {
    const dir = tempDir(t);
    const source = stateOf(graphOf({ arch: 'se_resnet20', seed: 1 }));
    const withMomentum = new Map(source);
    for (const [name, tensor] of source) withMomentum.set(`${name}.momentum`, tensor);
    const file = write(dir, 'epoch-3.safetensors', withMomentum, { format: 'senet-ort checkpoint', producer: 'senet-ort 0.1.0' });
    const { tensors, record } = importWeights(file, graphOf({ arch: 'se_resnet20', seed: 2 }));
    assertSame(tensors, source);
    assert.equal(record.layout, 'senet-ort');
  });

  it('re-initialises the classifier when the class count differs, and says so', (t) => {
    const dir = tempDir(t);
    const source = stateOf(buildInferenceGraph(resolveModel({ arch: 'resnet20', classes: 10, input: [3, 16, 16], seed: 1 })));
    const target = graphOf({ arch: 'resnet20', seed: 2 });
    const file = write(dir, 'cifar10.safetensors', source);
    const { tensors, record } = importWeights(file, target);
    assert.deepEqual(record.reinitialised, ['fc.weight', 'fc.bias']);
    assert.deepEqual(tensors.get('fc.weight'), stateOf(target).get('fc.weight'));
    assert.deepEqual(tensors.get('conv1.weight'), source.get('conv1.weight'));
    assert.match(record.notes[0]!, /classifier has 10 classes, this network 8: fc.weight and fc.bias are re-initialised/);
  });

  it('refuses a wrong shape, a missing tensor and a PyTorch pickle, each in one line naming the file', (t) => {
    const dir = tempDir(t);
    const source = stateOf(graphOf({ arch: 'resnet20', seed: 1 }));
    const bad = new Map(source);
    bad.set('layer2.0.conv1.weight', { dtype: 'float32', dims: [32, 16, 1, 1], data: new Float32Array(512) });
    const wrongFile = write(dir, 'wrong.safetensors', bad);
    assert.throws(() => importWeights(wrongFile, graphOf({ arch: 'resnet20' })), /wrong\.safetensors: does not fit resnet20 as a torchvision state_dict: 1 wrongly shaped \(layer2\.0\.conv1\.weight \[32,16,1,1\], expected \[32,16,3,3\]\)$/);
    const short = new Map(source);
    short.delete('layer3.2.bn2.running_var');
    short.set('layer4.0.conv1.weight', source.get('conv1.weight')!);
    const missingFile = write(dir, 'missing.safetensors', short);
    assert.throws(() => importWeights(missingFile, graphOf({ arch: 'resnet20' })), /missing\.safetensors: does not fit resnet20 as a torchvision state_dict: 1 missing \(layer3\.2\.bn2\.running_var\); 1 unexpected \(layer4\.0\.conv1\.weight\); the file is probably another depth or block kind: check --arch$/);
    const se = write(dir, 'se.safetensors', stateOf(graphOf({ arch: 'se_resnet20' })));
    assert.throws(() => importWeights(se, graphOf({ arch: 'resnet20' })), /36 unexpected .*; the file is an SE-ResNet: try --arch se_resnet20$/);
    const pth = join(dir, 'resnet18.pth');
    writeFileSync(pth, Buffer.from([0x50, 0x4b, 0x03, 0x04, 0, 0, 0, 0]));
    assert.throws(() => importWeights(pth, graphOf({ arch: 'resnet20' })), (err: Error) => {
      assert.match(err.message, /resnet18\.pth: a PyTorch pickle, not safetensors .*convert it once: python3 -c "import torch; .*torch\.load\('.*resnet18\.pth', map_location='cpu'\).*save_file\(.*'resnet18\.safetensors'\)"$/);
      assert.doesNotMatch(err.message, /\n/);
      return true;
    });
    const disguised = join(dir, 'disguised.safetensors');
    writeFileSync(disguised, Buffer.from([0x80, 0x02, 0x7d, 0x71]));
    assert.throws(() => importWeights(disguised, graphOf({ arch: 'resnet20' })), /disguised\.safetensors: a PyTorch pickle/);
    assert.throws(() => importWeights(join(dir, 'absent.safetensors'), graphOf({ arch: 'resnet20' })), /absent\.safetensors: cannot read \(ENOENT\)/);
  });
});
