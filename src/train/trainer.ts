/**
 * `ort-train`'s engine: prepare the run directory (rundir.ts) from resolved options (options.ts), then train each
 * fold with ONNX Runtime on train_step.onnx and validate each epoch with eval_step.onnx.
 *
 * The training state (parameters, momentum, running statistics) lives in two sets of ort.Tensors
 * that swap roles every step: the step reads one set and ORT writes the `.next` outputs straight
 * into the other (pre-allocated outputs), so no state is copied or allocated between steps.
 * Everything random is drawn from (seed, fold, epoch), checkpoints hold the whole state, and the
 * schedule is a function of the epoch: `--resume` after a kill replays an uninterrupted run
 * exactly (on CPU, with the same threads).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import { UserError } from '../errors.ts';
import type { ArtifactManifest } from '../formats/artifacts.ts';
import { buildArtifacts } from '../formats/artifacts.ts';
import type { Tensor } from '../graph/ir.ts';
import { resolveModel } from '../graph/model.ts';
import { RESIZE_METHOD } from '../data/decode.ts';
import { imageLibraryVersions } from '../data/image.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import { fileHeader, VERSION } from '../version.ts';
import type { Normalization } from '../formats/rundir.ts';
import { loadCheckpoint, saveCheckpoint, stateNames } from '../formats/checkpoint.ts';
import type { BatchRequest, PreparedDataset } from '../data/loader.ts';
import { TileLoader, planEpoch, planEvaluation, readPreparedDataset, splitFiles } from '../data/loader.ts';
import type { Progress } from './progress.ts';
import { createProgress, formatEpoch } from './progress.ts';
import type { EpochRecord, FoldNormalization, FoldState, RunConfig, TrainOptions } from '../formats/rundir.ts';
import {
  checkpointName, checkpointsDir, configPath, datasetChecksum, foldDir, isRun, logPath, normalizationPath,
  readEpochLog, readFoldState, readRunConfig, splitsPath, statePath, textLogPath,
} from '../formats/rundir.ts';
import { describeSchedule, learningRate } from './schedule.ts';
import type { Device } from '../infer/session.ts';
import { createSession, cudaStatus, ortVersion } from '../infer/session.ts';
import type { TrainInput } from './options.ts';
import { RUNTIME_KEYS, flag, modelConfig, resolveTrainOptions, scheduleOf } from './options.ts';
import { artifactSetup, checkArtifactsSetup, checkSameInit, describeSetup, normalizationOf } from './init.ts';

/** Versions stamped into config.json (and printed by `doctor`). */
export function environmentVersions(): Record<string, string> {
  const image = imageLibraryVersions();
  return { senetOrt: VERSION, node: process.version, onnxruntime: ortVersion(), sharp: image.sharp, libvips: image.vips };
}

// ---------------------------------------------------------------------------------------------
// The run directory: config, splits, artifacts.

/**
 * Find the run or plan a new one, check that its options and data match, and return what to train.
 * A new run's config.json and splits.json are written by `commit`, once everything else checks out.
 */
