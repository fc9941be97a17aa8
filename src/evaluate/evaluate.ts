/**
 * `evaluate`: each fold's chosen checkpoint on the run's held-out test split, then the scores.
 * Numbers only: metrics.md, the same for people, is written by src/report/summaries.ts.
 *
 * Written into the run directory (beside what rundir.ts lists), each atomically:
 *   metrics.json            RunMetrics: per-fold and ensemble ClassificationMetrics, mean ± sd over folds,
 *                           the data counts per class and split, and the same scores per group (patient,
 *                           slide) where a group's test tiles share one class (groups.ts)
 *   evaluation.json         the per-fold test accuracy (rundir.ts's Evaluation), which the study reads
 *   test-predictions.csv    the fold ensemble's prediction per test tile (`compare` reads it)
 *   fold-<k>/test-predictions.csv   each fold model's predictions
 *   test-group-predictions.csv, fold-<k>/test-group-predictions.csv   the same per group, where there
 *                           are group-level scores (`compare` reads the ensemble's)
 *   excitation.json         SE networks: the excitation analysis of every fold model (excitation.ts)
 */
import { existsSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { UserError, expected, either } from '../errors.ts';
import type { ArtifactManifest } from '../formats/artifacts.ts';
import { readJson } from '../formats/json.ts';
import type { ModelConfig } from '../graph/model.ts';
import { toCsv } from '../formats/csv.ts';
import { loadCheckpoint } from '../formats/checkpoint.ts';
import { configFromManifest, createPredictor, tileBatches } from '../infer/predictor.ts';
import { TileLoader } from '../data/loader.ts';
import { planEvaluation } from '../data/plan.ts';
import { readPreparedDataset, tileGroups } from '../data/prepared.ts';
import type { PreparedDataset, TileGroupsSource } from '../data/prepared.ts';
import { describeGroupBy } from '../data/groups.ts';
import type { MixedGroup, TestGroups } from './groups.ts';
import { groupProbabilities, testGroups } from './groups.ts';
import type { ClassificationMetrics, MeanStd } from './metrics.ts';
import { classificationMetrics, ensembleProbabilities, meanStd, probabilityRows } from './metrics.ts';
import type { Evaluation, RunConfig } from '../formats/rundir.ts';
import {
  checkpointName, evaluationPath, foldDir, groupPredictionsPath, listFolds, predictionsPath, readEpochLog, readFoldState,
  readArtifactManifest, readNormalization, readRunConfig, splitsPath,
} from '../formats/rundir.ts';
import type { Device, SessionSettings } from '../infer/session.ts';
import { DEVICES, requireDevice } from '../infer/session.ts';
import { heavyNodesWarning } from '../infer/placement.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import { fileHeader } from '../version.ts';
import type { ExcitationAnalysis } from './excitation.ts';
import { ExcitationAccumulator } from './excitation.ts';

export const METRICS_FILE = 'metrics.json';
export const EXCITATION_FILE = 'excitation.json';
/** The fold ensemble's predictions, in the run root (the folds' own are in fold-<k>/). */
export const ENSEMBLE_PREDICTIONS = 'test-predictions.csv';
/** The fold ensemble's predictions per group, in the run root. */
export const ENSEMBLE_GROUP_PREDICTIONS = 'test-group-predictions.csv';

/** Which checkpoint of each fold: the last epoch's, the best (lowest validation loss), or a given epoch. */
export type CheckpointChoice = 'last' | 'best' | { epoch: number };

export interface EvaluateOptions {
  /** Default 'last'. */
  checkpoint?: CheckpointChoice;
  /** Tiles per inference batch (default: the run's training batch size). */
  batchSize?: number;
  /** ONNX Runtime threads (default: the number of CPUs). */
  threads?: number;
  /** Default: the run's device. */
  device?: Device;
  /** Loader threads (default 1: decoding a test split once is quick). */
  workers?: number;
  /** The SE excitation analysis (default true; SE networks only). */
  excitation?: boolean;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

/** One fold model's scores on the test split. */
export interface FoldEvaluation {
  fold: number;
  epoch: number;
  /** Relative to the fold folder, e.g. `checkpoints/epoch-6.safetensors`. */
  checkpoint: string;
  metrics: ClassificationMetrics;
}

/** The summary metrics, named as in ClassificationMetrics. */
export const SUMMARY_KEYS = ['accuracy', 'balancedAccuracy', 'macroF1', 'macroAuc', 'logLoss'] as const;
export type SummaryKey = (typeof SUMMARY_KEYS)[number];

/** Tiles per class in each split of one run. */
export interface DataCounts {
  /** Class names, in label order. */
  classes: string[];
  /**
   * One row per split, in display order ("test", "fold 1 train", "fold 1 validation", …);
   * counts[c] is the number of tiles of classes[c] in that split.
   */
  splits: { name: string; counts: number[] }[];
}

/** One epoch of one fold; a value is null where it was not recorded. */
export interface CurvePoint {
  epoch: number;
  trainLoss: number | null;
  valLoss: number | null;
  trainAccuracy: number | null;
  valAccuracy: number | null;
}

/** The training history of one fold. */
export interface FoldCurve {
  /** Fold number as shown to users (1-based). */
  fold: number;
  points: readonly CurvePoint[];
  /** The epoch whose checkpoint was evaluated, ringed on the validation curves; null or absent for none. */
  selectedEpoch?: number | null;
}

/**
 * The scores per group (patient, slide; groups.ts): each test group whose tiles share one class
 * is one sample, predicted by the mean of its tiles' probabilities.
 */
export interface GroupResults {
  /** What a group is, in words: `/^\d+/ on file names`, `source image`. */
  grouping: string;
  /** Where the tiles' groups came from; null when they could not be resolved. */
  source: TileGroupsSource | null;
  /** Why there are no group-level scores; null when there are. */
  unavailable: string | null;
  /** Groups in the test split. */
  testGroups: number;
  /** Those whose test tiles share one class: the samples scored here. */
  qualifying: number;
  /** Test tiles in the qualifying groups. */
  tiles: number;
  /** The groups left out, with their test tiles per class. */
  mixed: MixedGroup[];
  /** Each fold model's group-level scores, in the order of RunMetrics.folds; empty when unavailable. */
  folds: { fold: number; metrics: ClassificationMetrics }[];
  summary: Record<SummaryKey, MeanStd | null> | null;
  ensemble: ClassificationMetrics | null;
}

/** What metrics.json holds. */
export interface RunMetrics {
  format: 'senet-ort metrics';
  version: 1;
  tool: string;
  created: string;
  run: string;
  arch: string;
  split: 'test';
  /** 'last', 'best' or 'epoch <e>'. */
  checkpoint: string;
  classes: string[];
  /** Test tiles, in splits.json order (the row order of every predictions file). */
  tiles: number;
  folds: FoldEvaluation[];
  /** Mean and sample standard deviation over folds; null where a fold's value is undefined (macro AUC). */
  summary: Record<SummaryKey, MeanStd | null>;
  /** The fold ensemble: the mean of the folds' probabilities. */
  ensemble: ClassificationMetrics;
  /** Tiles per class in the test split and in each fold's training and validation parts. */
  data: DataCounts;
  /** Group-level scores; absent in metrics.json written before they existed. */
  groups?: GroupResults;
  /** Folds that had not finished training when they were evaluated. */
  warnings: string[];
}

/** What excitation.json holds: one analysis per fold model (channels are not comparable across folds). */
export interface ExcitationFile {
  format: 'senet-ort excitation';
  version: 1;
  run: string;
  arch: string;
  checkpoint: string;
  folds: ({ fold: number } & ExcitationAnalysis)[];
}

/** What evaluation.json holds: rundir.ts's Evaluation, with `checkpoint` also 'epoch <e>'. */
export type EvaluationFile = Omit<Evaluation, 'checkpoint'> & { readonly checkpoint: string };

export interface EvaluateResult {
  metrics: RunMetrics;
  excitation: ExcitationFile | null;
  /** Paths written, absolute or relative as `run` was given. */
  written: string[];
}

function describeChoice(choice: CheckpointChoice): string {
  return typeof choice === 'string' ? choice : `epoch ${choice.epoch}`;
}

function checkChoice(choice: CheckpointChoice): CheckpointChoice {
  if (typeof choice === 'object' && !(Number.isInteger(choice.epoch) && choice.epoch >= 1)) throw expected('positive integer', '--epoch', choice.epoch);
  return choice;
}

/** The fold's checkpoint for the choice, as [epoch, path relative to the fold folder]. */
function foldCheckpoint(run: string, fold: number, choice: CheckpointChoice): [number, string] {
  const state = readFoldState(run, fold);
  if (!state || !state.last) throw new UserError(`${foldDir(run, fold)}: no finished epoch, so nothing to evaluate; train it first (ort-train --resume)`);
  if (choice === 'last') return [state.epochsDone, state.last];
  if (choice === 'best') {
    if (!state.best) throw new UserError(`${foldDir(run, fold)}: no best checkpoint recorded`);
    return [state.best.epoch, state.best.file];
  }
  const file = checkpointName(choice.epoch);
  if (choice.epoch > state.epochsDone) throw new UserError(`${foldDir(run, fold)}: --epoch ${choice.epoch} but the fold finished ${state.epochsDone} epochs`);
  if (!existsSync(join(foldDir(run, fold), file))) {
    const kept = [state.best?.epoch, state.epochsDone].filter((e, i, all): e is number => e !== undefined && all.indexOf(e) === i);
    throw new UserError(`${join(foldDir(run, fold), file)}: not kept (this fold keeps epochs ${kept.join(' and ')}; train with --keep-all to keep every epoch)`);
  }
  return [choice.epoch, file];
}

/** Tiles per class in the test split and in each fold's training and validation tiles. */
export function dataCounts(dataset: PreparedDataset): DataCounts {
  const count = (files: readonly string[]): number[] => {
    const counts = new Array<number>(dataset.classes.length).fill(0);
    for (const f of files) counts[dataset.labels.get(f)!]! += 1;
    return counts;
  };
  return {
    classes: [...dataset.classes],
    splits: [
      { name: 'test', counts: count(dataset.splits.test) },
      ...dataset.splits.folds.flatMap((f, k) => [
        { name: `fold ${k + 1} train`, counts: count(f.train) },
        { name: `fold ${k + 1} validation`, counts: count(f.val) },
      ]),
    ],
  };
}

function predictionsCsv(files: readonly string[], labels: Int32Array, rows: readonly ArrayLike<number>[], classes: readonly string[]): string {
  return toCsv(
    ['file', 'label', 'predicted', ...classes],
    files.map((file, i) => {
      const row = rows[i]!;
      let arg = 0;
      for (let c = 1; c < row.length; c++) if (row[c]! > row[arg]!) arg = c;
      return [file, classes[labels[i]!]!, classes[arg]!, ...Array.from(row, (p) => Number(p.toPrecision(7)))];
    }),
  );
}

function summary(folds: readonly { metrics: ClassificationMetrics }[]): Record<SummaryKey, MeanStd | null> {
  const entries = SUMMARY_KEYS.map((key) => {
    const values = folds.map((f) => f.metrics[key]);
    return [key, values.some((v) => v === null) ? null : meanStd(values as number[])] as const;
  });
  return Object.fromEntries(entries) as Record<SummaryKey, MeanStd | null>;
}

/**
 * Evaluate every fold of a run that finished at least one epoch, and the fold ensemble, on the
 * run's test split; write the files listed at the top of this module.
 */
export async function evaluateRun(run: string, options: EvaluateOptions = {}): Promise<EvaluateResult> {
  const inputs = openEvaluation(run, options);
  // A GPU that cannot run here stops evaluate in one line, before any progress or file.
  await requireDevice(inputs.settings.device);
  const predictions = await predictTestSplit(inputs, options.log ?? ((): void => undefined));
  const scores = scoreFolds(inputs, predictions);
  const written = writeEvaluation(inputs, scores);
  return { metrics: scores.metrics, excitation: scores.excitation, written };
}

/** What an evaluation works on, checked before any model runs. */
interface EvaluationInputs {
  readonly run: string;
  readonly config: RunConfig;
  readonly manifest: ArtifactManifest;
  readonly dataset: PreparedDataset;
  /** The test tiles, in splits.json order, and their labels. */
  readonly test: readonly string[];
  readonly labels: Int32Array;
  readonly classes: string[];
  /** Each tile's group, and where it came from; or why the groups could not be resolved. */
  readonly groups: { groupOf: ReadonlyMap<string, string>; source: TileGroupsSource } | { unavailable: string };
  readonly choice: CheckpointChoice;
  /** The folds evaluated, and the [epoch, checkpoint file] of each. */
  readonly folds: number[];
  readonly checkpoints: [number, string][];
  readonly warnings: string[];
  readonly model: ModelConfig;
  /** Whether to run the SE excitation analysis. */
  readonly se: boolean;
  readonly settings: SessionSettings;
  readonly batchSize: number;
  readonly workers: number;
}

/** The run, its test split, the folds with a checkpoint to evaluate, and the options, checked. */
function openEvaluation(run: string, options: EvaluateOptions): EvaluationInputs {
  const choice = checkChoice(options.checkpoint ?? 'last');
  const config: RunConfig = readRunConfig(run);
  const manifest = readArtifactManifest(run);
  const dataset = readPreparedDataset(config.options.data, splitsPath(run));
  const test = dataset.splits.test;
  if (test.length === 0) throw new UserError(`${splitsPath(run)}: no test split to evaluate on; split the data set with --test-fraction above 0`);
  const folds = listFolds(run).filter((f) => readFoldState(run, f)?.last);
  if (folds.length === 0) throw new UserError(`${run}: no fold has finished an epoch; train first (ort-train)`);
  const warnings = folds.flatMap((f) => {
    const s = readFoldState(run, f)!;
    return s.finished ? [] : [`fold ${f} stopped after epoch ${s.epochsDone} of ${s.epochs}`];
  });
  const untrained = config.options.folds.filter((f) => !folds.includes(f));
  if (untrained.length > 0) warnings.push(`fold${untrained.length > 1 ? 's' : ''} ${untrained.join(', ')} not trained yet; the ensemble has ${folds.length}`);
  const checkpoints = folds.map((f) => foldCheckpoint(run, f, choice));

  const threads = options.threads ?? availableParallelism();
  if (!Number.isInteger(threads) || threads < 1) throw expected('positive integer', '--threads', threads);
  const device = options.device ?? config.options.device;
  if (!DEVICES.includes(device)) throw expected(either(DEVICES), '--device', device);
  const batchSize = options.batchSize ?? config.options.batchSize;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw expected('positive integer', '--batch-size', batchSize);
  const model = configFromManifest(manifest);
  return {
    run, config, manifest, dataset, test,
    labels: Int32Array.from(test, (f) => dataset.labels.get(f)!),
    classes: [...dataset.classes],
    groups: resolveTileGroups(dataset),
    choice, folds, checkpoints, warnings, model,
    se: model.reduction !== null && options.excitation !== false,
    // WebGPU runs a graph of fixed batch (createSession fixes it); the predictor pads the last batch.
    settings: { threads, device, batch: batchSize },
    batchSize,
    workers: options.workers ?? 1,
  };
}

/** The tiles' groups; for splits written before they were recorded, resolved again, or why that failed. */
function resolveTileGroups(dataset: PreparedDataset): EvaluationInputs['groups'] {
  try {
    const { groups, source } = tileGroups(dataset);
    return { groupOf: groups, source };
  } catch (err) {
    if (!(err instanceof UserError)) throw err;
    return { unavailable: `the splits were made before they recorded each tile's group, and resolving the groups again failed: ${err.message}` };
  }
}

/** Each fold model's test-split probabilities (tiles × classes) and, for SE networks, its excitation analysis. */
interface TestPredictions {
  readonly probabilities: Float32Array[];
  readonly analyses: ({ fold: number } & ExcitationAnalysis)[];
}

/** Run each fold's checkpoint on the test tiles, decoded once by one loader. */
async function predictTestSplit(inputs: EvaluationInputs, log: (line: string) => void): Promise<TestPredictions> {
  const { run, manifest, model, test, labels, classes, se } = inputs;
  const [, h, w] = model.input;
  const loader = new TileLoader({ dir: inputs.dataset.dir, files: test, width: w, height: h }, { workers: inputs.workers });
  const probabilities: Float32Array[] = [];
  const analyses: ({ fold: number } & ExcitationAnalysis)[] = [];
  try {
    for (const [k, fold] of inputs.folds.entries()) {
      const [epoch, file] = inputs.checkpoints[k]!;
      const path = join(foldDir(run, fold), file);
      const normalization = readNormalization(run, fold);
      if (normalization.input.join('x') !== model.input.join('x')) {
        throw new UserError(`${join(foldDir(run, fold), 'normalization.json')}: input ${normalization.input.join('x')} differs from the artifacts' ${model.input.join('x')}`);
      }
      log(`fold ${fold}: ${file} on ${test.length} test tiles`);
      const predictor = await createPredictor(model, loadCheckpoint(path, manifest), path, inputs.settings, { excitation: se });
      const warning = heavyNodesWarning(predictor.hostNodes, `fold ${fold}'s model`);
      if (warning) log(warning);
      const probs = new Float32Array(test.length * model.classes);
      const excitation = new ExcitationAccumulator(classes);
      try {
        let at = 0;
        const batches = tileBatches(loader, planEvaluation(test.map((_, i) => i), inputs.batchSize, normalization), labels);
        for await (const p of predictor.predictions(batches)) {
          probs.set(p.probabilities, at * model.classes);
          if (se) excitation.add(p.labels!, p.excitations);
          at += p.count;
        }
      } finally {
        await predictor.release();
      }
      probabilities.push(probs);
      if (se) analyses.push({ fold, ...excitation.result(`fold ${fold} model (${describeChoice(inputs.choice)} checkpoint, epoch ${epoch}) on the ${test.length} test tiles`) });
    }
  } finally {
    await loader.close();
  }
  return { probabilities, analyses };
}

/** The scores of the folds and of their ensemble, as the files hold them. */
interface Scores {
  /** Each test tile's probabilities, per fold model and for the ensemble (their mean). */
  readonly foldRows: Float32Array[][];
  readonly ensembleRows: number[][];
  /** The qualifying test groups and their probabilities, per fold model and for the ensemble; null without group-level scores. */
  readonly groupRows: { groups: TestGroups; folds: number[][][]; ensemble: number[][] } | null;
  readonly metrics: RunMetrics;
  readonly evaluation: EvaluationFile;
  readonly excitation: ExcitationFile | null;
}

function scoreFolds(inputs: EvaluationInputs, predictions: TestPredictions): Scores {
  const { run, config, test, labels, classes, folds, checkpoints, choice } = inputs;
  const foldRows = predictions.probabilities.map((p) => probabilityRows(p, inputs.model.classes));
  const foldEvaluations: FoldEvaluation[] = folds.map((fold, k) => ({
    fold,
    epoch: checkpoints[k]![0],
    checkpoint: checkpoints[k]![1],
    metrics: classificationMetrics(labels, foldRows[k]!, classes),
  }));
  const ensembleRows = ensembleProbabilities(foldRows);
  const { results: groups, rows: groupRows } = scoreGroups(inputs, foldRows, ensembleRows);
  const metrics: RunMetrics = {
    ...fileHeader('metrics'),
    created: new Date().toISOString(),
    run,
    arch: config.options.arch,
    split: 'test',
    checkpoint: describeChoice(choice),
    classes,
    tiles: test.length,
    folds: foldEvaluations,
    summary: summary(foldEvaluations),
    ensemble: classificationMetrics(labels, ensembleRows, classes),
    data: dataCounts(inputs.dataset),
    groups,
    warnings: inputs.warnings,
  };
  const evaluation: EvaluationFile = {
    run,
    arch: config.options.arch,
    split: 'test',
    checkpoint: describeChoice(choice),
    classes,
    folds: foldEvaluations.map((f) => {
      const correct = Math.round(f.metrics.accuracy * test.length);
      return { fold: f.fold, checkpoint: f.checkpoint, tiles: test.length, correct, accuracy: f.metrics.accuracy };
    }),
  };
  const excitation: ExcitationFile | null = inputs.se
    ? { format: 'senet-ort excitation', version: 1, run, arch: config.options.arch, checkpoint: describeChoice(choice), folds: predictions.analyses }
    : null;
  return { foldRows, ensembleRows, groupRows, metrics, evaluation, excitation };
}

/** The group-level scores of the folds and the ensemble, or why there are none. */
function scoreGroups(inputs: EvaluationInputs, foldRows: readonly Float32Array[][], ensembleRows: readonly number[][]): { results: GroupResults; rows: Scores['groupRows'] } {
  const grouping = describeGroupBy(inputs.dataset.splits.groupBy ?? { kind: 'source' });
  const none = (unavailable: string, source: TileGroupsSource | null, groups?: TestGroups): { results: GroupResults; rows: null } => ({
    results: {
      grouping, source, unavailable,
      testGroups: groups?.testGroups ?? 0,
      qualifying: groups?.groups.length ?? 0,
      tiles: groups?.members.reduce((n, m) => n + m.length, 0) ?? 0,
      mixed: groups?.mixed ?? [],
      folds: [], summary: null, ensemble: null,
    },
    rows: null,
  });
  if ('unavailable' in inputs.groups) return none(inputs.groups.unavailable, null);
  const { groupOf, source } = inputs.groups;
  const groups = testGroups(inputs.test, inputs.labels, groupOf, inputs.classes);
  if (groups.testGroups === inputs.test.length) {
    return none(`every test group holds one tile (grouped by ${grouping}), so group-level scores would repeat the tile-level ones`, source, groups);
  }
  if (groups.groups.length === 0) {
    return none(`none of the ${groups.testGroups} test groups has tiles of one class only, so no group has a class to score against`, source, groups);
  }
  const folds = foldRows.map((rows) => groupProbabilities(rows, groups.members));
  const ensemble = groupProbabilities(ensembleRows, groups.members);
  const foldScores = inputs.folds.map((fold, k) => ({ fold, metrics: classificationMetrics(groups.labels, folds[k]!, inputs.classes) }));
  return {
    results: {
      grouping, source, unavailable: null,
      testGroups: groups.testGroups,
      qualifying: groups.groups.length,
      tiles: groups.members.reduce((n, m) => n + m.length, 0),
      mixed: groups.mixed,
      folds: foldScores,
      summary: summary(foldScores),
      ensemble: classificationMetrics(groups.labels, ensemble, inputs.classes),
    },
    rows: { groups, folds, ensemble },
  };
}

function groupPredictionsCsv(groups: TestGroups, rows: readonly number[][], classes: readonly string[]): string {
  return toCsv(
    ['group', 'tiles', 'label', 'predicted', ...classes],
    groups.groups.map((group, g) => {
      const row = rows[g]!;
      let arg = 0;
      for (let c = 1; c < row.length; c++) if (row[c]! > row[arg]!) arg = c;
      return [group, groups.members[g]!.length, classes[groups.labels[g]!]!, classes[arg]!, ...row.map((p) => Number(p.toPrecision(7)))];
    }),
  );
}

/** Write the files listed at the top of this module; returns their paths. */
function writeEvaluation(inputs: EvaluationInputs, scores: Scores): string[] {
  const { run, test, labels, classes, folds } = inputs;
  const { foldRows, ensembleRows, groupRows, metrics, evaluation, excitation } = scores;
  const written: string[] = [];
  const write = (path: string, data: string): void => {
    writeFileAtomic(path, data);
    written.push(path);
  };
  folds.forEach((fold, k) => write(predictionsPath(run, fold), predictionsCsv(test, labels, foldRows[k]!, classes)));
  write(join(run, ENSEMBLE_PREDICTIONS), predictionsCsv(test, labels, ensembleRows, classes));
  if (groupRows) {
    folds.forEach((fold, k) => write(groupPredictionsPath(run, fold), groupPredictionsCsv(groupRows.groups, groupRows.folds[k]!, classes)));
    write(join(run, ENSEMBLE_GROUP_PREDICTIONS), groupPredictionsCsv(groupRows.groups, groupRows.ensemble, classes));
  } else {
    // Group predictions left by an earlier evaluation would contradict metrics.json.
    for (const path of [join(run, ENSEMBLE_GROUP_PREDICTIONS), ...folds.map((fold) => groupPredictionsPath(run, fold))]) rmSync(path, { force: true });
  }
  write(join(run, METRICS_FILE), `${JSON.stringify(metrics, null, 2)}\n`);
  write(evaluationPath(run), `${JSON.stringify(evaluation, null, 2)}\n`);
  if (excitation) write(join(run, EXCITATION_FILE), `${JSON.stringify(excitation)}\n`);
  // An analysis left by an earlier evaluation would describe other checkpoints than metrics.json.
  else rmSync(join(run, EXCITATION_FILE), { force: true });
  return written;
}

// ---------------------------------------------------------------------------------------------
// Reading what evaluate wrote

/** metrics.json of an evaluated run. */
export function readRunMetrics(run: string): RunMetrics {
  const metrics = readJson<RunMetrics>(join(run, METRICS_FILE), 'the metrics', `evaluate the run first: senet-ort evaluate ${run}`);
  if (metrics.format !== 'senet-ort metrics') throw new UserError(`${join(run, METRICS_FILE)}: not a senet-ort metrics file`);
  return metrics;
}

/** excitation.json of an evaluated SE run, or null when there is none. */
export function readExcitation(run: string): ExcitationFile | null {
  const path = join(run, EXCITATION_FILE);
  return existsSync(path) ? readJson<ExcitationFile>(path, 'the excitation analysis') : null;
}

/** The training history of each evaluated fold. */
export function readCurves(run: string, metrics: RunMetrics): FoldCurve[] {
  return metrics.folds.map((f) => ({
    fold: f.fold,
    selectedEpoch: f.epoch,
    points: readEpochLog(run, f.fold).map((r) => ({ epoch: r.epoch, trainLoss: r.trainLoss, valLoss: r.valLoss, trainAccuracy: r.trainAccuracy, valAccuracy: r.valAccuracy })),
  }));
}
