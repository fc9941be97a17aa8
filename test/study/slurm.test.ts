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
import { readSweepPlan } from '../../src/study/sweep.ts';
import { splitSample } from '../data/fixtures.ts';
import { needs } from '../helpers/needs.ts';
import { TINY, senet } from './helpers.ts';

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

describe('sweep --engine slurm on a real single-node Slurm', { skip }, () => {
  let root = '';
  let data = '';
  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'senet-ort-slurm-'));
    data = await splitSample(root);
  });
  after(() => rmSync(root, { recursive: true, force: true }));

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
