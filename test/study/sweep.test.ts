// `sweep`: the grid, the plan and its task numbering, bad input, one task stopped by SIGTERM and
// resumed, and a local sweep to its report. The Slurm engine on a real Slurm: slurm.test.ts.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readFoldState } from '../../src/formats/rundir.ts';
import { gridPoints, parseGrid, parseGridFlag } from '../../src/study/grid.ts';
import { arraySpec, expandArray } from '../../src/study/slurm.ts';
import { holm } from '../../src/evaluate/stats.ts';

import { readSweepPlan, taskIndex } from '../../src/study/sweep.ts';
import { ROOT } from '../helpers/cli.ts';
import { CLUSTER_TINY, TINY, senet } from './helpers.ts';
import { SAMPLE, splitSample } from '../data/fixtures.ts';

describe('sweep grid and numbering', () => {
  it('reads --grid flags; points are the cartesian product, the last axis fastest', () => {
    const axes = parseGrid(['lr=0.1,0.01', 'reduction=4,16', 'schedule=cosine']);
    const points = gridPoints(axes);
    assert.deepEqual(points.map((p) => p.id), ['lr-0.1_reduction-4_schedule-cosine', 'lr-0.1_reduction-16_schedule-cosine', 'lr-0.01_reduction-4_schedule-cosine', 'lr-0.01_reduction-16_schedule-cosine']);
    assert.deepEqual(points[2]!.options, { lr: 0.01, reduction: 4, schedule: 'cosine' });
    assert.deepEqual(parseGridFlag('weight-decay=0,1e-4').values.map((v) => v.options), [{ weightDecay: 0 }, { weightDecay: 0.0001 }]);
    assert.deepEqual(gridPoints([]).map((p) => p.id), ['default']);
  });

  it('refuses bad grids in one line naming the flag', () => {
    assert.throws(() => parseGridFlag('learning-rate=0.1'), { message: /^--grid learning-rate=0\.1: unknown grid key "learning-rate"; known: lr, momentum, weight-decay/ });
    assert.throws(() => parseGridFlag('lr=0.1,,0.01'), { message: '--grid lr=0.1,,0.01: empty value; give one or more values separated by commas' });
    assert.throws(() => parseGridFlag('lr='), { message: /empty value/ });
    assert.throws(() => parseGridFlag('reduction=4,eight'), { message: 'expected integer for --grid reduction but received "eight"' });
    assert.throws(() => parseGridFlag('lr=fast'), { message: 'expected number for --grid lr but received "fast"' });
    assert.throws(() => parseGridFlag('preset=slow'), { message: 'expected paper or quick for --grid preset but received "slow"' });
    assert.throws(() => parseGridFlag('lr'), { message: /^expected key=value,value/ });
    assert.throws(() => parseGrid(['lr=0.1', 'lr=0.2']), { message: /given twice/ });
  });

  it('takes the task index from the argument, then SLURM_ARRAY_TASK_ID, then JOB_COMPLETION_INDEX', () => {
    assert.equal(taskIndex('3', { SLURM_ARRAY_TASK_ID: '5' }, 8), 3);
    assert.equal(taskIndex(undefined, { SLURM_ARRAY_TASK_ID: '5', JOB_COMPLETION_INDEX: '6' }, 8), 5);
    assert.equal(taskIndex(undefined, { JOB_COMPLETION_INDEX: '6' }, 8), 6);
    assert.throws(() => taskIndex('8', {}, 8), { message: 'expected task index from 0 to 7 for sweep task <index> but received "8"' });
    assert.throws(() => taskIndex(undefined, { SLURM_ARRAY_TASK_ID: '-1' }, 8), { message: 'expected task index from 0 to 7 for SLURM_ARRAY_TASK_ID but received "-1"' });
    assert.throws(() => taskIndex(undefined, {}, 8), { message: /no task index/ });
  });

  it('Holm: step-down, monotone, capped at 1, nulls left out', () => {
    assert.deepEqual(holm([0.01, 0.04, 0.03, null]), [0.03, 0.06, 0.06, null]);
    assert.deepEqual(holm([0.5, 0.9]), [1, 1]);
  });

  it('Slurm array lists', () => {
    assert.equal(arraySpec([5, 1, 2, 3, 7]), '1-3,5,7');
    assert.deepEqual(expandArray('4-6%2'), [4, 5, 6]);
    assert.deepEqual(expandArray('[1,3-4]'), [1, 3, 4]);
  });
});

