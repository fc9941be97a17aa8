/**
 * `sweep report`: one HTML page across the grid, and sweep.csv with every task's numbers.
 *
 *   <sweep>/report/
 *     report.html       per grid point and network: test accuracy mean, sd and fold ensemble; accuracy
 *                       against each numeric grid axis (every fold a dot); SE vs plain per point with
 *                       compare's paired tests, the primary p-value Holm-corrected over the grid points
 *     sweep.csv         one row per task: its grid values, network, fold, epochs, test scores, validation scores
 *     plots/<axis>.svg  the accuracy plots
 *
 * Each finished run is evaluated on the test split first (evaluate's metrics.json, skipped when it
 * is newer than the run's folds), and each pair is compared as `compare` does (comparison.json in
 * runs/<point>/<plain>-vs-<se>/).
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.ts';
import { compareAndSummarise, evaluateAndSummarise } from '../report/summaries.ts';
import type { RunMetrics } from '../evaluate/evaluate.ts';
import { readRunMetrics } from '../evaluate/evaluate.ts';
import { meanStd } from '../evaluate/metrics.ts';
import type { RunComparison } from '../evaluate/verdict.ts';
import { toCsv } from '../formats/csv.ts';
import { readEpochLog, readFoldState, statePath } from '../formats/rundir.ts';
import { lineChart, seriesStyle } from '../report/plots.ts';
import type { LineSeries } from '../report/plots.ts';
import { el, raw, render } from '../report/svg.ts';
import type { Child } from '../report/svg.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import { VERSION } from '../version.ts';
import type { SweepPlan } from './sweep.ts';
import { readSweepPlan } from './sweep.ts';

export interface SweepReportOptions {
  readonly threads?: number;
  /** Significance level of the Holm-corrected tests (default 0.05). */
  readonly alpha?: number;
  readonly log?: (line: string) => void;
}

/** One (grid point, network). */
export interface SweepCell {
  readonly point: number;
  readonly arch: string;
  readonly run: string;
  /** Null until every fold of the run finished. */
  readonly metrics: RunMetrics | null;
}

/** SE against plain at one grid point. */
export interface PointComparison {
  readonly point: number;
  readonly plain: string;
  readonly se: string;
  readonly comparison: RunComparison | null;
  /** Why there is no comparison. */
  readonly missing: string | null;
  /** The primary test's p-value, Holm-adjusted over the compared points. */
  readonly holm: number | null;
  readonly verdict: string;
}

export interface SweepReportResult {
  readonly html: string;
  readonly csv: string;
  readonly cells: readonly SweepCell[];
  readonly comparisons: readonly PointComparison[];
}

/** Holm's step-down adjustment: adjusted p_(i) = max over j <= i of min(1, (m - j + 1) p_(j)), nulls left out. */
export function holm(p: readonly (number | null)[]): (number | null)[] {
  const order = p.map((v, i) => [v, i] as const).filter((x): x is readonly [number, number] => x[0] !== null).sort((a, b) => a[0] - b[0]);
  const m = order.length;
  const out: (number | null)[] = p.map(() => null);
  let running = 0;
  order.forEach(([v, i], rank) => {
    running = Math.max(running, Math.min(1, (m - rank) * v));
    out[i] = running;
  });
  return out;
}

function finished(run: string, folds: readonly number[]): boolean {
  return folds.every((f) => readFoldState(run, f)?.finished === true);
}

/** metrics.json when it is newer than every fold's state.json, else a fresh evaluation. */
async function metricsOf(run: string, folds: readonly number[], o: SweepReportOptions): Promise<RunMetrics> {
  const metrics = join(run, 'metrics.json');
  if (existsSync(metrics)) {
    const t = statSync(metrics).mtimeMs;
    if (folds.every((f) => statSync(statePath(run, f)).mtimeMs <= t)) return readRunMetrics(run);
  }
  o.log?.(`evaluating ${run} on the test split`);
  return (await evaluateAndSummarise(run, { ...(o.threads !== undefined ? { threads: o.threads } : {}) })).metrics;
}

