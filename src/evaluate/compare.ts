/**
 * `compare`: network A against network B. Both runs must have been trained on the same splits of
 * the same tiles and evaluated (metrics.json, test-predictions.csv); then every comparison is
 * paired: fold against fold (paired and corrected t-tests, exact Wilcoxon, on accuracy or balanced
 * accuracy) and, for the two fold ensembles, tile against tile (McNemar's exact test, a paired
 * bootstrap interval). Where the runs have group-level scores (patients, slides whose test tiles
 * share one class), the fold tests and McNemar are repeated per group (test-group-predictions.csv).
 * The tests and the verdict come from stats.ts and verdict.ts; differences are B − A.
 *
 * Written into the comparison folder (default `<parent of B>/<A>-vs-<B>/`):
 *   comparison.json   ComparisonFile: the runs, their checkpoints and the RunComparison
 * comparison.md, the same for people, is written by src/report/summaries.ts.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { UserError, either, expected } from '../errors.ts';
import { parseCsv } from '../formats/csv.ts';
import type { RunConfig } from '../formats/rundir.ts';
import { readRunConfig, splitsPath } from '../formats/rundir.ts';
import { readSplits } from '../data/prepared.ts';
import type { GroupLevelInput, RunComparison } from './verdict.ts';
import { compareRuns } from './verdict.ts';
import type { ScoreMetric } from './stats.ts';
import { SCORE_METRICS } from './stats.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import { fileHeader } from '../version.ts';
import type { RunMetrics } from './scores.ts';
import { readRunMetrics } from './evaluate.ts';
import { ENSEMBLE_GROUP_PREDICTIONS, ENSEMBLE_PREDICTIONS } from './scores.ts';

export const COMPARISON_FILE = 'comparison.json';

export interface CompareOptions {
  /** Significance level (default 0.05). */
  alpha?: number;
  /** Bootstrap resamples (default 10000). */
  resamples?: number;
  /** Bootstrap seed (default: run A's training seed). */
  seed?: number;
  /** The comparison folder (default `comparisonDir(runA, runB)`). */
  out?: string;
  /** The fold tests' and the bootstrap's metric (default accuracy). */
  metric?: ScoreMetric;
  /** Why that metric, said in the verdict (study: the class imbalance). */
  metricReason?: string;
}

/** Where metrics.json keeps each metric. */
const METRIC_KEYS: Readonly<Record<ScoreMetric, 'accuracy' | 'balancedAccuracy'>> = { accuracy: 'accuracy', 'balanced-accuracy': 'balancedAccuracy' };

/** What comparison.json holds. */
export interface ComparisonFile {
  format: 'senet-ort comparison';
  version: 1;
  tool: string;
  created: string;
  runs: { a: string; b: string };
  /** Which checkpoint each run's metrics used ('last', 'best', 'epoch <e>'). */
  checkpoints: { a: string; b: string };
  comparison: RunComparison;
}

export interface CompareResult {
  file: ComparisonFile;
  /** The two runs' metrics the comparison read. */
  metrics: { a: RunMetrics; b: RunMetrics };
  out: string;
  written: string[];
}

/** The default comparison folder: beside run B, named `<A>-vs-<B>` after the run folders. */
export function comparisonDir(runA: string, runB: string): string {
  return join(dirname(resolve(runB)), `${basename(resolve(runA))}-vs-${basename(resolve(runB))}`);
}

/** Display names: the architectures, or the run folders' names when both runs train the same one. */
export function runNames(runA: string, a: RunConfig, runB: string, b: RunConfig): { a: string; b: string } {
  if (a.options.arch !== b.options.arch) return { a: a.options.arch, b: b.options.arch };
  const [fa, fb] = [basename(resolve(runA)), basename(resolve(runB))];
  return fa !== fb ? { a: fa, b: fb } : { a: `${fa} (A)`, b: `${fb} (B)` };
}

/** Refuse two runs whose tiles or splits differ: their scores would not be paired. */
export function checkSameSplits(runA: string, runB: string): void {
  const [ca, cb] = [readRunConfig(runA), readRunConfig(runB)];
  const refuse = (why: string): never => {
    throw new UserError(`${runB}: ${why} than ${runA}; compare runs trained on the same splits of the same tiles`);
  };
  if (JSON.stringify(ca.dataset.classes) !== JSON.stringify(cb.dataset.classes)) refuse(`other classes (${cb.dataset.classes.join(', ')})`);
  if (ca.dataset.checksum !== cb.dataset.checksum) refuse('other tiles (the data set checksum differs)');
  const [sa, sb] = [readSplits(splitsPath(runA)), readSplits(splitsPath(runB))];
  if (JSON.stringify(sa.test) !== JSON.stringify(sb.test)) refuse(`another test split (${sb.test.length} tiles against ${sa.test.length}, or other tiles)`);
  if (sa.folds.length !== sb.folds.length) refuse(`${sb.folds.length} folds rather than ${sa.folds.length}, so other splits`);
  sa.folds.forEach((fold, k) => {
    if (JSON.stringify(fold) !== JSON.stringify(sb.folds[k])) refuse(`another fold ${k + 1} (other training or validation tiles), so other splits`);
  });
}

/** The ensemble's prediction per test tile, from test-predictions.csv, checked against metrics.json. */
export function ensembleCorrect(run: string, metrics: RunMetrics): { files: string[]; correct: boolean[]; labels: number[] } {
  const { names, correct, labels } = ensemblePredictions(run, metrics);
  return { files: names, correct, labels };
}

/** Every test tile's name, class and the ensemble's predicted class (indices into metrics.classes), from test-predictions.csv. */
export function ensemblePredictions(run: string, metrics: RunMetrics): { names: string[]; correct: boolean[]; labels: number[]; predicted: number[] } {
  return readPredictions(run, join(run, ENSEMBLE_PREDICTIONS), ['file', 'label', 'predicted'], metrics.tiles, 'tiles', metrics.classes);
}

