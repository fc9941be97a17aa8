// The zoo: parameter counts against PyTorch's and an independent formula, state_dict names,
// module-path node names, the one-line errors for bad options, and the legacy networks against
// a PyTorch reference of the SENet authors' Caffe layout (bench/legacy_senet.py).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Tensor } from '../../src/graph/ir.ts';
import { numel } from '../../src/graph/ir.ts';
import type { ModelConfig } from '../../src/graph/model.ts';
import { STRUCTURE_ONLY, buildInferenceGraph, parameterCount, parseInputShape, resolveModel } from '../../src/graph/model.ts';
import { layoutTwin, modelNames } from '../../src/graph/registry.ts';
import { seHidden } from '../../src/graph/resnet.ts';
import { matchStateDict } from '../../src/formats/state-dict.ts';
import { data, session, toOrt } from '../helpers/ort.ts';
import type { Feeds } from '../helpers/ort.ts';

/** Parameters of a (SE-)ResNet, counted from the architecture's definition (the Caffe layout's legacy_* have the same). */
function expectedCount(arch: string, classes: number, r = 16): number {
  const se = /^(legacy_)?se_/.test(arch);
  const depth = Number(arch.replace(/\D/g, ''));
  const imagenet = [18, 34, 50, 101, 152].includes(depth);
  const bottleneck = depth >= 50 && imagenet;
  const blocks = imagenet
    ? ({ 18: [2, 2, 2, 2], 34: [3, 4, 6, 3], 50: [3, 4, 6, 3], 101: [3, 4, 23, 3], 152: [3, 8, 36, 3] } as Record<number, number[]>)[depth]!
    : Array(3).fill((depth - 2) / 6);
  const widths = imagenet ? [64, 128, 256, 512] : [16, 32, 64];
  const bn = (c: number): number => 2 * c;
  let n = imagenet ? 64 * 3 * 49 + bn(64) : 16 * 3 * 9 + bn(16);
  let cin = imagenet ? 64 : 16;
  widths.forEach((w, s) => {
    for (let j = 0; j < blocks[s]!; j++) {
      const out = bottleneck ? 4 * w : w;
      n += bottleneck ? cin * w + bn(w) + 9 * w * w + bn(w) + w * out + bn(out) : 9 * cin * w + bn(w) + 9 * w * w + bn(w);
      if ((s > 0 && j === 0) || cin !== out) n += cin * out + bn(out);
      if (se) {
        const h = Math.max(1, Math.floor(out / r));
        n += out * h + h + h * out + out;
      }
      cin = out;
    }
  });
  return n + cin * classes + classes;
}

