/**
 * A slide's calls as pictures: `<name>.overlay.png`, the slide's thumbnail with each tile in its
 * class's colour and a legend (two models: their maps and the tiles where they disagree, side by
 * side), and one heatmap per class, each tile coloured by its probability on viridis, a
 * perceptually uniform colour map, with a colour bar.
 */
import { composePng, readThumbnail } from '../data/image.ts';
import { el, num } from '../report/svg.ts';
import { FONT_FAMILY } from '../report/svg.ts';
import type { SlidePrediction } from './predict-slide.ts';
import { VIRIDIS, hexColour, viridis } from '../report/colour-map.ts';
import { DISAGREEMENT, callsOf, cellOf, classAreas, classColour } from './calls.ts';

/** Longest side of a map's thumbnail. */
export const MAP_SIDE = 1600;
const MARGIN = 12;
const TITLE = 26;
const LEGEND = 260;

/** A slide's thumbnail, which every map of it is drawn on. */
export interface Thumbnail {
  rgb: Uint8Array;
  width: number;
  height: number;
  /** Thumbnail pixels per level-0 pixel. */
  scale: number;
}

export async function slideThumbnail(p: SlidePrediction): Promise<Thumbnail> {
  const scale = Math.min(1, MAP_SIDE / Math.max(p.info.width, p.info.height));
  const width = Math.max(1, Math.round(p.info.width * scale));
  const height = Math.max(1, Math.round(p.info.height * scale));
  return { rgb: await readThumbnail(p.path, p.info, width, height), width, height, scale };
}

/** An RGBA layer with each tile's cell filled in the colour `colour(t)` gives (null: left clear). */
function tileLayer(p: SlidePrediction, thumb: Thumbnail, colour: (t: number) => [number, number, number, number] | null): Uint8Array {
  const out = new Uint8Array(thumb.width * thumb.height * 4);
  for (let t = 0; t < p.xs.length; t++) {
    const c = colour(t);
    if (!c) continue;
    const cell = cellOf(p, t);
    // The thumbnail pixels whose centres fall in the cell; at least the one under its middle.
    let x0 = Math.ceil(cell.x * thumb.scale - 0.5);
    let x1 = Math.ceil((cell.x + cell.w) * thumb.scale - 0.5);
    let y0 = Math.ceil(cell.y * thumb.scale - 0.5);
    let y1 = Math.ceil((cell.y + cell.h) * thumb.scale - 0.5);
    if (x1 <= x0) [x0, x1] = [Math.floor((cell.x + cell.w / 2) * thumb.scale), Math.floor((cell.x + cell.w / 2) * thumb.scale) + 1];
    if (y1 <= y0) [y0, y1] = [Math.floor((cell.y + cell.h / 2) * thumb.scale), Math.floor((cell.y + cell.h / 2) * thumb.scale) + 1];
    for (let y = Math.max(0, y0); y < Math.min(thumb.height, y1); y++) {
      for (let x = Math.max(0, x0); x < Math.min(thumb.width, x1); x++) out.set(c, (y * thumb.width + x) * 4);
    }
  }
  return out;
}

/** The thumbnail in grey, dimmed: the background of a heatmap, so that only the map carries colour. */
function greyed(thumb: Thumbnail): Uint8Array {
  const out = new Uint8Array(thumb.rgb.length);
  for (let i = 0; i < out.length; i += 3) {
    const g = Math.round(0.6 * (0.299 * thumb.rgb[i]! + 0.587 * thumb.rgb[i + 1]! + 0.114 * thumb.rgb[i + 2]!) + 0.4 * 255);
    out[i] = out[i + 1] = out[i + 2] = g;
  }
  return out;
}

/** Text drawn over the canvas: titles and legends (a transparent SVG of the whole canvas). */
function annotations(width: number, height: number, children: unknown[]): Buffer {
  return Buffer.from(el('svg', { xmlns: 'http://www.w3.org/2000/svg', width, height, 'font-family': FONT_FAMILY, 'font-size': 14 }, children as never).text);
}

