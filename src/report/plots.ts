/**
 * The report's plots as standalone SVG documents (strings), drawn from plain numbers:
 *  - `trainingCurves`: loss and accuracy against epoch, one colour per fold, train solid, validation dashed;
 *  - `confusionMatrixPlot`: counts with class names, shaded by the share of each true class;
 *  - `groupedBars`: one bar per network for each class (per-class F1 of A beside B), with ± sd whiskers;
 *  - `excitationPlot`: the SENet paper's section 7.2 analysis, one panel per SE block, one line per class;
 *  - `lineChart`: the generic chart under the first one.
 * Colours come from Okabe & Ito's colour-blind-safe palette; every chart has a title, labelled axes
 * with ticks, and a legend. Everything from data is escaped by the builder in svg.ts.
 */
import type { CurvePoint, FoldCurve } from '../evaluate/scores.ts';
import type { ExcitationAnalysis } from '../evaluate/excitation.ts';
import { el, fragment, num, svgDocument, textWidth } from './svg.ts';
import type { Child, Markup } from './svg.ts';

/** Okabe & Ito's palette, yellow last because it is faint on white. Beyond 8 series, dashes tell repeats apart. */
export const PALETTE: readonly string[] = ['#0072B2', '#E69F00', '#009E73', '#D55E00', '#CC79A7', '#56B4E9', '#000000', '#F0E442'];
const REPEAT_DASHES = [undefined, '7 3', '2 2', '9 3 2 3'] as const;

const INK = '#222222';
const MUTED = '#666666';
const GRID = '#e4e4e4';
const TITLE_SIZE = 15;
const LABEL_SIZE = 12;
const TICK_SIZE = 11;

/** The colour (and, past the palette's length, a dash pattern) of series number i. */
export function seriesStyle(i: number): { color: string; dash: string | undefined } {
  return { color: PALETTE[i % PALETTE.length]!, dash: REPEAT_DASHES[Math.floor(i / PALETTE.length) % REPEAT_DASHES.length] };
}

// ---------------------------------------------------------------------------------------------
// Scales, ticks, axes and legends

type Domain = readonly [number, number];

function scale(domain: Domain, range: Domain): (x: number) => number {
  const [d0, d1] = domain;
  const [r0, r1] = range;
  const span = d1 - d0 || 1;
  return (x) => r0 + ((x - d0) / span) * (r1 - r0);
}

/** A round step (1, 2 or 5 times a power of ten) giving about `count` intervals over [lo, hi]. */
function niceStep(lo: number, hi: number, count: number): number {
  const raw = Math.max(hi - lo, 1e-12) / Math.max(count, 1);
  const power = 10 ** Math.floor(Math.log10(raw));
  const m = raw / power;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * power;
}

/** [lo, hi] widened to multiples of a nice step; a zero-width range is widened around its value. */
export function niceDomain(lo: number, hi: number, count = 5): [number, number] {
  if (lo === hi) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    return niceDomain(lo - pad, hi + pad, count);
  }
  const step = niceStep(lo, hi, count);
  return [Math.floor(lo / step + 1e-9) * step, Math.ceil(hi / step - 1e-9) * step];
}

