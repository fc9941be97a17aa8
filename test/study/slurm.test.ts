// `sweep --engine slurm` on a real Slurm: .ci/slurm.sh starts a single-node one (CI does; under
// CI=true a missing cluster fails rather than skips). Runs as root, on the same machine, with
// SLURM_CONF pointing at its slurm.conf.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { readFoldState } from '../../src/formats/rundir.ts';
import { parseJobStates, reasonMeaning } from '../../src/study/slurm.ts';
import { formatStatus, readSweepPlan } from '../../src/study/sweep.ts';
import type { SweepPlan, TaskState } from '../../src/study/sweep.ts';
import { splitSample } from '../data/fixtures.ts';
import { needs } from '../helpers/needs.ts';
import { CLUSTER_TINY, TINY, senet } from './helpers.ts';

const sinfo = spawnSync('sinfo', ['-h', '-o', '%T'], { encoding: 'utf8' });
const up = sinfo.status === 0 && /idle|mixed|allocated/.test(sinfo.stdout);
const skip = needs(up, `a Slurm cluster (.ci/slurm.sh start, then export SLURM_CONF=...; sinfo says: ${(sinfo.stderr || sinfo.stdout || 'nothing').trim().split('\n').at(-1)})`);
const POLL = { ...process.env, SENET_ORT_POLL_MS: '1000' };

/** Slurm's JobState of each array task of `job`, from `scontrol show job` (no slurmdbd, so no sacct). */
function arrayStates(job: string): Map<number, string> {
  const r = spawnSync('scontrol', ['show', 'job', '-o', job], { encoding: 'utf8' });
  const states = new Map<number, string>();
  for (const line of r.stdout.split('\n')) {
    const id = /\bArrayTaskId=(\d+)\b/.exec(line)?.[1];
    const state = /\bJobState=(\S+)/.exec(line)?.[1];
    if (id !== undefined && state) states.set(Number(id), state);
  }
  return states;
}

const checkpoint = (sweep: string, task: number, epoch: number): Buffer => {
  const plan = readSweepPlan(sweep);
  const t = plan.tasks[task]!;
  return readFileSync(join(sweep, t.run, `fold-${t.fold}`, 'checkpoints', `epoch-${epoch}.safetensors`));
};