function openRun(given: TrainInput): { options: TrainOptions; dataset: PreparedDataset; config: RunConfig; commit: (extra?: Partial<RunConfig>) => void } {
  if (!given.out && !given.arch) throw new UserError('missing --arch (or --out with an existing run directory)');
  const out = resolve(given.out ?? join('artifacts', given.arch!));
  if (isRun(out)) {
    const config = readRunConfig(out);
    const stored = config.options;
    if (given.data !== undefined && resolve(given.data) !== stored.data) {
      throw new UserError(`${out}: holds a run on ${stored.data}, not ${resolve(given.data)}; use another --out for another data set`);
    }
    const dataset = readPreparedDataset(stored.data, splitsPath(out));
    // What is not given is what the run was started with: `--out <run> --resume` is enough to continue.
    const base: TrainInput = { ...stored, preset: undefined, out };
    const options = resolveTrainOptions({ ...base, ...definedOnly(given), out }, dataset);
    checkSameInit(out, stored, options);
    for (const key of Object.keys(stored) as (keyof TrainOptions)[]) {
      if (RUNTIME_KEYS.has(key) || key === 'preset') continue;
      if (JSON.stringify(options[key]) !== JSON.stringify(stored[key])) {
        throw new UserError(`${out}: holds a run with ${flag(key)} ${show(stored[key])}, not ${show(options[key])}; use another --out, or leave ${flag(key)} out to continue this run`);
      }
    }
    const checksum = datasetChecksum(dataset.dir, dataset.classes, splitFiles(dataset));
    if (checksum !== config.dataset.checksum) throw new UserError(`${dataset.dir}: the tiles changed since ${out} started (dataset checksum differs); use another --out`);
    return { options, dataset, config, commit: () => undefined };
  }
  if (given.resume) throw new UserError(`${out}: nothing to resume (no ${configPath(out).slice(out.length + 1)}); leave --resume out to start this run`);
  if (!given.data) throw new UserError('missing --data (a folder prepared by `senet-ort tile ... --split`)');
  const dataset = readPreparedDataset(resolve(given.data));
  const options = resolveTrainOptions({ ...given, out }, dataset);
  const files = splitFiles(dataset);
  const config: RunConfig = {
    ...fileHeader('run'),
    created: new Date().toISOString(),
    versions: environmentVersions(),
    machine: { platform: process.platform, arch: process.arch, cpus: availableParallelism(), cpuModel: cpus()[0]?.model ?? 'unknown' },
    dataset: {
      dir: dataset.dir,
      checksum: datasetChecksum(dataset.dir, dataset.classes, files),
      classes: dataset.classes,
      tiles: files.length,
      tileSize: dataset.tileSize,
      folds: dataset.splits.folds.length,
      test: dataset.splits.test.length,
      resize: RESIZE_METHOD,
    },
    options,
  };
  const splits = readFileSync(join(dataset.dir, 'splits.json'));
  const commit = (extra: Partial<RunConfig> = {}): void => {
    mkdirSync(out, { recursive: true });
    writeFileAtomic(splitsPath(out), splits);
    writeFileAtomic(configPath(out), `${JSON.stringify({ ...config, ...extra }, null, 2)}\n`);
  };
  return { options, dataset, config, commit };
}

export const plural = (n: number, word: string, words = `${word}s`): string => `${n} ${n === 1 ? word : words}`;

function definedOnly(input: TrainInput): TrainInput {
  return Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)) as TrainInput;
}

const show = (v: unknown): string => (Array.isArray(v) ? v.join(v.length === 3 && typeof v[0] === 'number' ? 'x' : ',') : String(v));

/** The run's artifacts: generated when absent, checked against the options when present. */
export function ensureArtifacts(options: TrainOptions, classes: number): { manifest: ArtifactManifest; generated: boolean } {
  const path = join(options.out, 'artifact.json');
  const config = modelConfig(options, classes);
  if (existsSync(path)) {
    const manifest = JSON.parse(readFileSync(path, 'utf8')) as ArtifactManifest;
    const want = { architecture: config.arch, classes, inputShape: [...config.input], reduction: config.reduction };
    const have = { architecture: manifest.architecture, classes: manifest.classes, inputShape: manifest.inputShape, reduction: manifest.reduction };
    if (JSON.stringify(want) !== JSON.stringify(have)) {
      throw new UserError(`${path}: artifacts for ${JSON.stringify(have)}, but this run needs ${JSON.stringify(want)}; remove them to have them generated`);
    }
    checkArtifactsSetup(path, manifest, options);
    if (typeof manifest.batch === 'number' && manifest.batch !== options.batchSize) {
      throw new UserError(`${path}: the artifacts have a fixed batch of ${manifest.batch}; use --batch-size ${manifest.batch}, or remove them to have them generated with a symbolic batch`);
    }
    for (const file of ['train_step.onnx', 'eval_step.onnx', 'init.safetensors']) {
      if (!existsSync(join(options.out, file))) throw new UserError(`${options.out}: artifact.json is there but ${file} is missing; remove artifact.json to have the artifacts generated`);
    }
    return { manifest, generated: false };
  }
  const loss = { labelSmoothing: options.labelSmoothing, ...(options.classWeights ? { classWeights: options.classWeights } : {}) };
  // The training step gets the run's batch as a fixed dimension: ORT then plans its memory once,
  // which measured 25% faster at half the peak memory (bench/RESULTS.md); epochs are whole batches.
  const artifacts = buildArtifacts({ ...config, batch: options.batchSize }, loss, undefined, artifactSetup(options, config));
  artifacts.write(options.out);
  return { manifest: artifacts.manifest, generated: true };
}

