/**
 * One network trained on every fold in onnxruntime-web, as `ort-train --folds all` trains it: the
 * same training artifacts (built here, the contract's plain ONNX), the same batches, augmentation
 * draws and learning rates from the same seed (data/plan.ts, train/schedule.ts), the fold's
 * normalisation, validation after each epoch, the last and the best checkpoint kept. On WebGPU the
 * step is the project's webgpu flavour (graph/webgpu.ts), as `--device webgpu` trains. What it
 * writes is a run folder of rundir.ts's layout, as files in memory (paths relative to the run
 * folder, with `/`), so that `senet-ort evaluate`, `report` and `export` read it.
 */
import type * as Ort from 'onnxruntime-web';
import { UserError } from '../errors.ts';
import { argmax } from '../util/numeric.ts';
import type { ArtifactManifest } from '../formats/artifacts.ts';
import { buildArtifacts } from '../formats/artifacts.ts';
import { decodeCheckpoint, encodeCheckpoint, stateNames } from '../formats/checkpoint-codec.ts';
import { encodeModel } from '../formats/protobuf.ts';
import type { EpochRecord, FoldNormalization, FoldState, Normalization, RunConfig, TrainOptions } from '../formats/rundir.ts';
import {
  CONFIG_FILE, LOG_FILE, NORMALIZATION_FILE, SPLITS_FILE, STATE_FILE, TEXT_LOG_FILE, checkpointName, foldFile,
} from '../formats/run-files.ts';
import { IDENTITY_NORMALIZATION, channelSums, jitterStain, normalizationFromSums, writeSample } from '../data/augment.ts';
import type { Splits } from '../data/grouped-split.ts';
import type { BatchRequest } from '../data/plan.ts';
import { planEpoch, planEvaluation } from '../data/plan.ts';
import { resolveModel } from '../graph/model.ts';
import type { ModelConfig } from '../graph/model.ts';
import { PORTABLE, WEBGPU, trainStepKernels } from '../graph/flavours.ts';
import { lossAndAccuracy } from '../train/loss.ts';
import { ResidentState, deviceOutputs } from '../train/resident-state.ts';
import { formatEpoch } from '../train/progress.ts';
import { describeSchedule, learningRate } from '../train/schedule.ts';
import type { Schedule } from '../train/schedule.ts';

export type OrtModule = Pick<typeof Ort, 'Tensor' | 'InferenceSession'>;
export type Backend = 'wasm' | 'webgpu';

/** A run folder's file: its path inside the folder, with `/`, and its bytes or text. */
export interface RunFile {
  readonly path: string;
  readonly data: Uint8Array | string;
}

/** The tiles as the network sees them: each tile's pixels at the input size (packed RGB) and label. */
export interface InputTiles {
  readonly index: ReadonlyMap<string, number>;
  readonly rgb: readonly Uint8Array[];
  readonly labels: Int32Array;
}

export interface StepProgress {
  readonly arch: string;
  readonly fold: number;
  readonly epoch: number;
  readonly step: number;
  readonly steps: number;
  readonly loss: number;
  readonly accuracy: number;
}

export interface TrainHooks {
  onStep?(progress: StepProgress): void;
  onEpoch?(arch: string, record: EpochRecord): void;
  readonly signal?: AbortSignal;
}

export interface TrainedFold {
  readonly fold: number;
  readonly normalization: Normalization;
  readonly records: EpochRecord[];
  readonly state: FoldState;
  /** The state after the last epoch, by name (what the last checkpoint holds). */
  readonly last: ReadonlyMap<string, Ort.Tensor>;
}

export interface TrainedRun {
  readonly options: TrainOptions;
  readonly config: RunConfig;
  readonly model: ModelConfig;
  readonly manifest: ArtifactManifest;
  readonly folds: TrainedFold[];
  /** Every file of the run folder so far: config.json, splits.json, the artifacts, each fold's files. */
  readonly files: RunFile[];
  /** eval_step.onnx's session, for the test split (release it when done). */
  readonly evalStep: Ort.InferenceSession;
}

export interface RunSetup {
  readonly ort: OrtModule;
  readonly backend: Backend;
  readonly options: TrainOptions;
  /** config.json as the run records it, but for its options (filled in here). */
  readonly config: Omit<RunConfig, 'options'>;
  readonly splits: Splits;
  /** splits.json's text, copied into the run as `ort-train` copies it. */
  readonly splitsText: string;
  readonly classes: readonly string[];
  readonly tiles: InputTiles;
}

