/**
 * The main job, `study`: does the SE module help on this data? It prepares a folder of class
 * folders (tile, then a grouped, stratified split), trains a ResNet and its SE-ResNet twin on every
 * fold with identical options, evaluates every fold's model on the held-out test split, and writes
 * the per-fold test accuracy table, as the original study's evaluate step did.
 *
 *   <root>/                   default artifacts/<name>, name = the image folder's name
 *     data/                   the tiles, manifest.csv, dataset.json, splits.json (tile + split)
 *     <arch>/                 one run directory per network (see rundir.ts)
 *     accuracy.csv            fold, <plain>, <se>: test accuracy of each fold's model, then mean, std and fold-ensemble rows
 *     study.json              the same numbers and where everything is, for programs
 *
 * `evaluateRun(run)` is the hook where the next commands plug in: it returns every fold's test
 * predictions (probabilities, labels, files), from which `evaluate`, `compare` and `report` can
 * compute any metric (src/runtime/metrics.ts) or paired test (src/runtime/stats.ts).
 */
import { readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { UserError } from '../errors.ts';
import type { ArtifactManifest } from '../export/artifacts.ts';
import { formatSplitTable, formatTileSummary, KATHER_SLIDE_REGEX, splitDataset, tileDataset } from '../preprocess/index.ts';
import type { SplitOptions } from '../preprocess/index.ts';
import { parseCsv, toCsv } from '../preprocess/csv.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import { PRODUCER, VERSION } from '../version.ts';
import { loadCheckpoint } from './checkpoint.ts';
import { TileLoader, readPreparedDataset, splitFiles } from './loader.ts';
import { ensembleProbabilities, meanStd } from './metrics.ts';
import type { Progress } from './progress.ts';
import { createProgress } from './progress.ts';
import type { Evaluation } from './rundir.ts';
import {
  bestCheckpoint, datasetChecksum, evaluationPath, isRun, lastCheckpoint, listFolds, predictionsPath, readFoldState,
  readNormalization, readRunConfig, splitsPath,
} from './rundir.ts';
import type { Device } from './session.ts';
import { createSession } from './session.ts';
import type { TrainInput, TrainResult } from './trainer.ts';
import { lossAndAccuracy, predict, probabilities, train } from './trainer.ts';

/** The 80-tile Kather 2016 sample shipped in the repository: what `npm start` studies. */
export const EMBEDDED_SAMPLE: string = fileURLToPath(new URL('../../data/kather2016-crc-texture-sample', import.meta.url));

// ---------------------------------------------------------------------------------------------
// Evaluating a run on its test split.

export interface FoldPredictions {
  readonly fold: number;
  /** The checkpoint evaluated (absolute path). */
  readonly checkpoint: string;
  /** Test tiles, in splits.json order. */
  readonly files: readonly string[];
  readonly labels: readonly number[];
  /** Softmax probabilities, one row per tile. */
  readonly probabilities: readonly (readonly number[])[];
  readonly predicted: readonly number[];
  readonly correct: number;
  readonly accuracy: number;
  readonly loss: number;
}

export interface RunEvaluation {
  readonly run: string;
  readonly arch: string;
  readonly classes: readonly string[];
  readonly checkpoint: 'best' | 'last';
  readonly folds: readonly FoldPredictions[];
}

export interface EvaluateOptions {
  /** Which checkpoint of each fold: the last epoch's (default, as `evaluate`) or the lowest validation loss. */
  readonly checkpoint?: 'best' | 'last';
  readonly threads?: number;
  readonly device?: Device;
}

/**
 * Predict the test split with every finished fold's model, write fold-<k>/test-predictions.csv and
 * evaluation.json into the run, and return the predictions.
 */
export async function evaluateRun(run: string, options: EvaluateOptions = {}): Promise<RunEvaluation> {
  const config = readRunConfig(run);
  const dataset = readPreparedDataset(config.options.data, splitsPath(run));
  if (datasetChecksum(dataset.dir, dataset.classes, splitFiles(dataset)) !== config.dataset.checksum) {
    throw new UserError(`${dataset.dir}: the tiles changed since ${run} was trained (dataset checksum differs)`);
  }
  const files = [...dataset.splits.test];
  if (files.length === 0) throw new UserError(`${splitsPath(run)}: no test split to evaluate on (split with --test-fraction above 0)`);
  const which = options.checkpoint ?? 'last';
  const folds = listFolds(run).filter((f) => readFoldState(run, f)?.finished);
  if (folds.length === 0) throw new UserError(`${run}: no finished fold to evaluate`);
  const manifest = JSON.parse(readFileSync(join(run, 'artifact.json'), 'utf8')) as ArtifactManifest;
  const input = config.options.input;
  const labels = files.map((f) => dataset.labels.get(f)!);
  const loader = new TileLoader({ dir: dataset.dir, files, width: input[2], height: input[1] }, { workers: 1 });
  const session = await createSession(join(run, 'eval_step.onnx'), { threads: options.threads ?? config.options.threads, device: options.device ?? 'cpu' });
  try {
    const results: FoldPredictions[] = [];
    for (const fold of folds) {
      const checkpoint = (which === 'best' ? bestCheckpoint(run, fold) : lastCheckpoint(run, fold))!;
      const state = new Map<string, ort.Tensor>();
      for (const [name, t] of loadCheckpoint(checkpoint, manifest)) state.set(name, new ort.Tensor('float32', t.data as Float32Array, [...t.dims]));
      const prediction = await predict(session, state, loader, files.map((_, i) => i), {
        batchSize: config.options.batchSize, input, normalization: readNormalization(run, fold), classes: manifest.classes,
      });
      const scores = lossAndAccuracy(prediction, labels);
      const probs = probabilities(prediction);
      const predicted = probs.map((row) => row.indexOf(Math.max(...row)));
      writeFileAtomic(predictionsPath(run, fold), toCsv(
        ['file', 'label', 'predicted', ...dataset.classes],
        files.map((f, i) => [f, dataset.classes[labels[i]!]!, dataset.classes[predicted[i]!]!, ...probs[i]!.map((p) => Number(p.toPrecision(7)))]),
      ));
      results.push({ fold, checkpoint, files, labels, probabilities: probs, predicted, correct: scores.correct, accuracy: scores.accuracy, loss: scores.loss });
    }
    const evaluation: Evaluation = {
      run, arch: config.options.arch, split: 'test', checkpoint: which, classes: dataset.classes,
      folds: results.map((r) => ({ fold: r.fold, checkpoint: r.checkpoint, tiles: r.files.length, correct: r.correct, accuracy: r.accuracy })),
    };
    writeFileAtomic(evaluationPath(run), `${JSON.stringify(evaluation, null, 2)}\n`);
    return { run, arch: config.options.arch, classes: dataset.classes, checkpoint: which, folds: results };
  } finally {
    await loader.close();
    await session.release();
  }
}

// ---------------------------------------------------------------------------------------------
// The study.

export interface StudyInput {
  /** A folder of class folders (default: the embedded Kather sample). */
  readonly images?: string;
  /** Names the experiment root `artifacts/<name>` (default: the image folder's name). */
  readonly name?: string;
  /** The experiment root (default artifacts/<name>). */
  readonly root?: string;
  /** The plain network; its SE twin is `se_<arch>` (default resnet20, the study's pair). */
  readonly arch?: string;
  /** Split options (grouping defaults to Kather slide ids when every source name carries one). */
  readonly split?: Omit<SplitOptions, 'dir'>;
  /** Training options shared by both networks (default preset: quick). */
  readonly train?: TrainInput;
}

export interface StudyResult {
  readonly root: string;
  readonly data: string;
  readonly runs: readonly string[];
  readonly evaluations: readonly RunEvaluation[];
  readonly accuracyCsv: string;
  readonly seconds: number;
}

export interface StudyHooks {
  readonly progress?: Progress;
}

/** Kather 2016 names carry their slide (CRC-Prim-HE-07): group by it when every source does, so no slide straddles splits. */
function defaultGrouping(data: string): string | undefined {
  const [header, ...rows] = parseCsv(readFileSync(join(data, 'manifest.csv'), 'utf8'));
  const source = header?.indexOf('source') ?? -1;
  const re = new RegExp(KATHER_SLIDE_REGEX);
  return source >= 0 && rows.length > 0 && rows.every((r) => re.test(r[source]!)) ? KATHER_SLIDE_REGEX : undefined;
}

/** The accuracy table: one row per fold, then mean, std and the fold ensemble, one column per network. */
export function accuracyTable(evaluations: readonly RunEvaluation[]): (string | number)[][] {
  const folds = [...new Set(evaluations.flatMap((e) => e.folds.map((f) => f.fold)))].sort((a, b) => a - b);
  const fmt = (x: number | null | undefined): string => (x === null || x === undefined ? '' : x.toFixed(4));
  const rows: (string | number)[][] = folds.map((fold) => [fold, ...evaluations.map((e) => fmt(e.folds.find((f) => f.fold === fold)?.accuracy))]);
  const stats = evaluations.map((e) => meanStd(e.folds.map((f) => f.accuracy)));
  rows.push(['mean', ...stats.map((s) => fmt(s.mean))]);
  rows.push(['std', ...stats.map((s) => fmt(s.std))]);
  rows.push(['ensemble', ...evaluations.map((e) => fmt(ensembleAccuracy(e)))]);
  return rows;
}

/** Accuracy of the mean of the folds' probabilities (the k fold models as one ensemble). */
export function ensembleAccuracy(e: RunEvaluation): number {
  const mean = ensembleProbabilities(e.folds.map((f) => f.probabilities));
  const labels = e.folds[0]!.labels;
  return mean.filter((row, i) => row.indexOf(Math.max(...row)) === labels[i]).length / labels.length;
}

function formatTable(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const cells = [header, ...rows].map((r) => r.map(String));
  const widths = header.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  return cells.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')).join('\n');
}

export async function runStudy(input: StudyInput, hooks: StudyHooks = {}): Promise<StudyResult> {
  const started = performance.now();
  const progress = hooks.progress ?? createProgress(process.stderr.isTTY ? process.stderr : null);
  const images = resolve(input.images ?? EMBEDDED_SAMPLE);
  const root = resolve(input.root ?? join('artifacts', input.name ?? basename(images)));
  const plain = input.arch ?? 'resnet20';
  if (plain.startsWith('se_')) throw new UserError(`--arch names the plain network of the pair (the study adds its SE twin); received ${plain}, try ${plain.slice(3)}`);
  const archs = [plain, `se_${plain}`];
  const data = join(root, 'data');

  progress.line(`study: ${archs.join(' vs ')} on ${images}`);
  const tiles = await tileDataset({ input: images, output: data });
  progress.line(formatTileSummary(tiles).trimEnd());
  const chosen = input.split?.groupRegex !== undefined || input.split?.groupsFile !== undefined;
  const kather = chosen ? undefined : defaultGrouping(data);
  const split = splitDataset({ dir: data, ...(kather ? { groupRegex: kather } : {}), ...input.split });
  progress.line(formatSplitTable(split).trimEnd());

  const runs: string[] = [];
  const results: TrainResult[] = [];
  for (const arch of archs) {
    const out = join(root, arch);
    if (isRun(out) && readFileSync(splitsPath(out), 'utf8') !== readFileSync(split.path, 'utf8')) {
      throw new UserError(`${out}: was trained on other splits than ${split.path} (split options changed); use another --name or --root`);
    }
    results.push(await train({ preset: 'quick', ...input.train, data, arch, out, folds: 'all', resume: isRun(out) }, { progress }));
    runs.push(out);
  }

  const evaluations: RunEvaluation[] = [];
  for (const run of runs) {
    progress.status(`evaluating ${run} on the test split`);
    evaluations.push(await evaluateRun(run, { threads: results[0]!.options.threads, device: results[0]!.options.device }));
  }
  progress.clear();
  const table = accuracyTable(evaluations);
  const accuracyCsv = join(root, 'accuracy.csv');
  writeFileAtomic(accuracyCsv, toCsv(['fold', ...archs], table));
  const seconds = (performance.now() - started) / 1000;
  const summary = {
    format: 'senet-ort study',
    version: 1,
    tool: `${PRODUCER} ${VERSION}`,
    images,
    data,
    splits: split.path,
    runs: Object.fromEntries(archs.map((a, i) => [a, runs[i]])),
    testTiles: evaluations[0]!.folds[0]!.files.length,
    accuracy: Object.fromEntries(evaluations.map((e) => {
      const s = meanStd(e.folds.map((f) => f.accuracy));
      return [e.arch, { folds: e.folds.map((f) => ({ fold: f.fold, accuracy: f.accuracy, correct: f.correct })), mean: s.mean, std: s.std, ensemble: ensembleAccuracy(e) }];
    })),
    seconds,
  };
  writeFileAtomic(join(root, 'study.json'), `${JSON.stringify(summary, null, 2)}\n`);
  progress.line([
    `test accuracy on ${summary.testTiles} held-out tiles (each fold's model after its last epoch):`,
    formatTable(['fold', ...archs], table),
    `accuracy table: ${accuracyCsv}`,
    `summary: ${join(root, 'study.json')}`,
    ...archs.map((a, i) => `${a}: ${runs[i]} (config.json, fold-k/log.jsonl, fold-k/checkpoints, fold-k/test-predictions.csv)`),
    `tiles and splits: ${data}`,
    `finished in ${seconds.toFixed(0)} s`,
  ].join('\n'));
  return { root, data, runs, evaluations, accuracyCsv, seconds };
}