const f3 = (x: number | null | undefined): string => (x === null || x === undefined ? '' : (Math.abs(x) < 5e-4 ? 0 : x).toFixed(3));
const pText = (x: number | null): string => (x === null ? 'n/a' : x < 0.001 ? '< 0.001' : String(Number(x.toPrecision(3))));

function pointLabel(plan: SweepPlan, point: number): string {
  const values = plan.points[point]!.values;
  const parts = Object.entries(values).map(([k, v]) => `${k} ${v}`);
  return parts.length === 0 ? 'default' : parts.join(', ');
}

/** Accuracy against one numeric axis: per network (and combination of the other axes) the fold mean as a line, every fold as a dot. */
function axisPlot(plan: SweepPlan, cells: readonly SweepCell[], axis: string): string | null {
  const labels = plan.grid.find((a) => a.key === axis)!.values.map((v) => v.label);
  const xs = labels.map(Number);
  if (xs.length < 2 || xs.some((x) => !Number.isFinite(x))) return null;
  const log = axis === 'lr' || (xs.every((x) => x > 0) && Math.max(...xs) / Math.min(...xs) >= 100);
  const tx = (x: number): number => (log ? Math.log10(x) : x);
  const others = plan.grid.filter((a) => a.key !== axis).map((a) => a.key);
  const groups = new Map<string, { arch: string; rest: string; cells: SweepCell[] }>();
  for (const c of cells) {
    const values = plan.points[c.point]!.values;
    const rest = others.map((k) => `${k} ${values[k]}`).join(', ');
    const key = `${c.arch}|${rest}`;
    if (!groups.has(key)) groups.set(key, { arch: c.arch, rest, cells: [] });
    groups.get(key)!.cells.push(c);
  }
  const series: LineSeries[] = [];
  const range = Math.max(...xs.map(tx)) - Math.min(...xs.map(tx));
  // Each line's fold dots sit a little apart from the others', so that equal scores stay visible.
  const nudge = (i: number): number => (i - (groups.size - 1) / 2) * 0.012 * range;
  [...groups.values()].forEach((g, i) => {
    const style = seriesStyle(i);
    const name = g.rest ? `${g.arch} (${g.rest})` : g.arch;
    const at = (c: SweepCell): number => tx(Number(plan.points[c.point]!.values[axis]));
    const sorted = [...g.cells].sort((a, b) => at(a) - at(b));
    series.push({ name, color: style.color, dash: style.dash, points: sorted.map((c) => [at(c), c.metrics ? meanStd(c.metrics.folds.map((f) => f.metrics.accuracy)).mean : null] as const) });
    const dots = sorted.flatMap((c) => (c.metrics ? c.metrics.folds.map((f) => [at(c) + nudge(i), f.metrics.accuracy] as const) : [])).sort((a, b) => a[0] - b[0]);
    series.push({ name: `${name}, each fold`, color: style.color, width: 0, markers: true, opacity: 0.5, points: dots });
  });
  return lineChart({ title: `Test accuracy against ${axis}`, xLabel: log ? `log10 ${axis}` : axis, yLabel: 'test accuracy', series, yDomain: [0, 1] });
}

function table(header: readonly string[], rows: readonly (readonly Child[])[]): Child {
  return el('table', {}, el('thead', {}, el('tr', {}, header.map((h) => el('th', {}, h)))), el('tbody', {}, rows.map((r) => el('tr', {}, r.map((c) => el('td', {}, c))))));
}

const STYLE = `body{font-family:'DejaVu Sans','Liberation Sans',Arial,sans-serif;margin:2em auto;max-width:1100px;color:#222;line-height:1.4}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}th{background:#f3f3f3}
td:first-child,th:first-child{text-align:left}figure{margin:1em 0}figcaption{color:#555;font-size:.9em}code{background:#f3f3f3;padding:0 .2em}`;

