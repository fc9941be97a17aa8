/**
 * `sweep`: a grid of ort-train options x networks x folds, planned once into a sweep folder and run
 * as independent tasks, by this machine (`--engine local`), a Slurm job array (slurm.ts) or a
 * Kubernetes Indexed Job (k8s.ts).
 *
 *   <sweep>/
 *     senet-ort.json         the project file (project.ts): the data and the shared options, for ort-train run here
 *     sweep.json             SweepPlan: data set and checksum, networks, folds, shared options, the grid, every task
 *     data/                  the tiles and splits, when the sweep was given a folder of class folders
 *     runs/<point>/<arch>/   one ordinary run directory per (grid point, network): evaluate, compare, report, export work on it
 *     tasks/<i>.json         task i's last attempt: running, done, failed or stopped, with host, pid and times
 *     logs/task-<i>.log      task i's output under --engine local
 *     slurm/, k8s/           the engine's files (sweep.sbatch, jobs.json, job.json)
 *     report/                sweep report: report.html, sweep.csv, plots
 *
 * Task numbering (documented, deterministic): with P grid points (the cartesian product of the
 * axes in the order given, the last axis fastest), A networks (in --arch order) and F folds
 * (ascending), task t is point floor(t / (A F)), network floor(t / F) mod A, the (t mod F)-th fold:
 * t = (p A + a) F + f. A task is one fold of one run; it is idempotent (a finished fold is a no-op,
 * a part-done one resumes from its last epoch), and the runs' artifacts are generated when the
 * sweep is planned (or, if a run folder was removed since, by the first task under a lock).
 */