/** A predictions file's first column, whether each row is right, and each row's class and predicted class index. */
function readPredictions(run: string, path: string, columns: readonly string[], rowsWanted: number, what: string, classes: readonly string[]): { names: string[]; correct: boolean[]; labels: number[]; predicted: number[] } {
  if (!existsSync(path)) throw new UserError(`${path}: not found; evaluate the run again: senet-ort evaluate ${run}`);
  const [header, ...rows] = parseCsv(readFileSync(path, 'utf8'));
  const label = columns.indexOf('label');
  const predicted = columns.indexOf('predicted');
  if (columns.some((c, i) => header?.[i] !== c)) throw new UserError(`${path}: expected columns ${columns.join(',')},…`);
  if (rows.length !== rowsWanted) throw new UserError(`${path}: ${rows.length} ${what} but metrics.json counts ${rowsWanted}; evaluate the run again`);
  return {
    names: rows.map((r) => r[0]!),
    correct: rows.map((r) => r[label] === r[predicted]),
    labels: rows.map((r) => classes.indexOf(r[label]!)),
    predicted: rows.map((r) => classes.indexOf(r[predicted]!)),
  };
}

/** Both runs' group-level evidence in `key`, or why there is none. */
function groupLevelInput(runA: string, ma: RunMetrics, runB: string, mb: RunMetrics, key: 'accuracy' | 'balancedAccuracy'): GroupLevelInput | { unavailable: string } {
  const [ga, gb] = [ma.groups, mb.groups];
  const stale = !ga ? runA : !gb ? runB : null;
  if (stale !== null || !ga || !gb) return { unavailable: `${stale} was evaluated before group-level scores existed; evaluate it again for them` };
  if (ga.unavailable !== null) return { unavailable: ga.unavailable };
  if (gb.unavailable !== null) return { unavailable: gb.unavailable };
  const columns = ['group', 'tiles', 'label', 'predicted'];
  const a = readPredictions(runA, join(runA, ENSEMBLE_GROUP_PREDICTIONS), columns, ga.qualifying, 'groups', ma.classes);
  const b = readPredictions(runB, join(runB, ENSEMBLE_GROUP_PREDICTIONS), columns, gb.qualifying, 'groups', mb.classes);
  if (a.names.join('\n') !== b.names.join('\n')) throw new UserError(`${runB}: its group predictions list other groups than ${runA}'s; evaluate both runs again`);
  return {
    grouping: ga.grouping,
    foldScoresA: ga.folds.map((f) => f.metrics[key]),
    foldScoresB: gb.folds.map((f) => f.metrics[key]),
    correctA: a.correct,
    correctB: b.correct,
  };
}

/** Compare two evaluated runs and write comparison.json. */
export function compareRunDirs(runA: string, runB: string, options: CompareOptions = {}): CompareResult {
  if (resolve(runA) === resolve(runB)) throw new UserError(`${runA}: the same run twice; give two runs to compare`);
  const [ca, cb] = [readRunConfig(runA), readRunConfig(runB)];
  checkSameSplits(runA, runB);
  const [ma, mb] = [readRunMetrics(runA), readRunMetrics(runB)];
  const foldsA = ma.folds.map((f) => f.fold);
  const foldsB = mb.folds.map((f) => f.fold);
  if (foldsA.join(',') !== foldsB.join(',')) {
    throw new UserError(`${runB}: evaluated folds ${foldsB.join(', ')} but ${runA} folds ${foldsA.join(', ')}; train and evaluate the same folds`);
  }
  if (foldsA.length < 2) throw new UserError(`${runA}: only fold ${foldsA[0]} is evaluated; the fold tests need at least 2 folds`);
  const [ea, eb] = [ensembleCorrect(runA, ma), ensembleCorrect(runB, mb)];
  if (ea.files.join('\n') !== eb.files.join('\n')) throw new UserError(`${runB}: its test predictions list other tiles than ${runA}'s; evaluate both runs again`);
  const seed = options.seed ?? ca.options.seed;
  if (!Number.isInteger(seed) || seed < 0) throw expected('non-negative integer', '--seed', seed);
  const metric = options.metric ?? 'accuracy';
  if (!SCORE_METRICS.includes(metric)) throw expected(either(SCORE_METRICS), '--metric', metric);
  const key = METRIC_KEYS[metric];
  const names = runNames(runA, ca, runB, cb);
  const comparison = compareRuns({
    nameA: names.a,
    nameB: names.b,
    foldScoresA: ma.folds.map((f) => f.metrics[key]),
    foldScoresB: mb.folds.map((f) => f.metrics[key]),
    correctA: ea.correct,
    correctB: eb.correct,
    labels: ea.labels,
    metric,
    ...(options.metricReason === undefined ? {} : { metricReason: options.metricReason }),
    groupLevel: groupLevelInput(runA, ma, runB, mb, key),
    seed,
    ...(options.alpha === undefined ? {} : { alpha: options.alpha }),
    ...(options.resamples === undefined ? {} : { resamples: options.resamples }),
  });
  const file: ComparisonFile = {
    ...fileHeader('comparison'),
    created: new Date().toISOString(),
    runs: { a: runA, b: runB },
    checkpoints: { a: ma.checkpoint, b: mb.checkpoint },
    comparison,
  };
  const out = options.out ?? comparisonDir(runA, runB);
  const written = [join(out, COMPARISON_FILE)];
  writeFileAtomic(written[0]!, `${JSON.stringify(file, null, 2)}\n`);
  return { file, metrics: { a: ma, b: mb }, out, written };
}