/** Tick positions at a nice step inside [lo, hi], rounded so that 0.1 + 0.2 prints as 0.3. */
export function niceTicks(lo: number, hi: number, count = 5, integer = false): number[] {
  let step = niceStep(lo, hi, count);
  if (integer) step = Math.max(1, Math.round(step));
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

/** The fewest decimals that print every tick distinctly. */
function tickFormat(ticks: readonly number[]): (x: number) => string {
  let decimals = 0;
  while (decimals < 6 && ticks.some((t) => Math.abs(Number(t.toFixed(decimals)) - t) > 1e-9)) decimals++;
  return (x) => x.toFixed(decimals);
}

/** The plotting area of a panel, in the coordinates of the whole document. */
interface Frame {
  x: number;
  y: number;
  width: number;
  height: number;
}

interface AxisSpec {
  label: string;
  domain: Domain;
  ticks: readonly number[];
}

/** Grid lines, axis lines, ticks, tick labels and axis titles of one panel. */
function axes(frame: Frame, xAxis: AxisSpec, yAxis: AxisSpec): Markup {
  const sx = scale(xAxis.domain, [frame.x, frame.x + frame.width]);
  const sy = scale(yAxis.domain, [frame.y + frame.height, frame.y]);
  const fx = tickFormat(xAxis.ticks);
  const fy = tickFormat(yAxis.ticks);
  const bottom = frame.y + frame.height;
  return el(
    'g',
    { class: 'axes', fill: INK, 'font-size': TICK_SIZE },
    yAxis.ticks.map((t) => [
      el('line', { x1: frame.x, x2: frame.x + frame.width, y1: sy(t), y2: sy(t), stroke: GRID, 'stroke-width': 1 }),
      el('text', { x: frame.x - 6, y: sy(t) + 4, 'text-anchor': 'end' }, fy(t)),
    ]),
    xAxis.ticks.map((t) => [
      el('line', { x1: sx(t), x2: sx(t), y1: bottom, y2: bottom + 5, stroke: INK }),
      el('text', { x: sx(t), y: bottom + 18, 'text-anchor': 'middle' }, fx(t)),
    ]),
    el('line', { x1: frame.x, x2: frame.x + frame.width, y1: bottom, y2: bottom, stroke: INK }),
    el('line', { x1: frame.x, x2: frame.x, y1: frame.y, y2: bottom, stroke: INK }),
    el('text', { x: frame.x + frame.width / 2, y: bottom + 36, 'text-anchor': 'middle', 'font-size': LABEL_SIZE }, xAxis.label),
    el(
      'text',
      {
        x: 0,
        y: 0,
        transform: `translate(${num(frame.x - 46)} ${num(frame.y + frame.height / 2)}) rotate(-90)`,
        'text-anchor': 'middle',
        'font-size': LABEL_SIZE,
      },
      yAxis.label,
    ),
  );
}

function titleText(x: number, y: number, text: string, anchor: 'start' | 'middle' = 'start', size = TITLE_SIZE): Markup {
  return el('text', { x, y, 'text-anchor': anchor, 'font-size': size, 'font-weight': 'bold', fill: INK }, text);
}

export interface LegendItem {
  label: string;
  color: string;
  dash?: string | undefined;
  /** 'line' draws a short stroke (line charts), 'box' a filled square (bars). Default 'line'. */
  kind?: 'line' | 'box';
  /** Stroke width of the sample line (default 2.5). */
  width?: number;
}

/** Legend items flowed left to right in rows no wider than maxWidth; returns the markup and its height. */
function legend(items: readonly LegendItem[], x: number, y: number, maxWidth: number): { markup: Markup; height: number } {
  const rowHeight = 20;
  let cx = x;
  let cy = y;
  const parts: Child[] = [];
  for (const item of items) {
    const w = 30 + textWidth(item.label, LABEL_SIZE) + 18;
    if (cx > x && cx + w > x + maxWidth) {
      cx = x;
      cy += rowHeight;
    }
    const sample =
      item.kind === 'box'
        ? el('rect', { x: cx, y: cy - 9, width: 14, height: 12, fill: item.color })
        : el('line', { x1: cx, x2: cx + 24, y1: cy - 4, y2: cy - 4, stroke: item.color, 'stroke-width': item.width ?? 2.5, 'stroke-dasharray': item.dash });
    parts.push(sample, el('text', { x: cx + (item.kind === 'box' ? 20 : 30), y: cy, 'font-size': LABEL_SIZE, fill: INK }, item.label));
    cx += w;
  }
  return { markup: el('g', { class: 'legend' }, parts), height: items.length === 0 ? 0 : cy - y + rowHeight };
}

// ---------------------------------------------------------------------------------------------
// Line charts

export interface LineSeries {
  name: string;
  /** [x, y] pairs in x order; a null y breaks the line. */
  points: readonly (readonly [number, number | null])[];
  color: string;
  dash?: string | undefined;
  /** Stroke width (default 2). */
  width?: number;
  /** Draw a dot at each point (default: when the series has at most 30 points). */
  markers?: boolean;
  opacity?: number;
}

interface PanelOptions {
  frame: Frame;
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly LineSeries[];
  xDomain?: Domain;
  yDomain?: Domain;
  /** Only whole-number ticks on x (epochs, channel indices). */
  integerX?: boolean;
}

function extent(values: readonly number[], fallback: Domain): Domain {
  if (values.length === 0) return fallback;
  return [Math.min(...values), Math.max(...values)];
}

/** One panel: title, axes and the series, clipped to nothing (domains are chosen to hold the data). */
function linePanel(o: PanelOptions): Markup {
  const xs = o.series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = o.series.flatMap((s) => s.points.flatMap((p) => (p[1] === null ? [] : [p[1]])));
  const [x0, x1] = o.xDomain ?? extent(xs, [0, 1]);
  const xDomain: Domain = x0 === x1 ? [x0 - 1, x1 + 1] : [x0, x1];
  const yDomain = o.yDomain ?? niceDomain(...extent(ys, [0, 1]));
  const xTicks = niceTicks(xDomain[0], xDomain[1], Math.max(2, Math.min(8, Math.floor(o.frame.width / 60))), o.integerX);
  const yTicks = niceTicks(yDomain[0], yDomain[1], 5);
  const sx = scale(xDomain, [o.frame.x, o.frame.x + o.frame.width]);
  const sy = scale(yDomain, [o.frame.y + o.frame.height, o.frame.y]);
  const lines = o.series.map((s) => {
    let d = '';
    let pen = false;
    for (const [x, y] of s.points) {
      if (y === null) {
        pen = false;
        continue;
      }
      d += `${pen ? 'L' : 'M'}${num(sx(x))} ${num(sy(y))}`;
      pen = true;
    }
    const defined = s.points.filter((p) => p[1] !== null);
    const markers = s.markers ?? s.points.length <= 30;
    return el(
      'g',
      { class: 'series', opacity: s.opacity },
      el('title', {}, s.name),
      d === '' ? null : el('path', { d, fill: 'none', stroke: s.color, 'stroke-width': s.width ?? 2, 'stroke-dasharray': s.dash, 'stroke-linejoin': 'round' }),
      markers ? defined.map(([x, y]) => el('circle', { cx: sx(x), cy: sy(y!), r: 3, fill: s.color })) : null,
    );
  });
  return fragment(
    titleText(o.frame.x, o.frame.y - 12, o.title, 'start', 13),
    axes(o.frame, { label: o.xLabel, domain: xDomain, ticks: xTicks }, { label: o.yLabel, domain: yDomain, ticks: yTicks }),
    lines,
  );
}

const PANEL_MARGIN = { left: 64, right: 16, top: 36, bottom: 48 };

export interface LineChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly LineSeries[];
  width?: number;
  height?: number;
  xDomain?: Domain;
  yDomain?: Domain;
  integerX?: boolean;
}