describe('Slurm states and pending reasons from scontrol', () => {
  // `scontrol show job -o <array job>`, cut: a pending record for the tasks the throttle holds, a running
  // and a finished task, and a requeued one whose reason names unavailable nodes.
  const SCONTROL = [
    'JobId=12 ArrayJobId=12 ArrayTaskId=3-7%2 ArrayTaskThrottle=2 JobName=senet-ort-sweep UserId=me(1000) JobState=PENDING Reason=JobArrayTaskLimit Dependency=(null) Requeue=1',
    'JobId=15 ArrayJobId=12 ArrayTaskId=2 JobName=senet-ort-sweep UserId=me(1000) JobState=RUNNING Reason=None Dependency=(null) Requeue=1',
    'JobId=14 ArrayJobId=12 ArrayTaskId=1 JobName=senet-ort-sweep UserId=me(1000) JobState=COMPLETED Reason=None Dependency=(null) Requeue=1',
    'JobId=13 ArrayJobId=12 ArrayTaskId=0 JobName=senet-ort-sweep UserId=me(1000) JobState=PENDING Reason=ReqNodeNotAvail,_UnavailableNodes:n[01-02] Dependency=(null) Requeue=1',
    '',
  ].join('\n');

  it('gives every array task its state, and a waiting one its reason', () => {
    const states = parseJobStates(SCONTROL);
    assert.deepEqual([...states.keys()].sort(), [0, 1, 2, 3, 4, 5, 6, 7]);
    assert.deepEqual(states.get(5), { state: 'PENDING', reason: 'JobArrayTaskLimit', meaning: 'waiting for a running task to end (--parallel)' });
    assert.deepEqual(states.get(2), { state: 'RUNNING', reason: null, meaning: null });
    assert.deepEqual(states.get(0), { state: 'PENDING', reason: 'ReqNodeNotAvail,_UnavailableNodes:n[01-02]', meaning: 'the nodes it needs are down, drained or reserved' });
  });

  it('says the common reasons in plain words, those that never clear with what to do', () => {
    assert.match(reasonMeaning('PartitionConfig')!, /never start: scancel it and submit with less$/);
    assert.match(reasonMeaning('PartitionTimeLimit')!, /shorter --time$/);
    assert.equal(reasonMeaning('QOSMaxCpuPerUserLimit'), 'a limit of its QOS');
    assert.equal(reasonMeaning('AssocGrpGRES'), 'a limit of its account');
    assert.equal(reasonMeaning('WaitingForScheduling'), null);
  });

  it('sweep status puts the reason beside each pending task and in the summary', () => {
    const plan = { points: [{ index: 0, id: 'default', values: {} }] } as unknown as SweepPlan;
    const task = (index: number, fold: number): TaskState['task'] => ({ index, point: 0, arch: 'resnet20', fold, run: 'runs/default/resnet20' });
    const states: TaskState[] = [
      { task: task(0, 1), status: 'running', epochsDone: 1, epochs: 4, scheduler: 'RUNNING', reason: null, message: null },
      { task: task(1, 2), status: 'pending', epochsDone: 0, epochs: 4, scheduler: 'PENDING', reason: 'PartitionConfig', message: reasonMeaning('PartitionConfig') },
      { task: task(2, 3), status: 'pending', epochsDone: 0, epochs: 4, scheduler: 'PENDING', reason: 'PartitionConfig', message: reasonMeaning('PartitionConfig') },
    ];
    const text = formatStatus(plan, states);
    assert.match(text, /^1\s+default\s+resnet20\s+2\s+pending\s+0\/4\s+PENDING \(PartitionConfig\)\s+asks for more CPUs, memory or GPUs than the partition's nodes or limits allow; it will never start/m);
    assert.match(text, /^3 tasks: 1 running, 2 pending \(PartitionConfig\)$/m);
    const mixed = formatStatus(plan, [...states, { ...states[1]!, task: task(3, 4), reason: 'Priority' }]);
    assert.match(mixed, /^4 tasks: 1 running, 3 pending \(2 PartitionConfig, 1 Priority\)$/m);
  });
});

describe('sweep --engine slurm on a real single-node Slurm', { skip }, () => {
  let root = '';
  let data = '';
  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'senet-ort-slurm-'));
    data = await splitSample(root);
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('refuses, in one line and before anything is written, a task no node can run and a --threads other than --cpus-per-task', () => {
    const out = join(root, 'unmeetable');
    const node = spawnSync('sinfo', ['-h', '-N', '-o', '%N %c %m'], { encoding: 'utf8' }).stdout.trim().split('\n')[0]!.split(' ');
    const [name, cpus, mem] = [node[0]!, Number(node[1]), Number(node[2])];
    const largest = `the largest, ${name}, has ${cpus} CPU${cpus === 1 ? '' : 's'}`;
    const cases: [string[], string][] = [
      [['--cpus-per-task', String(cpus + 1), '--mem', '1G'], `no node of partition debug has the ${cpus + 1} CPUs and 1024 MB of memory a task asks for (--cpus-per-task ${cpus + 1}, --mem 1G); ${largest} and ${mem} MB: ask for less, or another --partition`],
      [['--cpus-per-task', '1', '--mem', `${mem + 1}M`], `no node of partition debug has the 1 CPU and ${mem + 1} MB of memory a task asks for (--cpus-per-task 1, --mem ${mem + 1}M); ${largest} and ${mem} MB: ask for less, or another --partition`],
      [['--cpus-per-task', '1', '--mem', '1G', '--device', 'cuda'], `no node of partition debug has the 1 CPU, 1024 MB of memory and a GPU a task asks for (--cpus-per-task 1, --mem 1G, --device); ${largest}, ${mem} MB and no GPU: ask for less, or another --partition`],
      [['--cpus-per-task', '1', '--mem', '1G', '--partition', 'gpu'], '--partition gpu: no such partition with nodes on this cluster; sinfo lists debug'],
      [['--mem', '1G', '--threads', '1'], '--threads 1 differs from --cpus-per-task 4 (the default): on a cluster --cpus-per-task sets each task\'s threads; give --cpus-per-task 1 instead'],
      [['--cpus-per-task', '1', '--mem', '1G', '--threads', '2'], '--threads 2 differs from --cpus-per-task 1: on a cluster --cpus-per-task sets each task\'s threads; leave --threads out'],
    ];
    for (const [args, message] of cases) {
      const r = senet(['sweep', data, '--out', out, '--arch', 'resnet20', '--folds', '1', '--engine', 'slurm', ...args]);
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr, `senet-ort: ${message}\n`);
      assert.equal(existsSync(out), false, `${args.join(' ')} wrote ${out}`);
    }
  });

  it('sweep status shows why Slurm keeps each pending task waiting', () => {
    const sweep = join(root, 'waiting');
    const s = senet(['sweep', data, '--out', sweep, '--arch', 'resnet20', '--folds', '1,2', '--epochs', '1', ...CLUSTER_TINY, '--engine', 'slurm', '--cpus-per-task', '1', '--mem', '1G', '--sbatch=--begin=now+1hour']);
    assert.equal(s.code, 0, s.stderr);
    const [, job, report] = /^submitted array job (\d+) \(tasks 0-1\) and report job (\d+) after it$/m.exec(s.stdout)!;
    try {
      // slurmctld gives a job its reason when its scheduler first looks at it: on a busy machine
      // that can take a few seconds after sbatch returns, so ask again until it has (30 s at most).
      let status = senet(['sweep', 'status', sweep]);
      for (let tries = 0; tries < 30 && !/PENDING \(BeginTime\)/.test(status.stdout); tries++) {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
        status = senet(['sweep', 'status', sweep]);
      }
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout, /^0\s+default\s+resnet20\s+1\s+pending\s+-\s+PENDING \(BeginTime\)\s+not to start before its begin time$/m);
      assert.match(status.stdout, /^1\s+default\s+resnet20\s+2\s+pending\s+-\s+PENDING \(BeginTime\)\s+not to start before its begin time$/m);
      assert.match(status.stdout, /^2 tasks: 2 pending \(BeginTime\)$/m);
    } finally {
      spawnSync('scancel', [job!, report!]);
    }
  });

  it('8 array tasks through sbatch: all COMPLETED, checkpoints byte-identical to --engine local, the report covers the 4 cells', () => {
    const grid = ['--grid', 'lr=0.1,0.01', '--folds', '1,2', '--epochs', '2', '--iters-per-epoch', '2', ...TINY];
    const local = join(root, 'local');
    const l = senet(['sweep', data, '--out', local, ...grid, '--jobs', '2']);
    assert.equal(l.code, 0, l.stderr);

    const slurm = join(root, 'slurm');
    const s = senet(['sweep', data, '--out', slurm, ...grid, '--engine', 'slurm', '--cpus-per-task', '1', '--mem', '2G']);
    assert.equal(s.code, 0, s.stderr);
    const job = /^submitted array job (\d+) \(tasks 0-7\) and report job (\d+) after it$/m.exec(s.stdout);
    assert.ok(job, s.stdout);
    const wait = senet(['sweep', 'status', slurm, '--wait'], POLL);
    assert.equal(wait.code, 0, wait.stdout + wait.stderr);
    assert.match(wait.stdout, /^8 tasks: 8 done$/m);

    const states = arrayStates(job[1]!);
    assert.deepEqual([...states.keys()].sort(), [0, 1, 2, 3, 4, 5, 6, 7]);
    for (const [task, state] of states) assert.equal(state, 'COMPLETED', `array task ${task}`);
    assert.match(readFileSync(join(slurm, 'slurm', `${job[1]}_3.out`), 'utf8'), /^task 3: runs\/lr-0\.1\/se_resnet20 fold 2 done$/m);
    for (let t = 0; t < 8; t++) assert.ok(checkpoint(local, t, 2).equals(checkpoint(slurm, t, 2)), `task ${t}: Slurm's checkpoint differs from the local one`);

    // The dependent job wrote the report; `sweep report` by hand gives the same cells.
    assert.equal(arrayStates(job[2]!).size, 0);
    assert.match(spawnSync('scontrol', ['show', 'job', '-o', job[2]!], { encoding: 'utf8' }).stdout, /JobState=COMPLETED/);
    assert.ok(existsSync(join(slurm, 'report', 'report.html')));
    const r = senet(['sweep', 'report', slurm]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^se_resnet20 vs resnet20 at lr 0\.1: .*\nse_resnet20 vs resnet20 at lr 0\.01: /m);
    const csv = readFileSync(join(slurm, 'report', 'sweep.csv'), 'utf8').trim().split('\n').slice(1);
    assert.deepEqual(new Set(csv.map((row) => row.split(',').slice(1, 4).filter((_, i) => i !== 1).join(' '))), new Set(['lr-0.1 resnet20', 'lr-0.1 se_resnet20', 'lr-0.01 resnet20', 'lr-0.01 se_resnet20']));
  });

  it('scancel a task mid-training: status names it, submit --missing finishes it, with the weights of an uninterrupted run', async () => {
    const plan = ['--arch', 'resnet20', '--folds', '1,2', '--epochs', '4', '--iters-per-epoch', '12', ...TINY];
    const whole = join(root, 'whole');
    const w = senet(['sweep', data, '--out', whole, ...plan]);
    assert.equal(w.code, 0, w.stderr);

    const sweep = join(root, 'cancelled');
    const s = senet(['sweep', data, '--out', sweep, ...plan, '--engine', 'slurm', '--cpus-per-task', '1', '--mem', '2G']);
    assert.equal(s.code, 0, s.stderr);
    const job = /^submitted array job (\d+)/m.exec(s.stdout)![1]!;
    const run = join(sweep, readSweepPlan(sweep).tasks[0]!.run);
    for (let i = 0; (readFoldState(run, 1)?.epochsDone ?? 0) < 1; i++) {
      assert.ok(i < 1200, 'task 0 finished no epoch within 2 minutes');
      await sleep(100);
    }
    const cancel = spawnSync('scancel', [`${job}_0`], { encoding: 'utf8' });
    assert.equal(cancel.status, 0, cancel.stderr);

    const status = senet(['sweep', 'status', sweep, '--wait'], POLL);
    assert.equal(status.code, 1, 'a cancelled task: the sweep did not finish');
    assert.match(status.stdout, /^0\s+default\s+resnet20\s+1\s+part-done\s+[123]\/4\s+CANCELLED\s+fold 1 epoch \d: stopped before step \d+ \(SIGTERM\)/m);
    assert.match(status.stdout, /^1\s+default\s+resnet20\s+2\s+done\s+4\/4\s+COMPLETED$/m);
    assert.equal(readFoldState(run, 1)!.finished, false);

    const again = senet(['sweep', 'submit', sweep, '--missing']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /^resubmitting 1 task: 0$/m);
    assert.match(readFileSync(join(sweep, 'slurm', 'sweep.sbatch'), 'utf8'), /^#SBATCH --cpus-per-task=1$/m);
    const done = senet(['sweep', 'status', sweep, '--wait'], POLL);
    assert.equal(done.code, 0, done.stdout + done.stderr);
    assert.match(done.stdout, /^2 tasks: 2 done$/m);
    for (const t of [0, 1]) assert.ok(checkpoint(whole, t, 4).equals(checkpoint(sweep, t, 4)), `task ${t}: weights differ from the uninterrupted run`);
  });
});
