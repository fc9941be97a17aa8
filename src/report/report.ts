/**
 * `report`: the HTML report of one evaluated run, or of two compared ones, read from their run
 * directories (config.json, metrics.json, excitation.json, the folds' log.jsonl; for the Grad-CAM
 * maps the checkpoints evaluated and the test tiles), with every plot
 * also saved as SVG and PNG beside it:
 *
 *   <out>/report.html     one self-contained file (html.ts)
 *   <out>/plots/*.svg     curves-<run>, confusion-<run>, confusion-groups-<run> (with group-level
 *                         scores), per-class-f1, excitation-<run>, where-they-look-<kind> (Grad-CAM
 *                         maps of chosen test tiles: agree, disagree; one run: right, wrong)
 *   <out>/plots/*.png     the same, rendered by sharp at twice the size
 *
 * `<out>` is the run folder for one run and the comparison folder (compare.ts) for two, where
 * comparison.json and comparison.md are (re)written too.
 */
import { basename, dirname, join } from 'node:path';
import { svgToPng } from './png.ts';
import type { RunConfig } from '../formats/rundir.ts';
import { readArtifactManifest, readRunConfig } from '../formats/rundir.ts';
import { resolveCamLayer } from '../graph/gradcam.ts';
import { configFromManifest } from '../infer/predictor.ts';
import { LOOKS_PER_CLASS, computeLooks } from '../evaluate/looks.ts';
import { lookPictures } from './look-pictures.ts';
import type { LooksReport } from './looks.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import { PRODUCER, VERSION } from '../version.ts';
import { UserError } from '../errors.ts';
import type { CompareOptions, CompareResult } from '../evaluate/compare.ts';
import { comparisonDir, runNames } from '../evaluate/compare.ts';
import type { EvaluateOptions } from '../evaluate/evaluate.ts';
import type { RunMetrics } from '../evaluate/scores.ts';
import { readCurves, readExcitation, readRunMetrics } from '../evaluate/evaluate.ts';
import { compareAndSummarise, evaluateAndSummarise } from './summaries.ts';
import type { ReportData, RunReport } from './html.ts';
import { renderReport, reportPlots } from './html.ts';
import { configurationOf } from './configuration.ts';

export const REPORT_FILE = 'report.html';
export const PLOTS_DIR = 'plots';

export interface ReportOptions extends Omit<CompareOptions, 'out'> {
  /** The HTML file (default: report.html in the run folder, or in the comparison folder for two runs). */
  out?: string;
  /** Page title (default: the networks and the data set). */
  title?: string;
  /** Save each plot as SVG and PNG in plots/ beside the report (default true). */
  plots?: boolean;
  /** "Where they look": Grad-CAM maps of test tiles chosen with `seed` (default true). */
  gradcam?: boolean;
  /** Their layer (default each network's last stage). */
  layer?: string;
  /** ONNX Runtime threads for the maps (default 2). */
  threads?: number;
}

export interface ReportResult {
  /** The HTML file. */
  path: string;
  /** Every file written: the report, plots, and for two runs the comparison files. */
  written: string[];
  data: ReportData;
  comparison: CompareResult | null;
}

function checkpointText(checkpoint: string): string {
  if (checkpoint === 'last') return 'last epoch of each fold';
  if (checkpoint === 'best') return 'lowest validation loss of each fold';
  return `${checkpoint} of each fold`;
}

function runReport(run: string, name: string, config: RunConfig, metrics: RunMetrics): RunReport {
  const excitation = readExcitation(run);
  return {
    name,
    runDir: run,
    configuration: configurationOf(config),
    se: config.options.reduction !== null,
    data: metrics.data,
    checkpoint: checkpointText(metrics.checkpoint),
    curves: readCurves(run, metrics),
    folds: metrics.folds.map((f) => f.metrics),
    ensemble: metrics.ensemble,
    groups: metrics.groups ?? null,
    excitation: excitation?.folds[0] ?? null,
  };
}

function fileName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.-]+/g, '_');
}

