/**
 * A run directory as `ort-train` finds or starts it (the layout is rundir.ts's): the options checked
 * against the ones it started with, the data set checked against its checksum, config.json and the
 * copy of splits.json for a new run, and the training artifacts, generated when absent.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { UserError } from '../errors.ts';
import type { ArtifactManifest } from '../formats/artifacts.ts';
import { buildArtifacts } from '../formats/artifacts.ts';
import { writeArtifacts } from '../formats/artifacts-file.ts';
import type { RunConfig, TrainOptions } from '../formats/rundir.ts';
import { configPath, datasetChecksum, isRun, readArtifactManifest, readRunConfig, splitsPath } from '../formats/rundir.ts';
import { RESIZE_METHOD } from '../data/decode.ts';
import type { PreparedDataset } from '../data/prepared.ts';
import { readPreparedDataset, splitFiles } from '../data/prepared.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import { fileHeader } from '../version.ts';
import { environmentVersions } from './environment.ts';
import type { TrainInput } from './options.ts';
import { LATER_DEFAULTS, RUNTIME_KEYS, flag, modelConfig, resolveTrainOptions } from './options.ts';
import { artifactSetup, checkArtifactsSetup, checkSameInit } from './init.ts';

/** A run ready to train: its resolved options, its data set and its config. */
export interface OpenedRun {
  readonly options: TrainOptions;
  readonly dataset: PreparedDataset;
  readonly config: RunConfig;
  /** Write a new run's config.json (with `extra`, e.g. the init record) and splits.json (nothing for a run that exists). */
  readonly commit: (extra?: Partial<RunConfig>) => void;
}

/**
 * Find the run or plan a new one, check that its options and data match, and return what to train.
 * A new run's config.json and splits.json are written by `commit`, once everything else checks out.
 */
export function openRun(given: TrainInput): OpenedRun {
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
    const base: TrainInput = { ...stored, preset: undefined, out, ...(stored.classWeighting === 'balanced' ? { classWeights: 'balanced' } : {}) };
    const options = resolveTrainOptions({ ...base, ...definedOnly(given), out }, dataset);
    checkSameInit(out, stored, options);
    const keys = new Set([...Object.keys(stored), ...Object.keys(LATER_DEFAULTS)] as (keyof TrainOptions)[]);
    for (const key of keys) {
      // classWeighting says how the weights were asked for; the weights themselves are compared.
      if (RUNTIME_KEYS.has(key) || key === 'preset' || key === 'classWeighting') continue;
      const was = key in stored ? stored[key] : LATER_DEFAULTS[key];
      if (JSON.stringify(options[key]) !== JSON.stringify(was)) {
        throw new UserError(`${out}: holds a run with ${flag(key)} ${show(was)}, not ${show(options[key])}; use another --out, or leave ${flag(key)} out to continue this run`);
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
      preparation: dataset.preparation,
    },
    options,
  };
  const splits = readFileSync(dataset.splitsFile);
  const commit = (extra: Partial<RunConfig> = {}): void => {
    mkdirSync(out, { recursive: true });
    writeFileAtomic(splitsPath(out), splits);
    writeFileAtomic(configPath(out), `${JSON.stringify({ ...config, ...extra }, null, 2)}\n`);
  };
  return { options, dataset, config, commit };
}

function definedOnly(input: TrainInput): TrainInput {
  return Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)) as TrainInput;
}

const show = (v: unknown): string => (Array.isArray(v) ? v.join(v.length === 3 && typeof v[0] === 'number' ? 'x' : ',') : String(v));

/** The run's artifacts: generated when absent, checked against the options when present. */
export function ensureArtifacts(options: TrainOptions, classes: number): { manifest: ArtifactManifest; generated: boolean } {
  const path = join(options.out, 'artifact.json');
  const config = modelConfig(options, classes);
  if (existsSync(path)) {
    const manifest = readArtifactManifest(options.out);
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
  writeArtifacts(artifacts, options.out);
  return { manifest: artifacts.manifest, generated: true };
}