// ---------------------------------------------------------------------------------------------
// Training state and prediction.

/** Two sets of state tensors; a step reads `front` and ORT writes the `.next` outputs into the other. */
class StateBuffers {
  readonly names: readonly string[];
  #sets: [Map<string, ort.Tensor>, Map<string, ort.Tensor>];
  #front = 0;

  constructor(names: readonly string[], initial: ReadonlyMap<string, Tensor>) {
    this.names = names;
    const a = new Map<string, ort.Tensor>();
    const b = new Map<string, ort.Tensor>();
    for (const name of names) {
      const t = initial.get(name)!;
      a.set(name, new ort.Tensor('float32', t.data as Float32Array, [...t.dims]));
      b.set(name, new ort.Tensor('float32', new Float32Array(t.data.length), [...t.dims]));
    }
    this.#sets = [a, b];
  }

  get front(): ReadonlyMap<string, ort.Tensor> {
    return this.#sets[this.#front]!;
  }

  get back(): ReadonlyMap<string, ort.Tensor> {
    return this.#sets[1 - this.#front]!;
  }

  swap(): void {
    this.#front = 1 - this.#front;
  }
}

export interface Prediction {
  /** Logits, [tiles, classes] row-major. */
  readonly logits: Float32Array;
  readonly classes: number;
}

/** Run eval_step over `tiles` (indices into the loader's tile set) with the given state. */
export async function predict(
  session: ort.InferenceSession,
  state: ReadonlyMap<string, ort.Tensor>,
  loader: TileLoader,
  tiles: readonly number[],
  options: { batchSize: number; input: readonly [number, number, number]; normalization: Normalization; classes: number },
): Promise<Prediction> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const name of session.inputNames) if (name !== 'images') feeds[name] = state.get(name)!;
  // A graph exported with a fixed batch takes only full batches: the last one is padded with zeros.
  const images = session.inputMetadata.find((m) => m.name === 'images');
  const fixed = images?.isTensor && typeof images.shape[0] === 'number' ? images.shape[0] : null;
  const plane = options.input[0] * options.input[1] * options.input[2];
  const logits = new Float32Array(tiles.length * options.classes);
  let at = 0;
  for await (const batch of loader.stream(planEvaluation(tiles, fixed ?? options.batchSize, options.normalization))) {
    const n = batch.length / plane;
    const full = fixed !== null && n < fixed ? padded(batch, fixed * plane) : batch;
    feeds['images'] = new ort.Tensor('float32', full, [full.length / plane, ...options.input]);
    const out = await session.run(feeds, ['logits']);
    logits.set((out['logits']!.data as Float32Array).subarray(0, n * options.classes), at);
    at += n * options.classes;
  }
  return { logits, classes: options.classes };
}

function padded(data: Float32Array, length: number): Float32Array {
  const out = new Float32Array(length);
  out.set(data);
  return out;
}