/** One titled panel with a legend of its series below. */
export function lineChart(o: LineChartOptions): string {
  const width = o.width ?? 640;
  const height = o.height ?? 360;
  const frame = { x: PANEL_MARGIN.left, y: 40 + PANEL_MARGIN.top, width: width - PANEL_MARGIN.left - PANEL_MARGIN.right, height: height - 40 - PANEL_MARGIN.top - PANEL_MARGIN.bottom };
  const key = legend(o.series.map((s) => ({ label: s.name, color: s.color, dash: s.dash })), PANEL_MARGIN.left, height + 4, width - PANEL_MARGIN.left);
  const { title, ...panel } = o;
  return svgDocument(
    width,
    height + key.height + 8,
    title,
    titleText(16, 26, title),
    linePanel({ ...panel, frame, title: '' }),
    key.markup,
  );
}

/**
 * Loss and accuracy against epoch, side by side. Each fold has its own colour; training is solid,
 * validation dashed; the evaluated checkpoint is ringed on the validation curves.
 */
export function trainingCurves(curves: readonly FoldCurve[], options: { title?: string; width?: number } = {}): string {
  const title = options.title ?? 'Training curves';
  const width = options.width ?? 1100;
  const panelHeight = 300;
  const top = 44;
  const panelWidth = width / 2;
  const frameAt = (i: number): Frame => ({
    x: i * panelWidth + PANEL_MARGIN.left,
    y: top + PANEL_MARGIN.top,
    width: panelWidth - PANEL_MARGIN.left - PANEL_MARGIN.right - 8,
    height: panelHeight - PANEL_MARGIN.top - PANEL_MARGIN.bottom,
  });
  const epochs = curves.flatMap((c) => c.points.map((p) => p.epoch));
  const xDomain = extent(epochs, [0, 1]);
  const series = (train: keyof CurvePoint, val: keyof CurvePoint): LineSeries[] =>
    curves.flatMap((c, i) => {
      const { color } = seriesStyle(i);
      const pick = (k: keyof CurvePoint): [number, number | null][] => c.points.map((p) => [p.epoch, p[k]]);
      return [
        { name: `fold ${c.fold} train`, points: pick(train), color },
        { name: `fold ${c.fold} validation`, points: pick(val), color, dash: '6 4' },
      ];
    });
  const rings = (key: keyof CurvePoint, frame: Frame, domain: Domain): Markup[] =>
    curves.flatMap((c, i) => {
      const p = c.points.find((q) => q.epoch === c.selectedEpoch);
      const y = p?.[key];
      if (p === undefined || y === null || y === undefined) return [];
      const sx = scale(xDomain[0] === xDomain[1] ? [xDomain[0] - 1, xDomain[1] + 1] : xDomain, [frame.x, frame.x + frame.width]);
      const sy = scale(domain, [frame.y + frame.height, frame.y]);
      return [el('circle', { cx: sx(p.epoch), cy: sy(y), r: 6.5, fill: 'none', stroke: seriesStyle(i).color, 'stroke-width': 2 }, el('title', {}, `fold ${c.fold}: evaluated checkpoint, epoch ${p.epoch}`))];
    });
  const lossSeries = series('trainLoss', 'valLoss');
  const accSeries = series('trainAccuracy', 'valAccuracy');
  const lossValues = lossSeries.flatMap((s) => s.points.flatMap((p) => (p[1] === null ? [] : [p[1]])));
  const lossDomain = niceDomain(0, Math.max(...lossValues, 1e-6));
  const accValues = accSeries.flatMap((s) => s.points.flatMap((p) => (p[1] === null ? [] : [p[1]])));
  const [accLo] = niceDomain(Math.min(...accValues, 1), 1);
  const accDomain: Domain = [Math.max(0, accLo), 1];
  const items: LegendItem[] = [
    ...curves.map((c, i) => ({ label: `fold ${c.fold}`, color: seriesStyle(i).color })),
    { label: 'training', color: MUTED },
    { label: 'validation', color: MUTED, dash: '6 4' },
  ];
  if (curves.some((c) => c.selectedEpoch !== undefined && c.selectedEpoch !== null)) items.push({ label: '○ evaluated checkpoint', color: 'none', width: 0 });
  const key = legend(items, PANEL_MARGIN.left, top + panelHeight + 10, width - PANEL_MARGIN.left);
  return svgDocument(
    width,
    top + panelHeight + key.height + 10,
    title,
    titleText(16, 26, title),
    linePanel({ frame: frameAt(0), title: 'Loss', xLabel: 'epoch', yLabel: 'cross-entropy loss', series: lossSeries, xDomain, yDomain: lossDomain, integerX: true }),
    rings('valLoss', frameAt(0), lossDomain),
    linePanel({ frame: frameAt(1), title: 'Accuracy', xLabel: 'epoch', yLabel: 'accuracy', series: accSeries, xDomain, yDomain: accDomain, integerX: true }),
    rings('valAccuracy', frameAt(1), accDomain),
    key.markup,
  );
}