/** Read one or two evaluated runs, compare two, and write the report and its plots. */
export async function writeReport(runs: readonly string[], options: ReportOptions = {}): Promise<ReportResult> {
  if (runs.length < 1 || runs.length > 2) throw new UserError(`expected 1 or 2 run directories but received ${runs.length}`);
  const configs = runs.map((r) => readRunConfig(r));
  const metrics = runs.map((r) => readRunMetrics(r));
  const out = options.out ?? (runs.length === 1 ? join(runs[0]!, REPORT_FILE) : join(comparisonDir(runs[0]!, runs[1]!), REPORT_FILE));
  let comparison: CompareResult | null = null;
  let names = [configs[0]!.options.arch];
  if (runs.length === 2) {
    const { out: _o, title: _t, plots: _p, ...compare } = options;
    comparison = compareAndSummarise(runs[0]!, runs[1]!, { ...compare, out: dirname(out) });
    const n = runNames(runs[0]!, configs[0]!, runs[1]!, configs[1]!);
    names = [n.a, n.b];
  }
  // A study keeps its tiles in <root>/data: name the data set after the study then.
  const dataDir = configs[0]!.dataset.dir;
  const dataset = basename(dataDir) === 'data' ? basename(dirname(dataDir)) : basename(dataDir);
  const data: ReportData = {
    title: options.title ?? `${names.join(' vs ')} on ${dataset}`,
    generated: new Date().toISOString(),
    tool: `${PRODUCER} ${VERSION}`,
    runs: runs.map((r, i) => runReport(r, names[i]!, configs[i]!, metrics[i]!)),
    comparison: comparison?.file.comparison ?? null,
    ...(options.gradcam === false ? {} : { looks: await reportLooks(runs, metrics, names, options.seed ?? configs[0]!.options.seed, options) }),
  };
  const written = [...(comparison?.written ?? [])];
  if (options.plots !== false) {
    const plots = reportPlots(data);
    const files: [string, string][] = [
      ...plots.curves.map((p): [string, string] => [`curves-${p.run}`, p.svg]),
      ...plots.confusion.map((p): [string, string] => [`confusion-${p.run}`, p.svg]),
      ...plots.groupConfusion.map((p): [string, string] => [`confusion-groups-${p.run}`, p.svg]),
      ['per-class-f1', plots.perClassF1],
      ...plots.excitation.map((p): [string, string] => [`excitation-${p.run}`, p.svg]),
      ...plots.looks.map((p): [string, string] => [`where-they-look-${p.kind}`, p.svg]),
    ];
    for (const [name, svg] of files) {
      const base = join(dirname(out), PLOTS_DIR, fileName(name));
      writeFileAtomic(`${base}.svg`, svg);
      writeFileAtomic(`${base}.png`, await svgToPng(svg));
      written.push(`${base}.svg`, `${base}.png`);
    }
  }
  writeFileAtomic(out, renderReport(data));
  written.push(out);
  return { path: out, written, data, comparison };
}

/**
 * The "Where they look" section's pictures. A bad --layer stops the report; tiles or checkpoints
 * that are gone since the evaluation leave the section with the reason instead of maps.
 */
async function reportLooks(runs: readonly string[], metrics: readonly RunMetrics[], names: readonly string[], seed: number, options: ReportOptions): Promise<LooksReport> {
  for (const run of runs) resolveCamLayer(configFromManifest(readArtifactManifest(run)).spec, options.layer);
  try {
    const looks = await computeLooks(runs.map((dir, i) => ({ dir, metrics: metrics[i]! })), {
      seed, ...(options.layer === undefined ? {} : { layer: options.layer }), ...(options.threads === undefined ? {} : { threads: options.threads }),
    });
    return await lookPictures(looks, names);
  } catch (err) {
    if (!(err instanceof UserError)) throw err;
    return { runs: names, layers: [], seed, perClass: LOOKS_PER_CLASS, tiles: [], unavailable: err.message };
  }
}

export interface StudyReportOptions extends ReportOptions {
  /** How to evaluate both runs (checkpoint, threads, …). */
  evaluate?: EvaluateOptions;
}

/**
 * What a study does once both networks are trained: evaluate A and B on the test split, compare
 * them, and write the report (default: `<parent of B>/<A>-vs-<B>/report.html`, beside
 * comparison.json). Returns the report's result; `comparison` holds the verdict.
 */
export async function evaluateCompareReport(runA: string, runB: string, options: StudyReportOptions = {}): Promise<ReportResult> {
  const { evaluate, ...report } = options;
  for (const run of [runA, runB]) await evaluateAndSummarise(run, evaluate);
  return writeReport([runA, runB], report);
}
