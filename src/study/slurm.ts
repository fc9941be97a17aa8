/**
 * The Slurm engine: a sweep as one job array, one array task per sweep task, and a dependent job
 * that writes the sweep report once every task succeeded.
 *
 *   <sweep>/slurm/
 *     sweep.sbatch     the array job: `#SBATCH --array=0-<T-1>%<P>`, resources, logs, then `senet-ort sweep task <sweep>`
 *     report.sbatch    `senet-ort sweep report <sweep>`, submitted with --dependency=afterok:<array job>
 *     options.json     the options the scripts were written with; `sweep submit` starts from them
 *     jobs.json        every submission: array job id, its tasks, the report job id, when
 *     <job>_<task>.out each array task's output (%A_%a)
 *
 * Every #SBATCH line is a flag of `sweep`; `sweep submit --missing` submits sweep.sbatch again
 * with `--array=<the unfinished tasks>` on the command line (which overrides the script's line).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { UserError, expected } from '../errors.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import { fileHeader } from '../version.ts';
import type { SchedulerState, SweepPlan } from './sweep.ts';
import { CPUS_PER_TASK } from './sweep.ts';
import { readJson } from '../formats/json.ts';
import { readPartitions, unmeetable } from './slurm-nodes.ts';

export interface SlurmOptions {
  /** Array tasks running at once (`%P`; default: no limit). */
  readonly parallel?: number;
  /** `--cpus-per-task`, also the tasks' ONNX Runtime threads (default CPUS_PER_TASK, 4). */
  readonly cpusPerTask?: number;
  /** `--mem`, e.g. 8G (default MEM_PER_TASK, 8G). */
  readonly mem?: string;
  /** `--time`, e.g. 24:00:00 (default: the partition's limit). */
  readonly time?: string;
  readonly partition?: string;
  readonly account?: string;
  /** `--requeue`: preempted or failed-node tasks go back to the queue (default on). */
  readonly requeue?: boolean;
  /** `--gres=gpu:1`: set when the sweep trains with --device cuda or webgpu. */
  readonly gpu?: boolean;
  /** Extra `#SBATCH` lines, as flags (`--qos=long`). */
  readonly extra?: readonly string[];
}

export interface SlurmSubmission {
  readonly job: string;
  readonly tasks: readonly number[];
  readonly report: string | null;
  readonly submitted: string;
}

export interface SlurmJobs {
  readonly format: 'senet-ort slurm-jobs';
  readonly version: 1;
  readonly tool: string;
  readonly submissions: readonly SlurmSubmission[];
}

/** Memory a task asks for when --mem is not given. */
export const MEM_PER_TASK = '8G';

export const slurmDir = (dir: string): string => join(dir, 'slurm');
const optionsPath = (dir: string): string => join(slurmDir(dir), 'options.json');

/** The options the scripts were last written with (slurm/options.json): `sweep submit` starts from them. */
export function readSlurmOptions(dir: string): SlurmOptions {
  const path = optionsPath(dir);
  return existsSync(path) ? readJson<SlurmOptions>(path, 'the options of the Slurm scripts') : {};
}
const jobsPath = (dir: string): string => join(slurmDir(dir), 'jobs.json');