// ---------------------------------------------------------------------------------------------
// Confusion matrix

/** ColorBrewer's sequential Blues (9 classes), light to dark: readable by colour-blind readers and in grey. */
const BLUES = ['#f7fbff', '#deebf7', '#c6dbef', '#9ecae1', '#6baed6', '#4292c6', '#2171b5', '#08519c', '#08306b'];

/** A colour on the Blues ramp for t in [0, 1], interpolated in sRGB. */
export function blues(t: number): string {
  const x = Math.min(1, Math.max(0, t)) * (BLUES.length - 1);
  const i = Math.min(BLUES.length - 2, Math.floor(x));
  const f = x - i;
  const rgb = (hex: string): number[] => [1, 3, 5].map((k) => parseInt(hex.slice(k, k + 2), 16));
  const a = rgb(BLUES[i]!);
  const b = rgb(BLUES[i + 1]!);
  return `#${a.map((v, k) => Math.round(v + (b[k]! - v) * f).toString(16).padStart(2, '0')).join('')}`;
}

/**
 * Counts[true][predicted] as a grid: rows are true classes, columns predicted classes. A cell shows
 * its count and its share of the row; its shade is that share (so the diagonal reads as recall).
 */
export function confusionMatrixPlot(matrix: readonly (readonly number[])[], classNames: readonly string[], options: { title?: string } = {}): string {
  const title = options.title ?? 'Confusion matrix';
  const n = classNames.length;
  if (matrix.length !== n || matrix.some((row) => row.length !== n)) throw new Error(`confusion matrix must be ${n}x${n}`);
  const cell = n <= 6 ? 64 : n <= 10 ? 54 : n <= 16 ? 36 : 24;
  const labelWidth = Math.max(...classNames.map((c) => textWidth(c, LABEL_SIZE)));
  const left = 16 + 22 + labelWidth + 10;
  const top = 50;
  const grid = n * cell;
  // Column labels turn 45 degrees, so they need about labelWidth · sin 45° below the grid.
  const below = 12 + labelWidth * 0.72 + 36;
  const scaleWidth = 90;
  const width = Math.max(left + grid + scaleWidth + 20, textWidth(title, TITLE_SIZE) + 32);
  const height = top + grid + below;
  const cells: Child[] = [];
  matrix.forEach((row, t) => {
    const support = row.reduce((s, v) => s + v, 0);
    row.forEach((count, p) => {
      const share = support === 0 ? 0 : count / support;
      const x = left + p * cell;
      const y = top + t * cell;
      const ink = share > 0.55 ? '#ffffff' : INK;
      cells.push(
        el(
          'g',
          {},
          el('title', {}, `true ${classNames[t]!}, predicted ${classNames[p]!}: ${count} of ${support} (${(share * 100).toFixed(1)}%)`),
          el('rect', { x, y, width: cell, height: cell, fill: support === 0 ? '#f0f0f0' : blues(share), stroke: '#ffffff', 'stroke-width': 1 }),
          el('text', { x: x + cell / 2, y: y + cell / 2 + (cell >= 44 ? 0 : 4), 'text-anchor': 'middle', fill: ink, 'font-size': cell >= 36 ? 13 : 10, 'font-weight': t === p ? 'bold' : 'normal' }, String(count)),
          cell >= 44 && support > 0 ? el('text', { x: x + cell / 2, y: y + cell / 2 + 15, 'text-anchor': 'middle', fill: ink, 'font-size': 10 }, `${Math.round(share * 100)}%`) : null,
        ),
      );
    });
  });
  const rowLabels = classNames.map((c, t) => el('text', { x: left - 8, y: top + t * cell + cell / 2 + 4, 'text-anchor': 'end', 'font-size': LABEL_SIZE, fill: INK }, c));
  const colLabels = classNames.map((c, p) => {
    const x = left + p * cell + cell / 2;
    const y = top + grid + 12;
    return el('text', { x: 0, y: 0, transform: `translate(${num(x + 4)} ${num(y)}) rotate(-45)`, 'text-anchor': 'end', 'font-size': LABEL_SIZE, fill: INK }, c);
  });
  const steps = 10;
  const scaleX = left + grid + 24;
  const scaleH = Math.min(grid, 180);
  const shadeScale = el(
    'g',
    { class: 'colour-scale' },
    Array.from({ length: steps }, (_, k) =>
      el('rect', { x: scaleX, y: top + scaleH - ((k + 1) * scaleH) / steps, width: 14, height: scaleH / steps + 0.5, fill: blues((k + 0.5) / steps) }),
    ),
    el('rect', { x: scaleX, y: top, width: 14, height: scaleH, fill: 'none', stroke: MUTED }),
    [0, 50, 100].map((v) => el('text', { x: scaleX + 20, y: top + scaleH - (v / 100) * scaleH + 4, 'font-size': TICK_SIZE, fill: INK }, `${v}%`)),
    el('text', { x: 0, y: 0, transform: `translate(${num(scaleX + 62)} ${num(top + scaleH / 2)}) rotate(90)`, 'text-anchor': 'middle', 'font-size': TICK_SIZE, fill: MUTED }, 'share of true class'),
  );
  return svgDocument(
    width,
    height,
    title,
    titleText(16, 26, title),
    cells,
    rowLabels,
    colLabels,
    el('text', { x: 0, y: 0, transform: `translate(${num(16 + 8)} ${num(top + grid / 2)}) rotate(-90)`, 'text-anchor': 'middle', 'font-size': LABEL_SIZE, 'font-weight': 'bold', fill: INK }, 'true class'),
    el('text', { x: left + grid / 2, y: height - 12, 'text-anchor': 'middle', 'font-size': LABEL_SIZE, 'font-weight': 'bold', fill: INK }, 'predicted class'),
    shadeScale,
  );
}

