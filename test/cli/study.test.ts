// End to end: `senet-ort study` (what `npm start` runs) on the embedded Kather sample, at toy size.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseCsv } from '../../src/formats/csv.ts';
import { runStudy, studyPair } from '../../src/study/study.ts';
import { PATIENTS, patientPatches, REPO, tempDir } from '../data/fixtures.ts';

function senet(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(REPO, 'src', 'cli', 'main.ts'), ...args], { cwd: REPO, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('study', () => {
  it('tiles, splits by slide, trains ResNet and SE-ResNet on every fold and writes the test accuracy table', (t) => {
    const root = join(tempDir(t), 'study');
    const toy = ['--root', root, '--input', '3x16x16', '--epochs', '1', '--batch-size', '16', '--folds', '2', '--threads', '2'];
    const r = senet('study', ...toy);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^study: resnet20 vs se_resnet20 on .*data\/kather2016-crc-texture-sample$/m);
    assert.match(r.stdout, /^split 80 tiles by \/CRC-Prim-HE-\\d\+\/ on file names: test 0\.2, 2 folds, seed 0 -> /m);
    assert.match(r.stdout, /^fold 2 epoch 1\/1 /m);
    assert.match(r.stdout, /^test accuracy on \d+ held-out tiles \(each fold's model after its last epoch\):\nfold\s+resnet20\s+se_resnet20\n1\s+0\.\d{4}\s+0\.\d{4}\n2\s+0\.\d{4}\s+0\.\d{4}\nmean\s+0\.\d{4}\s+0\.\d{4}\nstd\s+0\.\d{4}\s+0\.\d{4}\nensemble\s+0\.\d{4}\s+0\.\d{4}$/m);
    // The sample has 10 tiles of every class: accuracy stays the primary metric (its small test split is skewed
    // by the grouping, 1 to 4 tiles a class, which does not count), and the study says why.
    assert.match(r.stdout, /^primary metric: accuracy, since the data set's classes are balanced within 2:1, at 1:1 \(10 tiles of every class\)$/m);
    const csv = readFileSync(join(root, 'accuracy.csv'), 'utf8').trim().split('\n');
    assert.equal(csv[0], 'fold,resnet20,se_resnet20');
    assert.deepEqual(csv.map((l) => l.split(',')[0]), ['fold', '1', '2', 'mean', 'std', 'ensemble']);
    const summary = JSON.parse(readFileSync(join(root, 'study.json'), 'utf8'));
    assert.deepEqual(Object.keys(summary.runs), ['resnet20', 'se_resnet20']);
    assert.equal(summary.accuracy.resnet20.folds.length, 2);
    assert.equal(summary.primaryMetric.metric, 'accuracy');
    assert.equal(summary.balancedAccuracy.se_resnet20.folds.length, 2);
    for (const arch of ['resnet20', 'se_resnet20']) {
      for (const f of ['config.json', 'evaluation.json', 'fold-1/log.jsonl', 'fold-2/test-predictions.csv']) assert.ok(existsSync(join(root, arch, f)), `${arch}/${f}`);
    }

    // Run again: everything is there, so it only evaluates, and gets the same numbers.
    const again = senet('study', ...toy);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^fold 1: already finished \(1 epoch\); skipped$/m);
    assert.equal(readFileSync(join(root, 'accuracy.csv'), 'utf8'), `${csv.join('\n')}\n`);
  });

  it('runs on patches that are tiles already, named after their patient, keeping every patient on one side', async (t) => {
    const dir = tempDir(t);
    const patches = await patientPatches(dir);
    const root = join(dir, 'study');
    const r = senet('study', patches, '--root', root, '--group-regex', '^\\d+', '--input', '3x16x16', '--epochs', '1', '--batch-size', '16', '--folds', '2', '--threads', '2');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^tiled 60 sources into 60 tiles in .*\/study\/data \(pass-through, white filter off\)\ntile size 48 px, as the images are: 60 of the 63 images are 48x48 tiles already \(--tile sets another\)$/m);
    const rejected = parseCsv(readFileSync(join(root, 'data', 'rejected.csv'), 'utf8')).slice(1);
    assert.deepEqual(rejected.map((row) => row[1]!.replace(/^image is \d+x\d+, /, '')), new Array(3).fill('smaller than the 48x48 tile size that 60 of the 63 images have'));
    assert.match(r.stdout, /^split 60 tiles by \/\^\\d\+\/ on file names: test 0\.2, 2 folds, seed 0 -> /m);
    assert.match(r.stdout, /^verdict: /m);

    // Every tile's group is the patient its name begins with, and every patient is on one side only:
    // the test split, or one fold's validation tiles (and training in the other folds).
    const splits = JSON.parse(readFileSync(join(root, 'data', 'splits.json'), 'utf8')) as { test: string[]; folds: { train: string[]; val: string[] }[]; tileGroups: Record<string, string> };
    const patient = (file: string): string => /^[01]__(\d+)_idx5_/.exec(file)![1]!;
    for (const [file, group] of Object.entries(splits.tileGroups)) assert.equal(group, patient(file), file);
    const side = new Map<string, string>();
    const place = (files: readonly string[], where: string): void => {
      for (const f of files) {
        assert.equal(side.get(patient(f)) ?? where, where, `patient ${patient(f)} in ${side.get(patient(f))} and ${where}`);
        side.set(patient(f), where);
      }
    };
    place(splits.test, 'test');
    splits.folds.forEach((fold, k) => place(fold.val, `fold ${k + 1} validation`));
    assert.deepEqual([...side.keys()].sort(), [...PATIENTS].sort());
    for (const [k, fold] of splits.folds.entries()) {
      const held = new Set([...splits.test, ...fold.val].map(patient));
      assert.deepEqual(fold.train.filter((f) => held.has(patient(f))), [], `fold ${k + 1} trains on a held-out patient`);
    }
    const summary = JSON.parse(readFileSync(join(root, 'study.json'), 'utf8'));
    assert.equal(summary.testTiles, splits.test.length);
    assert.equal(summary.accuracy.se_resnet20.folds.length, 2);
  });

  it('doctor: versions, execution providers, threads, CUDA, WebGPU, and one training step', () => {
    const r = senet('doctor');
    assert.equal(r.code, 0, r.stderr);
    for (const line of [/^node\s+v\d+/m, /^onnxruntime\s+\d+\.\d+\.\d+ /m, /^sharp\s+\S+ \(libvips \S+\)$/m, /^threads\s+ort-train uses \d+ ONNX Runtime threads/m,
      /^providers\s+cpu/m, /^cuda\s+(usable|not usable): /m, /^webgpu\s+(usable|not usable): /m,
      // x86-64 CPUs have ONNX Runtime's NCHWc kernels (block 8 with AVX2, 16 with AVX-512), and doctor's step uses them.
      process.arch === 'x64' ? /^kernels\s+x64: ONNX Runtime's NCHWc kernels with a block of (8|16),/m : /^kernels\s+portable: /m,
      /^train step\s+resnet20, batch 16 of 3x32x32 on cpu, (x64 kernels \(NCHWc block (8|16)\)|portable kernels): \d+ ms \(\d+ images\/s\), loss \d\.\d{4}$/m]) {
      assert.match(r.stdout, line);
    }
  });

  it('--arch names the plain network of the pair', async () => {
    await assert.rejects(runStudy({ arch: 'se_resnet20' }), { message: '--arch names the plain network of the pair (the study adds its SE twin); received se_resnet20, try resnet20' });
    assert.throws(() => studyPair('legacy_se_resnet50'), { message: '--arch names the plain network of the pair (the study adds its SE twin); received legacy_se_resnet50, try legacy_resnet50' });
    assert.throws(() => studyPair('resnet19'), /^UserError: unknown architecture "resnet19"; known: /);
  });

  it('pairs each plain network with the SE network of its own layout', () => {
    assert.deepEqual(studyPair('resnet20'), ['resnet20', 'se_resnet20']);
    assert.deepEqual(studyPair('legacy_resnet50'), ['legacy_resnet50', 'legacy_se_resnet50']);
    assert.deepEqual(studyPair('legacy_resnet18'), ['legacy_resnet18', 'legacy_se_resnet18']);
  });

  it('--init and --se-init start the pair from a pair of state_dicts, and go together', async () => {
    const message = '--init and --se-init go together: the plain network starts from --init, its SE twin from --se-init (an SE-ResNet state_dict)';
    await assert.rejects(runStudy({ train: { init: 'resnet20.safetensors' } }), { message });
    await assert.rejects(runStudy({ seInit: 'se_resnet20.safetensors' }), { message });
  });
});
