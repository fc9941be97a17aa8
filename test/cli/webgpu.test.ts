// --device webgpu in the commands that run graphs outside training (evaluate, export's check,
// predict) and in doctor, on a tiny trained run: without an adapter every command stops with the
// reason in one line, exit 1, before it writes anything; with one (SwiftShader under CI: .ci/run
// sets VK_ICD_FILENAMES) each gives what it gives on the CPU. Child processes run src through tsx.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseCsv } from '../../src/formats/csv.ts';
import { executionProviders } from '../../src/infer/session.ts';
import { webgpuStatus } from '../../src/infer/webgpu.ts';
import type { Progress } from '../../src/train/progress.ts';
import { train } from '../../src/train/trainer.ts';
import { REPO } from '../data/fixtures.ts';
import { needs } from '../helpers/needs.ts';
import { tinyDataset } from '../report/runs.ts';

const QUIET: Progress = { line: () => undefined, step: () => undefined, status: () => undefined, clear: () => undefined };

/** The loader takes VK_DRIVER_FILES over VK_ICD_FILENAMES: naming a missing file in both leaves it no driver. */
const NO_ADAPTER: NodeJS.ProcessEnv = { ...process.env, VK_ICD_FILENAMES: '/nonexistent.json', VK_DRIVER_FILES: '/nonexistent.json' };

// Where the package has no WebGPU provider (linux/arm64) there is nothing CI could provide: skip.
const status = await webgpuStatus();
const gpuSkip = executionProviders().some((p) => p.name === 'webgpu')
  ? needs(status.usable, `a WebGPU adapter (${status.reason}; without a GPU: export VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json)`)
  : `no WebGPU provider in this onnxruntime-node build (${status.reason})`;
// The refusals simulate a machine without a Vulkan driver, which only the Linux loader reads the variables for.
const noAdapterSkip = process.platform === 'linux' ? false : 'VK_ICD_FILENAMES hides the adapter only on Linux';

