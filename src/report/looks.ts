/**
 * "Where they look" as figures: one per kind of tile (both right, disagreeing; for one network
 * right, wrong), a row per class, each chosen test tile (evaluate/looks.ts) followed by the plain
 * and the SE ensemble's Grad-CAM maps laid over it, as look-pictures.ts encodes them. The figures
 * are standalone SVG documents like the other plots, with the pictures inside, so the report stays
 * one self-contained file. No file I/O or sharp here: the browser app draws the report too.
 */
import type { LookKind } from '../evaluate/looks.ts';
import { hexColour, viridis } from './colour-map.ts';
import { el, num, svgDocument, textWidth } from './svg.ts';
import type { Child } from './svg.ts';

/** Side of every picture in the figures, in pixels. */
export const LOOK_SIDE = 96;

export interface LookPicture {
  readonly file: string;
  readonly label: string;
  readonly kind: LookKind;
  /** The tile, a data URI. */
  readonly image: string;
  /** One per run, in the report's run order. */
  readonly maps: readonly { readonly predicted: string; readonly probability: number; readonly max: number; readonly overlay: string }[];
}

/** The section's data, JSON-ready (ReportData.looks). */
export interface LooksReport {
  /** The runs' names, as the report shows them. */
  readonly runs: readonly string[];
  readonly layers: readonly string[];
  readonly seed: number;
  readonly perClass: number;
  readonly tiles: readonly LookPicture[];
  /** Why there are no maps (a run's tiles or checkpoints gone); null when there are. */
  readonly unavailable: string | null;
}

/** What each kind of tile is, in words, for titles and captions. */
export function kindTitle(kind: LookKind, runs: readonly string[]): string {
  switch (kind) {
    case 'agree': return 'test tiles both fold ensembles classify correctly';
    case 'disagree': return 'test tiles where the two fold ensembles disagree';
    case 'right': return `test tiles the ${runs[0]} fold ensemble classifies correctly`;
    case 'wrong': return `test tiles the ${runs[0]} fold ensemble gets wrong`;
  }
}

const GAP = 4;
const GROUP_GAP = 20;
const LABEL_WIDTH = 130;
const TEXT = 15;
const ROW_GAP = 10;
const HEADER = 80;
const MARGIN = 12;
const BAR_WIDTH = 170;

/** One figure per kind of tile that was chosen, in the order agree, disagree (right, wrong). */
export function looksFigures(report: LooksReport): { kind: LookKind; svg: string }[] {
  const kinds = (['agree', 'disagree', 'right', 'wrong'] as const).filter((k) => report.tiles.some((t) => t.kind === k));
  return kinds.map((kind) => ({ kind, svg: looksFigure(report, kind) }));
}

function looksFigure(report: LooksReport, kind: LookKind): string {
  const tiles = report.tiles.filter((t) => t.kind === kind);
  const classes = [...new Set(tiles.map((t) => t.label))];
  const perGroup = 1 + report.runs.length;
  const groupWidth = perGroup * LOOK_SIDE + (perGroup - 1) * GAP;
  const slots = Math.max(...classes.map((c) => tiles.filter((t) => t.label === c).length));
  const title = `Where they look: ${kindTitle(kind, report.runs)}`;
  const width = Math.max(MARGIN + LABEL_WIDTH + slots * groupWidth + (slots - 1) * GROUP_GAP + MARGIN, 2 * MARGIN + textWidth(title, 15));
  const rowHeight = LOOK_SIDE + TEXT + ROW_GAP;
  const height = HEADER + classes.length * rowHeight + MARGIN;
  const children: Child[] = [
    el('text', { x: MARGIN, y: 20, 'font-size': 15, 'font-weight': 'bold' }, title),
    colourLegend(width - MARGIN - BAR_WIDTH, 30),
  ];
  // Column heads over every group: the tile, then each network.
  for (let s = 0; s < slots; s++) {
    const x0 = MARGIN + LABEL_WIDTH + s * (groupWidth + GROUP_GAP);
    ['tile', ...report.runs].forEach((head, j) => {
      children.push(el('text', { x: x0 + j * (LOOK_SIDE + GAP) + LOOK_SIDE / 2, y: HEADER - 8, 'text-anchor': 'middle', 'font-size': 11, 'font-weight': 'bold' }, fit(head, LOOK_SIDE, 11)));
    });
  }
  classes.forEach((label, row) => {
    const y = HEADER + row * rowHeight;
    children.push(el('text', { x: MARGIN, y: y + LOOK_SIDE / 2 + 4, 'font-size': 12, 'font-weight': 'bold' }, fit(label, LABEL_WIDTH - 8, 12)));
    tiles.filter((t) => t.label === label).forEach((t, s) => {
      const x0 = MARGIN + LABEL_WIDTH + s * (groupWidth + GROUP_GAP);
      children.push(picture(t.image, x0, y, t.file));
      t.maps.forEach((m, j) => {
        const x = x0 + (j + 1) * (LOOK_SIDE + GAP);
        const p = m.probability.toFixed(2);
        const call = kind === 'agree' || kind === 'right' ? `p ${p}` : `${fit(m.predicted, LOOK_SIDE + GAP - textWidth(` ${p}`, 10), 10)} ${p}`;
        children.push(picture(m.overlay, x, y, `${report.runs[j]}: ${m.predicted}, p = ${m.probability.toFixed(3)}, map maximum ${num(m.max, 6)}`));
        children.push(el('text', { x: x + LOOK_SIDE / 2, y: y + LOOK_SIDE + 12, 'text-anchor': 'middle', 'font-size': 10 }, call));
      });
    });
  });
  return svgDocument(width, height, title, children);
}

function picture(href: string, x: number, y: number, tooltip: string): Child {
  return el('image', { href, x, y, width: LOOK_SIDE, height: LOOK_SIDE, preserveAspectRatio: 'none' }, el('title', {}, tooltip));
}

/** The colour scale, viridis from 0 to each map's own maximum, in steps (no gradient to reference: the figure may sit inline beside others). */
function colourLegend(x: number, y: number): Child {
  const steps = 30;
  const w = BAR_WIDTH / steps;
  return [
    Array.from({ length: steps }, (_, i) => el('rect', { x: x + i * w, y, width: w + 0.3, height: 10, fill: hexColour(viridis((i + 0.5) / steps)) })),
    el('rect', { x, y, width: BAR_WIDTH, height: 10, fill: 'none', stroke: '#444444' }),
    el('text', { x, y: y + 22, 'font-size': 10 }, '0'),
    el('text', { x: x + BAR_WIDTH, y: y + 22, 'font-size': 10, 'text-anchor': 'end' }, 'the map\'s maximum'),
  ];
}

/** Text cut to fit `width` at `size`, with an ellipsis. */
function fit(text: string, width: number, size: number): string {
  if (textWidth(text, size) <= width) return text;
  const chars = Math.max(1, Math.floor(width / (size * 0.6)) - 1);
  return `${[...text].slice(0, chars).join('')}…`;
}