/** A shell word, quoted where needed. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Task indices as Slurm's --array list: `0-7`, `1,3,5-6`. */
export function arraySpec(tasks: readonly number[]): string {
  const sorted = [...new Set(tasks)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(i === j ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

/** Check the options before anything is written; every problem names its flag. */
export function checkSlurmOptions(o: SlurmOptions): void {
  if (o.parallel !== undefined && (!Number.isInteger(o.parallel) || o.parallel < 1)) throw expected('positive integer', '--parallel', o.parallel);
  if (o.cpusPerTask !== undefined && (!Number.isInteger(o.cpusPerTask) || o.cpusPerTask < 1)) throw expected('positive integer', '--cpus-per-task', o.cpusPerTask);
  if (o.mem !== undefined && !/^\d+[KMGT]?$/.test(o.mem)) throw expected('a size such as 8G or 4000M', '--mem', o.mem);
  if (o.time !== undefined && !/^(\d+-)?\d+(:\d{1,2}){0,2}$/.test(o.time)) throw expected('a Slurm time such as 24:00:00 or 1-12:00:00', '--time', o.time);
}

/** The array job's script. `command` starts this program (`senet-ort`, or node and its script). */
export function sweepScript(dir: string, plan: SweepPlan, o: SlurmOptions, command: readonly string[]): string {
  const last = plan.tasks.length - 1;
  const cpus = o.cpusPerTask ?? CPUS_PER_TASK;
  const lines = [
    '#!/bin/bash',
    `# senet-ort sweep: ${plan.tasks.length} tasks (${plan.points.length} grid points x ${plan.archs.length} networks x ${plan.folds.length} folds).`,
    '# Task numbering: see sweep.json "numbering"; each array task runs `senet-ort sweep task`, which reads SLURM_ARRAY_TASK_ID.',
    `#SBATCH --job-name=senet-ort-sweep`,
    `#SBATCH --array=0-${last}${o.parallel !== undefined ? `%${o.parallel}` : ''}`,
    `#SBATCH --cpus-per-task=${cpus}`,
    `#SBATCH --mem=${o.mem ?? MEM_PER_TASK}`,
    ...(o.time !== undefined ? [`#SBATCH --time=${o.time}`] : []),
    ...(o.partition !== undefined ? [`#SBATCH --partition=${o.partition}`] : []),
    ...(o.account !== undefined ? [`#SBATCH --account=${o.account}`] : []),
    ...((o.requeue ?? true) ? ['#SBATCH --requeue'] : []),
    ...(o.gpu ? ['#SBATCH --gres=gpu:1'] : []),
    `#SBATCH --output=${slurmDir(dir)}/%A_%a.out`,
    ...(o.extra ?? []).map((e) => `#SBATCH ${e}`),
    '# SIGTERM (preemption, the time limit, scancel) stops the task at the next training step; the finished epochs',
    '# are kept and a requeued or resubmitted task resumes from them. exec: the signal reaches senet-ort itself.',
    `exec ${command.map(shellQuote).join(' ')} sweep task ${shellQuote(dir)} --threads "\${SLURM_CPUS_PER_TASK:-${cpus}}"`,
    '',
  ];
  return lines.join('\n');
}

export function reportScript(dir: string, o: SlurmOptions, command: readonly string[]): string {
  return [
    '#!/bin/bash',
    '# senet-ort sweep: the report, once every array task succeeded (submitted with --dependency=afterok).',
    '#SBATCH --job-name=senet-ort-sweep-report',
    `#SBATCH --cpus-per-task=${o.cpusPerTask ?? CPUS_PER_TASK}`,
    `#SBATCH --mem=${o.mem ?? MEM_PER_TASK}`,
    ...(o.partition !== undefined ? [`#SBATCH --partition=${o.partition}`] : []),
    ...(o.account !== undefined ? [`#SBATCH --account=${o.account}`] : []),
    `#SBATCH --output=${slurmDir(dir)}/report_%j.out`,
    `exec ${command.map(shellQuote).join(' ')} sweep report ${shellQuote(dir)} --threads "\${SLURM_CPUS_PER_TASK:-1}"`,
    '',
  ].join('\n');
}

const SBATCH_MISSING = '--engine slurm: sbatch not found on PATH; run this on a Slurm login node (or `module load slurm`), install Slurm\'s clients (Debian/Ubuntu: apt-get install slurm-client), or write the script only with --dry-run';

/** Is `sbatch` there? The check comes before anything is written. */
export function checkSbatch(env: NodeJS.ProcessEnv = process.env): void {
  const r = spawnSync('sbatch', ['--version'], { encoding: 'utf8', env });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') throw new UserError(SBATCH_MISSING);
}

/**
 * What `sweep --engine slurm` checks before anything is written: sbatch is there, and a node of
 * the partition can run a task (CPUs, memory, a GPU; --time within the partition's limit), which
 * Slurm itself does not refuse but leaves pending for ever.
 */
export function checkSlurmSubmission(o: SlurmOptions, env: NodeJS.ProcessEnv = process.env): void {
  checkSbatch(env);
  const partitions = readPartitions(env);
  if (partitions === null) return;
  const cpus = o.cpusPerTask ?? CPUS_PER_TASK;
  const mem = o.mem ?? MEM_PER_TASK;
  const flags = [`--cpus-per-task ${cpus}`, `--mem ${mem}`, ...(o.gpu ? ['--device'] : [])].join(', ');
  const problem = unmeetable(partitions, { partition: o.partition, cpus, mem, gpus: o.gpu ? 1 : 0, time: o.time, flags });
  if (problem !== null) throw new UserError(problem);
}

function sbatch(args: readonly string[], env: NodeJS.ProcessEnv): string {
  const r = spawnSync('sbatch', ['--parsable', ...args], { encoding: 'utf8', env });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') throw new UserError(SBATCH_MISSING);
  if (r.status !== 0) throw new UserError(`sbatch ${args.join(' ')}: ${(r.stderr || r.stdout).trim().split('\n').at(-1)}`);
  // --parsable prints "<id>" or "<id>;<cluster>".
  const id = r.stdout.trim().split(';')[0] ?? '';
  if (!/^\d+$/.test(id)) throw new UserError(`sbatch ${args.join(' ')}: expected a job id but read ${JSON.stringify(r.stdout.trim())}`);
  return id;
}

export function readSlurmJobs(dir: string): SlurmJobs | null {
  const path = jobsPath(dir);
  return existsSync(path) ? readJson<SlurmJobs>(path, 'the submitted Slurm jobs') : null;
}

export interface SubmitResult {
  readonly script: string;
  readonly reportScript: string;
  /** Null with --dry-run. */
  readonly submission: SlurmSubmission | null;
  /** The commands run (or, with --dry-run, to run). */
  readonly commands: readonly string[];
}

/**
 * Write slurm/sweep.sbatch and report.sbatch; unless `dryRun`, submit the array (only `tasks` when
 * given) with `sbatch --parsable`, then the report job after it, and record both in jobs.json.
 */
export function submitSlurm(dir: string, plan: SweepPlan, o: SlurmOptions & { dryRun?: boolean; tasks?: readonly number[]; env?: NodeJS.ProcessEnv }, command: readonly string[]): SubmitResult {
  checkSlurmOptions(o);
  const env = o.env ?? process.env;
  if (!o.dryRun) checkSlurmSubmission(o, env);
  if (o.tasks !== undefined && o.tasks.length === 0) throw new UserError(`${dir}: every task is done; nothing to submit`);
  const script = join(slurmDir(dir), 'sweep.sbatch');
  const report = join(slurmDir(dir), 'report.sbatch');
  writeFileAtomic(script, sweepScript(dir, plan, o, command));
  writeFileAtomic(report, reportScript(dir, o, command));
  const { dryRun: _d, tasks: _t, env: _e, ...settings } = o;
  writeFileAtomic(optionsPath(dir), `${JSON.stringify(settings, null, 2)}\n`);
  const array = o.tasks !== undefined ? [`--array=${arraySpec(o.tasks)}${o.parallel !== undefined ? `%${o.parallel}` : ''}`] : [];
  const commands = [`sbatch --parsable ${[...array, script].map(shellQuote).join(' ')}`, `sbatch --parsable --dependency=afterok:<job> ${shellQuote(report)}`];
  if (o.dryRun) return { script, reportScript: report, submission: null, commands };
  const job = sbatch([...array, script], env);
  const reportJob = sbatch([`--dependency=afterok:${job}`, '--kill-on-invalid-dep=yes', report], env);
  const submission: SlurmSubmission = { job, tasks: o.tasks ? [...o.tasks] : plan.tasks.map((t) => t.index), report: reportJob, submitted: new Date().toISOString() };
  const jobs: SlurmJobs = { ...fileHeader('slurm-jobs'), submissions: [...(readSlurmJobs(dir)?.submissions ?? []), submission] };
  writeFileAtomic(jobsPath(dir), `${JSON.stringify(jobs, null, 2)}\n`);
  return { script, reportScript: report, submission, commands: commands.map((c) => c.replace('<job>', job)) };
}

/** Expand an ArrayTaskId field: `3`, `4-7`, `4-7%2`, `1,3,5-6`. */
export function expandArray(spec: string): number[] {
  const out: number[] = [];
  for (const part of spec.replace(/%\d+$/, '').replace(/^\[|\]$/g, '').split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) continue;
    for (let i = Number(m[1]); i <= Number(m[2] ?? m[1]); i++) out.push(i);
  }
  return out;
}

/**
 * Slurm's state of each recorded array task, the latest submission winning, with the reason a
 * queued one waits: `scontrol show job -o` lists queued, running and (for MinJobAge) finished
 * tasks. Null when Slurm is not reachable.
 */
export function slurmStates(dir: string, env: NodeJS.ProcessEnv = process.env): { tasks: Map<number, SchedulerState>; reports: Map<string, string> } | null {
  const jobs = readSlurmJobs(dir);
  if (!jobs || jobs.submissions.length === 0) return null;
  const tasks = new Map<number, SchedulerState>();
  const reports = new Map<string, string>();
  for (const s of jobs.submissions) {
    const r = spawnSync('scontrol', ['show', 'job', '-o', s.job], { encoding: 'utf8', env });
    if (r.error) return null;
    for (const [i, state] of parseJobStates(r.stdout)) tasks.set(i, state);
    if (s.report) {
      const rr = spawnSync('scontrol', ['show', 'job', '-o', s.report], { encoding: 'utf8', env });
      const state = /\bJobState=(\S+)/.exec(rr.stdout)?.[1];
      if (state) reports.set(s.report, state);
    }
  }
  return { tasks, reports };
}

const WAITING = new Set(['PENDING', 'REQUEUED', 'REQUEUE_HOLD', 'REQUEUE_FED', 'CONFIGURING', 'SUSPENDED']);

/**
 * Each array task's JobState, and for a waiting one its Reason (a pending array is one record,
 * `ArrayTaskId=0-7%2`, with one reason for all), from `scontrol show job -o` lines.
 */
export function parseJobStates(text: string): Map<number, SchedulerState> {
  const tasks = new Map<number, SchedulerState>();
  for (const line of text.split('\n')) {
    const state = /\bJobState=(\S+)/.exec(line)?.[1];
    const ids = /\bArrayTaskId=(\S+)/.exec(line)?.[1];
    if (!state || !ids) continue;
    const reason = /\bReason=(\S+)/.exec(line)?.[1] ?? 'None';
    const waiting = WAITING.has(state) && reason !== 'None';
    const why = waiting ? { reason, meaning: reasonMeaning(reason) } : { reason: null, meaning: null };
    for (const i of expandArray(ids)) tasks.set(i, { state, ...why });
  }
  return tasks;
}

/**
 * Slurm's commonest pending reasons in plain words (squeue(1), JOB REASON CODES); null for the
 * rest, which are shown as Slurm names them. Those that never clear say what to do.
 */
const REASONS: Readonly<Record<string, string>> = {
  Resources: 'waiting for free CPUs, memory or GPUs',
  Priority: 'jobs of higher priority go first',
  JobArrayTaskLimit: 'waiting for a running task to end (--parallel)',
  Dependency: 'waiting for the job it depends on',
  DependencyNeverSatisfied: 'the job it depends on failed; it will never start: scancel it',
  BeginTime: 'not to start before its begin time',
  JobHeldUser: 'held by its owner: scontrol release it',
  JobHeldAdmin: 'held by an administrator',
  PartitionConfig: 'asks for more CPUs, memory or GPUs than the partition\'s nodes or limits allow; it will never start: scancel it and submit with less',
  PartitionTimeLimit: '--time is over the partition\'s limit; it will never start: scancel it and submit with a shorter --time',
  PartitionNodeLimit: 'outside the partition\'s node limits, or its nodes are down or drained',
  PartitionDown: 'the partition is down',
  PartitionInactive: 'the partition is inactive',
  ReqNodeNotAvail: 'the nodes it needs are down, drained or reserved',
  NodeDown: 'a node it needs is down',
  BadConstraints: 'its constraints can never be met; scancel it',
  InvalidAccount: 'its account is invalid; scancel it and submit with another --account',
  InvalidQOS: 'its QOS is invalid',
  Reservation: 'waiting for its reservation',
};

export function reasonMeaning(reason: string): string | null {
  const code = reason.split(',')[0]!;
  if (REASONS[code]) return REASONS[code]!;
  if (/^QOS/.test(code)) return 'a limit of its QOS';
  if (/^Assoc/.test(code)) return 'a limit of its account';
  return null;
}

/** Jobs still queued or running: what `sweep status --wait` waits for. */
export function slurmActive(states: { tasks: Map<number, SchedulerState>; reports: Map<string, string> }): boolean {
  const busy = (s: string): boolean => !['COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT', 'NODE_FAIL', 'PREEMPTED', 'OUT_OF_MEMORY', 'BOOT_FAIL', 'DEADLINE'].includes(s.replace(/\+$/, ''));
  return [...[...states.tasks.values()].map((t) => t.state), ...states.reports.values()].some(busy);
}
