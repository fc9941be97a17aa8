/**
 * One fold of a run: its normalisation, then the epoch loop (train, validate, commit), resumed
 * from the fold's last committed epoch.
 *
 * An epoch is committed in one order: its checkpoint, log.jsonl and train.log, then state.json (the
 * commit point), then the checkpoints the state no longer keeps are pruned. Files of an epoch a
 * kill interrupted are left behind uncounted and pruned when the fold resumes. Everything random
 * is drawn from (seed, fold, epoch), checkpoints hold the whole state, and the schedule is a
 * function of the epoch, so `--resume` replays an uninterrupted run exactly (on CPU, with the
 * same threads).
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type * as ort from 'onnxruntime-node';
import { UserError } from '../errors.ts';
import type { ArtifactManifest } from '../formats/artifacts.ts';
import type { EpochRecord, FoldNormalization, FoldState, Normalization } from '../formats/rundir.ts';
import {
  checkpointName, checkpointsDir, foldDir, logPath, normalizationPath, readEpochLog, readFoldState, readNormalization, statePath, textLogPath,
} from '../formats/rundir.ts';
import { RESIZE_METHOD } from '../data/decode.ts';
import { planEpoch } from '../data/plan.ts';
import type { PreparedDataset } from '../data/prepared.ts';
import type { Predictor } from '../infer/predictor.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import type { EpochContext, EpochTotals } from './epoch.ts';
import { stepRunner, trainEpoch } from './epoch.ts';
import { scheduleOf } from './options.ts';
import { formatEpoch, plural } from './progress.ts';
import { describeSchedule } from './schedule.ts';
import type { TrainingState } from './state.ts';
import { loadState } from './state.ts';
import { validate } from './validate.ts';
import { normalizationOf } from './init.ts';

/** What every fold of a run shares. */
export interface RunContext extends EpochContext {
  readonly dataset: PreparedDataset;
  readonly manifest: ArtifactManifest;
  /** Tile file -> index in the loader's tile set. */
  readonly index: ReadonlyMap<string, number>;
  readonly train: ort.InferenceSession;
  /** The kernels the training step runs with (`x64 kernels (NCHWc block 16)`), for train.log. */
  readonly kernels: string;
  /** eval_step.onnx, fed the state being trained. */
  readonly eval: Predictor;
  readonly resume: boolean;
}

export interface FoldResult {
  readonly fold: number;
  readonly epochsDone: number;
  readonly finished: boolean;
  readonly skipped: boolean;
  readonly best: FoldState['best'];
}

/** The fold's human-readable log, rewritten whole (atomically) at each addition. */
class TextLog {
  readonly #path: string;
  #text: string;

  constructor(path: string) {
    this.#path = path;
    this.#text = existsSync(path) ? readFileSync(path, 'utf8') : '';
  }

