import type { CAC } from 'cac';
import { setTimeout as sleep } from 'node:timers/promises';
import { UserError, expected, either } from '../../errors.ts';
import { createProgress } from '../../train/progress.ts';
import { SWEEP_PRESETS, parseGrid } from '../../study/grid.ts';
import type { K8sOptions } from '../../study/k8s.ts';
import { quantity, writeSweepJob } from '../../study/k8s.ts';
import type { SlurmOptions } from '../../study/slurm.ts';
import { checkSlurmOptions, checkSlurmSubmission, readSlurmOptions, slurmActive, slurmStates, submitSlurm } from '../../study/slurm.ts';
import { writeSweepReport } from '../../study/sweep-report.ts';
import type { SweepPlan, TaskState } from '../../study/sweep.ts';
import { checkClusterThreads, formatStatus, planSweep, readSweepPlan, runLocal, runTask, sweepStatus, taskIndex } from '../../study/sweep.ts';
import { intFlag } from '../flags.ts';
import { TRAIN_OPTIONS, addTrainingOptions, trainInput } from '../train-flags.ts';
import type { RawFlags } from '../train-flags.ts';
import { addGroupingOptions, groupingOptions } from './split.ts';
import { addTilingOptions, tilingOptions } from './tile.ts';
import { KATHER_SLIDE_REGEX } from '../../data/index.ts';

/**
 * `sweep`: plan a grid of trainings and run it with an engine; `sweep task|status|submit|report <dir>`
 * work on a planned sweep folder (see src/study/sweep.ts for its layout and the task numbering).
 */

const ENGINES = ['local', 'slurm', 'k8s'] as const;
type Engine = (typeof ENGINES)[number];
const ACTIONS = ['task', 'status', 'submit', 'report'] as const;

/** Training options a sweep shares between its runs; it sets data, networks, folds and run folders itself. */
const SWEEP_TRAINING = Object.fromEntries(Object.entries(TRAIN_OPTIONS).filter(([k]) => !['data', 'arch', 'fold', 'folds', 'out', 'resume'].includes(k)));

/** How this program is started again (in a child process, a Slurm job): `--command`, else this very node and script. */
function selfCommand(flags: RawFlags): string[] {
  if (flags['command'] !== undefined) {
    const words = String(flags['command']).trim().split(/\s+/).filter((w) => w !== '');
    if (words.length === 0) throw expected('a command such as senet-ort', '--command', flags['command']);
    return words;
  }
  return [process.execPath, ...process.execArgv, process.argv[1]!];
}

function engineOf(flags: RawFlags, fallback: Engine): Engine {
  const e = flags['engine'] === undefined ? fallback : String(flags['engine']);
  if (!ENGINES.includes(e as Engine)) throw expected(either(ENGINES), '--engine', e);
  return e as Engine;
}

function text(flags: RawFlags, key: string): string | undefined {
  const v = flags[key];
  return v === undefined ? undefined : String(Array.isArray(v) ? v.at(-1) : v);
}

/** What each task of a cluster engine gets, shared by Slurm and Kubernetes: --parallel, --cpus-per-task, --mem. */
function taskResources(flags: RawFlags): { parallel?: number; cpusPerTask?: number; mem?: string } {
  return {
    ...(flags['parallel'] !== undefined ? { parallel: intFlag(text(flags, 'parallel'), '--parallel', 1)! } : {}),
    ...(flags['cpusPerTask'] !== undefined ? { cpusPerTask: intFlag(text(flags, 'cpusPerTask'), '--cpus-per-task', 1)! } : {}),
    ...(flags['mem'] !== undefined ? { mem: text(flags, 'mem')! } : {}),
  };
}

/**
 * Whether each task asks the scheduler for a GPU. Only asked for: whether the GPU runs is checked
 * where the task trains (the submit host may have none), as ort-train checks it.
 */
function usesGpu(device: string | undefined): boolean {
  return device === 'cuda' || device === 'webgpu';
}

