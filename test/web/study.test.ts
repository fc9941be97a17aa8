// The study in the browser app, run under Node on onnxruntime-web's WebAssembly build (the page runs
// the same code in Chromium: test/web/page/demo.test.ts): on the embedded sample with the demo's
// options, its study folder, zipped and unpacked, is read by `senet-ort report`, `evaluate` and
// `export` as any run folder, and its data set is the CLI's. Its options are `study`'s quick preset.
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, it } from 'node:test';
import * as ortWeb from 'onnxruntime-web';
import sharp from 'sharp';
import { decodeTile } from '../../src/data/decode.ts';
import { UserError } from '../../src/errors.ts';
import { prepareSource } from '../../src/data/prepare.ts';
import type { PreparedDataset } from '../../src/data/prepared.ts';
import { readZip, writeZip } from '../../src/formats/zip.ts';
import { resolveTrainOptions } from '../../src/train/options.ts';
import type { StudyEnvironment, StudyResult } from '../../src/web/study.ts';
import { DEMO_SETTINGS, runBrowserStudy, trainOptions } from '../../src/web/study.ts';
import type { SourceImage } from '../../src/web/tiles.ts';
import { SAMPLE, tempDir } from '../data/fixtures.ts';
import { runBin } from '../helpers/cli.ts';

async function sampleImages(): Promise<SourceImage[]> {
  const walk = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : [join(d, e.name)]));
  return Promise.all(walk(SAMPLE).filter((p) => p.endsWith('.png')).map(async (p) => ({ source: relative(SAMPLE, p), width: 150, height: 150, rgb: await decodeTile(p, 150, 150) })));
}

/** Unpack a zip's files under `dir`. */
function unpack(zip: Uint8Array, dir: string): void {
  for (const e of readZip(zip)) {
    mkdirSync(dirname(join(dir, e.path)), { recursive: true });
    writeFileSync(join(dir, e.path), e.data);
  }
}