// ---------------------------------------------------------------------------------------------
// Grouped bars

export interface BarGroup {
  /** Legend label, e.g. the network's name. */
  name: string;
  /** One value per category. */
  values: readonly number[];
  /** Half-length of a whisker per category (a standard deviation), or null for none. */
  errors?: readonly (number | null)[];
}

export interface GroupedBarsOptions {
  title: string;
  categories: readonly string[];
  groups: readonly BarGroup[];
  yLabel: string;
  /** Default [0, 1]. */
  yDomain?: Domain;
  width?: number;
  height?: number;
}

/** For each category (class), one bar per group (network) side by side, with optional ± whiskers. */
export function groupedBars(o: GroupedBarsOptions): string {
  const width = o.width ?? 1100;
  const n = o.categories.length;
  o.groups.forEach((g) => {
    if (g.values.length !== n) throw new Error(`bar group ${g.name}: ${g.values.length} values for ${n} categories`);
  });
  const labelWidth = Math.max(...o.categories.map((c) => textWidth(c, LABEL_SIZE)));
  const slot = (width - PANEL_MARGIN.left - PANEL_MARGIN.right) / Math.max(n, 1);
  const rotate = labelWidth > slot - 6;
  const below = rotate ? 14 + labelWidth * 0.72 : 24;
  const plotHeight = o.height ?? 260;
  const top = 50;
  const frame = { x: PANEL_MARGIN.left, y: top, width: width - PANEL_MARGIN.left - PANEL_MARGIN.right, height: plotHeight };
  const domain = o.yDomain ?? [0, 1];
  const ticks = niceTicks(domain[0], domain[1], 5);
  const sy = scale(domain, [frame.y + frame.height, frame.y]);
  const fy = tickFormat(ticks);
  const barWidth = Math.min(36, (slot * 0.8) / Math.max(o.groups.length, 1));
  const bars = o.categories.map((c, k) => {
    const center = frame.x + slot * (k + 0.5);
    const start = center - (barWidth * o.groups.length) / 2;
    return el(
      'g',
      { class: 'category' },
      o.groups.map((g, j) => {
        const v = g.values[k]!;
        const e = g.errors?.[k] ?? null;
        const x = start + j * barWidth;
        const y = sy(Math.max(domain[0], Math.min(domain[1], v)));
        const base = sy(Math.max(domain[0], Math.min(domain[1], 0)));
        const color = seriesStyle(j).color;
        return el(
          'g',
          {},
          el('title', {}, `${c}, ${g.name}: ${v.toFixed(3)}${e === null ? '' : ` ± ${e.toFixed(3)}`}`),
          // A zero would be no bar at all; a hairline on the axis shows that there is a value, and it is 0.
          el('rect', { x: x + 1, y: Math.min(y, base - 1.5), width: barWidth - 2, height: Math.max(Math.abs(base - y), 1.5), fill: color }),
          e === null
            ? null
            : el(
                'g',
                { stroke: INK, 'stroke-width': 1.2 },
                el('line', { x1: x + barWidth / 2, x2: x + barWidth / 2, y1: sy(Math.max(domain[0], v - e)), y2: sy(Math.min(domain[1], v + e)) }),
                el('line', { x1: x + barWidth / 2 - 4, x2: x + barWidth / 2 + 4, y1: sy(Math.min(domain[1], v + e)), y2: sy(Math.min(domain[1], v + e)) }),
                el('line', { x1: x + barWidth / 2 - 4, x2: x + barWidth / 2 + 4, y1: sy(Math.max(domain[0], v - e)), y2: sy(Math.max(domain[0], v - e)) }),
              ),
        );
      }),
      rotate
        ? el('text', { x: 0, y: 0, transform: `translate(${num(center + 4)} ${num(frame.y + frame.height + 14)}) rotate(-45)`, 'text-anchor': 'end', 'font-size': LABEL_SIZE, fill: INK }, c)
        : el('text', { x: center, y: frame.y + frame.height + 18, 'text-anchor': 'middle', 'font-size': LABEL_SIZE, fill: INK }, c),
    );
  });
  const yAxis = el(
    'g',
    { 'font-size': TICK_SIZE, fill: INK },
    ticks.map((t) => [
      el('line', { x1: frame.x, x2: frame.x + frame.width, y1: sy(t), y2: sy(t), stroke: GRID }),
      el('text', { x: frame.x - 6, y: sy(t) + 4, 'text-anchor': 'end' }, fy(t)),
    ]),
    el('line', { x1: frame.x, x2: frame.x, y1: frame.y, y2: frame.y + frame.height, stroke: INK }),
    el('line', { x1: frame.x, x2: frame.x + frame.width, y1: frame.y + frame.height, y2: frame.y + frame.height, stroke: INK }),
    el('text', { x: 0, y: 0, transform: `translate(${num(frame.x - 46)} ${num(frame.y + frame.height / 2)}) rotate(-90)`, 'text-anchor': 'middle', 'font-size': LABEL_SIZE }, o.yLabel),
  );
  const key = legend(
    [
      ...o.groups.map((g, j) => ({ label: g.name, color: seriesStyle(j).color, kind: 'box' as const })),
      ...(o.groups.some((g) => g.errors?.some((e) => e !== null && e !== undefined)) ? [{ label: 'whiskers: ± 1 sd over folds', color: INK, width: 1.2 }] : []),
    ],
    frame.x,
    frame.y + frame.height + below + 16,
    frame.width,
  );
  return svgDocument(width, frame.y + frame.height + below + 16 + key.height, o.title, titleText(16, 26, o.title), yAxis, bars, key.markup);
}