function slurmOptions(flags: RawFlags, plan: { device?: string | undefined }, stored: SlurmOptions = {}): SlurmOptions {
  const extra = flags['sbatch'] === undefined ? stored.extra ?? [] : ([] as unknown[]).concat(flags['sbatch']).map(String);
  const o: SlurmOptions = {
    ...stored,
    ...taskResources(flags),
    ...(flags['time'] !== undefined ? { time: text(flags, 'time')! } : {}),
    ...(flags['partition'] !== undefined ? { partition: text(flags, 'partition')! } : {}),
    ...(flags['account'] !== undefined ? { account: text(flags, 'account')! } : {}),
    requeue: flags['requeue'] === undefined ? stored.requeue ?? true : flags['requeue'] !== false,
    gpu: usesGpu(plan.device),
    extra,
  };
  checkSlurmOptions(o);
  checkClusterThreads(intFlag(text(flags, 'threads'), '--threads', 1), o.cpusPerTask);
  return o;
}

function k8sOptions(flags: RawFlags, plan: { device?: string | undefined }): K8sOptions {
  const o: K8sOptions = {
    ...(flags['image'] !== undefined ? { image: text(flags, 'image')! } : {}),
    ...(flags['claim'] !== undefined ? { claim: text(flags, 'claim')! } : {}),
    ...taskResources(flags),
    ...(flags['backoffLimitPerIndex'] !== undefined ? { backoffLimitPerIndex: intFlag(text(flags, 'backoffLimitPerIndex'), '--backoff-limit-per-index', 0)! } : {}),
    ...(flags['namespace'] !== undefined ? { namespace: text(flags, 'namespace')! } : {}),
    gpu: usesGpu(plan.device),
    graphics: plan.device === 'webgpu',
  };
  if (o.mem !== undefined) quantity(o.mem);
  checkClusterThreads(intFlag(text(flags, 'threads'), '--threads', 1), o.cpusPerTask);
  return o;
}

function foldsFlag(flags: RawFlags): readonly number[] | 'all' | undefined {
  const raw = text(flags, 'folds');
  if (raw === undefined || raw === 'all') return raw as 'all' | undefined;
  return raw.split(',').map((p) => {
    const n = Number(p);
    if (p.trim() === '' || !Number.isInteger(n)) throw expected('all or fold numbers such as 1,2', '--folds', raw);
    return n;
  });
}

/** `sweep <source>`: plan, then run with the engine. */
async function sweep(source: string, flags: RawFlags): Promise<void> {
  const progress = createProgress(process.stderr.isTTY ? process.stderr : null);
  const engine = engineOf(flags, 'local');
  const presetName = text(flags, 'preset');
  const sweepPreset = presetName !== undefined && presetName in SWEEP_PRESETS ? presetName : undefined;
  const { preset: _p, ...trainFlags } = flags;
  const shared = trainInput(sweepPreset ? trainFlags : flags, SWEEP_TRAINING);
  const grouping = groupingOptions(flags);
  const grid = parseGrid(flags['grid'] === undefined ? [] : ([] as unknown[]).concat(flags['grid']).map(String));
  const archs = text(flags, 'arch')?.split(',').map((a) => a.trim());
  const jobs = intFlag(text(flags, 'jobs'), '--jobs', 1);
  const device = shared.device;
  // Engine options are checked, and sbatch and the partition's nodes asked, before anything is written.
  const slurm = engine === 'slurm' ? slurmOptions(flags, { device }) : null;
  const k8s = engine === 'k8s' ? k8sOptions(flags, { device }) : null;
  if (slurm && !flags['dryRun']) checkSlurmSubmission(slurm);
  const folds = foldsFlag(flags);
  const out = text(flags, 'out');
  const { dir, plan, reused } = await planSweep({
    source, ...(out !== undefined ? { out } : {}), ...(archs ? { archs } : {}), grid, ...(sweepPreset ? { preset: sweepPreset } : {}),
    ...(folds !== undefined ? { folds } : {}), train: shared, tiling: tilingOptions(flags), split: grouping,
  }, progress);
  progress.line(`sweep ${dir}: ${plan.tasks.length} tasks (${plan.points.length} grid point${plan.points.length === 1 ? '' : 's'} x ${plan.archs.length} networks x ${plan.folds.length} folds)${reused ? ', plan unchanged' : ''}; plan in ${dir}/sweep.json`);
  await runEngine(dir, plan, engine, flags, { slurm, k8s, ...(jobs !== undefined ? { jobs } : {}), tasks: undefined });
}

