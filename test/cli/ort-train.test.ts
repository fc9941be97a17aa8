// End to end: the `ort-train` bin as a user runs it (src through tsx, as child processes), on the embedded Kather sample.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createProgress } from '../../src/train/progress.ts';
import { readFoldState, readRunConfig } from '../../src/formats/rundir.ts';
import { train } from '../../src/train/trainer.ts';
import { REPO, splitSample } from '../data/fixtures.ts';
import { buildInferenceGraph, resolveModel } from '../../src/graph/model.ts';
import { encodeSafetensors } from '../../src/formats/safetensors.ts';
import { nchwcBlock } from '../../src/train/kernels.ts';

const BIN = join(REPO, 'src', 'cli', 'ort-train.ts');
const args = (data: string, out: string): string[] => [
  '--data', data, '--out', out, '--arch', 'resnet20', '--input', '3x16x16', '--fold', '1', '--batch-size', '8', '--lr', '0.05', '--threads', '2',
];

function ortTrain(...argv: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', BIN, ...argv], { cwd: REPO, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('ort-train', () => {
  let root = '';
  let data = '';
  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'senet-ort-train-'));
    data = await splitSample(root);
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('kill -9 mid-run, then --resume: the same final weights as an uninterrupted run, byte for byte (with stain jitter)', async () => {
    // Stain jitter's draws come from the same seeded plan as the flips: a resumed run must replay them.
    const epochs = ['--epochs', '8', '--stain-jitter', '0.05'];
    const whole = join(root, 'whole');
    await train({ data, out: whole, arch: 'resnet20', input: [3, 16, 16], folds: [1], batchSize: 8, lr: 0.05, threads: 2, epochs: 8, stainJitter: 0.05 }, { progress: createProgress(null, () => undefined) });

    const killed = join(root, 'killed');
    const child = spawn(process.execPath, ['--import', 'tsx', BIN, ...args(data, killed), ...epochs], { cwd: REPO, stdio: 'ignore' });
    const exit = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_, signal) => resolve(signal)));
    // Kill it once two epochs are committed: somewhere inside epoch 3, wherever that happens to be.
    while ((readFoldState(killed, 1)?.epochsDone ?? 0) < 2 && child.exitCode === null) await new Promise((r) => setTimeout(r, 5));
    child.kill('SIGKILL');
    assert.equal(await exit, 'SIGKILL', 'the run ended before it could be killed');
    const stopped = readFoldState(killed, 1)!;
    assert.ok(stopped.epochsDone >= 2 && stopped.epochsDone < 8, `killed after epoch ${stopped.epochsDone}`);

    const refused = ortTrain(...args(data, killed), ...epochs);
    assert.equal(refused.code, 1);
    assert.equal(refused.stderr, `ort-train: ${join(killed, 'fold-1')}: stopped after epoch ${stopped.epochsDone} of 8; add --resume to continue it, or use another --out to start over\n`);
    const resumed = ortTrain('--out', killed, '--resume');
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stdout, new RegExp(`^fold 1 epoch ${stopped.epochsDone + 1}/8 `, 'm'));
    assert.match(resumed.stdout, /^fold 1: 8 epochs, best epoch \d/m);
    const final = (run: string): Buffer => readFileSync(join(run, 'fold-1', 'checkpoints', 'epoch-8.safetensors'));
    assert.ok(final(killed).equals(final(whole)), 'final checkpoints differ');
    assert.match(readFileSync(join(killed, 'fold-1', 'train.log'), 'utf8'), new RegExp(`resumed fold 1 of resnet20 after epoch ${stopped.epochsDone}`));
    const logged = readFileSync(join(killed, 'fold-1', 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).epoch as number);
    assert.deepEqual(logged, [1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('a huge learning rate stops with one line, exit 1, and the last good checkpoint kept', () => {
    const out = join(root, 'nan');
    const r = ortTrain(...args(data, out), '--epochs', '5', '--iters-per-epoch', '2', '--lr', '0.01', '--step-size', '1', '--gamma', '1e8');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^ort-train: fold 1 epoch 2 [^\n]*loss is (NaN|-?Infinity), training diverged and this fold stopped; the last good checkpoint is [^\n]*epoch-1\.safetensors \(epoch 1\); try a lower --lr \(now 0\.01\) or --warmup-epochs\n$/);
    assert.deepEqual(readdirSync(join(out, 'fold-1', 'checkpoints')), ['epoch-1.safetensors']);
  });

  it('reads a JSON config file, flags overriding it; bad values and unknown keys are one-line errors', () => {
    const out = join(root, 'config');
    const config = join(root, 'run.json');
    writeFileSync(config, JSON.stringify({ 'epochs': 1, 'iters-per-epoch': 1, 'lr': 0.5, 'schedule': 'constant', 'colorJitter': 0.1 }));
    const r = ortTrain(...args(data, out), '--config', config, '--lr', '0.02', '--no-augment');
    assert.equal(r.code, 0, r.stderr);
    const options = readRunConfig(out).options;
    assert.deepEqual([options.epochs, options.itersPerEpoch, options.lr, options.schedule, options.augment, options.colorJitter], [1, 1, 0.02, 'constant', false, 0.1]);

    writeFileSync(config, JSON.stringify({ epochs: 1, speed: 'fast' }));
    assert.match(ortTrain(...args(data, join(root, 'x')), '--config', config).stderr, /^ort-train: .*run\.json "speed": unknown option; known: data, arch, /);
    const bad = ortTrain(...args(data, join(root, 'x')), '--lr', 'fast');
    assert.deepEqual([bad.code, bad.stderr], [1, 'ort-train: expected number for --lr but received "fast"\n']);
    assert.ok(!existsSync(join(root, 'x')));
  });

  it('--init a timm SE-ResNet with --se-width timm, --freeze, --freeze-bn, --normalize imagenet; without --se-width, one line', () => {
    const config = resolveModel({ arch: 'se_resnet20', classes: 8, input: [3, 16, 16], seed: 4, seWidth: 'timm' });
    const state = buildInferenceGraph(config).initializers.filter((i) => i.kind !== 'constant').map((i) => [i.value.name, i.tensor] as const);
    const file = join(root, 'seresnet20.safetensors');
    writeFileSync(file, encodeSafetensors(new Map(state)));
    const out = join(root, 'init');
    const flags = ['--arch', 'se_resnet20', '--init', file, '--freeze', 'stem,layer1', '--freeze-bn', '--normalize', 'imagenet', '--epochs', '1', '--iters-per-epoch', '1'];
    const refused = ortTrain(...args(data, out), ...flags);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^ort-train: .*seresnet20\.safetensors: does not fit se_resnet20 as a timm state_dict: 27 wrongly shaped .*: add --se-width timm\n$/);
    assert.ok(!existsSync(join(out, 'config.json')));
    const r = ortTrain(...args(data, out), ...flags, '--se-width', 'timm');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^initial weights: .*seresnet20\.safetensors \(timm layout, \d+ tensors, sha256 [0-9a-f]{12}\)$/m);
    assert.match(r.stdout, /^frozen: stem, layer1 \(their BatchNorms on running statistics\)$/m);
    const options = readRunConfig(out).options;
    assert.deepEqual([options.seWidth, options.freeze, options.freezeBn, options.normalize, options.init], ['timm', ['stem', 'layer1'], true, 'imagenet', file]);
  });

  it('--device cuda without the CUDA provider says how to install it, and writes nothing', () => {
    const out = join(root, 'cuda');
    const r = ortTrain(...args(data, out), '--device', 'cuda');
    if (r.code === 0) return; // a machine with a working CUDA provider
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^ort-train: --device cuda: .*(npm ci --onnxruntime-node-install=cuda12|did not start|no CUDA provider)[^\n]*\n$/);
    assert.ok(!existsSync(out));
  });

  it('trains with the x64 step on an x86-64 CPU by default, the portable one with --kernels portable, and resumes across them', () => {
    const out = join(root, 'kernels');
    const first = ortTrain(...args(data, out), '--epochs', '1');
    assert.equal(first.code, 0, first.stderr);
    const expected = process.arch === 'x64' ? /^training step: x64 kernels \(NCHWc block (8|16)\)$/m : /^training step: portable kernels$/m;
    assert.match(first.stdout + first.stderr, expected);
    // The kernels change how, not what, is trained: the run goes on with the other step (fold 2).
    const second = ortTrain('--out', out, '--fold', '2', '--kernels', 'portable');
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout + second.stderr, /^training step: portable kernels$/m);
    assert.equal(readFoldState(out, 2)!.epochsDone, 1);
    // train.log says which step trained each fold.
    assert.match(readFileSync(join(out, 'fold-2', 'train.log'), 'utf8'), /started fold 2 of resnet20 .*, device cpu, portable kernels\n/);
    if (process.arch === 'x64') assert.match(readFileSync(join(out, 'fold-1', 'train.log'), 'utf8'), /started fold 1 of resnet20 .*, device cpu, x64 kernels \(NCHWc block (8|16)\)\n/);
    assert.equal(ortTrain(...args(data, join(root, 'k2')), '--kernels', 'fast').stderr, 'ort-train: expected auto, portable, x64 or webgpu for --kernels but received "fast"\n');
  });

  it('an x64 training step built for the other NCHWc block is refused, not run, and starts no run', async () => {
    if (process.arch !== 'x64') return; // the x64 step exists for x86-64 CPUs only
    const out = join(root, 'other-block');
    const block = await nchwcBlock();
    assert.ok(block !== null, 'no NCHWc kernels on an x86-64 CPU');
    const other = block === 16 ? 8 : 16;
    const gen = spawnSync(process.execPath, ['--import', 'tsx', join(REPO, 'src', 'cli', 'gen-graph.ts'), 'resnet20', '--train', '--out-dir', out, '--input', '3x16x16', '--classes', '8', '--batch', '8', '--kernels', 'x64', '--nchwc-block', String(other)], { cwd: REPO, encoding: 'utf8' });
    assert.equal(gen.status, 0, gen.stderr);
    const recorded = JSON.parse(readFileSync(join(out, 'artifact.json'), 'utf8')).kernels;
    assert.deepEqual([recorded.flavour, recorded.block, recorded.convs > 0], ['x64', other, true]);
    const r = ortTrain(...args(data, out), '--epochs', '1');
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `ort-train: ${join(out, 'train_step.onnx')}: built for x64 kernels with an NCHWc block of ${other}, but this CPU's block is ${block}; it would compute garbage, so it does not run. Regenerate the artifacts here (remove them, or gen-graph --train --kernels portable)\n`);
    assert.ok(!existsSync(join(out, 'config.json')), 'a run was started');
    assert.ok(!existsSync(join(out, 'fold-1')));
  });

  it('a truncated train_step.onnx or a kernels record it cannot use is one line, and starts no run', () => {
    const out = join(root, 'broken-step');
    const gen = spawnSync(process.execPath, ['--import', 'tsx', join(REPO, 'src', 'cli', 'gen-graph.ts'), 'resnet20', '--train', '--out-dir', out, '--input', '3x16x16', '--classes', '8', '--batch', '8'], { cwd: REPO, encoding: 'utf8' });
    assert.equal(gen.status, 0, gen.stderr);
    const step = join(out, 'train_step.onnx');
    const whole = readFileSync(step);
    writeFileSync(step, whole.subarray(0, 20000));
    const r = ortTrain(...args(data, out), '--epochs', '1');
    assert.equal(r.code, 1);
    // x86-64 reads the file to lower it; elsewhere ONNX Runtime loads it: either way one line naming the file.
    assert.match(r.stderr, new RegExp(`^ort-train: ${step.replace(/[.]/g, '\\.')}: (cannot be read as a training step|ONNX Runtime cannot load it) \\([^\\n]+\\)[^\\n]*\\n$`));
    assert.ok(!existsSync(join(out, 'config.json')), 'a run was started');
    writeFileSync(step, whole);
    const manifest = join(out, 'artifact.json');
    writeFileSync(manifest, JSON.stringify({ ...JSON.parse(readFileSync(manifest, 'utf8')), kernels: { flavour: 'x64', block: 12 } }));
    const bad = ortTrain(...args(data, out), '--epochs', '1');
    assert.equal(bad.stderr, `ort-train: ${manifest}: "kernels" {"flavour":"x64","block":12} is none of {"flavour": "portable"}, {"flavour": "webgpu"}, {"flavour": "x64", "block": 8 or 16}; remove the artifacts to have them generated\n`);
    assert.ok(!existsSync(join(out, 'config.json')), 'a run was started');
  });
});