describe('sweep on the embedded sample', () => {
  let root = '';
  let data = '';
  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'senet-ort-sweep-'));
    data = await splitSample(root);
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('bad input: one line, nothing written', () => {
    const out = join(root, 'bad');
    const cases: [string[], RegExp, NodeJS.ProcessEnv?][] = [
      [['--grid', 'colour=red'], /^senet-ort: --grid colour=red: unknown grid key "colour"; known: /],
      [['--grid', 'lr=0.1,'], /^senet-ort: --grid lr=0\.1,: empty value/],
      [['--grid', 'batch-size=8,big'], /^senet-ort: expected integer for --grid batch-size but received "big"$/],
      [['--grid', 'lr=-0.1,0.1'], /^senet-ort: grid point lr--0\.1, resnet20: expected positive number for --lr but received -0\.1$/],
      [['--engine', 'mpi'], /^senet-ort: expected local, slurm or k8s for --engine but received "mpi"$/],
      [['--engine', 'slurm', '--cpus-per-task', '1'], /^senet-ort: --engine slurm: sbatch not found on PATH; .*apt-get install slurm-client/, { ...process.env, PATH: '/nonexistent' }],
      // On a cluster --cpus-per-task sets the threads: TINY's --threads 1 contradicts it.
      [['--engine', 'slurm', '--dry-run'], /^senet-ort: --threads 1 differs from --cpus-per-task 4 \(the default\): on a cluster --cpus-per-task sets each task's threads; give --cpus-per-task 1 instead$/],
      [['--engine', 'k8s', '--cpus-per-task', '2'], /^senet-ort: --threads 1 differs from --cpus-per-task 2: on a cluster --cpus-per-task sets each task's threads; leave --threads out$/],
      [['--engine', 'slurm', '--mem', 'lots'], /^senet-ort: expected a size such as 8G or 4000M for --mem but received "lots"$/],
      [['--folds', '9'], /^senet-ort: expected fold from 1 to 4 for --folds but received 9$/],
      [['--arch', 'resnet20,resnet20'], /a network is repeated/],
      [['--group-regex', '^\\d+'], /: already split \(splits\.json\); --group-regex applies when splitting, so leave it out or split again with senet-ort split$/],
      [['--tile', '48', '--stain-normalize', 'macenko'], /: already tiled \(dataset\.json\); --tile and --stain-normalize apply to images, so leave them out or tile the images again with senet-ort tile$/],
    ];
    for (const [args, message, env] of cases) {
      const r = senet(['sweep', data, '--out', out, ...TINY, ...args], env);
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr.trim(), message);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.equal(existsSync(out), false, `${args.join(' ')} wrote ${out}`);
    }
  });

  it('tiles images with the tiling flags and splits them with the grouping flags', () => {
    const r = senet(['sweep', SAMPLE, '--out', join(root, 'grouped'), ...TINY, '--group-regex', 'zzz', '--group-on', 'path']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^senet-ort: --group-regex \/zzz\/ does not match source "01_TUMOR\/[^"]+" \(and 79 more sources\)\n$/);
    const tiling = senet(['sweep', SAMPLE, '--out', join(root, 'tiling'), ...TINY, '--tile', '0']);
    assert.equal(tiling.code, 1);
    assert.equal(tiling.stderr, 'senet-ort: expected positive integer for --tile but received 0\n');
    assert.equal(existsSync(join(root, 'tiling')), false);
  });

  it('plans sweep.json with numbered tasks, refuses another plan or data set in its folder, a task out of range', () => {
    const out = join(root, 'plan');
    const r = senet(['sweep', data, '--out', out, '--grid', 'lr=0.1,0.01', '--folds', '1,2', '--epochs', '1', '--engine', 'slurm', '--dry-run', ...CLUSTER_TINY]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^dry run, nothing submitted; to submit:\n {2}sbatch --parsable .*\/slurm\/sweep\.sbatch$/m);
    const plan = readSweepPlan(out);
    assert.deepEqual(plan.tasks.map((t) => `${t.index}:${plan.points[t.point]!.id}/${t.arch}/${t.fold}`), [
      '0:lr-0.1/resnet20/1', '1:lr-0.1/resnet20/2', '2:lr-0.1/se_resnet20/1', '3:lr-0.1/se_resnet20/2',
      '4:lr-0.01/resnet20/1', '5:lr-0.01/resnet20/2', '6:lr-0.01/se_resnet20/1', '7:lr-0.01/se_resnet20/2',
    ]);
    // Artifacts exist before any task runs, so tasks starting together never generate them at once.
    for (const t of plan.tasks) assert.ok(existsSync(join(out, t.run, 'train_step.onnx')), t.run);
    const script = readFileSync(join(out, 'slurm', 'sweep.sbatch'), 'utf8');
    assert.match(script, /^#SBATCH --array=0-7$/m);
    assert.match(script, /^exec .* sweep task .* --threads "\$\{SLURM_CPUS_PER_TASK:-4\}"$/m);

    const again = senet(['sweep', data, '--out', out, '--grid', 'lr=0.1,0.01', '--folds', '1,2', '--epochs', '1', '--engine', 'slurm', '--dry-run', ...CLUSTER_TINY]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr + again.stdout, /plan unchanged/);
    const other = senet(['sweep', data, '--out', out, '--grid', 'lr=0.1,0.001', '--folds', '1,2', '--epochs', '1', '--engine', 'slurm', '--dry-run', ...CLUSTER_TINY]);
    assert.equal(other.code, 1);
    assert.match(other.stderr, /^senet-ort: .*\/plan\/sweep\.json: holds another plan \(its grid differs: .*\); use another --out\n$/);
    const otherData = senet(['sweep', SAMPLE, '--out', out, '--grid', 'lr=0.1,0.01', '--folds', '1,2', '--epochs', '1', '--engine', 'slurm', '--dry-run', ...CLUSTER_TINY]);
    assert.equal(otherData.code, 1);
    assert.match(otherData.stderr, /^senet-ort: .*sweep\.json: planned from .*tiles, not .*kather2016-crc-texture-sample; use another --out\n$/);

    const range = senet(['sweep', 'task', out, '8']);
    assert.equal(range.code, 1);
    assert.equal(range.stderr, 'senet-ort: expected task index from 0 to 7 for sweep task <index> but received "8"\n');
    const status = senet(['sweep', 'status', out]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /^8 tasks: 8 pending$/m);
  });

  it('--preset original-cases: the three cases of the original study over resnet20 and se_resnet20, at its scale unless shrunk', async () => {
    const { readRunConfig } = await import('../../src/formats/rundir.ts');
    const out = join(root, 'cases');
    const r = senet(['sweep', data, '--out', out, '--preset', 'original-cases', '--epochs', '2', '--iters-per-epoch', '3', '--engine', 'slurm', '--dry-run', ...CLUSTER_TINY]);
    assert.equal(r.code, 0, r.stderr);
    const plan = readSweepPlan(out);
    assert.deepEqual(plan.points.map((p) => p.id), ['case-1', 'case-2', 'case-3']);
    assert.equal(plan.tasks.length, 3 * 2 * 4);
    const options = (point: string, arch: string): unknown => {
      const o = readRunConfig(join(out, 'runs', point, arch)).options;
      return [o.lr, o.schedule, o.stepSize, o.gamma, o.momentum, o.batchSize, o.epochs, o.itersPerEpoch, o.normalize];
    };
    assert.deepEqual(options('case-1', 'resnet20'), [0.0001, 'step', 40, 0.1, 0.9, 8, 2, 3, 'none']);
    assert.deepEqual(options('case-2', 'se_resnet20'), [0.0001, 'constant', 40, 0.1, 0.9, 8, 2, 3, 'none']);
    assert.deepEqual(options('case-3', 'se_resnet20'), [0.1, 'step', 40, 0.1, 0.9, 8, 2, 3, 'none']);
    const clash = senet(['sweep', data, '--out', join(root, 'clash'), '--preset', 'original-cases', '--lr', '0.01', ...TINY]);
    assert.equal(clash.stderr, 'senet-ort: --lr: --preset original-cases sets it for each case; leave it out\n');
    const twice = senet(['sweep', data, '--out', join(root, 'clash'), '--grid', 'lr=0.1,0.2', '--lr', '0.01', ...TINY]);
    assert.equal(twice.stderr, 'senet-ort: --lr and --grid lr both given; use one\n');
    assert.equal(existsSync(join(root, 'clash')), false);
  });

  it('k8s: an Indexed Job manifest that checks against the Job schema', async () => {
    const { checkJob } = await import('./job-schema.ts');
    const out = join(root, 'plan');
    const r = senet(['sweep', 'submit', out, '--engine', 'k8s', '--image', 'registry.example/senet-ort:0.1.0', '--parallel', '3', '--cpus-per-task', '2', '--mem', '4G']);
    assert.equal(r.code, 0, r.stderr);
    const job = JSON.parse(readFileSync(join(out, 'k8s', 'job.json'), 'utf8'));
    assert.deepEqual(checkJob(job), []);
    assert.equal(job.spec.completionMode, 'Indexed');
    assert.equal(job.spec.completions, 8);
    assert.equal(job.spec.parallelism, 3);
    assert.deepEqual(job.spec.template.spec.containers[0].args, ['sweep', 'task', out, '--threads', '2']);
    assert.deepEqual(job.spec.template.spec.containers[0].resources.requests, { cpu: '2', memory: '4Gi' });
    // The checker does catch mistakes.
    const broken = structuredClone(job);
    broken.spec.completionMode = 'indexed';
    broken.spec.parallelism = '3';
    broken.spec.template.spec.containers[0].resources.requests.cpu = 'two';
    broken.spec.template.spec.containers[0].ports = [];
    delete broken.spec.template.spec.containers[0].image;
    assert.deepEqual(checkJob(broken), [
      'spec.completionMode: expected one of NonIndexed, Indexed but received "indexed"',
      'spec.parallelism: expected integer but received "3"',
      'spec.template.spec.containers[0].image: required',
      'spec.template.spec.containers[0].resources.requests.cpu: expected a quantity such as 500m or 8Gi but received "two"',
      'spec.template.spec.containers[0].ports: unknown field',
      'spec.backoffLimitPerIndex: needs completionMode Indexed and restartPolicy Never',
    ]);
  });

  it('--device cuda: one GPU per task, as --gres=gpu:1 and nvidia.com/gpu', async () => {
    const { checkJob } = await import('./job-schema.ts');
    const out = join(root, 'cuda');
    const r = senet(['sweep', data, '--out', out, '--arch', 'se_resnet20', '--folds', '1', '--epochs', '1', '--device', 'cuda', '--engine', 'slurm', '--dry-run', '--partition', 'gpu', '--time', '36:00:00', '--account', 'lab', '--parallel', '2', '--no-requeue', ...CLUSTER_TINY]);
    assert.equal(r.code, 0, r.stderr);
    const script = readFileSync(join(out, 'slurm', 'sweep.sbatch'), 'utf8');
    for (const line of ['--array=0-0%2', '--gres=gpu:1', '--partition=gpu', '--time=36:00:00', '--account=lab']) assert.match(script, new RegExp(`^#SBATCH ${line}$`, 'm'));
    assert.doesNotMatch(script, /--requeue/);
    assert.equal(senet(['sweep', 'submit', out, '--engine', 'k8s']).code, 0);
    const job = JSON.parse(readFileSync(join(out, 'k8s', 'job.json'), 'utf8'));
    assert.deepEqual(checkJob(job), []);
    assert.equal(job.spec.template.spec.containers[0].resources.limits['nvidia.com/gpu'], '1');
    assert.equal(job.spec.template.spec.containers[0].env, undefined, 'CUDA needs no graphics capability');
  });

  it('--device webgpu: one GPU per task, and the graphics capability that mounts the Vulkan driver; the submit host needs no adapter', async () => {
    const { checkJob } = await import('./job-schema.ts');
    // As with cuda, whether the GPU runs is checked where a task trains: here there is no Vulkan driver at all.
    const noAdapter = { ...process.env, VK_ICD_FILENAMES: '/nonexistent.json', VK_DRIVER_FILES: '/nonexistent.json' };
    const out = join(root, 'webgpu');
    const r = senet(['sweep', data, '--out', out, '--arch', 'se_resnet20', '--folds', '1', '--epochs', '1', '--device', 'webgpu', '--engine', 'slurm', '--dry-run', ...CLUSTER_TINY], noAdapter);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readSweepPlan(out).options.device, 'webgpu');
    assert.match(readFileSync(join(out, 'slurm', 'sweep.sbatch'), 'utf8'), /^#SBATCH --gres=gpu:1$/m);
    const k8s = senet(['sweep', 'submit', out, '--engine', 'k8s'], noAdapter);
    assert.equal(k8s.code, 0, k8s.stderr);
    const job = JSON.parse(readFileSync(join(out, 'k8s', 'job.json'), 'utf8'));
    assert.deepEqual(checkJob(job), []);
    const container = job.spec.template.spec.containers[0];
    assert.equal(container.resources.limits['nvidia.com/gpu'], '1');
    assert.deepEqual(container.env, [{ name: 'NVIDIA_DRIVER_CAPABILITIES', value: 'compute,utility,graphics' }]);
  });

  it('SIGTERM stops a task at a step boundary keeping its finished epochs; the task run again resumes to the uninterrupted weights', async () => {
    const plan = (out: string): string[] => ['sweep', data, '--out', out, '--arch', 'resnet20', '--folds', '1', '--epochs', '4', '--iters-per-epoch', '12', '--engine', 'slurm', '--dry-run', ...CLUSTER_TINY];
    const whole = join(root, 'whole');
    const stopped = join(root, 'stopped');
    for (const out of [whole, stopped]) assert.equal(senet(plan(out)).code, 0);
    const straight = senet(['sweep', 'task', whole, '0', '--threads', '1']);
    assert.equal(straight.code, 0, straight.stderr);

    const run = join(stopped, readSweepPlan(stopped).tasks[0]!.run);
    const child = spawn(process.execPath, [join(ROOT, 'dist', 'cli', 'main.js'), 'sweep', 'task', stopped, '--threads', '1'], { env: { ...process.env, SLURM_ARRAY_TASK_ID: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    while ((readFoldState(run, 1)?.epochsDone ?? 0) < 1) await new Promise((ok) => setTimeout(ok, 50));
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((ok) => child.on('close', ok));
    assert.equal(code, 143, stderr);
    assert.match(stderr, /^sweep task 0: fold 1 epoch \d: stopped before step \d+ \(SIGTERM\); epochs up to \d are kept and --resume continues from there$/m);
    const state = readFoldState(run, 1)!;
    assert.equal(state.finished, false);
    assert.equal(JSON.parse(readFileSync(join(stopped, 'tasks', '0.json'), 'utf8')).status, 'stopped');
    const status = senet(['sweep', 'status', stopped]);
    assert.match(status.stdout, /^0\s+default\s+resnet20\s+1\s+part-done\s+\d\/4\b/m);

    const resumed = senet(['sweep', 'submit', stopped, '--missing', '--engine', 'local', '--threads', '1']);
    assert.equal(resumed.code, 0, resumed.stderr);
    const ckpt = (out: string): Buffer => readFileSync(join(out, readSweepPlan(out).tasks[0]!.run, 'fold-1', 'checkpoints', 'epoch-4.safetensors'));
    assert.ok(ckpt(whole).equals(ckpt(stopped)), 'resumed weights differ from the uninterrupted run');
    // A finished task is a no-op.
    const noop = senet(['sweep', 'task', stopped, '0']);
    assert.equal(noop.code, 0, noop.stderr);
    assert.match(noop.stdout, /already finished; nothing to do/);
  });

  it('--engine local --jobs 2 runs every task, then the report covers every grid point', () => {
    const out = join(root, 'local');
    const r = senet(['sweep', data, '--out', out, '--grid', 'lr=0.1,0.01', '--folds', '1,2', '--epochs', '1', '--iters-per-epoch', '2', '--jobs', '2', ...TINY]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr + r.stdout, /^report: .*\/report\/report\.html$/m);
    const csv = readFileSync(join(out, 'report', 'sweep.csv'), 'utf8').trim().split('\n');
    assert.equal(csv[0], 'task,point,lr,arch,fold,epochs,status,test_accuracy,test_macro_f1,val_loss,val_accuracy,train_seconds');
    assert.equal(csv.length, 9);
    for (const row of csv.slice(1)) assert.match(row, /^\d,lr-0\.0?1,0\.0?1,(se_)?resnet20,[12],1\/1,done,\d\.\d{3},/);
    const html = readFileSync(join(out, 'report', 'report.html'), 'utf8');
    assert.match(html, /Test accuracy against lr/);
    assert.equal((html.match(/no significant difference \(Holm-adjusted p/g) ?? []).length + (html.match(/significantly better \(Holm-adjusted/g) ?? []).length, 2);
    assert.ok(readdirSync(join(out, 'runs', 'lr-0.1')).includes('resnet20-vs-se_resnet20'));
  });
});