function run(bin: 'main' | 'ort-train', args: readonly string[], env: NodeJS.ProcessEnv = process.env): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(REPO, 'src', 'cli', `${bin}.ts`), ...args], { cwd: REPO, env, encoding: 'utf8', timeout: 300_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Every file under `dir` with its size and mtime: what "nothing written" compares. */
function snapshot(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort().map((f) => {
    const s = statSync(join(dir, f));
    return `${f} ${s.size} ${s.mtimeMs}`;
  });
}

/** Dawn's own stderr lines (SwiftShader without a display prints one about XDG_RUNTIME_DIR), left out. */
const ours = (stderr: string): string => stderr.split('\n').filter((l) => !/XDG_RUNTIME_DIR/.test(l)).join('\n');

/** The class probabilities of a predictions CSV (evaluate's), by file. */
function probabilities(csv: string): Map<string, number[]> {
  const [, ...rows] = parseCsv(csv);
  return new Map(rows.map((r) => [r[0]!, r.slice(3).map(Number)]));
}

function maxDifference(a: Map<string, number[]>, b: Map<string, number[]>): number {
  assert.deepEqual([...a.keys()], [...b.keys()]);
  let worst = 0;
  for (const [file, row] of a) row.forEach((p, k) => (worst = Math.max(worst, Math.abs(p - b.get(file)![k]!))));
  return worst;
}

describe('--device webgpu', () => {
  let root = '';
  let data = '';
  let runDir = '';
  let tiles: string[] = [];
  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'senet-ort-webgpu-cli-'));
    data = await tinyDataset(root);
    runDir = join(root, 'runs', 'se_resnet20');
    // Trained on the CPU: one fold, one epoch; the SE network, so evaluate's gates run on the GPU too.
    await train({ data, arch: 'se_resnet20', input: [3, 16, 16], epochs: 1, batchSize: 8, lr: 0.05, threads: 1, workers: 1, seed: 1, folds: [1], out: runDir }, { progress: QUIET });
    tiles = (JSON.parse(readFileSync(join(runDir, 'splits.json'), 'utf8')) as { test: string[] }).test.map((f) => join(data, f));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  describe('without an adapter', { skip: noAdapterSkip }, () => {
    const REASON = /--device webgpu: no Vulkan driver \(ICD manifest\): the files named by VK_DRIVER_FILES \(\/nonexistent\.json\) do not exist/;
    const refused = (r: { code: number | null; stdout: string; stderr: string }, prefix: string): void => {
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, new RegExp(`^${prefix}: ${REASON.source}[^\\n]*\\n$`));
    };

    it('evaluate, export and predict stop in one line, exit 1, writing nothing', () => {
      const before = snapshot(runDir);
      refused(run('main', ['evaluate', runDir, '--device', 'webgpu', '--threads', '1'], NO_ADAPTER), 'senet-ort');
      const model = join(root, 'refused.onnx');
      refused(run('main', ['export', runDir, '--fold', '1', '-o', model, '--device', 'webgpu'], NO_ADAPTER), 'senet-ort');
      assert.ok(!existsSync(model));
      // predict reads a model first only to check it; any file will do, as the device check comes first.
      refused(run('main', ['predict', join(runDir, 'model.onnx'), tiles[0]!, '--device', 'webgpu'], NO_ADAPTER), 'senet-ort');
      assert.deepEqual(snapshot(runDir), before);
    });

    it('study and ort-train stop before a folder is made', () => {
      const study = join(root, 'study');
      refused(run('main', ['study', '--root', study, '--device', 'webgpu', '--epochs', '1'], NO_ADAPTER), 'senet-ort');
      assert.ok(!existsSync(study));
      const out = join(root, 'ort-train');
      refused(run('ort-train', ['--data', data, '--arch', 'resnet20', '--out', out, '--device', 'webgpu', '--epochs', '1'], NO_ADAPTER), 'ort-train');
      assert.ok(!existsSync(out));
    });

    it('a device that is none of cpu, cuda, webgpu names the choices', () => {
      for (const args of [['predict', join(runDir, 'model.onnx'), tiles[0]!], ['export', runDir, '-o', join(root, 'x.onnx')], ['evaluate', runDir]]) {
        const r = run('main', [...args, '--device', 'tpu']);
        assert.equal(r.code, 1, args[0]);
        assert.equal(r.stderr, 'senet-ort: expected cpu, cuda or webgpu for --device but received "tpu"\n');
      }
    });

    it('doctor says why there is no adapter, and still checks the rest', () => {
      const r = run('main', ['doctor'], NO_ADAPTER);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^webgpu\s+not usable: no Vulkan driver \(ICD manifest\): the files named by VK_DRIVER_FILES \(\/nonexistent\.json\) do not exist; install the GPU's driver$/m);
      assert.match(r.stdout, /^train step\s+resnet20, batch 16 of 3x32x32 on cpu/m);
    });
  });

  describe('on an adapter', { skip: gpuSkip }, () => {
    it('doctor names the adapter', () => {
      const r = run('main', ['doctor']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^webgpu\s+usable: a WebGPU adapter runs kernels \(.+\)/m);
    });

    it('evaluate gives the CPU\'s probabilities, with a last batch padded to the fixed batch', () => {
      const cpu = run('main', ['evaluate', runDir, '--threads', '1']);
      assert.equal(cpu.code, 0, cpu.stderr);
      const expected = probabilities(readFileSync(join(runDir, 'fold-1', 'test-predictions.csv'), 'utf8'));
      const cpuMetrics = JSON.parse(readFileSync(join(runDir, 'metrics.json'), 'utf8'));
      // 9 test tiles in batches of 4: the last batch is one tile and three of padding.
      assert.equal(tiles.length % 4, 1);
      const gpu = run('main', ['evaluate', runDir, '--threads', '1', '--device', 'webgpu', '--batch-size', '4']);
      assert.equal(gpu.code, 0, gpu.stderr);
      assert.doesNotMatch(ours(gpu.stderr), /warning/);
      const got = probabilities(readFileSync(join(runDir, 'fold-1', 'test-predictions.csv'), 'utf8'));
      assert.ok(maxDifference(expected, got) < 1e-4, `largest probability difference ${maxDifference(expected, got)}`);
      const gpuMetrics = JSON.parse(readFileSync(join(runDir, 'metrics.json'), 'utf8'));
      assert.equal(gpuMetrics.folds[0].metrics.accuracy, cpuMetrics.folds[0].metrics.accuracy);
      // The SE gates came back too.
      assert.ok(existsSync(join(runDir, 'excitation.json')));
    });

    it('export checks the model against eval_step.onnx on the GPU and writes the same file as on the CPU', () => {
      const onCpu = join(root, 'cpu.onnx');
      const onGpu = join(root, 'webgpu.onnx');
      assert.equal(run('main', ['export', runDir, '--fold', '1', '-o', onCpu, '--threads', '1']).code, 0);
      const r = run('main', ['export', runDir, '--fold', '1', '-o', onGpu, '--threads', '1', '--device', 'webgpu']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /webgpu\.onnx: fold 1; matches eval_step\.onnx on 9 test tiles on webgpu \(max probability difference /);
      assert.ok(readFileSync(onGpu).equals(readFileSync(onCpu)));
    });

    it('predict gives the CPU\'s verdicts, in batches of a fixed size', () => {
      const model = join(root, 'cpu.onnx');
      const files = tiles.slice(0, 5);
      const cpu = run('main', ['predict', model, ...files, '--json', '--threads', '1']);
      assert.equal(cpu.code, 0, cpu.stderr);
      const gpu = run('main', ['predict', model, ...files, '--json', '--threads', '1', '--device', 'webgpu', '--batch-size', '2']);
      assert.equal(gpu.code, 0, gpu.stderr);
      assert.doesNotMatch(ours(gpu.stderr), /warning/);
      type Out = { predictions: { file: string; label: string; probabilities: number[] }[] };
      const a = JSON.parse(cpu.stdout) as Out;
      const b = JSON.parse(gpu.stdout) as Out;
      assert.deepEqual(b.predictions.map((p) => p.file), files);
      assert.deepEqual(b.predictions.map((p) => p.label), a.predictions.map((p) => p.label));
      a.predictions.forEach((p, i) => p.probabilities.forEach((v, k) => assert.ok(Math.abs(v - b.predictions[i]!.probabilities[k]!) < 1e-4, `${p.file} class ${k}`)));
    });
  });
});