function scheduleOf(o: TrainOptions): Schedule {
  return { kind: o.schedule, lr: o.lr, epochs: o.epochs, stepSize: o.stepSize, gamma: o.gamma, warmupEpochs: o.warmupEpochs };
}

/** The network's batch of `request`, written as the CLI's loader writes it (writeSample, after the stain jitter). */
export function batchImages(tiles: InputTiles, request: BatchRequest, width: number, height: number): Float32Array {
  const plane = 3 * width * height;
  const images = new Float32Array(request.indices.length * plane);
  request.indices.forEach((t, i) => {
    const rgb = tiles.rgb[t]!;
    const j = request.jitter;
    const jitter: [number, number, number] | null = j ? [j[i * 3]!, j[i * 3 + 1]!, j[i * 3 + 2]!] : null;
    const stained = request.stain ? jitterStain(rgb, request.stain.subarray(i * 6, i * 6 + 6)) : rgb;
    writeSample(stained, width, height, request.symmetries[i]!, jitter, request.normalization, images, i * plane);
  });
  return images;
}

/** The fold's normalisation, as `ort-train` computes it: the training tiles' per-channel mean and sd, or none. */
export function foldNormalization(options: TrainOptions, tiles: InputTiles, train: readonly number[]): Normalization {
  if (options.normalize === 'none') return IDENTITY_NORMALIZATION;
  if (options.normalize === 'imagenet') return { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
  const sums = new Float64Array(6);
  for (const t of train) channelSums(tiles.rgb[t]!).forEach((v, c) => (sums[c]! += v));
  const [, h, w] = options.input;
  return normalizationFromSums(sums, train.length * w * h);
}

/**
 * The training step's session: the portable step, or its webgpu flavour on WebGPU, where the
 * state's `.next` outputs stay in GPU buffers, to be fed back as the next step's inputs (per step
 * only the batch goes up and the loss and logits come down, as `--device webgpu` trains).
 */
export async function trainSession(setup: Pick<RunSetup, 'ort' | 'backend'>, artifacts: ReturnType<typeof buildArtifacts>, files: Map<string, Uint8Array | string>): Promise<Ort.InferenceSession> {
  const webgpu = setup.backend === 'webgpu';
  const model = webgpu ? encodeModel(trainStepKernels(artifacts.trainGraph, WEBGPU), { stateAsInputs: true }) : (files.get('train_step.onnx') as Uint8Array);
  return setup.ort.InferenceSession.create(model, {
    executionProviders: [setup.backend], graphOptimizationLevel: 'all', logSeverityLevel: 3,
    ...(webgpu ? { preferredOutputLocation: Object.fromEntries(deviceOutputs(artifacts.manifest).map((o) => [o, 'gpu-buffer' as const])) } : {}),
  });
}

/** init.safetensors' state, as a train step takes it: where every fold (and the bench) starts. */
export function initialState(ort: OrtModule, manifest: ArtifactManifest, files: ReadonlyMap<string, Uint8Array | string>): Map<string, Ort.Tensor> {
  const init = decodeCheckpoint(files.get('init.safetensors') as Uint8Array, 'init.safetensors', manifest);
  return new Map(stateNames(manifest).map((n) => {
    const t = init.get(n)!;
    return [n, new ort.Tensor('float32', t.data as Float32Array, [...t.dims])] as const;
  }));
}

/** The state's values on the CPU (read back from the GPU where it lives there; onnxruntime-web reads GPU tensors itself). */
async function snapshot(state: ResidentState<Ort.Tensor>): Promise<Map<string, Float32Array>> {
  const values = new Map<string, Float32Array>();
  for (const [n, t] of state.front) values.set(n, t.location === 'gpu-buffer' ? ((await t.getData()) as Float32Array) : (t.data as Float32Array));
  return values;
}

/** CPU tensors of a snapshot, shaped as the state's tensors. */
function cpuTensors(ort: OrtModule, values: ReadonlyMap<string, Float32Array>, like: ReadonlyMap<string, Ort.Tensor>): Map<string, Ort.Tensor> {
  return new Map([...values].map(([n, data]) => [n, new ort.Tensor('float32', data, [...like.get(n)!.dims])]));
}

/**
 * The probabilities and logits of eval_step.onnx (or of the inference graph with the SE gates as
 * outputs, `gates` naming them) on `tiles` with a fold's state, in batches of `batchSize`; each
 * gate's values come back per tile, row-major.
 */
export async function predict(
  ort: OrtModule, evalStep: Ort.InferenceSession, state: ReadonlyMap<string, Ort.Tensor>, tiles: InputTiles,
  indices: readonly number[], normalization: Normalization, input: readonly [number, number, number], batchSize: number,
  gates: readonly string[] = [],
): Promise<{ logits: Float32Array; probabilities: Float32Array; classes: number; gates: Float32Array[] }> {
  const [, h, w] = input;
  const logits: number[] = [];
  const probabilities: number[] = [];
  const gateValues: number[][] = gates.map(() => []);
  let classes = 0;
  for (const request of planEvaluation(indices, batchSize, normalization)) {
    const feeds: Record<string, Ort.Tensor> = { images: new ort.Tensor('float32', batchImages(tiles, request, w, h), [request.indices.length, 3, h, w]) };
    for (const name of evalStep.inputNames) if (name !== 'images') feeds[name] = state.get(name)!;
    const out = await evalStep.run(feeds);
    const l = out['logits']!.data as Float32Array;
    const p = out['probabilities']!.data as Float32Array;
    classes = l.length / request.indices.length;
    for (const v of l) logits.push(v);
    for (const v of p) probabilities.push(v);
    gates.forEach((g, k) => {
      for (const v of out[g]!.data as Float32Array) gateValues[k]!.push(v);
    });
  }
  return { logits: Float32Array.from(logits), probabilities: Float32Array.from(probabilities), classes, gates: gateValues.map((v) => Float32Array.from(v)) };
}

/** Train every fold of the run `setup.options` describes; its files are returned, not written. */
export async function trainRun(setup: RunSetup, hooks: TrainHooks = {}): Promise<TrainedRun> {
  const { ort, options } = setup;
  const model = resolveModel({ arch: options.arch, classes: setup.classes.length, input: options.input, seed: options.seed, ...(options.reduction !== null ? { reduction: options.reduction } : {}) });
  const loss = { labelSmoothing: options.labelSmoothing, ...(options.classWeights ? { classWeights: options.classWeights } : {}) };
  // The step gets the run's batch as a fixed dimension, as ort-train generates it.
  const artifacts = buildArtifacts({ ...model, batch: options.batchSize }, loss, undefined, { kernels: PORTABLE });
  const artifactFiles = new Map(artifacts.files());
  const config: RunConfig = { ...setup.config, options };
  const files: RunFile[] = [
    { path: CONFIG_FILE, data: `${JSON.stringify(config, null, 2)}\n` },
    { path: SPLITS_FILE, data: setup.splitsText },
    ...[...artifactFiles].map(([path, data]) => ({ path, data })),
  ];
  const names = stateNames(artifacts.manifest);
  const train = await trainSession(setup, artifacts, artifactFiles);
  const evalStep = await ort.InferenceSession.create(artifactFiles.get('eval_step.onnx') as Uint8Array, { executionProviders: [setup.backend], graphOptimizationLevel: 'all', logSeverityLevel: 3 });
  const folds: TrainedFold[] = [];
  try {
    for (const fold of options.folds) {
      folds.push(await trainFold({ setup, model, manifest: artifacts.manifest, train, evalStep, names, files }, fold, initialState(ort, artifacts.manifest, artifactFiles), hooks));
    }
  } catch (err) {
    await evalStep.release();
    throw err;
  } finally {
    await train.release();
  }
  return { options, config, model, manifest: artifacts.manifest, folds, files, evalStep };
}

interface FoldContext {
  readonly setup: RunSetup;
  readonly model: ModelConfig;
  readonly manifest: ArtifactManifest;
  readonly train: Ort.InferenceSession;
  readonly evalStep: Ort.InferenceSession;
  readonly names: readonly string[];
  readonly files: RunFile[];
}

async function trainFold(ctx: FoldContext, fold: number, initial: Map<string, Ort.Tensor>, hooks: TrainHooks): Promise<TrainedFold> {
  const { setup, names, files } = ctx;
  const { ort, options, tiles } = setup;
  const [, h, w] = options.input;
  const split = setup.splits.folds[fold - 1]!;
  const trainTiles = split.train.map((f) => tiles.index.get(f)!);
  const valTiles = split.val.map((f) => tiles.index.get(f)!);
  const normalization = foldNormalization(options, tiles, trainTiles);
  const record: FoldNormalization = {
    input: options.input, resize: setup.config.dataset.resize, scale: 255,
    source: options.normalize === 'fold' ? 'training fold' : options.normalize, mean: normalization.mean, std: normalization.std,
  };
  files.push({ path: foldFile(fold, NORMALIZATION_FILE), data: `${JSON.stringify(record, null, 2)}\n` });
  const log: string[] = [`${new Date().toISOString()} started fold ${fold} of ${options.arch} in the browser: ${split.train.length} training and ${split.val.length} validation tiles, input ${options.input.join('x')}, batch ${options.batchSize}, ${options.epochs} epochs, ${describeSchedule(scheduleOf(options))}, ${setup.backend === 'webgpu' ? 'WebGPU, webgpu step' : `WebAssembly, ${options.threads} threads, portable step`}`];

  const scalar = (v: number): Ort.Tensor => new ort.Tensor('float32', Float32Array.of(v), []);
  const schedule = scheduleOf(options);
  let samples = options.itersPerEpoch === null ? trainTiles.length : options.itersPerEpoch * options.batchSize;
  samples = Math.ceil(samples / options.batchSize) * options.batchSize;
  const state = new ResidentState(names, initial);
  let foldState: FoldState = { fold, epochs: options.epochs, epochsDone: 0, finished: false, last: null, best: null };
  const checkpoints = new Map<string, Uint8Array>();
  const records: EpochRecord[] = [];
  let last: Map<string, Ort.Tensor> = initial;
  for (let epoch = 1; epoch <= options.epochs; epoch++) {
    const started = performance.now();
    const batches = planEpoch({
      tiles: trainTiles, samples, batchSize: options.batchSize, seed: options.seed, fold, epoch,
      augmentation: { flips: options.augment, colorJitter: options.colorJitter, stainJitter: options.stainJitter ?? 0 },
      square: h === w, normalization,
    });
    let lossSum = 0;
    let correct = 0;
    let seen = 0;
    let building = 0;
    const firstLr = learningRate(schedule, epoch - 1, 0, batches.length);
    for (const [i, request] of batches.entries()) {
      if (hooks.signal?.aborted) throw new UserError(`fold ${fold} epoch ${epoch}: stopped before step ${i + 1}`);
      const built = performance.now();
      const labels = BigInt64Array.from(request.indices, (t) => BigInt(tiles.labels[t]!));
      const feeds: Record<string, Ort.Tensor> = {
        images: new ort.Tensor('float32', batchImages(tiles, request, w, h), [request.indices.length, 3, h, w]),
        labels: new ort.Tensor('int64', labels, [labels.length]),
        lr: scalar(learningRate(schedule, epoch - 1, i, batches.length)),
        momentum: scalar(options.momentum),
        weight_decay: scalar(options.weightDecay),
      };
      building += (performance.now() - built) / 1000;
      const { loss: stepLoss, logits } = await state.step(ctx.train, feeds);
      if (!Number.isFinite(stepLoss)) {
        state.release();
        const kept = foldState.last ? `the last good checkpoint is ${foldFile(fold, foldState.last)} (epoch ${foldState.epochsDone})` : 'no epoch finished, so there is no checkpoint yet';
        throw new UserError(`${options.arch} fold ${fold} epoch ${epoch} step ${i + 1}: training loss is ${stepLoss}, training diverged and this fold stopped; ${kept}; try a lower learning rate (now ${options.lr})`);
      }
      const classes = logits.length / labels.length;
      for (let k = 0; k < labels.length; k++) if (argmax(logits, k * classes, classes) === Number(labels[k])) correct++;
      lossSum += stepLoss * labels.length;
      seen += labels.length;
      hooks.onStep?.({ arch: options.arch, fold, epoch, step: i + 1, steps: batches.length, loss: lossSum / seen, accuracy: correct / seen });
    }
    const trainSeconds = (performance.now() - started) / 1000;
    const valStart = performance.now();
    let scores: { loss: number; accuracy: number } | null = null;
    if (valTiles.length > 0) {
      const p = await predict(ort, ctx.evalStep, state.front, tiles, valTiles, normalization, options.input, options.batchSize);
      scores = lossAndAccuracy({ logits: p.logits, classes: p.classes, labels: Int32Array.from(valTiles, (t) => tiles.labels[t]!) });
    }
    const valSeconds = (performance.now() - valStart) / 1000;
    const file = checkpointName(epoch);
    const values = await snapshot(state);
    checkpoints.set(file, encodeCheckpoint(names, (n) => ({ dims: state.front.get(n)!.dims, data: values.get(n)! }), { architecture: options.arch, fold, epoch }));
    if (epoch === options.epochs) last = cpuTensors(ort, values, state.front);
    const r: EpochRecord = {
      fold, epoch, lr: firstLr, trainLoss: lossSum / seen, trainAccuracy: correct / seen, valLoss: scores?.loss ?? null, valAccuracy: scores?.accuracy ?? null,
      images: seen, imagesPerSecond: seen / trainSeconds, seconds: (performance.now() - started) / 1000, trainSeconds, valSeconds,
      loaderWaitSeconds: building, time: new Date().toISOString(),
    };
    records.push(r);
    log.push(formatEpoch(r, options.epochs));
    const improved = foldState.best === null || r.valLoss === null || foldState.best.valLoss === null || r.valLoss < foldState.best.valLoss;
    foldState = { fold, epochs: options.epochs, epochsDone: epoch, finished: epoch === options.epochs, last: file, best: improved ? { epoch, valLoss: r.valLoss, file } : foldState.best };
    for (const kept of [...checkpoints.keys()]) if (kept !== foldState.last && kept !== foldState.best?.file) checkpoints.delete(kept);
    hooks.onEpoch?.(options.arch, r);
  }
  log.push(`${new Date().toISOString()} finished fold ${fold}: best epoch ${foldState.best?.epoch} (validation loss ${foldState.best?.valLoss?.toFixed(4) ?? '-'})`);
  files.push(
    { path: foldFile(fold, LOG_FILE), data: records.map((r) => JSON.stringify(r)).join('\n') + '\n' },
    { path: foldFile(fold, TEXT_LOG_FILE), data: `${log.join('\n')}\n` },
    { path: foldFile(fold, STATE_FILE), data: `${JSON.stringify(foldState, null, 2)}\n` },
    ...[...checkpoints].map(([path, data]) => ({ path: foldFile(fold, path), data })),
  );
  state.release();
  return { fold, normalization, records, state: foldState, last };
}

/** Training steps from a network's initial state on a given batch: what the tests compare with onnxruntime-node. */
export interface FirstStepRequest {
  readonly arch: string;
  readonly classes: number;
  readonly input: readonly [number, number, number];
  readonly seed: number;
  /** The batch, normalised, NCHW. */
  readonly images: Float32Array;
  readonly labels: readonly number[];
  readonly lr: number;
  readonly momentum: number;
  readonly weightDecay: number;
  /** Steps on the same batch, each from the state the last one left (default 1). */
  readonly steps?: number;
}

/**
 * The first steps of `request.arch` as the page trains it (the portable step on WASM, the webgpu
 * flavour on WebGPU with the state left on the GPU between steps, from init.safetensors' state):
 * the last step's loss and logits, and every state tensor after it.
 */
export async function firstStep(ort: OrtModule, backend: Backend, request: FirstStepRequest): Promise<{ loss: number; logits: Float32Array; next: Map<string, Float32Array> }> {
  const model = resolveModel({ arch: request.arch, classes: request.classes, input: request.input, seed: request.seed });
  const batch = request.labels.length;
  const artifacts = buildArtifacts({ ...model, batch }, {}, undefined, { kernels: PORTABLE });
  const files = new Map(artifacts.files());
  const session = await trainSession({ ort, backend }, artifacts, files);
  const state = new ResidentState(stateNames(artifacts.manifest), initialState(ort, artifacts.manifest, files));
  try {
    const scalar = (v: number): Ort.Tensor => new ort.Tensor('float32', Float32Array.of(v), []);
    const feeds: Record<string, Ort.Tensor> = {
      images: new ort.Tensor('float32', request.images, [batch, ...request.input]),
      labels: new ort.Tensor('int64', BigInt64Array.from(request.labels, (l) => BigInt(l)), [batch]),
      lr: scalar(request.lr), momentum: scalar(request.momentum), weight_decay: scalar(request.weightDecay),
    };
    let last: { loss: number; logits: Float32Array } = { loss: NaN, logits: new Float32Array(0) };
    for (let i = 0; i < (request.steps ?? 1); i++) last = await state.step(session, feeds);
    return { ...last, next: await snapshot(state) };
  } finally {
    state.release();
    await session.release();
  }
}
