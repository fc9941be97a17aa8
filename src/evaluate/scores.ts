/**
 * The scores of an evaluation, with no file I/O: each fold model's and the fold ensemble's metrics
 * on the test split, per tile and per group, and the files that hold them (evaluate.ts runs the
 * models and writes the files; the browser app (src/web) scores its own runs here too, so both write
 * the same metrics.json, evaluation.json and predictions files). Paths are relative to the run
 * folder, with `/`.
 */
import type { PreparedDataset, TileGroupsSource } from '../data/prepared.ts';
import type { GroupBy } from '../data/groups.ts';
import { describeGroupBy } from '../data/groups.ts';
import type { Evaluation } from '../formats/rundir.ts';
import { EVALUATION_FILE, GROUP_PREDICTIONS_FILE, PREDICTIONS_FILE, foldFile } from '../formats/run-files.ts';
import { toCsv } from '../formats/csv.ts';
import { fileHeader } from '../version.ts';
import type { ExcitationAnalysis } from './excitation.ts';
import type { MixedGroup, TestGroups } from './groups.ts';
import { groupProbabilities, testGroups } from './groups.ts';
import type { ClassificationMetrics, MeanStd } from './metrics.ts';
import { classificationMetrics, ensembleProbabilities, meanStd, probabilityRows } from './metrics.ts';

export const METRICS_FILE = 'metrics.json';
export const EXCITATION_FILE = 'excitation.json';
/** The fold ensemble's predictions, in the run root (the folds' own are in fold-<k>/). */
export const ENSEMBLE_PREDICTIONS = 'test-predictions.csv';
/** The fold ensemble's predictions per group, in the run root. */
export const ENSEMBLE_GROUP_PREDICTIONS = 'test-group-predictions.csv';

/** Which checkpoint of each fold: the last epoch's, the best (lowest validation loss), or a given epoch. */
export type CheckpointChoice = 'last' | 'best' | { epoch: number };

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

/** A checkpoint choice as the files name it: 'last', 'best' or 'epoch <e>'. */
export function describeChoice(choice: CheckpointChoice): string {
  return typeof choice === 'string' ? choice : `epoch ${choice.epoch}`;
}

/** Tiles per class in the test split and in each fold's training and validation tiles. */
export function dataCounts(dataset: Pick<PreparedDataset, 'classes' | 'labels' | 'splits'>): DataCounts {
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

/** What scoring a run's test predictions needs, checked by whoever ran the models. */
export interface ScoreInput {
  readonly run: string;
  readonly arch: string;
  /** The test tiles, in splits.json order, and their labels. */
  readonly test: readonly string[];
  readonly labels: Int32Array;
  readonly classes: string[];
  /** The checkpoint choice as the files name it ('last', 'best', 'epoch <e>'). */
  readonly checkpoint: string;
  /** The folds evaluated, and the [epoch, checkpoint file] of each. */
  readonly folds: readonly number[];
  readonly checkpoints: readonly (readonly [number, string])[];
  /** Each tile's group, and where it came from; or why the groups could not be resolved. */
  readonly groups: { groupOf: ReadonlyMap<string, string>; source: TileGroupsSource } | { unavailable: string };
  /** How the split grouped the tiles. */
  readonly groupBy: GroupBy;
  /** The data set's classes, labels and splits, for the counts. */
  readonly dataset: Pick<PreparedDataset, 'classes' | 'labels' | 'splits'>;
  readonly warnings: readonly string[];
  /** Whether the excitation analyses are part of the result (SE networks). */
  readonly se: boolean;
}

/** Each fold model's test-split probabilities (tiles × classes) and, for SE networks, its excitation analysis. */
export interface TestPredictions {
  readonly probabilities: readonly Float32Array[];
  readonly analyses: readonly ({ fold: number } & ExcitationAnalysis)[];
}

/** The scores of the folds and of their ensemble, as the files hold them. */
export interface Scores {
  /** Each test tile's probabilities, per fold model and for the ensemble (their mean). */
  readonly foldRows: Float32Array[][];
  readonly ensembleRows: number[][];
  /** The qualifying test groups and their probabilities, per fold model and for the ensemble; null without group-level scores. */
  readonly groupRows: { groups: TestGroups; folds: number[][][]; ensemble: number[][] } | null;
  readonly metrics: RunMetrics;
  readonly evaluation: EvaluationFile;
  readonly excitation: ExcitationFile | null;
}

/** Score each fold model's and the ensemble's test predictions, per tile and per group. */
export function scoreRun(inputs: ScoreInput, predictions: TestPredictions): Scores {
  const { run, arch, test, labels, classes, folds, checkpoints, checkpoint } = inputs;
  const foldRows = predictions.probabilities.map((p) => probabilityRows(p, classes.length));
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
    arch,
    split: 'test',
    checkpoint,
    classes,
    tiles: test.length,
    folds: foldEvaluations,
    summary: summary(foldEvaluations),
    ensemble: classificationMetrics(labels, ensembleRows, classes),
    data: dataCounts(inputs.dataset),
    groups,
    warnings: [...inputs.warnings],
  };
  const evaluation: EvaluationFile = {
    run,
    arch,
    split: 'test',
    checkpoint,
    classes,
    folds: foldEvaluations.map((f) => {
      const correct = Math.round(f.metrics.accuracy * test.length);
      return { fold: f.fold, checkpoint: f.checkpoint, tiles: test.length, correct, accuracy: f.metrics.accuracy };
    }),
  };
  const excitation: ExcitationFile | null = inputs.se
    ? { format: 'senet-ort excitation', version: 1, run, arch, checkpoint, folds: [...predictions.analyses] }
    : null;
  return { foldRows, ensembleRows, groupRows, metrics, evaluation, excitation };
}