  add(line: string): void {
    this.#text += `${line}\n`;
    writeFileAtomic(this.#path, this.#text);
  }
}

export async function trainFold(ctx: RunContext, fold: number): Promise<FoldResult> {
  const { options, manifest, progress } = ctx;
  const run = options.out;
  const previous = readFoldState(run, fold);
  if (previous?.finished) {
    progress.line(`fold ${fold}: already finished (${plural(previous.epochsDone, 'epoch')}); skipped`);
    return { fold, epochsDone: previous.epochsDone, finished: true, skipped: true, best: previous.best };
  }
  if (previous && previous.epochsDone > 0 && !ctx.resume) {
    throw new UserError(`${foldDir(run, fold)}: stopped after epoch ${previous.epochsDone} of ${previous.epochs}; add --resume to continue it, or use another --out to start over`);
  }
  mkdirSync(foldDir(run, fold), { recursive: true });
  const text = new TextLog(textLogPath(run, fold));
  const split = ctx.dataset.splits.folds[fold - 1]!;
  const trainTiles = split.train.map((f) => ctx.index.get(f)!);
  const valTiles = split.val.map((f) => ctx.index.get(f)!);
  const normalization = await foldNormalization(ctx, fold, trainTiles);

  const state: FoldState = previous ?? { fold, epochs: options.epochs, epochsDone: 0, finished: false, last: null, best: null };
  pruneCheckpoints(run, fold, state, options.keepAll);
  const records = readEpochLog(run, fold);
  const startFrom = state.last ? join(foldDir(run, fold), state.last) : join(run, 'init.safetensors');
  const buffers = await loadState(startFrom, manifest, { threads: options.threads, device: options.device });
  try {
    return await trainEpochs(ctx, fold, { state, records, text, split, trainTiles, valTiles, normalization, buffers });
  } finally {
    await buffers.release();
  }
}

interface FoldSetup {
  readonly state: FoldState;
  readonly records: EpochRecord[];
  readonly text: TextLog;
  readonly split: PreparedDataset['splits']['folds'][number];
  readonly trainTiles: readonly number[];
  readonly valTiles: readonly number[];
  readonly normalization: Normalization;
  readonly buffers: TrainingState;
}

/** The fold's epochs from its last committed one, on its loaded state. */
async function trainEpochs(ctx: RunContext, fold: number, setup: FoldSetup): Promise<FoldResult> {
  const { options, manifest, progress } = ctx;
  const run = options.out;
  const { records, text, split, trainTiles, valTiles, normalization, buffers } = setup;
  let state = setup.state;
  const when = new Date().toISOString();
  text.add(state.epochsDone > 0
    ? `${when} resumed fold ${fold} of ${options.arch} after epoch ${state.epochsDone}, from ${state.last} (threads ${options.threads}, device ${options.device}, ${ctx.kernels})`
    : `${when} started fold ${fold} of ${options.arch} on ${options.data}: ${split.train.length} training and ${split.val.length} validation tiles, input ${options.input.join('x')}, batch ${options.batchSize}, ${options.epochs} epochs, ${describeSchedule(scheduleOf(options))}, threads ${options.threads}, device ${options.device}, ${ctx.kernels}`);

  const fixedBatch = typeof manifest.batch === 'number' ? manifest.batch : null;
  let samples = options.itersPerEpoch === null ? trainTiles.length : options.itersPerEpoch * options.batchSize;
  if (fixedBatch !== null) samples = Math.ceil(samples / fixedBatch) * fixedBatch;
  const step = stepRunner(ctx.train, buffers, options);

  for (let epoch = state.epochsDone + 1; epoch <= options.epochs; epoch++) {
    const started = performance.now();
    const batches = planEpoch({
      tiles: trainTiles, samples, batchSize: fixedBatch ?? options.batchSize, seed: options.seed, fold, epoch,
      augmentation: { flips: options.augment, colorJitter: options.colorJitter, stainJitter: options.stainJitter ?? 0 },
      square: options.input[1] === options.input[2], normalization,
    });
    const trained = await trainEpoch(ctx, fold, epoch, batches, step);
    if (trained.stopped !== null) throw stopped(ctx, fold, epoch, trained.stopped, state, text);
    if (trained.diverged) throw diverged(ctx, fold, epoch, `step ${trained.diverged.step}`, `training loss is ${trained.diverged.loss}`, state, text);
    const trainSeconds = (performance.now() - started) / 1000;

    let scores: { loss: number; accuracy: number } | null = null;
    const valStart = performance.now();
    if (valTiles.length > 0) {
      progress.status(`fold ${fold} epoch ${epoch}/${options.epochs}: validating on ${valTiles.length} tiles`);
      scores = await validate(ctx.eval, buffers.front, { loader: ctx.loader, tiles: valTiles, labels: ctx.labels, normalization }, options.batchSize);
      if (!Number.isFinite(scores.loss)) throw diverged(ctx, fold, epoch, 'validation', `validation loss is ${scores.loss}`, state, text);
    }
    const valSeconds = (performance.now() - valStart) / 1000;

    const file = checkpointName(epoch);
    await buffers.save(join(foldDir(run, fold), file), { architecture: options.arch, fold, epoch });
    // The epoch's wall time includes writing its checkpoint.
    const record = epochRecord(fold, epoch, trained, scores, { trainSeconds, valSeconds, seconds: (performance.now() - started) / 1000 });
    state = commitEpoch(ctx, state, record, file, records, text);
  }
  text.add(`${new Date().toISOString()} finished fold ${fold}: best epoch ${state.best?.epoch} (validation loss ${state.best?.valLoss?.toFixed(4) ?? '-'})`);
  return { fold, epochsDone: state.epochsDone, finished: true, skipped: false, best: state.best };
}

function epochRecord(
  fold: number, epoch: number, trained: EpochTotals, scores: { loss: number; accuracy: number } | null,
  times: { trainSeconds: number; valSeconds: number; seconds: number },
): EpochRecord {
  return {
    fold, epoch, lr: trained.firstLr, trainLoss: trained.lossSum / trained.seen, trainAccuracy: trained.correct / trained.seen,
    valLoss: scores?.loss ?? null, valAccuracy: scores?.accuracy ?? null,
    images: trained.seen, imagesPerSecond: trained.seen / times.trainSeconds, seconds: times.seconds, trainSeconds: times.trainSeconds, valSeconds: times.valSeconds,
    loaderWaitSeconds: trained.waited, time: new Date().toISOString(),
  };
}

/**
 * Commit an epoch whose checkpoint `file` is written: the logs, then state.json (the commit point),
 * then prune what the new state no longer keeps. Returns the fold's new state.
 */
function commitEpoch(ctx: RunContext, state: FoldState, record: EpochRecord, file: string, records: EpochRecord[], text: TextLog): FoldState {
  const { options, progress } = ctx;
  const { fold, epoch, valLoss } = record;
  const run = options.out;
  records.push(record);
  writeFileAtomic(logPath(run, fold), records.map((r) => JSON.stringify(r)).join('\n') + '\n');
  const line = formatEpoch(record, options.epochs);
  text.add(line);
  const improved = state.best === null || valLoss === null || state.best.valLoss === null || valLoss < state.best.valLoss;
  const next: FoldState = { fold, epochs: options.epochs, epochsDone: epoch, finished: epoch === options.epochs, last: file, best: improved ? { epoch, valLoss, file } : state.best };
  writeFileAtomic(statePath(run, fold), `${JSON.stringify(next, null, 2)}\n`);
  pruneCheckpoints(run, fold, next, options.keepAll);
  progress.line(line);
  return next;
}

/** The fold's normalization.json, computed from its training tiles the first time. */
async function foldNormalization(ctx: RunContext, fold: number, trainTiles: readonly number[]): Promise<Normalization> {
  const path = normalizationPath(ctx.options.out, fold);
  if (existsSync(path)) return readNormalization(ctx.options.out, fold);
  const { stats, source } = await normalizationOf(ctx.options.normalize, () => ctx.loader.normalization(trainTiles));
  const record: FoldNormalization = {
    input: ctx.options.input,
    resize: RESIZE_METHOD,
    scale: 255,
    source,
    mean: stats.mean,
    std: stats.std,
  };
  writeFileAtomic(path, `${JSON.stringify(record, null, 2)}\n`);
  return stats;
}

/** Remove checkpoint files the fold state does not keep (those of an epoch a kill interrupted, superseded ones). */
function pruneCheckpoints(run: string, fold: number, state: FoldState, keepAll: boolean): void {
  const dir = checkpointsDir(run, fold);
  if (!existsSync(dir)) return;
  const keep = new Set([state.last, state.best?.file].filter((f): f is string => !!f));
  for (const name of readdirSync(dir)) {
    const m = /^epoch-(\d+)\.safetensors$/.exec(name);
    const file = `checkpoints/${name}`;
    const stale = m ? Number(m[1]) > state.epochsDone || (!keepAll && !keep.has(file)) : name.endsWith('.tmp');
    if (stale) rmSync(join(dir, name), { force: true });
  }
}

/** Stop the fold with one line (also written to train.log) that says which checkpoint is good. */
function diverged(ctx: RunContext, fold: number, epoch: number, where: string, what: string, state: FoldState, text: TextLog): UserError {
  ctx.progress.clear();
  const kept = state.last
    ? `the last good checkpoint is ${join(foldDir(ctx.options.out, fold), state.last)} (epoch ${state.epochsDone})`
    : 'no epoch finished, so there is no checkpoint yet';
  const message = `fold ${fold} epoch ${epoch} ${where}: ${what}, training diverged and this fold stopped; ${kept}; try a lower --lr (now ${ctx.options.lr}) or --warmup-epochs`;
  text.add(`${new Date().toISOString()} ${message}`);
  return new UserError(message);
}

/** The signal's stop at a step boundary: nothing of the unfinished epoch is committed. */
function stopped(ctx: RunContext, fold: number, epoch: number, step: number, state: FoldState, text: TextLog): UserError {
  ctx.progress.clear();
  const message = `fold ${fold} epoch ${epoch}: stopped before step ${step} (${String(ctx.signal?.reason ?? 'aborted')}); epochs up to ${state.epochsDone} are kept and --resume continues from there`;
  text.add(`${new Date().toISOString()} ${message}`);
  return new UserError(message);
}