/** Mean cross-entropy (from logits, in float64) and accuracy of predictions against labels. */
export function lossAndAccuracy(p: Prediction, labels: ArrayLike<number>): { loss: number; accuracy: number; correct: number } {
  let loss = 0;
  let correct = 0;
  for (let i = 0; i < labels.length; i++) {
    const row = p.logits.subarray(i * p.classes, (i + 1) * p.classes);
    let max = -Infinity;
    let arg = 0;
    for (let c = 0; c < p.classes; c++) if (row[c]! > max) [max, arg] = [row[c]!, c];
    let sum = 0;
    for (let c = 0; c < p.classes; c++) sum += Math.exp(row[c]! - max);
    loss += Math.log(sum) + max - row[labels[i]!]!;
    if (arg === labels[i]) correct++;
  }
  return { loss: loss / labels.length, accuracy: correct / labels.length, correct };
}

// ---------------------------------------------------------------------------------------------
// One fold.

interface RunContext {
  readonly options: TrainOptions;
  readonly dataset: PreparedDataset;
  readonly manifest: ArtifactManifest;
  readonly loader: TileLoader;
  /** Tile file -> index in the loader's tile set. */
  readonly index: ReadonlyMap<string, number>;
  /** Label of each tile in the loader's tile set. */
  readonly labels: Int32Array;
  readonly train: ort.InferenceSession;
  readonly eval: ort.InferenceSession;
  readonly progress: Progress;
  readonly resume: boolean;
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

export interface FoldResult {
  readonly fold: number;
  readonly epochsDone: number;
  readonly finished: boolean;
  readonly skipped: boolean;
  readonly best: FoldState['best'];
}

async function foldNormalization(ctx: RunContext, fold: number, trainTiles: readonly number[]): Promise<Normalization> {
  const path = normalizationPath(ctx.options.out, fold);
  if (existsSync(path)) return JSON.parse(readFileSync(path, 'utf8')) as FoldNormalization;
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

async function trainFold(ctx: RunContext, fold: number): Promise<FoldResult> {
  const { options, manifest, loader, progress } = ctx;
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
  const valLabels = Int32Array.from(valTiles, (i) => ctx.labels[i]!);
  const normalization = await foldNormalization(ctx, fold, trainTiles);

  let state: FoldState = previous ?? { fold, epochs: options.epochs, epochsDone: 0, finished: false, last: null, best: null };
  pruneCheckpoints(run, fold, state, options.keepAll);
  const records = readEpochLog(run, fold);
  const startFrom = state.last ? join(foldDir(run, fold), state.last) : join(run, 'init.safetensors');
  const names = stateNames(manifest);
  const buffers = new StateBuffers(names, loadCheckpoint(startFrom, manifest));
  const when = new Date().toISOString();
  text.add(state.epochsDone > 0
    ? `${when} resumed fold ${fold} of ${options.arch} after epoch ${state.epochsDone}, from ${state.last} (threads ${options.threads}, device ${options.device})`
    : `${when} started fold ${fold} of ${options.arch} on ${options.data}: ${split.train.length} training and ${split.val.length} validation tiles, input ${options.input.join('x')}, batch ${options.batchSize}, ${options.epochs} epochs, ${describeSchedule(scheduleOf(options))}, threads ${options.threads}, device ${options.device}`);

  const fixedBatch = typeof manifest.batch === 'number' ? manifest.batch : null;
  let samples = options.itersPerEpoch === null ? trainTiles.length : options.itersPerEpoch * options.batchSize;
  if (fixedBatch !== null) samples = Math.ceil(samples / fixedBatch) * fixedBatch;
  const step = stepRunner(ctx.train, buffers, options);

  for (let epoch = state.epochsDone + 1; epoch <= options.epochs; epoch++) {
    const started = performance.now();
    const batches = planEpoch({
      tiles: trainTiles, samples, batchSize: fixedBatch ?? options.batchSize, seed: options.seed, fold, epoch,
      augmentation: { flips: options.augment, colorJitter: options.colorJitter },
      square: options.input[1] === options.input[2], normalization,
    });
    const trained = await trainEpoch(ctx, fold, epoch, batches, step, state, text);
    const trainSeconds = (performance.now() - started) / 1000;

    let valLoss: number | null = null;
    let valAccuracy: number | null = null;
    const valStart = performance.now();
    if (valTiles.length > 0) {
      progress.status(`fold ${fold} epoch ${epoch}/${options.epochs}: validating on ${valTiles.length} tiles`);
      const prediction = await predict(ctx.eval, buffers.front, loader, valTiles, { batchSize: options.batchSize, input: options.input, normalization, classes: manifest.classes });
      const scores = lossAndAccuracy(prediction, valLabels);
      if (!Number.isFinite(scores.loss)) throw diverged(ctx, fold, epoch, 'validation', `validation loss is ${scores.loss}`, state, text);
      valLoss = scores.loss;
      valAccuracy = scores.accuracy;
    }
    const valSeconds = (performance.now() - valStart) / 1000;

    // Commit the epoch: checkpoint, logs, then state.json (the commit point), then prune.
    const file = checkpointName(epoch);
    saveCheckpoint(join(foldDir(run, fold), file), names, (name) => tensorView(buffers.front.get(name)!), { architecture: options.arch, fold, epoch });
    const record: EpochRecord = {
      fold, epoch, lr: trained.firstLr, trainLoss: trained.lossSum / trained.seen, trainAccuracy: trained.correct / trained.seen, valLoss, valAccuracy,
      images: trained.seen, imagesPerSecond: trained.seen / trainSeconds, seconds: (performance.now() - started) / 1000, trainSeconds, valSeconds,
      loaderWaitSeconds: trained.waited, time: new Date().toISOString(),
    };
    records.push(record);
    writeFileAtomic(logPath(run, fold), records.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const line = formatEpoch(record, options.epochs);
    text.add(line);
    const improved = state.best === null || valLoss === null || state.best.valLoss === null || valLoss < state.best.valLoss;
    state = { fold, epochs: options.epochs, epochsDone: epoch, finished: epoch === options.epochs, last: file, best: improved ? { epoch, valLoss, file } : state.best };
    writeFileAtomic(statePath(run, fold), `${JSON.stringify(state, null, 2)}\n`);
    pruneCheckpoints(run, fold, state, options.keepAll);
    progress.line(line);
  }
  text.add(`${new Date().toISOString()} finished fold ${fold}: best epoch ${state.best?.epoch} (validation loss ${state.best?.valLoss?.toFixed(4) ?? '-'})`);
  return { fold, epochsDone: state.epochsDone, finished: true, skipped: false, best: state.best };
}

/** One training step on the state buffers: feeds the front set, has ORT write the `.next` outputs into the back set, swaps. */
type StepRunner = (images: Float32Array, labels: BigInt64Array, lr: number) => Promise<{ loss: number; logits: Float32Array }>;

function stepRunner(session: ort.InferenceSession, buffers: StateBuffers, options: TrainOptions): StepRunner {
  const scalar = (v: number): ort.Tensor => new ort.Tensor('float32', Float32Array.of(v), []);
  const lr = scalar(options.lr);
  const hyper = { lr, momentum: scalar(options.momentum), weight_decay: scalar(options.weightDecay) };
  // Two feed/fetch pairs, one per direction of the swap, built once.
  const directions = [0, 1].map(() => {
    const feeds: Record<string, ort.Tensor> = { ...hyper };
    for (const [name, t] of buffers.front) feeds[name] = t;
    const fetches: Record<string, ort.Tensor | null> = { loss: null, logits: null };
    for (const [name, t] of buffers.back) fetches[`${name}.next`] = t;
    buffers.swap();
    return { feeds, fetches };
  });
  let direction = 0;
  const shape = [...options.input];
  return async (images, labels, rate) => {
    (lr.data as Float32Array)[0] = rate;
    const { feeds, fetches } = directions[direction]!;
    feeds['images'] = new ort.Tensor('float32', images, [labels.length, ...shape]);
    feeds['labels'] = new ort.Tensor('int64', labels, [labels.length]);
    const out = await session.run(feeds, fetches);
    const loss = (out['loss']!.data as Float32Array)[0]!;
    // A non-finite loss leaves the front set as it was: the caller stops, the last good state stays.
    if (Number.isFinite(loss)) {
      direction = 1 - direction;
      buffers.swap();
    }
    return { loss, logits: out['logits']!.data as Float32Array };
  };
}

/** The training steps of one epoch, with the running loss and accuracy and the time spent waiting for data. */
async function trainEpoch(ctx: RunContext, fold: number, epoch: number, batches: readonly BatchRequest[], step: StepRunner, state: FoldState, text: TextLog): Promise<{ lossSum: number; correct: number; seen: number; waited: number; firstLr: number }> {
  const schedule = scheduleOf(ctx.options);
  const started = performance.now();
  const totals = { lossSum: 0, correct: 0, seen: 0, waited: 0, firstLr: learningRate(schedule, epoch - 1, 0, batches.length) };
  const stream = ctx.loader.stream(batches);
  for (let i = 0; i < batches.length; i++) {
    const waitStart = performance.now();
    const images = (await stream.next()).value as Float32Array;
    totals.waited += (performance.now() - waitStart) / 1000;
    const batch = batches[i]!;
    const labels = BigInt64Array.from(batch.indices, (t) => BigInt(ctx.labels[t]!));
    const { loss, logits } = await step(images, labels, learningRate(schedule, epoch - 1, i, batches.length));
    if (!Number.isFinite(loss)) {
      await stream.return(undefined);
      throw diverged(ctx, fold, epoch, `step ${i + 1}`, `training loss is ${loss}`, state, text);
    }
    totals.lossSum += loss * labels.length;
    totals.seen += labels.length;
    totals.correct += countCorrect(logits, batch.indices, ctx.labels);
    const elapsed = (performance.now() - started) / 1000;
    ctx.progress.step({ fold, epoch, epochs: ctx.options.epochs, step: i + 1, steps: batches.length, loss: totals.lossSum / totals.seen, accuracy: totals.correct / totals.seen, imagesPerSecond: totals.seen / elapsed, elapsed });
  }
  return totals;
}

const tensorView = (t: ort.Tensor): { dims: readonly number[]; data: Float32Array } => ({ dims: t.dims, data: t.data as Float32Array });

function countCorrect(logits: Float32Array, indices: Int32Array, labels: Int32Array): number {
  const classes = logits.length / indices.length;
  let correct = 0;
  for (let i = 0; i < indices.length; i++) {
    let arg = 0;
    for (let c = 1; c < classes; c++) if (logits[i * classes + c]! > logits[i * classes + arg]!) arg = c;
    if (arg === labels[indices[i]!]) correct++;
  }
  return correct;
}

function diverged(ctx: RunContext, fold: number, epoch: number, where: string, what: string, state: FoldState, text: TextLog): UserError {
  ctx.progress.clear();
  const kept = state.last
    ? `the last good checkpoint is ${join(foldDir(ctx.options.out, fold), state.last)} (epoch ${state.epochsDone})`
    : 'no epoch finished, so there is no checkpoint yet';
  const message = `fold ${fold} epoch ${epoch} ${where}: ${what}, training diverged and this fold stopped; ${kept}; try a lower --lr (now ${ctx.options.lr}) or --warmup-epochs`;
  text.add(`${new Date().toISOString()} ${message}`);
  return new UserError(message);
}

// ---------------------------------------------------------------------------------------------
// The whole run.

export interface TrainResult {
  readonly run: string;
  readonly options: TrainOptions;
  readonly folds: readonly FoldResult[];
}

export interface TrainHooks {
  /** Where progress goes (default: a bar on stderr when it is a terminal, epoch lines on stdout). */
  readonly progress?: Progress;
}

export async function train(given: TrainInput, hooks: TrainHooks = {}): Promise<TrainResult> {
  const progress = hooks.progress ?? createProgress(process.stderr.isTTY ? process.stderr : null);
  if (given.device === 'cuda') {
    // Before anything is written: a run directory that cannot train helps nobody.
    const cuda = await cudaStatus();
    if (!cuda.usable) throw new UserError(`--device cuda: ${cuda.reason}`);
  }
  const { options, dataset, commit } = openRun(given);
  const { manifest, generated } = ensureArtifacts(options, dataset.classes.length);
  commit(manifest.init ? { init: manifest.init } : {});
  if (generated) progress.line(`generated the training artifacts of ${options.arch} (${manifest.parameters.length} parameter tensors) in ${options.out}`);
  if (generated) for (const line of describeSetup(manifest.init, options)) progress.line(line);
  progress.line(`training ${options.arch} into ${options.out}: fold${options.folds.length === 1 ? '' : 's'} ${options.folds.join(', ')}, ${plural(options.epochs, 'epoch')} of ${options.itersPerEpoch === null ? 'one pass' : plural(options.itersPerEpoch, 'batch', 'batches')} of ${options.batchSize}, input ${options.input.join('x')}, ${describeSchedule(scheduleOf(options))}, ${plural(options.threads, 'thread')}, ${options.device}`);
  const files = splitFiles(dataset);
  const loader = new TileLoader({ dir: dataset.dir, files, width: options.input[2], height: options.input[1] }, { workers: options.workers });
  const session = { threads: options.threads, device: options.device as Device };
  let trainSession: ort.InferenceSession | undefined;
  let evalSession: ort.InferenceSession | undefined;
  try {
    trainSession = await createSession(join(options.out, 'train_step.onnx'), session);
    evalSession = await createSession(join(options.out, 'eval_step.onnx'), session);
    const ctx: RunContext = {
      options, dataset, manifest, loader, progress,
      index: new Map(files.map((f, i) => [f, i])),
      labels: Int32Array.from(files, (f) => dataset.labels.get(f)!),
      train: trainSession,
      eval: evalSession,
      resume: given.resume ?? false,
    };
    const results: FoldResult[] = [];
    for (const fold of options.folds) results.push(await trainFold(ctx, fold));
    return { run: options.out, options, folds: results };
  } finally {
    progress.clear();
    await loader.close();
    await trainSession?.release();
    await evalSession?.release();
  }
}

/**
 * The environment check of `doctor`: generate a small network's training step, run it twice on
 * random data and report the second step's time (the first one includes ORT's warm-up).
 */
export async function checkTrainingStep(settings: { threads: number; device: Device }, arch = 'resnet20', batch = 16): Promise<{ arch: string; batch: number; input: readonly number[]; seconds: number; loss: number }> {
  const config = resolveModel({ arch, classes: 8, input: [3, 32, 32] });
  const dir = mkdtempSync(join(tmpdir(), 'senet-ort-doctor-'));
  try {
    const artifacts = buildArtifacts(config);
    artifacts.write(dir);
    const manifest = artifacts.manifest;
    const session = await createSession(join(dir, 'train_step.onnx'), settings);
    const feeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of loadCheckpoint(join(dir, 'init.safetensors'), manifest)) feeds[name] = new ort.Tensor('float32', t.data as Float32Array, [...t.dims]);
    feeds['images'] = new ort.Tensor('float32', Float32Array.from({ length: batch * 3 * 32 * 32 }, (_, i) => Math.sin(i)), [batch, 3, 32, 32]);
    feeds['labels'] = new ort.Tensor('int64', BigInt64Array.from({ length: batch }, (_, i) => BigInt(i % 8)), [batch]);
    for (const [name, v] of [['lr', 0.01], ['momentum', 0.9], ['weight_decay', 0.0001]] as const) feeds[name] = new ort.Tensor('float32', Float32Array.of(v), []);
    let seconds = 0;
    let loss = NaN;
    for (let i = 0; i < 2; i++) {
      const start = performance.now();
      const out = await session.run(feeds);
      seconds = (performance.now() - start) / 1000;
      loss = (out['loss']!.data as Float32Array)[0]!;
    }
    await session.release();
    return { arch, batch, input: config.input, seconds, loss };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