/** `<name>.overlay.png`: each model's map side by side, with two models the disagreement map too, and a legend. */
export async function overlayPng(p: SlidePrediction, thumb: Thumbnail, labels: readonly string[], classes: readonly string[]): Promise<Buffer> {
  const k = classes.length;
  const calls = p.probabilities.map((probs) => callsOf(probs, k));
  const maps = calls.map((c, m) => ({
    title: `${labels[m]}: calls`,
    layer: tileLayer(p, thumb, (t) => [...classColour(c[t]!), 140]),
  }));
  if (calls.length === 2) {
    const disagreeing = calls[0]!.reduce((n, c, t) => n + (c !== calls[1]![t] ? 1 : 0), 0);
    maps.push({
      title: `disagreement: ${disagreeing} of ${p.xs.length} tiles`,
      layer: tileLayer(p, thumb, (t) => (calls[0]![t] !== calls[1]![t] ? [...DISAGREEMENT, 190] : null)),
    });
  }
  const width = MARGIN + maps.length * (thumb.width + MARGIN) + LEGEND;
  const height = Math.max(TITLE + thumb.height + 2 * MARGIN, TITLE + MARGIN + 40 + 22 * k * calls.length);
  const layers: Parameters<typeof composePng>[2] = [];
  const text: unknown[] = [];
  maps.forEach((map, i) => {
    const left = MARGIN + i * (thumb.width + MARGIN);
    layers.push({ input: thumb.rgb, raw: { width: thumb.width, height: thumb.height, channels: 3 }, left, top: TITLE });
    layers.push({ input: map.layer, raw: { width: thumb.width, height: thumb.height, channels: 4 }, left, top: TITLE });
    text.push(el('text', { x: left, y: TITLE - 8, 'font-weight': 'bold' }, map.title));
  });
  // The legend: per model, each class's colour, name, tiles and area.
  let y = TITLE + 4;
  const x = width - LEGEND + 8;
  for (const [m, c] of calls.entries()) {
    text.push(el('text', { x, y: y + 10, 'font-weight': 'bold' }, labels[m]!));
    y += 32;
    for (const a of classAreas(p, c, classes)) {
      const i = classes.indexOf(a.name);
      text.push(el('rect', { x, y: y - 11, width: 14, height: 14, fill: hexColour(classColour(i)) }));
      const area = a.areaMm2 === null ? '' : `, ${num(a.areaMm2, 2)} mm²`;
      text.push(el('text', { x: x + 20, y }, `${a.name}: ${a.tiles}${area}`));
      y += 22;
    }
    y += 8;
  }
  if (calls.length === 2) text.push(el('rect', { x, y: y - 11, width: 14, height: 14, fill: hexColour(DISAGREEMENT) }), el('text', { x: x + 20, y }, 'the two disagree'));
  layers.push({ input: annotations(width, height, text), left: 0, top: 0 });
  return composePng(width, height, layers, '#ffffff');
}

/** A heatmap of class `c` for model `m`: each tile's probability on viridis over the greyed thumbnail, with a colour bar. */
export async function heatmapPng(p: SlidePrediction, t0: Thumbnail, label: string, probabilities: Float32Array, classes: readonly string[], c: number): Promise<Buffer> {
  const k = classes.length;
  const layer = tileLayer(p, t0, (t) => [...viridis(probabilities[t * k + c]!), 215]);
  const barHeight = Math.min(240, Math.max(100, t0.height - 40));
  const width = MARGIN + t0.width + MARGIN + 90;
  const height = Math.max(TITLE + t0.height + MARGIN, TITLE + barHeight + 2 * MARGIN);
  const barX = MARGIN + t0.width + MARGIN + 8;
  const stops = VIRIDIS.map((rgb, i) => el('stop', { offset: num(i / (VIRIDIS.length - 1), 4), 'stop-color': hexColour(rgb) }));
  const text = [
    el('defs', {}, el('linearGradient', { id: 'viridis', x1: 0, y1: 1, x2: 0, y2: 0 }, stops)),
    el('text', { x: MARGIN, y: TITLE - 8, 'font-weight': 'bold' }, `${label}: P(${classes[c]})`),
    el('rect', { x: barX, y: TITLE, width: 18, height: barHeight, fill: 'url(#viridis)', stroke: '#444444' }),
    ...[0, 0.5, 1].map((v) => el('text', { x: barX + 24, y: TITLE + (1 - v) * barHeight + 5 }, String(v))),
  ];
  return composePng(width, height, [
    { input: greyed(t0), raw: { width: t0.width, height: t0.height, channels: 3 }, left: MARGIN, top: TITLE },
    { input: layer, raw: { width: t0.width, height: t0.height, channels: 4 }, left: MARGIN, top: TITLE },
    { input: annotations(width, height, text), left: 0, top: 0 },
  ], '#ffffff');
}