describe('the model zoo', () => {
  it('matches torchvision parameter counts', () => {
    assert.equal(parameterCount(buildInferenceGraph(resolveModel({ arch: 'resnet18' }), STRUCTURE_ONLY)), 11_689_512);
    assert.equal(parameterCount(buildInferenceGraph(resolveModel({ arch: 'resnet50' }), STRUCTURE_ONLY)), 25_557_032);
  });

  it('counts every network as its definition says', () => {
    for (const arch of modelNames()) {
      const config = resolveModel({ arch, input: arch.match(/\d+/)![0].length <= 3 && /resnet(18|34|50|101|152)$/.test(arch) ? [3, 32, 32] : undefined });
      assert.equal(parameterCount(buildInferenceGraph(config, STRUCTURE_ONLY)), expectedCount(arch, config.classes), arch);
    }
    assert.equal(parameterCount(buildInferenceGraph(resolveModel({ arch: 'se_resnet20', reduction: 4, classes: 8 }))), expectedCount('se_resnet20', 8, 4));
  });

  it('names parameters as PyTorch state_dict keys and nodes by module path', () => {
    const graph = buildInferenceGraph(resolveModel({ arch: 'se_resnet50', input: [3, 64, 64] }));
    const names = new Set(graph.initializers.map((i) => i.value.name));
    for (const key of ['conv1.weight', 'bn1.running_mean', 'bn1.running_var', 'layer1.0.downsample.0.weight', 'layer1.0.downsample.1.bias',
      'layer3.1.se.fc2.bias', 'layer4.2.conv3.weight', 'layer1.0.se.fc1.weight', 'fc.weight', 'fc.bias']) {
      assert.ok(names.has(key), key);
    }
    const nodes = new Set(graph.nodes.map((n) => n.name));
    for (const name of ['conv1', 'layer2.0.conv1', 'layer2.0.se.fc1', 'layer2.0.se/scale', 'layer2.0/residual', 'fc']) assert.ok(nodes.has(name), name);
    const fc1 = graph.initializers.find((i) => i.value.name === 'layer1.0.se.fc1.weight')!;
    assert.deepEqual(fc1.tensor.dims, [16, 256, 1, 1]);
  });

  it('rounds SE widths as timm does with --se-width timm', () => {
    assert.deepEqual([64, 128, 256, 512, 2048].map((c) => seHidden(c, 16, 'timm')), [8, 8, 16, 32, 128]);
    assert.deepEqual([64, 128, 256, 512].map((c) => seHidden(c, 16)), [4, 8, 16, 32]);
    assert.equal(seHidden(100, 16, 'timm'), 8); // 6.25 -> 8 (at least the divisor)
    assert.equal(seHidden(200, 16, 'timm'), 16); // 12.5 -> 16
    const config = resolveModel({ arch: 'se_resnet18', input: [3, 32, 32], seWidth: 'timm' });
    assert.equal(config.seWidth, 'timm');
    const graph = buildInferenceGraph(config, STRUCTURE_ONLY);
    assert.deepEqual(graph.initializers.find((i) => i.value.name === 'layer1.0.se.fc1.weight')!.tensor.dims, [8, 64, 1, 1]);
    // timm's seresnet18: resnet18's 11,689,512 plus SE blocks of widths 8, 8, 16, 32.
    assert.equal(parameterCount(graph), 11_779_624);
    assert.equal(resolveModel({ arch: 'resnet18', seWidth: 'timm' }).seWidth, null);
    assert.throws(() => resolveModel({ arch: 'se_resnet18', seWidth: 'round' as 'timm' }), /expected floor or timm for --se-width but received "round"/);
  });

  it('initialises deterministically from the seed, like torchvision', () => {
    const weights = (seed: number): Float32Array => buildInferenceGraph(resolveModel({ arch: 'resnet20', seed })).initializers.find((i) => i.value.name === 'layer2.0.conv1.weight')!.tensor.data as Float32Array;
    assert.deepEqual(weights(3), weights(3));
    assert.notDeepEqual(weights(3), weights(4));
    // Kaiming normal, fan_out, ReLU gain: std = sqrt(2 / (32 * 3 * 3)) = 0.0833
    const w = weights(3);
    const std = Math.sqrt(w.reduce((a, v) => a + v * v, 0) / w.length);
    assert.ok(Math.abs(std - Math.sqrt(2 / 288)) < 0.005, `std ${std}`);
  });

  it('refuses bad options with one line each', () => {
    assert.throws(() => resolveModel({ arch: 'resnet19' }), /unknown architecture "resnet19"; known: resnet18, se_resnet18, .*se_resnet110/);
    assert.throws(() => resolveModel({ arch: 'se_resnet20', reduction: 0 }), /expected an integer from 1 to 16 .* for --reduction but received 0/);
    assert.throws(() => resolveModel({ arch: 'se_resnet20', reduction: 17 }), /for --reduction but received 17/);
    assert.throws(() => resolveModel({ arch: 'resnet20', reduction: 4 }), /--reduction applies to SE networks only/);
    assert.throws(() => resolveModel({ arch: 'resnet20', classes: 1 }), /expected an integer of at least 2 for --classes but received 1/);
    assert.throws(() => resolveModel({ arch: 'resnet18', input: [3, 16, 16] }), /input 3x16x16 is too small for resnet18: the smallest that works is 3x32x32/);
    assert.throws(() => parseInputShape('3x224'), /expected CxHxW such as 3x224x224 for --input but received "3x224"/);
    assert.throws(() => parseInputShape('3x0x5'), /for --input/);
    assert.throws(() => resolveModel({ arch: 'resnet20', opset: 12 }), /opset/);
  });
});

/** One network of bench/legacy_senet.py's output: its PyTorch state_dict and eval-mode logits. */
interface ReferenceCase {
  readonly arch: string;
  readonly blocks: readonly number[];
  readonly classes: number;
  /** [N, C, H, W] */
  readonly input: readonly [number, number, number, number];
  /** [name, shape] in state_dict order, num_batches_tracked left out. */
  readonly stateDict: readonly (readonly [string, readonly number[]])[];
  readonly logits: readonly number[];
}

const REFERENCE = JSON.parse(readFileSync(new URL('./legacy-senet.reference.json', import.meta.url), 'utf8')) as { cases: ReferenceCase[] };

/**
 * bench/legacy_senet.py's formula, repeated: every element of tensor `name` from the name's hash
 * and its index, in double arithmetic that both sides do exactly alike, rounded to float32 once.
 */