// ---------------------------------------------------------------------------------------------
// SE excitation

/**
 * The SENet paper's figure 6 for one network: one panel per SE block, the mean excitation of each
 * channel (y: 0 to 1) over the test tiles of each class, one line per class, and the mean over all
 * tiles as a wide grey line behind. Channels are in graph order (the paper's way) or, by default,
 * sorted by their mean over all tiles: the grey line then rises steadily and every class line is
 * read as a departure from it, which keeps blocks of 512 channels legible. Where the class lines
 * part, the block weights channels differently by class; where they coincide, it acts about the
 * same on every input.
 */
export function excitationPlot(
  analysis: ExcitationAnalysis,
  options: { title?: string; width?: number; columns?: number; order?: 'sorted' | 'index' } = {},
): string {
  const title = options.title ?? 'SE excitation by class';
  const width = options.width ?? 1100;
  const sorted = (options.order ?? 'sorted') === 'sorted';
  const columns = options.columns ?? Math.min(2, Math.max(1, analysis.blocks.length));
  const panelWidth = width / columns;
  const panelHeight = 250;
  const top = 62;
  const rows = Math.ceil(analysis.blocks.length / columns);
  const present = analysis.classNames.map((_, c) => (analysis.tiles[c] ?? 0) > 0);
  const panels = analysis.blocks.map((block, b) => {
    const frame = {
      x: (b % columns) * panelWidth + PANEL_MARGIN.left,
      y: top + Math.floor(b / columns) * panelHeight + PANEL_MARGIN.top + 8,
      width: panelWidth - PANEL_MARGIN.left - PANEL_MARGIN.right - 8,
      height: panelHeight - PANEL_MARGIN.top - PANEL_MARGIN.bottom - 8,
    };
    const order = block.all.map((_, k) => k);
    if (sorted) order.sort((i, j) => block.all[i]! - block.all[j]! || i - j);
    const channels = (values: readonly number[]): [number, number][] => order.map((k, x) => [x, values[k]!]);
    const series: LineSeries[] = [
      { name: 'all test tiles', points: channels(block.all), color: '#bbbbbb', width: 5, markers: false },
      ...analysis.classNames.flatMap((name, c) => {
        const mean = block.mean[c];
        if (!present[c] || mean === null || mean === undefined) return [];
        const { color, dash } = seriesStyle(c);
        return [{ name, points: channels(mean), color, dash, width: 1.3, opacity: 0.9, markers: block.channels <= 24 }];
      }),
    ];
    return fragment(
      linePanel({
        frame,
        title: block.name,
        xLabel: sorted ? 'channel, sorted by mean excitation over all tiles' : 'channel index',
        yLabel: 'mean excitation',
        series,
        xDomain: [0, Math.max(1, block.channels - 1)],
        yDomain: [0, 1],
        integerX: true,
      }),
      el('text', { x: frame.x + frame.width, y: frame.y - 12, 'text-anchor': 'end', 'font-size': TICK_SIZE, fill: MUTED }, `${block.channels} channels · class spread ${block.spread.toFixed(3)}`),
    );
  });
  const items: LegendItem[] = [
    ...analysis.classNames.flatMap((name, c) => (present[c] ? [{ label: `${name} (${analysis.tiles[c]} tiles)`, ...seriesStyle(c) }] : [])),
    { label: 'all test tiles', color: '#bbbbbb', width: 5 },
  ];
  const key = legend(items, PANEL_MARGIN.left, top + rows * panelHeight + 8, width - PANEL_MARGIN.left);
  return svgDocument(
    width,
    top + rows * panelHeight + key.height + 8,
    title,
    titleText(16, 26, title),
    el('text', { x: 16, y: 46, 'font-size': LABEL_SIZE, fill: MUTED }, `${analysis.source}. Class spread: mean over channels of the highest minus the lowest class mean.`),
    panels,
    key.markup,
  );
}
