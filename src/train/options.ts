/**
 * ort-train's options: the presets, the defaults, and `resolveTrainOptions`, which turns what a
 * user gave (flags, a config file, code) into checked TrainOptions; every bad value is a one-line
 * UserError naming its flag.
 */
import { join, resolve } from 'node:path';
import { availableParallelism } from 'node:os';
import { UserError, expected, either } from '../errors.ts';
import { resolveModel } from '../graph/model.ts';
import type { ModelConfig } from '../graph/model.ts';
import { checkLossOptions } from '../graph/train.ts';
import type { PreparedDataset } from '../data/prepared.ts';
import { defaultWorkers } from '../data/loader.ts';
import type { TrainOptions } from '../formats/rundir.ts';
import type { Schedule } from './schedule.ts';
import { SCHEDULES } from './schedule.ts';
import { DEVICES } from '../infer/session.ts';
import { KERNEL_CHOICES } from './kernels.ts';
import type { FineTuneInput } from './init.ts';
import { NORMALIZATIONS, parseSeWidth, resolveFineTune } from './init.ts';
import { resolveClassWeights } from './class-weights.ts';

/** Options as a user gives them (flags, a config file, code): every field optional, values typed. */
export interface TrainInput extends FineTuneInput {
  data?: string;
  arch?: string;
  reduction?: number | null;
  input?: readonly [number, number, number];
  /** 1-based folds, or 'all'. */
  folds?: readonly number[] | 'all';
  epochs?: number;
  batchSize?: number;
  itersPerEpoch?: number | null;
  lr?: number;
  momentum?: number;
  weightDecay?: number;
  schedule?: string;
  stepSize?: number;
  gamma?: number;
  warmupEpochs?: number;
  augment?: boolean;
  colorJitter?: number;
  stainJitter?: number;
  normalize?: string;
  labelSmoothing?: number;
  /** One weight per class, or `balanced` (class-weights.ts). */
  classWeights?: readonly number[] | 'balanced' | null;
  seed?: number;
  threads?: number;
  device?: string;
  kernels?: string;
  workers?: number;
  keepAll?: boolean;
  out?: string;
  preset?: string;
  resume?: boolean;
}

/**
 * Named option sets, applied under everything else the user gives.
 *   paper  the original study: 150 epochs of 700 batches of 64, SGD lr 0.0001 momentum 0.9,
 *          x0.1 every 40 epochs, tiles at their own size, no normalisation
 *   quick  a few minutes on a laptop CPU: tiles at 64x64, 15 epochs of batches of 16, cosine from
 *          0.01 after 2 warmup epochs (the study's default; a sweep on the 345-tile Kather set
 *          chose it over lr 0.05 without warmup, whose validation loss spiked past 400: bench/RESULTS.md)
 */
export const PRESETS: Readonly<Record<string, TrainInput>> = {
  paper: { epochs: 150, itersPerEpoch: 700, batchSize: 64, lr: 0.0001, momentum: 0.9, weightDecay: 0.0001, schedule: 'step', stepSize: 40, gamma: 0.1, warmupEpochs: 0, normalize: 'none' },
  quick: { input: [3, 64, 64], epochs: 15, itersPerEpoch: null, batchSize: 16, lr: 0.01, momentum: 0.9, weightDecay: 0.0001, schedule: 'cosine', warmupEpochs: 2, normalize: 'fold' },
};

/** Defaults of ort-train without a preset. */
const DEFAULTS = {
  epochs: 30, batchSize: 64, lr: 0.01, momentum: 0.9, weightDecay: 0.0001, schedule: 'step', stepSize: 10, gamma: 0.1,
  warmupEpochs: 0, augment: true, colorJitter: 0, stainJitter: 0, normalize: 'fold', labelSmoothing: 0, seed: 0, keepAll: false,
} as const;

/** Options added after runs were first written, with the value an older run's config.json implies by leaving them out. */
export const LATER_DEFAULTS: Readonly<Partial<TrainOptions>> = { stainJitter: 0 };

/** Options that may differ between invocations on one run: they change how, not what, is trained. */
export const RUNTIME_KEYS: ReadonlySet<keyof TrainOptions> = new Set(['folds', 'threads', 'device', 'kernels', 'workers', 'keepAll', 'out']);

export const flag = (key: string): string => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

function int(value: number | undefined, key: string, min: number, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < min) throw expected(min === 0 ? 'non-negative integer' : min === 1 ? 'positive integer' : `integer of at least ${min}`, flag(key), v);
  return v;
}

function num(value: number | undefined, key: string, ok: (v: number) => boolean, what: string, fallback: number): number {
  const v = value ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) throw expected(what, flag(key), v);
  return v;
}

function oneOf<T extends string>(value: string | undefined, key: string, allowed: readonly T[], fallback: T): T {
  const v = value ?? fallback;
  if (!allowed.includes(v as T)) throw expected(either(allowed), flag(key), v);
  return v as T;
}