/** The group-level scores of the folds and the ensemble, or why there are none. */
function scoreGroups(inputs: ScoreInput, foldRows: readonly Float32Array[][], ensembleRows: readonly number[][]): { results: GroupResults; rows: Scores['groupRows'] } {
  const grouping = describeGroupBy(inputs.groupBy);
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

/** A file of the evaluation: its path in the run folder (with `/`) and its text. */
export interface EvaluationOutput {
  readonly path: string;
  readonly text: string;
}

/**
 * The files of an evaluation (listed at the top of evaluate.ts), and those that must not remain
 * from an earlier one: group predictions without group-level scores, an excitation analysis of
 * other checkpoints.
 */
export function evaluationFiles(inputs: ScoreInput, scores: Scores): { files: EvaluationOutput[]; stale: string[] } {
  const { test, labels, classes, folds } = inputs;
  const { foldRows, ensembleRows, groupRows, metrics, evaluation, excitation } = scores;
  const files: EvaluationOutput[] = [];
  const stale: string[] = [];
  folds.forEach((fold, k) => files.push({ path: foldFile(fold, PREDICTIONS_FILE), text: predictionsCsv(test, labels, foldRows[k]!, classes) }));
  files.push({ path: ENSEMBLE_PREDICTIONS, text: predictionsCsv(test, labels, ensembleRows, classes) });
  const groupFiles = [ENSEMBLE_GROUP_PREDICTIONS, ...folds.map((fold) => foldFile(fold, GROUP_PREDICTIONS_FILE))];
  if (groupRows) {
    folds.forEach((fold, k) => files.push({ path: foldFile(fold, GROUP_PREDICTIONS_FILE), text: groupPredictionsCsv(groupRows.groups, groupRows.folds[k]!, classes) }));
    files.push({ path: ENSEMBLE_GROUP_PREDICTIONS, text: groupPredictionsCsv(groupRows.groups, groupRows.ensemble, classes) });
  } else {
    stale.push(...groupFiles);
  }
  files.push({ path: METRICS_FILE, text: `${JSON.stringify(metrics, null, 2)}\n` });
  files.push({ path: EVALUATION_FILE, text: `${JSON.stringify(evaluation, null, 2)}\n` });
  if (excitation) files.push({ path: EXCITATION_FILE, text: `${JSON.stringify(excitation)}\n` });
  else stale.push(EXCITATION_FILE);
  return { files, stale };
}