import { spawn } from 'node:child_process';
import { closeSync, createWriteStream, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { availableParallelism, hostname } from 'node:os';
import { basename, join, relative, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { UserError, expected, either } from '../errors.ts';
import { formatPrepared, prepareSource } from '../data/index.ts';
import type { SplitOptions, TilingOptions } from '../data/index.ts';
import { readPreparedDataset, splitFiles } from '../data/prepared.ts';
import { datasetChecksum, isRun, readFoldState } from '../formats/rundir.ts';
import type { TrainInput } from '../train/options.ts';
import { resolveTrainOptions } from '../train/options.ts';
import type { Progress } from '../train/progress.ts';
import { prepareRun, train } from '../train/trainer.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import { fileHeader } from '../version.ts';
import type { GridAxis } from './grid.ts';
import { SWEEP_PRESETS, gridPoints, kebab } from './grid.ts';
import { writeProject } from './project.ts';
import { readJson } from '../formats/json.ts';
import { textTable } from '../util/table.ts';
import type { Align } from '../util/table.ts';

export const SWEEP_FILE = 'sweep.json';

export interface SweepTask {
  readonly index: number;
  /** Index into `points`. */
  readonly point: number;
  readonly arch: string;
  /** 1-based fold. */
  readonly fold: number;
  /** The run directory, relative to the sweep folder. */
  readonly run: string;
}

/** What sweep.json holds. */
export interface SweepPlan {
  readonly format: 'senet-ort sweep';
  readonly version: 1;
  readonly tool: string;
  readonly created: string;
  /** The folder the sweep was given (images or a prepared data set). */
  readonly source: string;
  /** The prepared data set every run trains on, absolute. */
  readonly data: string;
  /** datasetChecksum of `data` when planned. */
  readonly checksum: string;
  readonly archs: readonly string[];
  readonly folds: readonly number[];
  /** ort-train options shared by every run (under each point's options). */
  readonly options: TrainInput;
  /** The sweep preset the grid came from, if any. */
  readonly preset: string | null;
  readonly grid: readonly GridAxis[];
  readonly points: readonly { readonly index: number; readonly id: string; readonly values: Readonly<Record<string, string>> }[];
  readonly numbering: string;
  readonly tasks: readonly SweepTask[];
}

export interface SweepInput {
  /** A folder of class folders (tiled and split into <out>/data) or a prepared data set (with splits.json). */
  readonly source: string;
  /** The sweep folder (default artifacts/sweep-<source name>). */
  readonly out?: string;
  /** Networks (default: the preset's, else resnet20 and se_resnet20). */
  readonly archs?: readonly string[];
  readonly grid?: readonly GridAxis[];
  /** A sweep preset (SWEEP_PRESETS): its networks, options and axis come before the --grid axes. */
  readonly preset?: string;
  readonly folds?: readonly number[] | 'all';
  /** ort-train options shared by every run. */
  readonly train?: TrainInput;
  /** Tiling options, when the source is images. */
  readonly tiling?: TilingOptions;
  /** Grouping options, when the source is split here (images, or a data set not split yet). */
  readonly split?: Omit<SplitOptions, 'dir'>;
}

const NUMBERING = 'task = (point * archs + arch) * folds + fold position; points are the cartesian product of the grid axes in order, the last axis fastest';

/** Options a grid or a sweep sets itself, never shared ones. */
const NOT_SHARED = ['data', 'arch', 'out', 'folds', 'resume'] as const;

const show = (o: unknown): string => JSON.stringify(o);

export function readSweepPlan(dir: string): SweepPlan {
  const path = join(dir, SWEEP_FILE);
  const plan = readJson<SweepPlan>(path, 'a sweep plan', `plan a sweep first: senet-ort sweep <images> --out ${dir} ...`);
  if (plan.format !== 'senet-ort sweep' || !Array.isArray(plan.tasks)) throw new UserError(`${path}: not a senet-ort sweep plan`);
  return plan;
}

export const runDir = (dir: string, task: SweepTask): string => join(dir, task.run);

/** The plan's identity: what must match for a sweep folder to be reused. */
function identity(p: Pick<SweepPlan, 'data' | 'checksum' | 'archs' | 'folds' | 'options' | 'preset' | 'grid'>): Record<string, string> {
  return { data: p.data, checksum: p.checksum, archs: show(p.archs), folds: show(p.folds), options: show(p.options), preset: show(p.preset), grid: show(p.grid) };
}

/**
 * Plan a sweep: prepare the data (tile and split a folder of class folders), check every run's
 * options, write sweep.json, and create every run directory with its artifacts, so that tasks
 * starting together never generate them at once. A folder that holds another plan is refused.
 */
export async function planSweep(input: SweepInput, progress?: Progress): Promise<{ dir: string; plan: SweepPlan; reused: boolean }> {
  const preset = input.preset === undefined ? undefined : SWEEP_PRESETS[input.preset];
  if (input.preset !== undefined && !preset) throw expected(either(Object.keys(SWEEP_PRESETS)), '--preset', input.preset);
  const source = resolve(input.source);
  if (!existsSync(source)) throw new UserError(`${source}: not found; give a folder of class folders or a prepared data set`);
  const dir = resolve(input.out ?? join('artifacts', `sweep-${basename(source)}`));
  const archs = [...(input.archs ?? preset?.archs ?? ['resnet20', 'se_resnet20'])];
  if (archs.length === 0 || archs.some((a) => a.trim() === '')) throw expected('one or more networks, e.g. resnet20,se_resnet20', '--arch', archs.join(','));
  if (new Set(archs).size !== archs.length) throw new UserError(`--arch ${archs.join(',')}: a network is repeated`);
  // Threads and loader workers are how a task runs, not what it trains: each engine sets them per task.
  const { threads: _t, workers: _w, ...given } = input.train ?? {};
  const shared: TrainInput = { ...preset?.options, ...given };
  for (const key of NOT_SHARED) if (shared[key] !== undefined) throw new UserError(`--${key}: the sweep sets it for each task; leave it out`);
  const grid = [...(preset ? [preset.axis] : []), ...(input.grid ?? [])];
  for (const axis of grid) {
    for (const key of new Set(axis.values.flatMap((v) => Object.keys(v.options)))) {
      if ((given as Record<string, unknown>)[key] === undefined) continue;
      if (key === axis.key) throw new UserError(`--${kebab(key)} and --grid ${kebab(key)} both given; use one`);
      throw new UserError(`--${kebab(key)}: --preset ${input.preset} sets it for each ${axis.key}; leave it out`);
    }
  }
  const points = gridPoints(grid);

  const path = join(dir, SWEEP_FILE);
  const old = existsSync(path) ? readSweepPlan(dir) : null;
  if (old && old.source !== source) throw new UserError(`${path}: planned from ${old.source}, not ${source}; use another --out`);

  // The data: a split data set as it is; images or a tiled data set prepared and split into <sweep>/data.
  const prepared = await prepareSource({
    source, output: join(dir, 'data'), split: input.split ?? {},
    tiling: { ...input.tiling, onSource: (done, total) => progress?.status(`tiling ${done}/${total} images`) },
  });
  if (prepared.kind !== 'split') progress?.line(formatPrepared(prepared).trimEnd());
  const data = prepared.data;
  const dataset = readPreparedDataset(data);
  const checksum = datasetChecksum(dataset.dir, dataset.classes, splitFiles(dataset));
  const k = dataset.splits.folds.length;
  const folds = input.folds === undefined || input.folds === 'all' ? Array.from({ length: k }, (_, i) => i + 1) : [...new Set(input.folds)].sort((a, b) => a - b);
  for (const f of folds) if (!Number.isInteger(f) || f < 1 || f > k) throw expected(`fold from 1 to ${k}`, '--folds', f);

  // Every run's options are checked before anything of the sweep is written.
  const runs = points.flatMap((point) => archs.map((arch) => {
    const run = join('runs', point.id, arch);
    const given: TrainInput = { ...shared, ...point.options, data: dataset.dir, arch, out: join(dir, run), folds };
    try {
      resolveTrainOptions(given, dataset);
    } catch (err) {
      if (err instanceof UserError) throw new UserError(`grid point ${point.id}, ${arch}: ${err.message}`);
      throw err;
    }
    return { point: point.index, arch, run, given };
  }));
  const tasks: SweepTask[] = runs.flatMap((r) => folds.map((fold) => ({ index: 0, point: r.point, arch: r.arch, fold, run: r.run }))).map((t, index) => ({ ...t, index }));

  const plan: SweepPlan = {
    ...fileHeader('sweep'),
    created: new Date().toISOString(),
    source,
    data: dataset.dir,
    checksum,
    archs,
    folds,
    options: shared,
    preset: input.preset ?? null,
    grid,
    points: points.map(({ index, id, values }) => ({ index, id, values })),
    numbering: NUMBERING,
    tasks,
  };
  let reused = false;
  if (old) {
    const [a, b] = [identity(old), identity(plan)];
    const differs = Object.keys(a).find((key) => a[key] !== b[key]);
    if (differs === 'checksum') throw new UserError(`${path}: planned on other tiles (the data set checksum of ${plan.data} differs); use another --out`);
    if (differs) throw new UserError(`${path}: holds another plan (its ${differs} differ${differs.endsWith('s') ? '' : 's'}: ${a[differs]} here, ${b[differs]} now); use another --out`);
    reused = true;
  }
  const written = reused ? readSweepPlan(dir) : plan;
  if (!reused) writeFileAtomic(path, `${JSON.stringify(plan, null, 2)}\n`);
  writeProject(dir, { data: dataset.dir, arch: archs.at(-1)!, options: shared });
  for (const r of runs) {
    if (!isRun(join(dir, r.run))) progress?.status(`generating the training artifacts of ${r.run}`);
    prepareRun(r.given);
  }
  progress?.clear();
  return { dir, plan: written, reused };
}

// ---------------------------------------------------------------------------------------------
// One task.

export type TaskRecordStatus = 'running' | 'done' | 'failed' | 'stopped';

/** tasks/<i>.json: a task's last attempt. */
export interface TaskRecord {
  readonly task: number;
  readonly status: TaskRecordStatus;
  readonly host: string;
  readonly pid: number;
  /** The scheduler's name for the attempt (Slurm `<job>_<task>`, the Kubernetes pod), if any. */
  readonly job: string | null;
  readonly started: string;
  readonly ended: string | null;
  readonly message: string | null;
}

export const taskRecordPath = (dir: string, index: number): string => join(dir, 'tasks', `${index}.json`);

export function readTaskRecord(dir: string, index: number): TaskRecord | null {
  const path = taskRecordPath(dir, index);
  if (!existsSync(path)) return null;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as TaskRecord;
  } catch {
    return null;
  }
}

/** The task index: the argument, else SLURM_ARRAY_TASK_ID, else JOB_COMPLETION_INDEX (Kubernetes Indexed Jobs). */
export function taskIndex(arg: string | number | undefined, env: NodeJS.ProcessEnv, count: number): number {
  const [raw, where] = arg !== undefined ? [String(arg), 'sweep task <index>']
    : env['SLURM_ARRAY_TASK_ID'] !== undefined ? [env['SLURM_ARRAY_TASK_ID'], 'SLURM_ARRAY_TASK_ID']
    : env['JOB_COMPLETION_INDEX'] !== undefined ? [env['JOB_COMPLETION_INDEX'], 'JOB_COMPLETION_INDEX']
    : [undefined, ''];
  if (raw === undefined) throw new UserError('sweep task: no task index; give it as an argument, or run under a Slurm array (SLURM_ARRAY_TASK_ID) or an Indexed Job (JOB_COMPLETION_INDEX)');
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isInteger(n) || n < 0 || n >= count) throw expected(`task index from 0 to ${count - 1}`, where, raw);
  return n;
}