/** Defaults and checks: every bad value is a one-line UserError naming its flag. */
export function resolveTrainOptions(given: TrainInput, dataset: PreparedDataset): TrainOptions {
  if (given.preset !== undefined && !(given.preset in PRESETS)) throw expected(either(Object.keys(PRESETS)), '--preset', given.preset);
  const o: TrainInput = { ...(given.preset ? PRESETS[given.preset] : {}), ...given };
  if (!o.arch) throw new UserError('missing --arch (for example --arch resnet20 or --arch se_resnet20)');
  const k = dataset.splits.folds.length;
  const folds = o.folds === undefined || o.folds === 'all' ? Array.from({ length: k }, (_, i) => i + 1) : [...o.folds];
  for (const f of folds) if (!Number.isInteger(f) || f < 1 || f > k) throw expected(`fold from 1 to ${k}`, '--fold', f);
  const input = o.input ?? (dataset.tileSize ? ([3, dataset.tileSize, dataset.tileSize] as const) : undefined);
  // The model checks arch, input and reduction, with its own messages.
  const seWidth = parseSeWidth(o.seWidth);
  const model = resolveModel({ arch: o.arch, classes: dataset.classes.length, ...(input ? { input } : {}), ...(o.reduction !== undefined && o.reduction !== null ? { reduction: o.reduction } : {}), ...(seWidth ? { seWidth } : {}) });
  if (model.input[0] !== 3) throw expected('3 channels (RGB tiles)', '--input', model.input.join('x'));
  const { classWeights, classWeighting } = resolveClassWeights(o.classWeights, dataset);
  const labelSmoothing = num(o.labelSmoothing, 'labelSmoothing', (v) => v >= 0 && v < 1, 'a number in [0, 1)', DEFAULTS.labelSmoothing);
  checkLossOptions({ labelSmoothing, ...(classWeights ? { classWeights } : {}) }, dataset.classes.length);
  const epochs = int(o.epochs, 'epochs', 1, DEFAULTS.epochs);
  const options: TrainOptions = {
    data: resolve(dataset.dir),
    arch: o.arch,
    reduction: model.reduction,
    seWidth: model.seWidth ?? null,
    ...resolveFineTune(o, model.spec),
    input: model.input,
    folds: [...new Set(folds)].sort((a, b) => a - b),
    epochs,
    batchSize: int(o.batchSize, 'batchSize', 1, DEFAULTS.batchSize),
    itersPerEpoch: o.itersPerEpoch === undefined || o.itersPerEpoch === null ? null : int(o.itersPerEpoch, 'itersPerEpoch', 1, 1),
    lr: num(o.lr, 'lr', (v) => v > 0, 'positive number', DEFAULTS.lr),
    momentum: num(o.momentum, 'momentum', (v) => v >= 0 && v < 1, 'a number in [0, 1)', DEFAULTS.momentum),
    weightDecay: num(o.weightDecay, 'weightDecay', (v) => v >= 0, 'non-negative number', DEFAULTS.weightDecay),
    schedule: oneOf(o.schedule, 'schedule', SCHEDULES, DEFAULTS.schedule),
    stepSize: int(o.stepSize, 'stepSize', 1, DEFAULTS.stepSize),
    gamma: num(o.gamma, 'gamma', (v) => v > 0, 'positive number', DEFAULTS.gamma),
    // A preset's warmup shrinks to fit fewer --epochs (quick with --epochs 1 has none); a given one is checked below.
    warmupEpochs: given.warmupEpochs === undefined && o.warmupEpochs !== undefined ? Math.min(int(o.warmupEpochs, 'warmupEpochs', 0, 0), epochs - 1) : int(o.warmupEpochs, 'warmupEpochs', 0, DEFAULTS.warmupEpochs),
    augment: o.augment ?? DEFAULTS.augment,
    colorJitter: num(o.colorJitter, 'colorJitter', (v) => v >= 0 && v < 1, 'a number in [0, 1)', DEFAULTS.colorJitter),
    stainJitter: num(o.stainJitter, 'stainJitter', (v) => v >= 0 && v < 1, 'a number in [0, 1)', DEFAULTS.stainJitter),
    normalize: oneOf(o.normalize, 'normalize', NORMALIZATIONS, DEFAULTS.normalize),
    labelSmoothing,
    classWeights,
    classWeighting,
    seed: int(o.seed, 'seed', 0, DEFAULTS.seed),
    threads: int(o.threads, 'threads', 1, availableParallelism()),
    device: oneOf(o.device, 'device', DEVICES, 'cpu'),
    kernels: oneOf(o.kernels, 'kernels', KERNEL_CHOICES, 'auto'),
    workers: int(o.workers, 'workers', 1, defaultWorkers()),
    keepAll: o.keepAll ?? DEFAULTS.keepAll,
    out: resolve(o.out ?? join('artifacts', o.arch)),
    preset: o.preset ?? null,
  };
  if (options.seed > 4294967295) throw expected('integer from 0 to 4294967295', '--seed', options.seed);
  if (options.warmupEpochs >= epochs) throw expected(`fewer warmup epochs than --epochs ${epochs}`, '--warmup-epochs', options.warmupEpochs);
  return options;
}

/** The model configuration of resolved options (what the artifacts are generated from). */
export function modelConfig(options: TrainOptions, classes: number): ModelConfig {
  return resolveModel({ arch: options.arch, classes, input: options.input, seed: options.seed, ...(options.reduction !== null ? { reduction: options.reduction } : {}), ...(options.seWidth ? { seWidth: options.seWidth } : {}) });
}

export function scheduleOf(options: TrainOptions): Schedule {
  return { kind: options.schedule, lr: options.lr, epochs: options.epochs, stepSize: options.stepSize, gamma: options.gamma, warmupEpochs: options.warmupEpochs };
}