async function runEngine(dir: string, plan: SweepPlan, engine: Engine, flags: RawFlags, o: { slurm: SlurmOptions | null; k8s: K8sOptions | null; jobs?: number; tasks: readonly number[] | undefined }): Promise<void> {
  const progress = createProgress(process.stderr.isTTY ? process.stderr : null);
  const command = selfCommand(flags);
  if (engine === 'local') {
    const threads = intFlag(text(flags, 'threads'), '--threads', 1);
    const controller = new AbortController();
    const stop = (): void => controller.abort('SIGTERM');
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    try {
      const r = await runLocal(dir, { jobs: o.jobs ?? 1, ...(threads !== undefined ? { threads } : {}), ...(o.tasks ? { tasks: o.tasks } : {}), command, progress, signal: controller.signal });
      if (r.failed.length > 0) throw new UserError(`${dir}: ${r.failed.length} task${r.failed.length === 1 ? '' : 's'} failed (${r.failed.join(', ')}); see senet-ort sweep status ${dir}, rerun with senet-ort sweep submit ${dir} --missing`);
    } finally {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
    }
    if (controller.signal.aborted) {
      process.exitCode = 143;
      return;
    }
    const report = await writeSweepReport(dir, { log: (l) => progress.line(l) });
    progress.line(`report: ${report.html}\ntable: ${report.csv}`);
    return;
  }
  if (engine === 'slurm') {
    const r = submitSlurm(dir, plan, { ...(o.slurm ?? slurmOptions(flags, {})), dryRun: flags['dryRun'] === true, ...(o.tasks ? { tasks: o.tasks } : {}) }, command);
    const lines = [`slurm script: ${r.script}`, `report script: ${r.reportScript}`];
    if (r.submission) lines.push(`submitted array job ${r.submission.job} (tasks ${r.submission.tasks.length === plan.tasks.length ? `0-${plan.tasks.length - 1}` : r.submission.tasks.join(',')}) and report job ${r.submission.report} after it`, `follow: senet-ort sweep status ${dir} --wait`);
    else lines.push('dry run, nothing submitted; to submit:', ...r.commands.map((c) => `  ${c}`));
    process.stdout.write(`${lines.join('\n')}\n`);
    return;
  }
  const { path } = writeSweepJob(dir, plan, o.k8s ?? k8sOptions(flags, {}));
  process.stdout.write(`kubernetes job: ${path}\nsubmit: kubectl create -f ${path}   (the sweep folder must be on the claim, mounted at ${dir})\nthen: senet-ort sweep report ${dir}\n`);
}

function states(dir: string): TaskState[] {
  const slurm = slurmStates(dir);
  return sweepStatus(dir, slurm?.tasks ?? new Map());
}

async function status(dir: string, flags: RawFlags): Promise<void> {
  const plan = readSweepPlan(dir);
  if (!flags['wait']) {
    process.stdout.write(formatStatus(plan, states(dir)));
    return;
  }
  let last = '';
  for (;;) {
    const slurm = slurmStates(dir);
    const now = sweepStatus(dir, slurm?.tasks ?? new Map());
    const busy = slurm ? slurmActive(slurm) : now.some((s) => s.status === 'running');
    const line = formatStatus(plan, now).trimEnd().split('\n').at(-1)!;
    if (line !== last) process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
    last = line;
    if (!busy) {
      process.stdout.write(formatStatus(plan, now));
      if (now.some((s) => s.status !== 'done')) process.exitCode = 1;
      return;
    }
    await sleep(Number(process.env['SENET_ORT_POLL_MS'] ?? 5000));
  }
}

