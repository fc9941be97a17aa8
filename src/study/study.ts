/**
 * The main job, `study`: does the SE module help on this data? It prepares a folder of class
 * folders or a data set that `tile` made (src/data/prepare.ts: tile, then a grouped, stratified
 * split; a data set that `split` made is used where it is), trains a ResNet and its SE-ResNet
 * twin on every fold with identical options, evaluates every fold's model on the held-out test
 * split, writes the per-fold test accuracy table (as the original study's evaluate step did),
 * compares the two networks with paired tests and writes the HTML report.
 *
 *   <root>/                   default artifacts/<name>, name = the image folder's name
 *     data/                   the tiles (or links to them), manifest.csv, dataset.json, splits.json (tile + split)
 *     <arch>/                 one run directory per network (see rundir.ts)
 *     accuracy.csv            fold, <plain>, <se>: test accuracy of each fold's model, then mean, std and fold-ensemble rows
 *     senet-ort.json          the project file (project.ts): `ort-train --fold k` here trains the SE network's fold k
 *     study.json              the same numbers, the verdict and where everything is, for programs
 *     <plain>-vs-<se>/        comparison.json, comparison.md, report.html and its plots (src/report/)
 */
import { readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../errors.ts';
import { createModel, plainTwin, seTwin } from '../graph/registry.ts';
import { formatPrepared, prepareSource } from '../data/index.ts';
import type { SplitOptions, TilingOptions } from '../data/index.ts';
import { toCsv } from '../formats/csv.ts';
import { evaluateAndSummarise } from '../report/summaries.ts';
import type { RunMetrics } from '../evaluate/scores.ts';
import { writeReport } from '../report/report.ts';
import { METRIC_LABELS, choosePrimaryMetric, verdictLine } from '../evaluate/verdict.ts';
import type { ScoreMetric } from '../evaluate/stats.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import { fileHeader } from '../version.ts';
import { meanStd } from '../evaluate/metrics.ts';
import type { Progress } from '../train/progress.ts';
import { createProgress } from '../train/progress.ts';
import { isRun, splitsPath } from '../formats/rundir.ts';
import type { TrainInput } from '../train/options.ts';
import type { TrainResult } from '../train/trainer.ts';
import { train } from '../train/trainer.ts';
import { textTable } from '../util/table.ts';
import { writeProject } from './project.ts';
import { requireDevice } from '../infer/session.ts';

/** The 80-tile Kather 2016 sample shipped in the repository: what `npm start` studies. */
export const EMBEDDED_SAMPLE: string = fileURLToPath(new URL('../../data/kather2016-crc-texture-sample', import.meta.url));

// ---------------------------------------------------------------------------------------------
// The study.

export interface StudyInput {
  /** A folder of class folders, or a data set that `tile` (and `split`) made (default: the embedded Kather sample). */
  readonly images?: string;
  /** Names the experiment root `artifacts/<name>` (default: the image folder's name). */
  readonly name?: string;
  /** The experiment root (default artifacts/<name>). */
  readonly root?: string;
  /** The plain network; its SE twin is `se_<arch>` (`legacy_se_resnetN` for `legacy_resnetN`; default resnet20, the study's pair). */
  readonly arch?: string;
  /** Tiling options, for images (src/data/prepare.ts). */
  readonly tiling?: TilingOptions;
  /** Split options, for images and a data set not split yet (grouping defaults to Kather slide ids when every source name carries one). */
  readonly split?: Omit<SplitOptions, 'dir'>;
  /** Training options shared by both networks (default preset: quick). */
  readonly train?: TrainInput;
  /** Initial weights of the SE twin (`train.init` is the plain network's): a pair starts from a pair. */
  readonly seInit?: string;
  /** The comparison's primary metric (default: balanced accuracy when the test classes are imbalanced more than 2:1, else accuracy). */
  readonly metric?: ScoreMetric;
}

export interface StudyResult {
  readonly root: string;
  readonly data: string;
  readonly runs: readonly string[];
  readonly evaluations: readonly RunMetrics[];
  readonly accuracyCsv: string;
  /** report.html, beside comparison.json. */
  readonly report: string;
  /** The comparison's verdict in one sentence. */
  readonly verdict: string;
  readonly seconds: number;
}

export interface StudyHooks {
  readonly progress?: Progress;
}

/** Tiles per class in the whole data set: the test split, and fold 1's training and validation tiles (every other tile). */
function classCounts(m: RunMetrics): number[] {
  const [test, train, val] = [m.data.splits[0]!, m.data.splits[1]!, m.data.splits[2]!];
  return test.counts.map((n, c) => n + train.counts[c]! + val.counts[c]!);
}

/** The accuracy (or balanced accuracy) table: one row per fold, then mean, std and the fold ensemble, one column per network. */
export function accuracyTable(evaluations: readonly RunMetrics[], key: 'accuracy' | 'balancedAccuracy' = 'accuracy'): (string | number)[][] {
  const folds = [...new Set(evaluations.flatMap((e) => e.folds.map((f) => f.fold)))].sort((a, b) => a - b);
  const fmt = (x: number | null | undefined): string => (x === null || x === undefined ? '' : x.toFixed(4));
  const rows: (string | number)[][] = folds.map((fold) => [fold, ...evaluations.map((e) => fmt(e.folds.find((f) => f.fold === fold)?.metrics[key]))]);
  const stats = evaluations.map((e) => meanStd(e.folds.map((f) => f.metrics[key])));
  rows.push(['mean', ...stats.map((s) => fmt(s.mean))]);
  rows.push(['std', ...stats.map((s) => fmt(s.std))]);
  rows.push(['ensemble', ...evaluations.map((e) => fmt(e.ensemble[key]))]);
  return rows;
}

/** The pair a study compares: the plain network `arch` and its SE twin (resnet50 and se_resnet50, legacy_resnet50 and legacy_se_resnet50). */
export function studyPair(arch: string): [string, string] {
  const plain = plainTwin(arch);
  if (plain) throw new UserError(`--arch names the plain network of the pair (the study adds its SE twin); received ${arch}, try ${plain}`);
  const se = seTwin(arch);
  // An unknown name is createModel's one line, which lists the known ones.
  if (!se) throw new UserError(`--arch ${createModel(arch).name} has no SE twin to compare it with`);
  return [arch, se];
}

export async function runStudy(input: StudyInput, hooks: StudyHooks = {}): Promise<StudyResult> {
  const started = performance.now();
  const progress = hooks.progress ?? createProgress(process.stderr.isTTY ? process.stderr : null);
  const images = resolve(input.images ?? EMBEDDED_SAMPLE);
  const root = resolve(input.root ?? join('artifacts', input.name ?? basename(images)));
  const archs = studyPair(input.arch ?? 'resnet20');
  const se = archs[1];
  if ((input.train?.init ? 1 : 0) + (input.seInit ? 1 : 0) === 1) {
    throw new UserError('--init and --se-init go together: the plain network starts from --init, its SE twin from --se-init (an SE-ResNet state_dict)');
  }
  const initOf = (arch: string): TrainInput => (input.seInit && arch === se ? { init: input.seInit } : {});
  // Before the tiles are written: a GPU that cannot train here is one line (an unknown device name
  // is left to the training options' check, which names the choices).
  await requireDevice(input.train?.device);

  progress.line(`study: ${archs.join(' vs ')} on ${images}`);
  const prepared = await prepareSource({
    source: images, output: join(root, 'data'), split: input.split ?? {},
    tiling: { ...input.tiling, onSource: (done, total) => progress.status(`tiling ${done}/${total} images`) },
  });
  progress.line(formatPrepared(prepared).trimEnd());
  const data = prepared.data;
  const splitsFile = join(data, 'splits.json');
  // senet-ort.json: `ort-train --fold 2` in the study folder trains the SE network's fold 2 with the study's options.
  writeProject(root, { data, arch: archs[1]!, runs: '.', options: { preset: 'quick', ...input.train } });

  const runs: string[] = [];
  const results: TrainResult[] = [];
  for (const arch of archs) {
    const out = join(root, arch);
    if (isRun(out) && readFileSync(splitsPath(out), 'utf8') !== readFileSync(splitsFile, 'utf8')) {
      throw new UserError(`${out}: was trained on other splits than ${splitsFile} (split options changed); use another --name or --root`);
    }
    results.push(await train({ preset: 'quick', ...input.train, ...initOf(arch), data, arch, out, folds: 'all', resume: isRun(out) }, { progress }));
    runs.push(out);
  }

  const evaluations: RunMetrics[] = [];
  for (const run of runs) {
    progress.status(`evaluating ${run} on the test split`);
    evaluations.push((await evaluateAndSummarise(run, { threads: results[0]!.options.threads, device: results[0]!.options.device })).metrics);
  }
  progress.status('comparing the networks and writing the report');
  const primary = input.metric !== undefined ? { metric: input.metric, reason: null } : choosePrimaryMetric(classCounts(evaluations[0]!), evaluations[0]!.classes);
  const report = await writeReport(runs, { metric: primary.metric, ...(primary.reason === null ? {} : { metricReason: primary.reason }) });
  const verdict = verdictLine(report.comparison!.file.comparison);
  progress.clear();
  const table = accuracyTable(evaluations);
  const accuracyCsv = join(root, 'accuracy.csv');
  writeFileAtomic(accuracyCsv, toCsv(['fold', ...archs], table));
  const seconds = (performance.now() - started) / 1000;
  const summary = {
    ...fileHeader('study'),
    images,
    data,
    splits: splitsFile,
    runs: Object.fromEntries(archs.map((a, i) => [a, runs[i]])),
    testTiles: evaluations[0]!.tiles,
    accuracy: Object.fromEntries(evaluations.map((e) => {
      const s = meanStd(e.folds.map((f) => f.metrics.accuracy));
      return [e.arch, { folds: e.folds.map((f) => ({ fold: f.fold, accuracy: f.metrics.accuracy })), mean: s.mean, std: s.std, ensemble: e.ensemble.accuracy }];
    })),
    balancedAccuracy: Object.fromEntries(evaluations.map((e) => {
      const s = meanStd(e.folds.map((f) => f.metrics.balancedAccuracy));
      return [e.arch, { folds: e.folds.map((f) => ({ fold: f.fold, balancedAccuracy: f.metrics.balancedAccuracy })), mean: s.mean, std: s.std, ensemble: e.ensemble.balancedAccuracy }];
    })),
    primaryMetric: { metric: primary.metric, reason: primary.reason },
    verdict,
    report: report.path,
    seconds,
  };
  writeFileAtomic(join(root, 'study.json'), `${JSON.stringify(summary, null, 2)}\n`);
  progress.line([
    `test accuracy on ${summary.testTiles} held-out tiles (each fold's model after its last epoch):`,
    textTable(['fold', ...archs], table),
    ...(primary.metric === 'balanced-accuracy' ? ['test balanced accuracy (the mean recall over classes):', textTable(['fold', ...archs], accuracyTable(evaluations, 'balancedAccuracy'))] : []),
    `primary metric: ${METRIC_LABELS[primary.metric]}${primary.reason === null ? ' (--metric)' : `, since ${primary.reason}`}`,
    `verdict: ${verdict}`,
    `report: ${report.path}`,
    `accuracy table: ${accuracyCsv}`,
    `summary: ${join(root, 'study.json')}`,
    ...archs.map((a, i) => `${a}: ${runs[i]} (config.json, metrics.md, fold-k/log.jsonl, fold-k/checkpoints, fold-k/test-predictions.csv)`),
    `tiles and splits: ${data}`,
    `finished in ${seconds.toFixed(0)} s`,
  ].join('\n'));
  return { root, data, runs, evaluations, accuracyCsv, report: report.path, verdict, seconds };
}
