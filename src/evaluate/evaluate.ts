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
import { loadCheckpoint } from '../formats/checkpoint.ts';
import { configFromManifest, createPredictor, tileBatches } from '../infer/predictor.ts';
import { TileLoader } from '../data/loader.ts';
import { planEvaluation } from '../data/plan.ts';
import { readPreparedDataset, tileGroups } from '../data/prepared.ts';
import type { PreparedDataset } from '../data/prepared.ts';
import type { RunConfig } from '../formats/rundir.ts';
import {
  checkpointName, foldDir, listFolds, readEpochLog, readFoldState, readArtifactManifest, readNormalization, readRunConfig, splitsPath,
} from '../formats/rundir.ts';
import type { Device, SessionSettings } from '../infer/session.ts';
import { DEVICES, requireDevice } from '../infer/session.ts';
import { heavyNodesWarning } from '../infer/placement.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import type { ExcitationAnalysis } from './excitation.ts';
import { ExcitationAccumulator } from './excitation.ts';
import type { CheckpointChoice, ExcitationFile, FoldCurve, RunMetrics, ScoreInput, Scores, TestPredictions } from './scores.ts';
import { EXCITATION_FILE, METRICS_FILE, describeChoice, evaluationFiles, scoreRun } from './scores.ts';

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

export interface EvaluateResult {
  metrics: RunMetrics;
  excitation: ExcitationFile | null;
  /** Paths written, absolute or relative as `run` was given. */
  written: string[];
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

/**
 * Evaluate every fold of a run that finished at least one epoch, and the fold ensemble, on the
 * run's test split; write the files listed at the top of this module.
 */
export async function evaluateRun(run: string, options: EvaluateOptions = {}): Promise<EvaluateResult> {
  const inputs = openEvaluation(run, options);
  // A GPU that cannot run here stops evaluate in one line, before any progress or file.
  await requireDevice(inputs.settings.device);
  const predictions = await predictTestSplit(inputs, options.log ?? ((): void => undefined));
  const scores = scoreRun(inputs.score, predictions);
  const written = writeEvaluation(inputs, scores);
  return { metrics: scores.metrics, excitation: scores.excitation, written };
}

/** What an evaluation works on, checked before any model runs. */
interface EvaluationInputs {
  readonly run: string;
  readonly manifest: ArtifactManifest;
  readonly dataset: PreparedDataset;
  readonly choice: CheckpointChoice;
  readonly model: ModelConfig;
  /** What scoring needs (the test tiles and labels, the folds and their checkpoints, the groups). */
  readonly score: ScoreInput;
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
  const score: ScoreInput = {
    run, arch: config.options.arch, test,
    labels: Int32Array.from(test, (f) => dataset.labels.get(f)!),
    classes: [...dataset.classes],
    checkpoint: describeChoice(choice),
    folds, checkpoints, warnings,
    groups: resolveTileGroups(dataset),
    groupBy: dataset.splits.groupBy ?? { kind: 'source' },
    dataset,
    se: model.reduction !== null && options.excitation !== false,
  };
  return {
    run, manifest, dataset, choice, model, score,
    // WebGPU runs a graph of fixed batch (createSession fixes it); the predictor pads the last batch.
    settings: { threads, device, batch: batchSize },
    batchSize,
    workers: options.workers ?? 1,
  };
}

/** The tiles' groups; for splits written before they were recorded, resolved again, or why that failed. */
function resolveTileGroups(dataset: PreparedDataset): ScoreInput['groups'] {
  try {
    const { groups, source } = tileGroups(dataset);
    return { groupOf: groups, source };
  } catch (err) {
    if (!(err instanceof UserError)) throw err;
    return { unavailable: `the splits were made before they recorded each tile's group, and resolving the groups again failed: ${err.message}` };
  }
}

/** Run each fold's checkpoint on the test tiles, decoded once by one loader. */
async function predictTestSplit(inputs: EvaluationInputs, log: (line: string) => void): Promise<TestPredictions> {
  const { run, manifest, model } = inputs;
  const { test, labels, classes, se } = inputs.score;
  const [, h, w] = model.input;
  const loader = new TileLoader({ dir: inputs.dataset.dir, files: test, width: w, height: h }, { workers: inputs.workers });
  const probabilities: Float32Array[] = [];
  const analyses: ({ fold: number } & ExcitationAnalysis)[] = [];
  try {
    for (const [k, fold] of inputs.score.folds.entries()) {
      const [epoch, file] = inputs.score.checkpoints[k]!;
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

/** Write the files listed at the top of this module (scores.ts's evaluationFiles); returns their paths. */
function writeEvaluation(inputs: EvaluationInputs, scores: Scores): string[] {
  const { files, stale } = evaluationFiles(inputs.score, scores);
  const at = (path: string): string => join(inputs.run, ...path.split('/'));
  for (const file of files) writeFileAtomic(at(file.path), file.text);
  // Files left by an earlier evaluation that would contradict this one (group predictions, an excitation analysis).
  for (const path of stale) rmSync(at(path), { force: true });
  return files.map((f) => at(f.path));
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
