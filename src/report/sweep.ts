/**
 * The sweep report's page: test accuracy per grid point and network, accuracy against each numeric
 * grid axis (every fold shown, so robustness is something a reader sees), and SE against plain at
 * each point with Holm-corrected p-values. The numbers come from src/study/sweep-report.ts.
 */
import type { RunMetrics } from '../evaluate/scores.ts';
import { meanStd } from '../evaluate/metrics.ts';
import type { RunComparison } from '../evaluate/verdict.ts';
import { fixed, pValue } from '../util/format.ts';
import { VERSION } from '../version.ts';
import type { LineSeries } from './plots.ts';
import { lineChart, seriesStyle } from './plots.ts';
import type { Child } from './svg.ts';
import { el, raw, render } from './svg.ts';

/** What the page shows of a sweep's plan. */
export interface SweepLayout {
  readonly dir: string;
  readonly data: string;
  readonly tasks: number;
  readonly archs: readonly string[];
  readonly folds: readonly number[];
  readonly grid: readonly { readonly key: string; readonly labels: readonly string[] }[];
  readonly points: readonly { readonly index: number; readonly values: Readonly<Record<string, string>> }[];
  readonly options: unknown;
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
  /** pointVerdict's words. */
  readonly verdict: string;
}

/** The verdict at one point in plain words, on the Holm-adjusted p-value. */
export function pointVerdict(c: Omit<PointComparison, 'verdict'>, alpha: number, compared: number): string {
  if (!c.comparison) return `no comparison: ${c.missing}`;
  if (c.holm === null) return 'undetermined (the corrected t-test is undefined when every fold differs by the same amount)';
  if (c.holm < alpha) return `${c.comparison.folds.meanDifference > 0 ? c.se : c.plain} is significantly better (Holm-adjusted p ${pValue(c.holm)} < ${alpha})`;
  return `no significant difference (Holm-adjusted p ${pValue(c.holm)} over ${compared} comparisons)`;
}

export function pointLabel(layout: SweepLayout, point: number): string {
  const parts = Object.entries(layout.points[point]!.values).map(([k, v]) => `${k} ${v}`);
  return parts.length === 0 ? 'default' : parts.join(', ');
}

const foldAccuracies = (m: RunMetrics): number[] => m.folds.map((f) => f.metrics.accuracy);

/** Accuracy against one numeric axis: per network (and combination of the other axes) the fold mean as a line, every fold as a dot. */
export function axisPlot(layout: SweepLayout, cells: readonly SweepCell[], axis: string): string | null {
  const labels = layout.grid.find((a) => a.key === axis)!.labels;
  const xs = labels.map(Number);
  if (xs.length < 2 || xs.some((x) => !Number.isFinite(x))) return null;
  const log = axis === 'lr' || (xs.every((x) => x > 0) && Math.max(...xs) / Math.min(...xs) >= 100);
  const tx = (x: number): number => (log ? Math.log10(x) : x);
  const others = layout.grid.filter((a) => a.key !== axis).map((a) => a.key);
  const groups = new Map<string, { arch: string; rest: string; cells: SweepCell[] }>();
  for (const c of cells) {
    const values = layout.points[c.point]!.values;
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
    const at = (c: SweepCell): number => tx(Number(layout.points[c.point]!.values[axis]));
    const sorted = [...g.cells].sort((a, b) => at(a) - at(b));
    series.push({ name, color: style.color, dash: style.dash, points: sorted.map((c) => [at(c), c.metrics ? meanStd(foldAccuracies(c.metrics)).mean : null] as const) });
    const dots = sorted.flatMap((c) => (c.metrics ? foldAccuracies(c.metrics).map((a) => [at(c) + nudge(i), a] as const) : [])).sort((a, b) => a[0] - b[0]);
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

/** The self-contained HTML page; `plots` are the axis plots (axisPlot) to embed. */
export function renderSweepReport(
  layout: SweepLayout,
  cells: readonly SweepCell[],
  comparisons: readonly PointComparison[],
  plots: readonly (readonly [string, string])[],
  alpha: number,
): string {
  const cellRows = cells.map((c) => {
    const s = c.metrics ? meanStd(foldAccuracies(c.metrics)) : null;
    return [pointLabel(layout, c.point), c.arch, s ? fixed(s.mean) : 'unfinished', s?.std != null ? fixed(s.std) : '', c.metrics ? fixed(c.metrics.ensemble.accuracy) : '',
      c.metrics ? foldAccuracies(c.metrics).map((a) => fixed(a)).join(' ') : ''];
  });
  const compRows = comparisons.map((c) => {
    const k = c.comparison;
    return [pointLabel(layout, c.point), `${c.se} vs ${c.plain}`, k ? fixed(k.folds.meanDifference) : '', k ? pValue(k.verdict.primaryPValue) : '', pValue(c.holm),
      k ? pValue(k.testSplit.mcnemar.pValue) : '', c.verdict];
  });
  const s = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
  const page = el('html', { lang: 'en' },
    el('head', {}, el('meta', { charset: 'utf-8' }),
      el('meta', { 'http-equiv': 'Content-Security-Policy', content: "default-src 'none'; style-src 'unsafe-inline'; img-src data:" }),
      el('title', {}, `senet-ort sweep: ${layout.dir}`), el('style', {}, raw(STYLE))),
    el('body', {},
      el('h1', {}, 'Sweep report'),
      el('p', {}, `${layout.tasks} tasks: ${s(layout.points.length, 'grid point')} x ${layout.archs.length} networks (${layout.archs.join(', ')}) x ${layout.folds.length} folds, on `, el('code', {}, layout.data), '.'),
      el('p', {}, 'Grid: ', layout.grid.length === 0 ? 'none' : layout.grid.map((a) => `${a.key} = ${a.labels.join(', ')}`).join('; '),
        '. Shared options: ', el('code', {}, JSON.stringify(layout.options)), '.'),
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
  return `<!DOCTYPE html>\n${render(page)}\n`;
}
