// Training on WebGPU as a user runs it: a tiny fold with the state kept on the GPU, killed with
// SIGKILL and resumed, against the same run uninterrupted; a run moving between CPU and WebGPU; the
// portable step refused there. On SwiftShader (CI) every step is slow: the runs are a few steps.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readFoldState } from '../../src/formats/rundir.ts';
import { createProgress } from '../../src/train/progress.ts';
import type { TrainInput } from '../../src/train/options.ts';
import { train } from '../../src/train/trainer.ts';
import { REPO, tempDir } from '../data/fixtures.ts';
import { webgpuSkip } from '../helpers/webgpu.ts';
import { syntheticData } from './fixtures.ts';

const BIN = join(REPO, 'src', 'cli', 'ort-train.ts');
const tiny = { arch: 'resnet20', input: [3, 16, 16], fold: '1', batchSize: 4, itersPerEpoch: 2, lr: 0.05, threads: 2, workers: 1 } as const;
const flags = (data: string, out: string, epochs: number, device = 'webgpu'): string[] => [
  '--data', data, '--out', out, '--arch', tiny.arch, '--input', '3x16x16', '--fold', tiny.fold, '--batch-size', String(tiny.batchSize),
  '--iters-per-epoch', String(tiny.itersPerEpoch), '--lr', String(tiny.lr), '--threads', '2', '--workers', '1', '--epochs', String(epochs), '--device', device,
];
const input = (data: string, out: string, epochs: number, more: TrainInput = {}): TrainInput => ({
  data, out, arch: tiny.arch, input: [...tiny.input], folds: [1], batchSize: tiny.batchSize, itersPerEpoch: tiny.itersPerEpoch, lr: tiny.lr, threads: 2, workers: 1, epochs, device: 'webgpu', ...more,
});
const checkpoint = (run: string, epoch: number): Buffer => readFileSync(join(run, 'fold-1', 'checkpoints', `epoch-${epoch}.safetensors`));

function ortTrain(...argv: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', BIN, ...argv], { cwd: REPO, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('training on WebGPU', async () => {
  const skip = await webgpuSkip();
  let root = '';
  let data = '';
  before(async () => {
    if (skip) return;
    root = mkdtempSync(join(tmpdir(), 'senet-ort-webgpu-train-'));
    data = await syntheticData(root);
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('a fold trains with the state on the GPU, says so, and writes the same checkpoint files as on the CPU', { skip }, async () => {
    const out = join(root, 'whole');
    const lines: string[] = [];
    await train(input(data, out, 3), { progress: createProgress(null, (l) => lines.push(l)) });
    const text = lines.join('\n');
    assert.match(text, /training step: webgpu kernels/);
    assert.match(text, /webgpu: the training state stays on the GPU; per step 12\.0 KiB go up \(the batch\) and 52 B come down/);
    assert.doesNotMatch(text, /warning: ONNX Runtime runs/, 'a heavy node of the step runs on the CPU');
    assert.match(readFileSync(join(out, 'fold-1', 'train.log'), 'utf8'), /device webgpu, webgpu kernels/);
    // The checkpoint holds the state read back from the GPU: finite, and moved from init.
    assert.equal(readFoldState(out, 1)?.epochsDone, 3);
    assert.ok(checkpoint(out, 3).length > 1000);
  });

  it('kill -9 mid-run, then --resume: the same final checkpoint as the uninterrupted run, byte for byte (the provider is deterministic here)', { skip }, async () => {
    const killed = join(root, 'killed');
    const child = spawn(process.execPath, ['--import', 'tsx', BIN, ...flags(data, killed, 3)], { cwd: REPO, stdio: 'ignore' });
    const exit = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_, signal) => resolve(signal)));
    while ((readFoldState(killed, 1)?.epochsDone ?? 0) < 1 && child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGKILL');
    assert.equal(await exit, 'SIGKILL', 'the run ended before it could be killed');
    const stopped = readFoldState(killed, 1)!;
    assert.ok(stopped.epochsDone >= 1 && stopped.epochsDone < 3, `killed after epoch ${stopped.epochsDone}`);
    const resumed = ortTrain('--out', killed, '--resume');
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stdout, /^fold 1: 3 epochs, best epoch \d/m);
    assert.ok(checkpoint(killed, 3).equals(checkpoint(join(root, 'whole'), 3)), 'final checkpoints differ');
  });

  it('a run moves between devices: an epoch on the CPU, resumed on WebGPU from the same checkpoint file', { skip }, async () => {
    const moved = join(root, 'moved');
    // Stopped at the step after epoch 1 is committed, as a sweep task's SIGTERM stops it.
    const stop = new AbortController();
    const progress = createProgress(null, (line) => {
      if (line.startsWith('fold 1 epoch 1/2')) stop.abort('moving to the GPU');
    });
    await assert.rejects(train(input(data, moved, 2, { device: 'cpu' }), { progress, signal: stop.signal }), /stopped before step 1/);
    assert.equal(readFoldState(moved, 1)?.epochsDone, 1);
    const resumed = ortTrain('--out', moved, '--resume', '--device', 'webgpu');
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(readFileSync(join(moved, 'fold-1', 'train.log'), 'utf8'), /resumed fold 1 of resnet20 after epoch 1, from checkpoints\/epoch-1\.safetensors \(threads 2, device webgpu, webgpu kernels/);
    assert.equal(readFoldState(moved, 1)?.epochsDone, 2);
  });

  it('--kernels portable and x64 on WebGPU are refused in one line before anything is written', { skip }, () => {
    for (const [kernels, message] of [
      ['portable', /^ort-train: --kernels portable: ONNX Runtime's WebGPU provider computes the portable step's grouped convs wrongly[^\n]*\n$/],
      ['x64', /^ort-train: --kernels x64: the x64 kernels run on the CPU; use --device cpu, or --kernels webgpu on --device webgpu\n$/],
    ] as const) {
      const out = join(root, kernels);
      const r = ortTrain(...flags(data, out, 1), '--kernels', kernels);
      assert.equal(r.code, 1);
      assert.match(r.stderr, message);
      assert.equal(existsSync(out), false, `${kernels}: the run folder was made`);
    }
  });
});

describe('--device webgpu without an adapter', () => {
  it('stops with the reason in one line, exit 1, and writes nothing', (t) => {
    const root = tempDir(t, 'senet-ort-webgpu-none-');
    const out = join(root, 'run');
    const r = spawnSync(process.execPath, ['--import', 'tsx', BIN, '--data', join(root, 'nothing'), '--out', out, '--arch', 'resnet20', '--device', 'webgpu'], {
      cwd: REPO, encoding: 'utf8', env: { ...process.env, VK_ICD_FILENAMES: join(root, 'no-such-driver.json'), VK_DRIVER_FILES: join(root, 'no-such-driver.json') },
    });
    assert.equal(r.status, 1);
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /^ort-train: --device webgpu: (no Vulkan driver|no WebGPU adapter|this onnxruntime-node build)/);
    assert.equal(existsSync(out), false);
  });
});