function formula(name: string, dims: readonly number[]): Tensor {
  let h = 0;
  for (const ch of name) h = (h * 31 + ch.charCodeAt(0)) % 1000003;
  const fanIn = numel(dims.slice(1));
  const values = new Float32Array(numel(dims));
  for (let i = 0; i < values.length; i++) {
    const u = ((7 * i * i + 40499 * i + h) % 65521) / 65521;
    values[i] = name.endsWith('running_var') || (name.endsWith('.weight') && dims.length === 1) ? 0.5 + u
      : dims.length === 1 ? (u - 0.5) * 0.2
        : name === 'images' ? (u - 0.5) * 4
          : (u - 0.5) * (dims.length === 4 ? 2 * Math.sqrt(6 / fanIn) : 2 * Math.sqrt(3 / fanIn));
  }
  return { dtype: 'float32', dims: [...dims], data: values };
}

/** The registered network `arch` with the reference's blocks per stage, classes and batch. */
function referenceConfig(c: ReferenceCase, arch = c.arch): ModelConfig {
  const [n, ...input] = c.input;
  const config = resolveModel({ arch, classes: c.classes, input: input as [number, number, number] });
  return { ...config, batch: n, spec: { ...config.spec, stages: config.spec.stages.map((s, i) => ({ ...s, blocks: c.blocks[i]! })) } };
}

/** The reference's state_dict, each tensor from the formula under its PyTorch name. */
const referenceWeights = (c: ReferenceCase): Map<string, Tensor> => new Map(c.stateDict.map(([name, dims]) => [name, formula(name, dims)]));

/** Logits of `config` in ONNX Runtime with the reference's weights, loaded as a legacy-se state_dict. */
async function logitsWith(config: ModelConfig, c: ReferenceCase): Promise<Float32Array> {
  const graph = buildInferenceGraph(config, STRUCTURE_ONLY);
  const { tensors } = matchStateDict(graph, referenceWeights(c), 'reference', { layout: 'legacy-se', sha256: '' });
  const feeds: Feeds = { images: toOrt(formula('images', c.input)) };
  for (const [name, t] of tensors) feeds[name] = toOrt(t);
  const s = await session(graph);
  const logits = data((await s.run(feeds))['logits']!);
  await s.release();
  return logits;
}

/** Largest difference relative to the largest reference logit. */
function relativeDifference(got: ArrayLike<number>, want: readonly number[]): number {
  const scale = Math.max(...want.map(Math.abs));
  return Math.max(...want.map((v, i) => Math.abs(got[i]! - v))) / scale;
}

describe('the legacy networks against PyTorch (bench/legacy_senet.py: timm\'s legacy SENet written out, 1-2-1-1 blocks)', () => {
  it('the reference covers the bottleneck and basic SE networks and a plain twin', () => {
    assert.deepEqual(REFERENCE.cases.map((c) => c.arch), ['legacy_se_resnet50', 'legacy_se_resnet18', 'legacy_resnet50']);
  });

  for (const c of REFERENCE.cases) {
    it(`${c.arch}: takes PyTorch's state_dict name for name (legacy-se layout), every shape as PyTorch's, and nothing else`, () => {
      const graph = buildInferenceGraph(referenceConfig(c), STRUCTURE_ONLY);
      const { record } = matchStateDict(graph, referenceWeights(c), 'reference', { layout: 'legacy-se', sha256: '' });
      assert.equal(record.loaded, c.stateDict.length);
      assert.equal(graph.initializers.filter((i) => i.kind !== 'constant').length, c.stateDict.length);
      assert.deepEqual(record.reinitialised, []);
      assert.deepEqual(record.notes, [], 'no warning: the weights were made for this layout');
    });

    it(`${c.arch}: gives PyTorch's logits within float32 rounding`, async (t) => {
      const got = await logitsWith(referenceConfig(c), c);
      const e = relativeDifference(got, c.logits);
      t.diagnostic(`largest difference ${e.toExponential(2)} of the largest logit`);
      assert.ok(e < 2e-5, `relative difference ${e}: ${Array.from(got).map((v) => v.toFixed(4)).join(' ')} vs ${c.logits.map((v) => v.toFixed(4)).join(' ')}`);
    });
  }

  it('the library\'s layout with the same weights gives other logits: the reference tells the layouts apart', async (t) => {
    for (const c of REFERENCE.cases) {
      const e = relativeDifference(await logitsWith(referenceConfig(c, layoutTwin(c.arch)!), c), c.logits);
      t.diagnostic(`${layoutTwin(c.arch)}: largest difference ${e.toFixed(2)} of the largest logit`);
      assert.ok(e > 0.05, `${layoutTwin(c.arch)}: relative difference only ${e}`);
    }
  });
});