/** Evaluate, compare and write report/report.html and report/sweep.csv. */
export async function writeSweepReport(dir: string, o: SweepReportOptions = {}): Promise<SweepReportResult> {
  const plan = readSweepPlan(dir);
  const alpha = o.alpha ?? 0.05;
  const cells: SweepCell[] = [];
  for (const point of plan.points) {
    for (const arch of plan.archs) {
      const run = join(dir, 'runs', point.id, arch);
      const metrics = finished(run, plan.folds) ? await metricsOf(run, plan.folds, o) : null;
      cells.push({ point: point.index, arch, run, metrics });
    }
  }
  if (cells.every((c) => c.metrics === null)) throw new UserError(`${dir}: no run has finished every fold yet; see senet-ort sweep status ${dir}`);

  // SE against plain at each point, every pair (x, se_x) of the sweep's networks.
  const pairs = plan.archs.filter((a) => plan.archs.includes(`se_${a}`)).map((a) => [a, `se_${a}`] as const);
  const raw0 = plan.points.flatMap((point) => pairs.map(([plain, se]) => {
    const a = cells.find((c) => c.point === point.index && c.arch === plain)!;
    const b = cells.find((c) => c.point === point.index && c.arch === se)!;
    if (!a.metrics || !b.metrics) return { point: point.index, plain, se, comparison: null, missing: 'not every fold finished' };
    try {
      return { point: point.index, plain, se, comparison: compareAndSummarise(a.run, b.run, { alpha }).file.comparison, missing: null };
    } catch (err) {
      if (err instanceof UserError) return { point: point.index, plain, se, comparison: null, missing: err.message };
      throw err;
    }
  }));
  const adjusted = holm(raw0.map((r) => r.comparison?.verdict.primaryPValue ?? null));
  const comparisons: PointComparison[] = raw0.map((r, i) => {
    const p = adjusted[i] ?? null;
    let verdict: string;
    if (!r.comparison) verdict = `no comparison: ${r.missing}`;
    else if (p === null) verdict = 'undetermined (the corrected t-test is undefined when every fold differs by the same amount)';
    else if (p < alpha) verdict = `${r.comparison.folds.meanDifference > 0 ? r.se : r.plain} is significantly better (Holm-adjusted p ${pText(p)} < ${alpha})`;
    else verdict = `no significant difference (Holm-adjusted p ${pText(p)} over ${adjusted.filter((x) => x !== null).length} comparisons)`;
    return { ...r, holm: p, verdict };
  });

  // sweep.csv: one row per task.
  const axes = plan.grid.map((a) => a.key);
  const csvRows = plan.tasks.map((t) => {
    const cell = cells.find((c) => c.point === t.point && c.arch === t.arch)!;
    const state = readFoldState(cell.run, t.fold);
    const log = existsSync(cell.run) ? readEpochLog(cell.run, t.fold) : [];
    const last = log.at(-1);
    const fm = cell.metrics?.folds.find((f) => f.fold === t.fold)?.metrics;
    const seconds = log.reduce((s, r) => s + r.seconds, 0);
    return [t.index, plan.points[t.point]!.id, ...axes.map((k) => plan.points[t.point]!.values[k]!), t.arch, t.fold,
      state ? `${state.epochsDone}/${state.epochs}` : '0', state?.finished ? 'done' : 'unfinished',
      f3(fm?.accuracy), f3(fm?.macroF1), f3(last?.valLoss), f3(last?.valAccuracy), seconds.toFixed(1)];
  });
  const csv = join(dir, 'report', 'sweep.csv');
  writeFileAtomic(csv, toCsv(['task', 'point', ...axes, 'arch', 'fold', 'epochs', 'status', 'test_accuracy', 'test_macro_f1', 'val_loss', 'val_accuracy', 'train_seconds'], csvRows));

  // The page.
  const plots = axes.map((axis) => [axis, axisPlot(plan, cells, axis)] as const).filter((p): p is readonly [string, string] => p[1] !== null);
  for (const [axis, svg] of plots) writeFileAtomic(join(dir, 'report', 'plots', `${axis}.svg`), svg);
  const cellRows = cells.map((c) => {
    const s = c.metrics ? meanStd(c.metrics.folds.map((f) => f.metrics.accuracy)) : null;
    return [pointLabel(plan, c.point), c.arch, s ? f3(s.mean) : 'unfinished', s ? f3(s.std) : '', c.metrics ? f3(c.metrics.ensemble.accuracy) : '',
      c.metrics ? c.metrics.folds.map((f) => f3(f.metrics.accuracy)).join(' ') : ''];
  });
  const compRows = comparisons.map((c) => {
    const k = c.comparison;
    return [pointLabel(plan, c.point), `${c.se} vs ${c.plain}`, k ? f3(k.folds.meanDifference) : '', k ? pText(k.verdict.primaryPValue) : '', pText(c.holm),
      k ? pText(k.testSplit.mcnemar.pValue) : '', c.verdict];
  });
  const html = join(dir, 'report', 'report.html');
  const page = el('html', { lang: 'en' },
    el('head', {}, el('meta', { charset: 'utf-8' }),
      el('meta', { 'http-equiv': 'Content-Security-Policy', content: "default-src 'none'; style-src 'unsafe-inline'; img-src data:" }),
      el('title', {}, `senet-ort sweep: ${dir}`), el('style', {}, raw(STYLE))),
    el('body', {},
      el('h1', {}, 'Sweep report'),
      el('p', {}, `${plan.tasks.length} tasks: ${plan.points.length} grid point${plan.points.length === 1 ? '' : 's'} x ${plan.archs.length} networks (${plan.archs.join(', ')}) x ${plan.folds.length} folds, on `, el('code', {}, plan.data), '.'),
      el('p', {}, 'Grid: ', plan.grid.length === 0 ? 'none' : plan.grid.map((a) => `${a.key} = ${a.values.map((v) => v.label).join(', ')}`).join('; '),
        '. Shared options: ', el('code', {}, JSON.stringify(plan.options)), '.'),
      el('h2', {}, 'Test accuracy per grid point and network'),
      el('p', {}, "Each fold's model after its last epoch on the held-out test split: mean and sample sd over folds, the fold ensemble (mean of the folds' probabilities), and every fold."),
      table(['grid point', 'network', 'mean', 'sd', 'ensemble', 'folds'], cellRows),
      plots.length === 0 ? null : el('h2', {}, 'Accuracy across the grid'),
      plots.map(([axis, svg]) => el('figure', {}, raw(svg), el('figcaption', {}, `Test accuracy against ${axis}: lines join the fold means, dots are single folds, so the spread between folds (robustness) shows.`))),
      comparisons.length === 0 ? null : el('h2', {}, 'SE against plain at each grid point'),
      comparisons.length === 0 ? null : el('p', {}, `The tests of senet-ort compare: the primary test is the corrected resampled t-test on fold accuracies (Nadeau and Bengio); its p-values are Holm-corrected for the ${comparisons.length} comparisons, at alpha ${alpha}. McNemar's exact test on the fold ensembles is shown uncorrected, for reference. With few folds and test tiles no test can call small differences significant.`),
      comparisons.length === 0 ? null : table(['grid point', 'pair', 'mean difference', 'p (corrected t)', 'p Holm', 'p McNemar', 'verdict'], compRows),
      el('p', {}, el('small', {}, `senet-ort ${VERSION}; every task's numbers: sweep.csv; per-run reports: senet-ort report <run> <run>.`)),
    ));
  writeFileAtomic(html, `<!DOCTYPE html>\n${render(page)}\n`);
  return { html, csv, cells, comparisons };
}
