/**
 * A slide's calls as pictures: `<name>.overlay.png`, the slide's thumbnail with each tile in its
 * class's colour and a legend (two models: their maps and the tiles where they disagree, side by
 * side), and one heatmap per class, each tile coloured by its probability on viridis, a
 * perceptually uniform colour map, with a colour bar.
 */
import { encodeCanvas, readThumbnail } from '../data/image.ts';
import { el, num } from '../report/svg.ts';
import { FONT_FAMILY } from '../report/svg.ts';
import type { SlidePrediction } from './predict-slide.ts';
import { hexColour, viridis, viridisGradient } from '../report/colour-map.ts';
import { DISAGREEMENT, callsOf, cellOf, classAreas, classColour } from './calls.ts';

/** Longest side of a map's thumbnail. */
export const MAP_SIDE = 1600;
const MARGIN = 12;
const TITLE = 26;
const LEGEND = 260;

/** A slide's thumbnail, which every map of it is drawn on. */
export interface Thumbnail {
  rgb: Uint8Array;
  /** The same in grey, dimmed: the background of every heatmap, so that only the map carries colour. */
  grey: Uint8Array;
  width: number;
  height: number;
  /** Thumbnail pixels per level-0 pixel. */
  scale: number;
}

export async function slideThumbnail(p: SlidePrediction): Promise<Thumbnail> {
  const scale = Math.min(1, MAP_SIDE / Math.max(p.info.width, p.info.height));
  const width = Math.max(1, Math.round(p.info.width * scale));
  const height = Math.max(1, Math.round(p.info.height * scale));
  const rgb = await readThumbnail(p.path, p.info, width, height);
  return { rgb, grey: greyed(rgb), width, height, scale };
}

/** A copy of `base` (RGB, the thumbnail's size) with each tile's cell blended with the colour `colour(t)` gives, alpha last (null: left as it is). */
function paintTiles(p: SlidePrediction, thumb: Thumbnail, base: Uint8Array, colour: (t: number) => [number, number, number, number] | null): Uint8Array {
  const out = Uint8Array.from(base);
  for (let t = 0; t < p.xs.length; t++) {
    const c = colour(t);
    if (!c) continue;
    const a = c[3] / 255;
    const cell = cellOf(p, t);
    // The thumbnail pixels whose centres fall in the cell; at least the one under its middle.
    let x0 = Math.ceil(cell.x * thumb.scale - 0.5);
    let x1 = Math.ceil((cell.x + cell.w) * thumb.scale - 0.5);
    let y0 = Math.ceil(cell.y * thumb.scale - 0.5);
    let y1 = Math.ceil((cell.y + cell.h) * thumb.scale - 0.5);
    if (x1 <= x0) [x0, x1] = [Math.floor((cell.x + cell.w / 2) * thumb.scale), Math.floor((cell.x + cell.w / 2) * thumb.scale) + 1];
    if (y1 <= y0) [y0, y1] = [Math.floor((cell.y + cell.h / 2) * thumb.scale), Math.floor((cell.y + cell.h / 2) * thumb.scale) + 1];
    for (let y = Math.max(0, y0); y < Math.min(thumb.height, y1); y++) {
      for (let x = Math.max(0, x0); x < Math.min(thumb.width, x1); x++) {
        const i = (y * thumb.width + x) * 3;
        for (let k = 0; k < 3; k++) out[i + k] = Math.round(base[i + k]! * (1 - a) + c[k]! * a);
      }
    }
  }
  return out;
}

function greyed(rgb: Uint8Array): Uint8Array {
  const out = new Uint8Array(rgb.length);
  for (let i = 0; i < out.length; i += 3) {
    const g = Math.round(0.6 * (0.299 * rgb[i]! + 0.587 * rgb[i + 1]! + 0.114 * rgb[i + 2]!) + 0.4 * 255);
    out[i] = out[i + 1] = out[i + 2] = g;
  }
  return out;
}

/** A white canvas with each panel copied in at its place. */
function canvas(width: number, height: number, panels: { pixels: Uint8Array; width: number; height: number; left: number; top: number }[]): Uint8Array {
  const out = new Uint8Array(width * height * 3).fill(255);
  for (const p of panels) {
    for (let y = 0; y < p.height; y++) out.set(p.pixels.subarray(y * p.width * 3, (y + 1) * p.width * 3), ((p.top + y) * width + p.left) * 3);
  }
  return out;
}

/** Text drawn over a part of the canvas (titles, a legend): a transparent SVG of that part alone, as rendering costs by the pixel. */
function annotations(width: number, height: number, children: unknown[]): Buffer {
  return Buffer.from(el('svg', { xmlns: 'http://www.w3.org/2000/svg', width: Math.max(1, Math.round(width)), height: Math.max(1, Math.round(height)), 'font-family': FONT_FAMILY, 'font-size': 14 }, children as never).text);
}