describe('runBrowserStudy', () => {
  let result: StudyResult;

  it('trains and compares both networks on every fold of the embedded sample (the demo\'s options)', async () => {
    ortWeb.env.wasm.numThreads = 1;
    result = await runBrowserStudy('kather2016-crc-texture-sample', await sampleImages(), DEMO_SETTINGS, {
      ort: ortWeb, backend: 'wasm', threads: 1,
      versions: { 'senet-ort': 'test' }, machine: { platform: 'node', arch: process.arch, cpus: 1, cpuModel: 'test' },
      encodePng: async (rgb, size) => new Uint8Array(await sharp(rgb, { raw: { width: size, height: size, channels: 3 } }).png().toBuffer()),
      sha256: async (bytes) => Buffer.from(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>)).toString('hex'),
    });
    assert.deepEqual(result.summary.archs, ['resnet20', 'se_resnet20']);
    for (const arch of result.summary.archs) {
      assert.equal(result.summary.accuracy[arch]!.length, 4);
      for (const a of result.summary.accuracy[arch]!) assert.ok(a >= 0 && a <= 1 && Number.isInteger(a * 15), `${arch}: ${a} is a share of 15 test tiles`);
    }
    assert.match(result.summary.verdict, /significant|difference|better/);
    for (const m of result.models) assert.ok(m.maxDifference < 1e-4, `${m.arch}: export check ${m.maxDifference}`);
    // The SE network's excitation analysis (the paper's sec. 7.2) is in its run and in the report.
    const excitation = result.files.find((f) => f.path === `${result.name}/se_resnet20/excitation.json`);
    const analysis = JSON.parse(new TextDecoder().decode(excitation!.data)) as { folds: { fold: number; source: string; tiles: number[]; blocks: { name: string; channels: number }[] }[] };
    assert.deepEqual(analysis.folds.map((f) => f.fold), [1, 2, 3, 4]);
    assert.equal(analysis.folds[0]!.blocks.length, 9);
    assert.deepEqual(analysis.folds[0]!.blocks.map((b) => b.channels), [16, 16, 16, 32, 32, 32, 64, 64, 64]);
    assert.equal(analysis.folds[0]!.tiles.reduce((a, b) => a + b, 0), 15);
    assert.match(analysis.folds[0]!.source, /^fold 1 model \(last checkpoint, epoch 2\) on the 15 test tiles$/);
    assert.ok(!result.files.some((f) => f.path === `${result.name}/resnet20/excitation.json`));
    assert.match(result.reportHtml, /<section id="excitation"/);
  });

  it('writes a study folder that senet-ort report, evaluate and export read, on the CLI\'s data set', async (t) => {
    const dir = tempDir(t);
    unpack(writeZip(result.files), dir);
    const root = join(dir, result.name);
    const [a, b] = result.summary.archs.map((arch) => join(root, arch));
    const cli = join(dir, 'cli-data');
    await prepareSource({ source: SAMPLE, output: cli });
    assert.equal(readFileSync(join(root, 'data', 'splits.json'), 'utf8'), readFileSync(join(cli, 'splits.json'), 'utf8'));
    assert.equal(readFileSync(join(a!, 'splits.json'), 'utf8'), readFileSync(join(cli, 'splits.json'), 'utf8'));

    const report = runBin('main', ['report', a!, b!, '-o', join(dir, 'report.html'), '--no-plots']);
    assert.equal(report.status, 0, report.stderr);
    // The CLI's comparison of the folder is the page's: the same tests and decision (the page also says
    // why accuracy is the primary metric, as study does; report without --metric does not).
    const cliComparison = (JSON.parse(readFileSync(join(dir, 'comparison.json'), 'utf8')) as { comparison: typeof result.comparison }).comparison;
    assert.deepEqual(cliComparison.folds, result.comparison.folds);
    assert.deepEqual(cliComparison.testSplit, result.comparison.testSplit);
    assert.equal(cliComparison.verdict.decision, result.comparison.verdict.decision);
    assert.equal(cliComparison.verdict.primaryPValue, result.comparison.verdict.primaryPValue);
    assert.match(readFileSync(join(dir, 'report.html'), 'utf8'), /resnet20 vs se_resnet20/);

    const evaluate = runBin('main', ['evaluate', a!, '--threads', '1']);
    assert.equal(evaluate.status, 0, evaluate.stderr);
    assert.match(evaluate.stdout.toString(), /^resnet20 on 15 test tiles \(last checkpoint\):/);
    const exported = runBin('main', ['export', b!, '-o', join(dir, 'se.onnx'), '--threads', '1']);
    assert.equal(exported.status, 0, exported.stderr);
    assert.match(exported.stdout.toString(), /ensemble of folds 1, 2, 3, 4; matches eval_step\.onnx on 15 test tiles/);
  });

  it('trains with senet-ort study\'s options: the quick preset, as resolveTrainOptions resolves it', () => {
    const dataset = { dir: '/data', classes: ['a', 'b', 'c'], tileSize: 150, splits: { folds: [{}, {}, {}, {}] } } as unknown as PreparedDataset;
    for (const settings of [DEMO_SETTINGS, { ...DEMO_SETTINGS, epochs: 15, itersPerEpoch: null, input: [3, 64, 64] as const, batchSize: 16 }]) {
      const cli = resolveTrainOptions({ preset: 'quick', arch: 'se_resnet20', input: settings.input, epochs: settings.epochs, batchSize: settings.batchSize, itersPerEpoch: settings.itersPerEpoch, threads: 2 }, dataset);
      const page = trainOptions(settings, 'se_resnet20', 3, 4, { backend: 'wasm', threads: 2 });
      // Where the data and the run are, and how many loader workers, are the page's own.
      const { data: _d, out: _o, workers: _w, kernels, ...rest } = page;
      const { data: _cd, out: _co, workers: _cw, kernels: _ck, ...cliRest } = cli;
      assert.deepEqual(rest, cliRest);
      assert.equal(kernels, 'portable');
    }
  });

  it('refuses folds and a test share outside split\'s bounds in one line, before tiling anything', async () => {
    const phases: string[] = [];
    const env = { backend: 'wasm', threads: 1 } as unknown as StudyEnvironment;
    for (const [split, reason] of [
      [{ folds: 1 }, /^expected a whole number of folds from 2 to 1000 but received 1$/],
      [{ folds: 2.5 }, /^expected a whole number of folds from 2 to 1000 but received 2\.5$/],
      [{ testFraction: 1 }, /^expected a test share from 0 up to \(not including\) 1 but received 1$/],
      [{ testFraction: Number.NaN }, /received NaN$/],
    ] as const) {
      await assert.rejects(runBrowserStudy('x', [], { ...DEMO_SETTINGS, split: { ...DEMO_SETTINGS.split, ...split } }, env, { onPhase: (p) => phases.push(p) }), (err: Error) => err instanceof UserError && reason.test(err.message));
    }
    assert.deepEqual(phases, []);
  });
});