function schedulerJob(env: NodeJS.ProcessEnv): string | null {
  if (env['SLURM_ARRAY_JOB_ID'] !== undefined) return `${env['SLURM_ARRAY_JOB_ID']}_${env['SLURM_ARRAY_TASK_ID']}`;
  if (env['SLURM_JOB_ID'] !== undefined) return env['SLURM_JOB_ID'];
  if (env['JOB_COMPLETION_INDEX'] !== undefined) return env['HOSTNAME'] ?? null;
  return null;
}

/** Hold `path` as a lock (created exclusively) while `body` runs; a lock left by a dead process on this host is taken over. */
export async function withLock<T>(path: string, body: () => Promise<T> | T, timeoutMs = 600_000): Promise<T> {
  mkdirSync(join(path, '..'), { recursive: true });
  const started = Date.now();
  for (;;) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, `${hostname()} ${process.pid}\n`);
      closeSync(fd);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const [host, pid] = (existsSync(path) ? readFileSync(path, 'utf8') : '').trim().split(' ');
      if (host === hostname() && pid !== undefined && !alive(Number(pid))) {
        rmSync(path, { force: true });
        continue;
      }
      if (Date.now() - started > timeoutMs) throw new UserError(`${path}: locked by ${host ?? '?'} pid ${pid ?? '?'} for ${Math.round(timeoutMs / 1000)} s; remove it if that process is gone`);
      await sleep(200);
    }
  }
  try {
    return await body();
  } finally {
    rmSync(path, { force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface TaskHooks {
  readonly progress?: Progress;
  /** Stops the task at the next step boundary (SIGTERM). */
  readonly signal?: AbortSignal;
  readonly env?: NodeJS.ProcessEnv;
}

export interface TaskSettings {
  readonly threads?: number;
  readonly workers?: number;
}

/** Run task `index`: train its fold (resuming a part-done one), a no-op when the fold is finished. */
export async function runTask(dir: string, index: number, settings: TaskSettings = {}, hooks: TaskHooks = {}): Promise<{ task: SweepTask; skipped: boolean }> {
  const plan = readSweepPlan(dir);
  const task = plan.tasks[index];
  if (!task) throw expected(`task index from 0 to ${plan.tasks.length - 1}`, 'sweep task <index>', index);
  const run = runDir(dir, task);
  const state = isRun(run) ? readFoldState(run, task.fold) : null;
  if (state?.finished) {
    hooks.progress?.line(`task ${index}: ${task.run} fold ${task.fold} already finished; nothing to do`);
    return { task, skipped: true };
  }
  const env = hooks.env ?? process.env;
  const base = { task: index, host: hostname(), pid: process.pid, job: schedulerJob(env), started: new Date().toISOString() };
  const record = (status: TaskRecordStatus, message: string | null): void => {
    const r: TaskRecord = { ...base, status, ended: status === 'running' ? null : new Date().toISOString(), message };
    writeFileAtomic(taskRecordPath(dir, index), `${JSON.stringify(r, null, 2)}\n`);
  };
  record('running', null);
  try {
    if (!isRun(run)) {
      // The run folder went missing since the plan: the first of its tasks recreates it, the others wait.
      const point = plan.points[task.point]!;
      const options = Object.assign({}, plan.options, ...plan.grid.map((a) => a.values.find((v) => v.label === point.values[a.key])!.options)) as TrainInput;
      await withLock(`${run}.lock`, () => (isRun(run) ? undefined : prepareRun({ ...options, data: plan.data, arch: task.arch, out: run, folds: plan.folds })));
    }
    const given: TrainInput = { out: run, folds: [task.fold], resume: true, ...(settings.threads !== undefined ? { threads: settings.threads } : {}), ...(settings.workers !== undefined ? { workers: settings.workers } : {}) };
    await train(given, { ...(hooks.progress ? { progress: hooks.progress } : {}), ...(hooks.signal ? { signal: hooks.signal } : {}) });
    record('done', null);
    return { task, skipped: false };
  } catch (err) {
    record(hooks.signal?.aborted ? 'stopped' : 'failed', (err as Error).message);
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// Status.

export type TaskStatus = 'done' | 'running' | 'part-done' | 'failed' | 'pending';

/** A scheduler's word for a task (Slurm's JobState) and, while it waits, why (Slurm's Reason). */
export interface SchedulerState {
  readonly state: string;
  /** Slurm's reason a waiting task is not running (PartitionConfig, Resources, ...), else null. */
  readonly reason: string | null;
  /** The reason in plain words, where it is a common one. */
  readonly meaning: string | null;
}

export interface TaskState {
  readonly task: SweepTask;
  readonly status: TaskStatus;
  readonly epochsDone: number;
  readonly epochs: number | null;
  /** The scheduler's word for the task (Slurm's JobState), where one was asked. */
  readonly scheduler: string | null;
  /** Why the scheduler keeps a pending task waiting (Slurm's Reason), where it said. */
  readonly reason: string | null;
  readonly message: string | null;
}

const QUEUED = new Set(['PENDING', 'CONFIGURING', 'REQUEUED', 'REQUEUE_HOLD', 'REQUEUE_FED', 'RESIZING', 'SUSPENDED']);
const ACTIVE = new Set(['RUNNING', 'COMPLETING', 'STAGE_OUT', 'SIGNALING']);

/**
 * Every task's state from the run folders (finished folds, epochs done) and the task records,
 * refined by the scheduler's states (Slurm JobState per task index) when given.
 */
export function sweepStatus(dir: string, scheduler: ReadonlyMap<number, SchedulerState> = new Map()): TaskState[] {
  const plan = readSweepPlan(dir);
  return plan.tasks.map((task) => {
    const run = runDir(dir, task);
    const state = isRun(run) ? readFoldState(run, task.fold) : null;
    const record = readTaskRecord(dir, task.index);
    const said = scheduler.get(task.index);
    const slurm = said?.state ?? null;
    const epochsDone = state?.epochsDone ?? 0;
    const base = { task, epochsDone, epochs: state?.epochs ?? null, scheduler: slurm, reason: null, message: record?.message ?? null };
    if (state?.finished) return { ...base, status: 'done' };
    const running = slurm !== null ? ACTIVE.has(slurm)
      : record?.status === 'running' && (record.host !== hostname() || alive(record.pid));
    if (running) return { ...base, status: 'running' };
    if (slurm !== null && QUEUED.has(slurm)) {
      // The reason it waits comes first; an earlier attempt's message after it.
      const note = [said?.meaning ?? null, record?.message ? `last attempt: ${record.message}` : null].filter((n) => n !== null).join('; ');
      return { ...base, status: 'pending', reason: said?.reason ?? null, message: note === '' ? null : note };
    }
    if (epochsDone > 0) return { ...base, status: 'part-done' };
    if (record && record.status !== 'done') return { ...base, status: 'failed', message: record.message ?? (record.status === 'running' ? 'ended without a word (killed?)' : null) };
    return { ...base, status: 'pending' };
  });
}

export function formatStatus(plan: SweepPlan, states: readonly TaskState[]): string {
  const rows = states.map((s) => {
    const point = plan.points[s.task.point]!;
    const epochs = s.epochs === null ? '-' : `${s.epochsDone}/${s.epochs}`;
    const scheduler = s.scheduler === null ? '' : s.reason === null ? s.scheduler : `${s.scheduler} (${s.reason})`;
    return [String(s.task.index), point.id, s.task.arch, String(s.task.fold), s.status, epochs, scheduler, s.message ?? ''];
  });
  const header = ['task', 'point', 'arch', 'fold', 'status', 'epochs', 'scheduler', 'note'];
  const counts = new Map<string, number>();
  for (const s of states) counts.set(s.status, (counts.get(s.status) ?? 0) + 1);
  // Pending tasks say why they wait (`6 pending (4 Priority, 2 Resources)`), so `status --wait` shows a wait that will not end.
  const reasons = new Map<string, number>();
  for (const s of states) if (s.status === 'pending' && s.reason !== null) reasons.set(s.reason, (reasons.get(s.reason) ?? 0) + 1);
  const why = [...reasons].map(([reason, n]) => (reasons.size === 1 && n === counts.get('pending') ? reason : `${n} ${reason}`)).join(', ');
  const summary = ['done', 'running', 'part-done', 'failed', 'pending'].filter((k) => counts.has(k)).map((k) => `${counts.get(k)} ${k}${k === 'pending' && why ? ` (${why})` : ''}`).join(', ');
  return `${textTable(header, rows, header.map((): Align => 'l'))}\n${states.length} tasks: ${summary}\n`;
}

// ---------------------------------------------------------------------------------------------
// The cluster engines (slurm.ts, k8s.ts).

/** CPUs a cluster task asks for when --cpus-per-task is not given. */
export const CPUS_PER_TASK = 4;

/**
 * On a cluster each task runs one ONNX Runtime thread per CPU it asks for (--cpus-per-task), so a
 * --threads that says otherwise is refused rather than silently replaced: fewer threads would
 * leave CPUs the scheduler holds idle, more would contend for them.
 */
export function checkClusterThreads(threads: number | undefined, cpusPerTask: number | undefined): void {
  const cpus = cpusPerTask ?? CPUS_PER_TASK;
  if (threads === undefined || threads === cpus) return;
  throw new UserError(cpusPerTask === undefined
    ? `--threads ${threads} differs from --cpus-per-task ${cpus} (the default): on a cluster --cpus-per-task sets each task's threads; give --cpus-per-task ${threads} instead`
    : `--threads ${threads} differs from --cpus-per-task ${cpus}: on a cluster --cpus-per-task sets each task's threads; leave --threads out`);
}

// ---------------------------------------------------------------------------------------------
// The local engine.

export interface LocalOptions {
  /** Tasks at once (default 1). */
  readonly jobs?: number;
  /** ONNX Runtime threads per task (default: the CPUs divided among the jobs). */
  readonly threads?: number;
  /** Only these tasks (default: every task not done). */
  readonly tasks?: readonly number[];
  /** How to start this program: [node, ...its flags, main script]. */
  readonly command: readonly string[];
  readonly progress?: Progress;
  readonly signal?: AbortSignal;
}

/** Run the tasks on this machine as child processes, `jobs` at once; each task's output goes to logs/task-<i>.log. */
export async function runLocal(dir: string, options: LocalOptions): Promise<{ done: number[]; failed: number[] }> {
  const plan = readSweepPlan(dir);
  const jobs = options.jobs ?? 1;
  const threads = options.threads ?? Math.max(1, Math.floor(availableParallelism() / jobs));
  const states = sweepStatus(dir);
  const todo = options.tasks ? [...options.tasks] : states.filter((s) => s.status !== 'done').map((s) => s.task.index);
  const done: number[] = [];
  const failed: number[] = [];
  options.progress?.line(`sweep: ${todo.length} of ${plan.tasks.length} tasks to run, ${jobs} at once, ${threads} thread${threads === 1 ? '' : 's'} each`);
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const queue = [...todo];
  const children = new Set<ReturnType<typeof spawn>>();
  const onAbort = (): void => {
    queue.length = 0;
    for (const c of children) c.kill('SIGTERM');
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const worker = async (): Promise<void> => {
    for (let index = queue.shift(); index !== undefined; index = queue.shift()) {
      const log = join(dir, 'logs', `task-${index}.log`);
      const [node, ...args] = options.command;
      const child = spawn(node!, [...args, 'sweep', 'task', dir, String(index), '--threads', String(threads)], { stdio: ['ignore', 'pipe', 'pipe'] });
      children.add(child);
      const out = createWriteStream(log);
      child.stdout!.pipe(out);
      child.stderr!.pipe(out);
      const code = await new Promise<number | null>((ok) => child.on('close', (c) => ok(c)));
      children.delete(child);
      const t = plan.tasks[index]!;
      const what = `task ${index} (${t.run} fold ${t.fold})`;
      if (code === 0) {
        done.push(index);
        options.progress?.line(`${what}: done`);
      } else {
        failed.push(index);
        const tail = readFileSync(log, 'utf8').trim().split('\n').at(-1) ?? '';
        options.progress?.line(`${what}: failed (exit ${code}): ${tail}; log ${relative(process.cwd(), log) || log}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, Math.max(1, todo.length)) }, worker));
  options.signal?.removeEventListener('abort', onAbort);
  return { done, failed };
}