/** `<name>.overlay.png`: each model's map side by side, with two models the disagreement map too, and a legend. */
export async function overlayPng(p: SlidePrediction, thumb: Thumbnail, labels: readonly string[], classes: readonly string[]): Promise<Buffer> {
  const k = classes.length;
  const calls = p.probabilities.map((probs) => callsOf(probs, k));
  const maps = calls.map((c, m) => ({
    title: `${labels[m]}: calls`,
    pixels: paintTiles(p, thumb, thumb.rgb, (t) => [...classColour(c[t]!), 140]),
  }));
  if (calls.length === 2) {
    const disagreeing = calls[0]!.reduce((n, c, t) => n + (c !== calls[1]![t] ? 1 : 0), 0);
    maps.push({
      title: `disagreement: ${disagreeing} of ${p.xs.length} tiles`,
      pixels: paintTiles(p, thumb, thumb.rgb, (t) => (calls[0]![t] !== calls[1]![t] ? [...DISAGREEMENT, 190] : null)),
    });
  }
  const right = MARGIN + maps.length * (thumb.width + MARGIN);
  const width = right + LEGEND;
  const height = Math.max(TITLE + thumb.height + 2 * MARGIN, TITLE + MARGIN + 40 + 22 * k * calls.length);
  const titles: unknown[] = [];
  const panels = maps.map((map, i) => {
    const left = MARGIN + i * (thumb.width + MARGIN);
    titles.push(el('text', { x: left, y: TITLE - 8, 'font-weight': 'bold' }, map.title));
    return { pixels: map.pixels, width: thumb.width, height: thumb.height, left, top: TITLE };
  });
  // The legend: per model, each class's colour, name, tiles and area.
  const legend: unknown[] = [];
  let y = TITLE + 4;
  const x = 8;
  for (const [m, c] of calls.entries()) {
    legend.push(el('text', { x, y: y + 10, 'font-weight': 'bold' }, labels[m]!));
    y += 32;
    for (const a of classAreas(p, c, classes)) {
      const i = classes.indexOf(a.name);
      legend.push(el('rect', { x, y: y - 11, width: 14, height: 14, fill: hexColour(classColour(i)) }));
      const area = a.areaMm2 === null ? '' : `, ${num(a.areaMm2, 2)} mm²`;
      legend.push(el('text', { x: x + 20, y }, `${a.name}: ${a.tiles}${area}`));
      y += 22;
    }
    y += 8;
  }
  if (calls.length === 2) legend.push(el('rect', { x, y: y - 11, width: 14, height: 14, fill: hexColour(DISAGREEMENT) }), el('text', { x: x + 20, y }, 'the two disagree'));
  return encodeCanvas(canvas(width, height, panels), width, height, [
    { input: annotations(right, TITLE, titles), left: 0, top: 0 },
    { input: annotations(LEGEND, Math.min(height, y + 20), legend), left: right, top: 0 },
  ]);
}

/** A heatmap of class `c` for model `m`: each tile's probability on viridis over the greyed thumbnail, with a colour bar. */
export async function heatmapPng(p: SlidePrediction, t0: Thumbnail, label: string, probabilities: Float32Array, classes: readonly string[], c: number): Promise<Buffer> {
  const k = classes.length;
  const pixels = paintTiles(p, t0, t0.grey, (t) => [...viridis(probabilities[t * k + c]!), 215]);
  const barHeight = Math.min(240, Math.max(100, t0.height - 40));
  const side = 90;
  const width = MARGIN + t0.width + MARGIN + side;
  const height = Math.max(TITLE + t0.height + MARGIN, TITLE + barHeight + 2 * MARGIN);
  const bar = [
    viridisGradient('viridis'),
    el('rect', { x: 8, y: TITLE, width: 18, height: barHeight, fill: 'url(#viridis)', stroke: '#444444' }),
    ...[0, 0.5, 1].map((v) => el('text', { x: 32, y: TITLE + (1 - v) * barHeight + 5 }, String(v))),
  ];
  return encodeCanvas(canvas(width, height, [{ pixels, width: t0.width, height: t0.height, left: MARGIN, top: TITLE }]), width, height, [
    { input: annotations(MARGIN + t0.width, TITLE, [el('text', { x: MARGIN, y: TITLE - 8, 'font-weight': 'bold' }, `${label}: P(${classes[c]})`)]), left: 0, top: 0 },
    { input: annotations(side, TITLE + barHeight + 10, bar), left: MARGIN + t0.width + MARGIN, top: 0 },
  ]);
}
