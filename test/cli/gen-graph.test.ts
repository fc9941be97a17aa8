// gen-graph end to end, as a user runs it: stdout or -o, --list, --train, and one-line errors.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { spawnSync } from 'node:child_process';
import { ROOT, runBin } from '../helpers/cli.ts';
import { readSafetensors } from '../../src/formats/safetensors-file.ts';
import type { ArtifactManifest } from '../../src/formats/artifacts.ts';
import { data, floats, int64s, session } from '../helpers/ort.ts';
import { writeFileSync } from 'node:fs';
import { buildInferenceGraph, resolveModel } from '../../src/graph/model.ts';
import { encodeSafetensors } from '../../src/formats/safetensors.ts';
import { decodeModel, graphFromModel } from '../../src/formats/protobuf.ts';
import { assertOnnxChecks, needsOnnxChecker } from '../helpers/onnx-checker.ts';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'gen-graph-'));

describe('gen-graph', () => {
  it('writes a model to stdout that onnxruntime runs', async () => {
    const r = runBin('gen-graph', ['se_resnet20', '--classes', '4', '--input', '3x40x40']);
    assert.equal(r.status, 0, r.stderr);
    const s = await ort.InferenceSession.create(r.stdout);
    const out = await s.run({ images: floats(new Float32Array(2 * 3 * 40 * 40).fill(0.5), [2, 3, 40, 40]) });
    assert.deepEqual(out['probabilities']!.dims, [2, 4]);
  });

  it('writes -o FILE, and the same bytes for the same seed', () => {
    const dir = tmp();
    try {
      for (const name of ['a', 'b']) assert.equal(runBin('gen-graph', ['resnet20', '--seed', '5', '-o', join(dir, `${name}.onnx`)]).status, 0);
      assert.deepEqual(readFileSync(join(dir, 'a.onnx')), readFileSync(join(dir, 'b.onnx')));
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it('lists the networks with parameter counts', () => {
    const r = runBin('gen-graph', ['--list']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout.toString(), /resnet50\s+25,557,032/);
    assert.match(r.stdout.toString(), /se_resnet110/);
    // The Caffe layout moves strides and pooling, not parameters.
    assert.match(r.stdout.toString(), /^legacy_se_resnet50\s+28,088,024  3x224x224, 1000 classes$/m);
    assert.match(r.stdout.toString(), /^legacy_resnet18\s+11,689,512 /m);
    const rows = r.stdout.toString().trimEnd().split('\n').slice(1);
    assert.equal(new Set(rows.map((l) => l.search(/ \d+x\d+x\d+, /))).size, 1, 'the columns line up');
  });

  it('writes a legacy network: the Caffe layout\'s ceil-mode stem pool, and it runs', async () => {
    const dir = tmp();
    try {
      const out = join(dir, 'legacy.onnx');
      const r = runBin('gen-graph', ['legacy_se_resnet18', '--classes', '3', '--input', '3x32x32', '-o', out]);
      assert.equal(r.status, 0, r.stderr);
      const pool = graphFromModel(decodeModel(readFileSync(out))).nodes.find((n) => n.op === 'MaxPool')!;
      assert.deepEqual([pool.attrs['ceil_mode'], pool.attrs['pads']], [1, [0, 0, 0, 0]]);
      const logits = (await (await ort.InferenceSession.create(out)).run({ images: floats(new Float32Array(2 * 3 * 32 * 32).fill(0.5), [2, 3, 32, 32]) }))['logits']!;
      assert.deepEqual(logits.dims, [2, 3]);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it('refuses bad input with one line, a non-zero exit and no file', () => {
    const dir = tmp();
    try {
      const out = join(dir, 'm.onnx');
      const cases: [string[], RegExp][] = [
        [['resnet19', '-o', out], /^gen-graph: unknown architecture "resnet19"; known: resnet18, .*\n$/],
        [['se_resnet20', '--reduction', '0', '-o', out], /^gen-graph: expected an integer from 1 to 16 .* for --reduction but received 0\n$/],
        [['resnet20', '--classes', '1', '-o', out], /^gen-graph: expected an integer of at least 2 for --classes but received 1\n$/],
        [['resnet50', '--input', '3x20x20', '-o', out], /^gen-graph: input 3x20x20 is too small for resnet50: the smallest that works is 3x32x32 .*\n$/],
        [['resnet20', '--input', '3x32', '-o', out], /^gen-graph: expected CxHxW such as 3x224x224 for --input but received "3x32"\n$/],
        [['resnet20', '--classes', 'ten', '-o', out], /^gen-graph: expected integer for --classes but received "ten"\n$/],
        // A negative number after a flag is its value, not an option of its own.
        [['resnet20', '--seed', '-1', '-o', out], /^gen-graph: expected non-negative integer for --seed but received -1\n$/],
        [['resnet20', '--classes', '-3', '-o', out], /^gen-graph: expected an integer of at least 2 for --classes but received -3\n$/],
      ];
      for (const [args, message] of cases) {
        const r = runBin('gen-graph', args);
        assert.equal(r.status, 1, args.join(' '));
        assert.match(r.stderr, message);
        assert.ok(!existsSync(out), 'no partial file');
      }
      assert.deepEqual(readdirSync(dir), []);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it('--train writes the artifacts, and one step runs from Node on train_step.onnx with init.safetensors', async () => {
    const dir = tmp();
    try {
      const r = runBin('gen-graph', ['se_resnet20', '--train', '--out-dir', dir, '--input', '3x16x16', '--classes', '3', '--label-smoothing', '0.1']);
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(readdirSync(dir).sort(), ['artifact.json', 'eval_step.onnx', 'init.safetensors', 'model.onnx', 'train_step.onnx']);
      const manifest = JSON.parse(readFileSync(join(dir, 'artifact.json'), 'utf8')) as ArtifactManifest;
      assert.equal(manifest.architecture, 'se_resnet20');
      assert.equal(manifest.loss.labelSmoothing, 0.1);
      const { tensors } = readSafetensors(join(dir, 'init.safetensors'));
      assert.deepEqual([...tensors.keys()].sort(), [...manifest.parameters, ...manifest.momentumBuffers, ...manifest.runningStatistics].sort());
      const s = await ort.InferenceSession.create(join(dir, 'train_step.onnx'));
      const feeds: Record<string, ort.Tensor> = {
        images: floats(Array.from({ length: 2 * 3 * 256 }, (_, i) => Math.sin(i)), [2, 3, 16, 16]), labels: int64s([0, 2], [2]),
        lr: floats([0.1], []), momentum: floats([0.9], []), weight_decay: floats([1e-4], []),
      };
      for (const [name, t] of tensors) feeds[name] = new ort.Tensor('float32', t.data as Float32Array, [...t.dims]);
      const out = await s.run(feeds);
      assert.ok(Number.isFinite(data(out['loss']!)[0]!));
      for (const name of manifest.parameters) assert.ok(out[`${name}.next`], `${name}.next`);
      // model.onnx carries the same initial weights as init.safetensors
      const m = await ort.InferenceSession.create(join(dir, 'model.onnx'));
      const e = await ort.InferenceSession.create(join(dir, 'eval_step.onnx'));
      const images = floats(Array.from({ length: 3 * 256 }, (_, i) => Math.cos(i)), [1, 3, 16, 16]);
      const evalFeeds: Record<string, ort.Tensor> = { images };
      for (const name of e.inputNames) if (name !== 'images') evalFeeds[name] = feeds[name]!;
      const [pm, pe] = [await m.run({ images }), await e.run(evalFeeds)];
      // ORT folds BN into the convs of model.onnx (constant weights), so allow float rounding.
      const [a, b] = [data(pm['probabilities']!), data(pe['probabilities']!)];
      a.forEach((v, i) => assert.ok(Math.abs(v - b[i]!) < 1e-5, `probability ${i}: ${v} vs ${b[i]}`));
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it('refuses to write binary to a terminal, with a hint', (t) => {
    // util-linux `script` gives the program a pseudo-terminal as stdout.
    const probe = spawnSync('script', ['--version'], { encoding: 'utf8' });
    if (probe.status !== 0) return t.skip('util-linux script is not installed');
    const r = spawnSync('script', ['-qec', `${process.execPath} ${ROOT}dist/cli/gen-graph.js resnet20`, '/dev/null'], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stdout, /gen-graph: refusing to write a binary ONNX model to a terminal; redirect it \(gen-graph se_resnet50 > model\.onnx\) or use -o FILE/);
  });

  it('--train --kernels x64: a step of nchwc convs for this CPU\'s block, recorded in artifact.json; bad --kernels and --nchwc-block are one line', () => {
    const dir = tmp();
    try {
      const r = runBin('gen-graph', ['resnet20', '--train', '--out-dir', dir, '--input', '3x16x16', '--classes', '3', '--kernels', 'x64']);
      if (process.arch === 'x64') {
        assert.equal(r.status, 0, r.stderr);
        const manifest = JSON.parse(readFileSync(join(dir, 'artifact.json'), 'utf8')) as ArtifactManifest;
        assert.ok(manifest.kernels?.flavour === 'x64' && [8, 16].includes(manifest.kernels.block) && manifest.kernels.convs! > 0, JSON.stringify(manifest.kernels));
        assert.match(readFileSync(join(dir, 'train_step.onnx')).toString('latin1'), /com\.microsoft\.nchwc/);
      }
      const portable = runBin('gen-graph', ['resnet20', '--train', '--out-dir', dir, '--input', '3x16x16', '--classes', '3']);
      assert.equal(portable.status, 0, portable.stderr);
      assert.deepEqual((JSON.parse(readFileSync(join(dir, 'artifact.json'), 'utf8')) as ArtifactManifest).kernels, { flavour: 'portable' });
      assert.doesNotMatch(readFileSync(join(dir, 'train_step.onnx')).toString('latin1'), /nchwc/);
    } finally {
      rmSync(dir, { recursive: true });
    }
    const error = (args: string[]): string => runBin('gen-graph', ['resnet20', ...args]).stderr;
    assert.equal(error(['--train', '--out-dir', '/tmp/x', '--kernels', 'avx']), 'gen-graph: expected portable, x64 or webgpu for --kernels but received "avx"\n');
    assert.equal(error(['--train', '--out-dir', '/tmp/x', '--kernels', 'x64', '--nchwc-block', '12']), 'gen-graph: expected 8 or 16 for --nchwc-block but received 12\n');
    assert.equal(error(['--train', '--out-dir', '/tmp/x', '--nchwc-block', '8']), 'gen-graph: --nchwc-block applies to --kernels x64\n');
    assert.equal(error(['--kernels', 'x64']), 'gen-graph: --kernels applies to --train (the training step)\n');
  });

  it('--explain [--layer] [--weights]: the model takes an optional class and gives the Grad-CAM map cam; bad --layer is one line', async () => {
    const dir = tmp();
    try {
      const config = resolveModel({ arch: 'se_resnet20', classes: 4, input: [3, 16, 16], seed: 3 });
      const state = new Map(buildInferenceGraph(config).initializers.filter((i) => i.kind !== 'constant').map((i) => [i.value.name, i.tensor]));
      writeFileSync(join(dir, 'w.safetensors'), encodeSafetensors(state));
      const [explained, plain] = [join(dir, 'explain.onnx'), join(dir, 'plain.onnx')];
      const common = ['se_resnet20', '--classes', '4', '--input', '3x16x16', '--weights', join(dir, 'w.safetensors')];
      assert.equal(runBin('gen-graph', [...common, '-o', plain]).status, 0);
      const r = runBin('gen-graph', [...common, '--explain', '--layer', 'layer2', '-o', explained]);
      assert.equal(r.status, 0, r.stderr);
      const model = decodeModel(readFileSync(explained));
      assert.deepEqual(model.graph!.input!.map((v) => v.name), ['images', 'class']);
      assert.deepEqual(model.graph!.output!.map((v) => v.name), ['logits', 'probabilities', 'cam']);
      const meta = Object.fromEntries(model.metadataProps.map((p) => [p.key, p.value]));
      assert.equal(meta['gradcam_layer'], 'layer2');
      assert.match(meta['gradcam']!, /^Grad-CAM .*-1 \(the default\) for the predicted class/);
      const images = floats(Float32Array.from({ length: 2 * 3 * 256 }, (_, i) => Math.cos(i * 0.7)), [2, 3, 16, 16]);
      const [a, b] = [await (await ort.InferenceSession.create(explained)).run({ images }), await (await ort.InferenceSession.create(plain)).run({ images })];
      assert.deepEqual(data(a['logits']!), data(b['logits']!), 'the same network, with the map beside it');
      assert.deepEqual(a['cam']!.dims, [2, 8, 8]);
      assert.ok(data(a['cam']!).every((v) => v >= 0 && Number.isFinite(v)) && data(a['cam']!).some((v) => v > 0));
      // The default layer is the last stage.
      assert.equal(runBin('gen-graph', ['resnet20', '--explain', '-o', explained]).status, 0);
      assert.equal(Object.fromEntries(decodeModel(readFileSync(explained)).metadataProps.map((p) => [p.key, p.value]))['gradcam_layer'], 'layer3');
    } finally {
      rmSync(dir, { recursive: true });
    }
    const error = (args: string[]): string => runBin('gen-graph', ['resnet20', ...args]).stderr;
    assert.equal(error(['--layer', 'layer2']), 'gen-graph: --layer applies to --explain (the Grad-CAM layer)\n');
    assert.match(error(['--explain', '--layer', 'layer4']), /^gen-graph: expected one of stem, layer1\.0, layer1\.1, layer1\.2, layer1, .*, layer3 for --layer but received "layer4"\n$/);
    assert.equal(error(['--explain', '--train', '--out-dir', '/tmp/x']), 'gen-graph: --explain writes an inference model with Grad-CAM; it does not go with --train\n');
  });

  it('--explain models pass the ONNX checker\'s full check (both stems, a fixed batch)', { skip: needsOnnxChecker() }, () => {
    const dir = tmp();
    try {
      for (const args of [['se_resnet20', '--input', '3x16x16'], ['resnet18', '--input', '3x32x32', '--layer', 'layer2.1', '--batch', '2']]) {
        const out = join(dir, `${args[0]}.onnx`);
        const r = runBin('gen-graph', [...args, '--classes', '3', '--explain', '-o', out]);
        assert.equal(r.status, 0, r.stderr);
        assertOnnxChecks(out);
      }
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it('--train without --out-dir says what is missing', () => {
    const r = runBin('gen-graph', ['resnet20', '--train']);
    assert.equal(r.status, 1);
    assert.equal(r.stderr, 'gen-graph: --train writes several files: give --out-dir DIR\n');
  });
  it('--weights FILE: an inference model with a state_dict\'s weights (timm SE widths), its source in the metadata; a .pth refused', async () => {
    const dir = tmp();
    try {
      const timm = resolveModel({ arch: 'se_resnet20', classes: 4, input: [3, 16, 16], seed: 3, seWidth: 'timm' });
      const source = buildInferenceGraph(timm);
      const state = new Map(source.initializers.filter((i) => i.kind !== 'constant').map((i) => [i.value.name, i.tensor]));
      writeFileSync(join(dir, 'seresnet20.safetensors'), encodeSafetensors(state));
      const out = join(dir, 'm.onnx');
      const r = runBin('gen-graph', ['se_resnet20', '--classes', '4', '--input', '3x16x16', '--se-width', 'timm', '--weights', join(dir, 'seresnet20.safetensors'), '-o', out]);
      assert.equal(r.status, 0, r.stderr);
      const images = floats(Float32Array.from({ length: 2 * 3 * 16 * 16 }, (_, i) => Math.cos(i)), [2, 3, 16, 16]);
      const [ours, theirs] = await Promise.all([ort.InferenceSession.create(out), session(source, { stateAsInputs: false })]);
      assert.deepEqual(data((await ours.run({ images }))['logits']!), data((await theirs.run({ images }))['logits']!));
      const meta = Object.fromEntries(decodeModel(readFileSync(out)).metadataProps.map((p) => [p.key, p.value]));
      assert.equal(meta['weights_layout'], 'timm');
      assert.equal(meta['se_width'], 'timm');
      const floor = runBin('gen-graph', ['se_resnet20', '--classes', '4', '--input', '3x16x16', '--weights', join(dir, 'seresnet20.safetensors'), '-o', out]);
      assert.equal(floor.status, 1);
      assert.match(floor.stderr, /^gen-graph: .*seresnet20\.safetensors: does not fit se_resnet20 as a timm state_dict: 27 wrongly shaped .*; timm rounds SE widths to multiples of 8: add --se-width timm\n$/);
      // A legacy SE-ResNet file (Cadene's, timm's legacy_seresnet names) fits, with a warning on stderr.
      const legacy = new Map([...state].map(([n, t]) => [n.replace(/^(conv1|bn1)\./, 'layer0.$1.').replace('.se.', '.se_module.').replace(/^fc\./, 'last_linear.'), t]));
      writeFileSync(join(dir, 'legacy.safetensors'), encodeSafetensors(legacy));
      const warned = runBin('gen-graph', ['se_resnet20', '--classes', '4', '--input', '3x16x16', '--se-width', 'timm', '--weights', join(dir, 'legacy.safetensors'), '-o', out]);
      assert.equal(warned.status, 0, warned.stderr);
      assert.match(warned.stderr, /^gen-graph: warning: legacy SE-ResNet weights .* which se_resnet20 does not have \(stem pooling, block layout\): they fit but compute other features until fine-tuned\n$/);
      writeFileSync(join(dir, 'resnet20.pth'), Buffer.from([0x80, 0x02]));
      const pth = runBin('gen-graph', ['resnet20', '--weights', join(dir, 'resnet20.pth'), '-o', out]);
      assert.match(pth.stderr, /^gen-graph: .*resnet20\.pth: a PyTorch pickle, not safetensors .*convert it once: python3 -c .*\n$/);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});