async function task(dir: string, index: string | undefined, flags: RawFlags): Promise<void> {
  const plan = readSweepPlan(dir);
  const i = taskIndex(index, process.env, plan.tasks.length);
  const threads = intFlag(text(flags, 'threads'), '--threads', 1);
  const workers = intFlag(text(flags, 'workers'), '--workers', 1);
  const controller = new AbortController();
  const stop = (signal: NodeJS.Signals): void => {
    process.stderr.write(`sweep task ${i}: ${signal}, stopping at the next training step\n`);
    controller.abort(signal);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  try {
    const r = await runTask(dir, i, { ...(threads !== undefined ? { threads } : {}), ...(workers !== undefined ? { workers } : {}) }, { signal: controller.signal });
    process.stdout.write(`task ${i}: ${r.task.run} fold ${r.task.fold} ${r.skipped ? 'already finished; nothing to do' : 'done'}\n`);
  } catch (err) {
    if (controller.signal.aborted && err instanceof UserError) {
      process.stderr.write(`sweep task ${i}: ${err.message}\n`);
      process.exitCode = 143;
      return;
    }
    throw err;
  } finally {
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
  }
}

async function submit(dir: string, flags: RawFlags): Promise<void> {
  const plan = readSweepPlan(dir);
  const engine = engineOf(flags, 'slurm');
  const device = plan.options.device;
  const slurm = engine === 'slurm' ? slurmOptions(flags, { device }, readSlurmOptions(dir)) : null;
  const k8s = engine === 'k8s' ? k8sOptions(flags, { device }) : null;
  let tasks: number[] | undefined;
  if (flags['missing']) {
    const now = states(dir);
    tasks = now.filter((s) => s.status !== 'done' && s.status !== 'running' && !(s.status === 'pending' && s.scheduler !== null)).map((s) => s.task.index);
    if (tasks.length === 0) {
      process.stdout.write(`${dir}: no task is missing (${now.filter((s) => s.status === 'done').length} done, the rest queued or running)\n`);
      return;
    }
    process.stderr.write(`resubmitting ${tasks.length} task${tasks.length === 1 ? '' : 's'}: ${tasks.join(', ')}\n`);
  }
  const jobs = intFlag(text(flags, 'jobs'), '--jobs', 1);
  // A Kubernetes Indexed Job runs every index; finished tasks are no-ops, so the whole job is written again.
  await runEngine(dir, plan, engine, flags, { slurm, k8s, ...(jobs !== undefined ? { jobs } : {}), tasks: engine === 'k8s' ? undefined : tasks });
}

async function report(dir: string, flags: RawFlags): Promise<void> {
  const threads = intFlag(text(flags, 'threads'), '--threads', 1);
  const alpha = flags['alpha'] === undefined ? undefined : Number(text(flags, 'alpha'));
  if (alpha !== undefined && !(alpha > 0 && alpha < 1)) throw expected('a number in (0, 1)', '--alpha', text(flags, 'alpha'));
  const r = await writeSweepReport(dir, { ...(threads !== undefined ? { threads } : {}), ...(alpha !== undefined ? { alpha } : {}), log: (l) => process.stderr.write(`${l}\n`) });
  const lines = [`report: ${r.html}`, `table: ${r.csv}`, ...r.comparisons.map((c) => `${c.se} vs ${c.plain} at ${Object.entries(readSweepPlan(dir).points[c.point]!.values).map(([k, v]) => `${k} ${v}`).join(', ') || 'default'}: ${c.verdict}`)];
  process.stdout.write(`${lines.join('\n')}\n`);
}

export function register(cli: CAC): void {
  const command = cli
    .command('sweep <source-or-action> [...args]', 'A grid of trainings as independent tasks: sweep <images-or-prepared-dir> plans and runs it (tiling and splitting images, splitting a data set that `tile` made); sweep task|status|submit|report <sweep-dir> work on a planned sweep')
    .option('--arch <a,b>', 'Networks (default resnet20,se_resnet20)')
    .option('--grid <key=v,v>', 'A grid axis of ort-train option values, e.g. lr=0.1,0.01; repeat for more axes (keys: lr, reduction, schedule, weight-decay, batch-size, epochs, iters-per-epoch, label-smoothing, seed, preset, ...)')
    .option('--folds <all|k,k>', 'Folds of each run (default all)')
    .option('--out <dir>', 'The sweep folder (default artifacts/sweep-<source name>)')
    .option('--engine <local|slurm|k8s>', 'Where tasks run (default local; submit: slurm)')
    .option('--jobs <n>', 'local: tasks at once, the CPUs divided between them (default 1)')
    .option('--command <cmd>', 'How nodes start senet-ort (default: this node and script)')
    .option('--parallel <n>', 'slurm, k8s: tasks running at once (default: no limit)')
    .option('--cpus-per-task <n>', 'slurm, k8s: CPUs of each task, also its threads (default 4); a --threads that differs is refused')
    .option('--mem <size>', 'slurm, k8s: memory of each task (default 8G)')
    .option('--time <t>', 'slurm: --time of each task, e.g. 24:00:00')
    .option('--partition <p>', 'slurm: partition')
    .option('--account <a>', 'slurm: account')
    .option('--requeue', 'slurm: requeue preempted tasks (default on)')
    .option('--no-requeue', 'slurm: do not requeue')
    .option('--sbatch <flag>', 'slurm: an extra #SBATCH line, e.g. --sbatch=--qos=long (repeatable)')
    .option('--dry-run', 'slurm: write the scripts, submit nothing')
    .option('--image <ref>', 'k8s: the container image (default senet-ort:latest)')
    .option('--claim <name>', 'k8s: the PersistentVolumeClaim holding the sweep folder (default senet-ort-sweeps)')
    .option('--backoff-limit-per-index <n>', 'k8s: retries of each task (default 3)')
    .option('--namespace <ns>', 'k8s: namespace')
    .option('--wait', 'status: block until no task is queued or running')
    .option('--missing', 'submit: only the tasks that did not finish')
    .option('--alpha <a>', 'report: significance level (default 0.05)');
  addGroupingOptions(command, `'${KATHER_SLIDE_REGEX}' when every name carries a Kather slide id, else the source image; images or a data set not split yet`);
  addTilingOptions(command, '; images only');
  addTrainingOptions(command)
    .example('senet-ort sweep data/kather2016-crc-texture-sample --grid lr=0.1,0.01 --folds all --jobs 2')
    .example('senet-ort sweep slides/ --preset original-cases --engine slurm --partition gpu --device cuda --cpus-per-task 8 --time 36:00:00')
    .example('senet-ort sweep /sweeps/slides --engine k8s --device webgpu --image registry.example/senet-ort:0.1.0 --out /sweeps/cases')
    .example('senet-ort sweep status artifacts/sweep-slides --wait')
    .example('senet-ort sweep submit artifacts/sweep-slides --missing')
    .example('senet-ort sweep report artifacts/sweep-slides')
    .ignoreOptionDefaultValue()
    .action(async (first: string, args: string[], flags: RawFlags) => {
      if (!(ACTIONS as readonly string[]).includes(first)) {
        if (args.length > 0) throw new UserError(`sweep ${first}: unexpected argument ${JSON.stringify(args[0])}; the actions are ${ACTIONS.join(', ')}`);
        await sweep(first, flags);
        return;
      }
      const [dir, ...rest] = args;
      if (dir === undefined) throw new UserError(`sweep ${first}: missing the sweep folder (senet-ort sweep ${first} <sweep-dir>)`);
      const extra = first === 'task' ? rest.slice(1) : rest;
      if (extra.length > 0) throw new UserError(`sweep ${first}: unexpected argument ${JSON.stringify(extra[0])}`);
      if (first === 'task') await task(dir, rest[0], flags);
      else if (first === 'status') await status(dir, flags);
      else if (first === 'submit') await submit(dir, flags);
      else await report(dir, flags);
    });
}
