// export and predict on a real (tiny) trained run: the exported model matches eval_step on the test
// split, runs the same in onnxruntime-web's WebAssembly backend, and predict prints its verdicts.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ortWeb from 'onnxruntime-web';
import * as ortNode from 'onnxruntime-node';
import { runBin } from '../helpers/cli.ts';
import { tinyDataset } from '../report/runs.ts';
import { train } from '../../src/train/trainer.ts';
import type { Progress } from '../../src/train/progress.ts';
import { decodeModel } from '../../src/formats/protobuf.ts';
import { assertOnnxChecks, needsOnnxChecker } from '../helpers/onnx-checker.ts';

const QUIET: Progress = { line: () => undefined, step: () => undefined, status: () => undefined, clear: () => undefined };

describe('export and predict', () => {
  let root = '';
  let run = '';
  let data = '';
  let testTiles: string[] = [];
  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'export-'));
    data = await tinyDataset(root);
    run = join(root, 'runs', 'se_resnet20');
    await train({ data, arch: 'se_resnet20', input: [3, 16, 16], epochs: 2, batchSize: 8, lr: 0.05, threads: 1, workers: 1, seed: 1, out: run }, { progress: QUIET });
    testTiles = (JSON.parse(readFileSync(join(run, 'splits.json'), 'utf8')) as { test: string[] }).test.map((f) => join(data, f));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('exports one fold, checked against eval_step.onnx on the test split, with its metadata', () => {
    const out = join(root, 'fold1.onnx');
    const r = runBin('main', ['export', run, '--fold', '1', '-o', out]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout.toString(), /fold1\.onnx: fold 1; matches eval_step\.onnx on \d+ test tiles \(max probability difference/);
    const model = decodeModel(readFileSync(out));
    const meta = Object.fromEntries(model.metadataProps.map((p) => [p.key, p.value]));
    assert.deepEqual(JSON.parse(meta['class_names']!), ['blue', 'green', 'red']);
    assert.match(meta['input_format']!, /^RGB 0-255/);
    // 24x24 tiles resized to the 16x16 input: the input size is what a caller must feed.
    assert.equal(meta['input_shape'], 'Nx3x16x16');
    assert.equal(meta['source_tile_size'], '24');
    assert.ok(!('tile_size' in meta), 'no bare tile_size to mistake for the input size');
    // How the tiles were prepared, from dataset.json through config.json: ready tiles, no filter, no stain step.
    assert.equal(meta['tile_mpp'], 'none');
    assert.deepEqual(JSON.parse(meta['tissue_detection']!), { method: 'none' });
    assert.deepEqual(JSON.parse(meta['stain_normalization']!), { method: 'none' });
    assert.ok(!model.graph!.node!.some((n) => n.opType === 'BatchNormalization'), 'BatchNorm folded away');
  });

  it('runs the same in onnxruntime-web (WebAssembly) as in onnxruntime-node', async () => {
    const out = join(root, 'ensemble.onnx');
    assert.equal(runBin('main', ['export', run, '-o', out]).status, 0);
    const bytes = readFileSync(out);
    const pixels = Float32Array.from({ length: 2 * 3 * 256 }, (_, i) => (i * 37) % 256);
    ortWeb.env.wasm.numThreads = 1;
    const web = await ortWeb.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
    const node = await ortNode.InferenceSession.create(bytes);
    const pw = (await web.run({ images: new ortWeb.Tensor('float32', pixels, [2, 3, 16, 16]) }))['probabilities']!.data as Float32Array;
    const pn = (await node.run({ images: new ortNode.Tensor('float32', pixels, [2, 3, 16, 16]) }))['probabilities']!.data as Float32Array;
    pn.forEach((p, i) => assert.ok(Math.abs(p - pw[i]!) < 1e-5, `${p} vs ${pw[i]}`));
  });

  it('predict prints file, class and probability; a broken image is reported and the rest still printed', () => {
    const model = join(root, 'fold1.onnx');
    const broken = join(root, 'broken.png');
    writeFileSync(broken, 'not an image');
    const r = runBin('main', ['predict', model, testTiles[0]!, broken, testTiles[1]!]);
    assert.equal(r.status, 1);
    const lines = r.stdout.toString().trim().split('\n');
    assert.equal(lines.length, 2);
    for (const line of lines) assert.match(line, /\t(blue|green|red)\t(0|1)\.\d{4}$/);
    assert.match(r.stderr, /^predict: .*broken\.png: not an image: unrecognised format or corrupt header$/m);
  });

  it('export --explain adds Grad-CAM: the class input (default -1), the cam output, its layer in the metadata', async () => {
    const out = join(root, 'explain.onnx');
    const r = runBin('main', ['export', run, '--explain', '--layer', 'layer2', '-o', out]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout.toString(), /explain\.onnx: ensemble of folds 1, 2; matches eval_step\.onnx on \d+ test tiles \(max probability difference .*\); Grad-CAM of layer2 as output cam \[N,8,8\]\n$/);
    const model = decodeModel(readFileSync(out));
    assert.deepEqual(model.graph!.input!.map((v) => v.name), ['images', 'class']);
    assert.deepEqual(model.graph!.output!.map((v) => v.name), ['logits', 'probabilities', 'cam']);
    assert.ok(!model.graph!.node!.some((n) => n.opType === 'BatchNormalization'), 'BatchNorm folded away, in the backward pass too');
    const meta = Object.fromEntries(model.metadataProps.map((p) => [p.key, p.value]));
    assert.equal(meta['gradcam_layer'], 'layer2');
    assert.match(meta['gradcam']!, /each fold's map for the ensemble's class, averaged/);
    // The same probabilities as the export without Grad-CAM.
    const plain = join(root, 'plain.onnx');
    assert.equal(runBin('main', ['export', run, '-o', plain]).status, 0);
    const images = new ortNode.Tensor('float32', Float32Array.from({ length: 2 * 3 * 256 }, (_, i) => (i * 53) % 256), [2, 3, 16, 16]);
    const [a, b] = [await (await ortNode.InferenceSession.create(out)).run({ images }), await (await ortNode.InferenceSession.create(plain)).run({ images })];
    assert.deepEqual(a['probabilities']!.data, b['probabilities']!.data);
    assert.deepEqual(a['cam']!.dims, [2, 8, 8]);
    const error = (args: string[]): string => runBin('main', ['export', run, ...args, '-o', join(root, 'none.onnx')]).stderr;
    assert.equal(error(['--layer', 'layer2']), 'senet-ort: --layer applies to --explain (the Grad-CAM layer)\n');
    assert.match(error(['--explain', '--layer', 'layer9']), /^senet-ort: expected one of stem, layer1\.0, .* for --layer but received "layer9"\n$/);
    assert.ok(!existsSync(join(root, 'none.onnx')));
  });

  it('export --explain models pass the ONNX checker\'s full check (one fold and an ensemble)', { skip: needsOnnxChecker() }, () => {
    for (const args of [['--fold', '1'], []]) {
      const out = join(root, `checked${args.length}.onnx`);
      assert.equal(runBin('main', ['export', run, ...args, '--explain', '-o', out]).status, 0);
      assertOnnxChecks(out);
    }
  });

  it('refuses what cannot be exported, with one line and no file', () => {
    const out = join(root, 'none.onnx');
    const cases: [string[], RegExp][] = [
      [['export', join(root, 'nowhere'), '-o', out], /^senet-ort: .*nowhere.*\n$/],
      [['export', run, '--fold', '0', '-o', out], /^senet-ort: expected positive integer for --fold but received 0\n$/],
      [['export', run, '--fold', '9', '-o', out], /^senet-ort: .*fold-9.*\n$/],
      [['export', run, '--fold', '1', '--ensemble', '-o', out], /^senet-ort: give --fold k or --ensemble, not both\n$/],
    ];
    for (const [args, message] of cases) {
      const r = runBin('main', args);
      assert.equal(r.status, 1, args.join(' '));
      assert.match(r.stderr, message);
    }
    assert.ok(!existsSync(out));
  });
});
