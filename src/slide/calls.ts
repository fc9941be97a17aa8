/**
 * A slide's predictions as calls: each tile's class, class colours, the area each class covers and,
 * for two models, where they disagree. Numbers only; the files are written by geojson.ts, table.ts
 * and overlay.ts.
 */
import { argmaxRows } from '../infer/predictor.ts';
import { PALETTE } from '../report/plots.ts';
import type { SlidePrediction } from './predict-slide.ts';
import type { Rgb } from '../report/colour-map.ts';

export type { Rgb };

/** The colour of class i: Okabe and Ito's palette (as the report's plots), by class order. */
export function classColour(i: number): Rgb {
  const hex = PALETTE[i % PALETTE.length]!;
  return [1, 3, 5].map((at) => parseInt(hex.slice(at, at + 2), 16)) as Rgb;
}

/** The colour of tiles where two models disagree. */
export const DISAGREEMENT: Rgb = [255, 0, 255];

/** Per tile, the class of the highest probability (the first on a tie), as every prediction is called. */
export function callsOf(probabilities: Float32Array, classes: number): Int32Array {
  return argmaxRows(probabilities, classes);
}

/**
 * The level-0 rectangle a tile stands for on a map: the tile itself when tiles do not overlap; with
 * a smaller stride, the stride-sized cell at the tile's centre, so that the cells tile the slide.
 */
export function cellOf(p: SlidePrediction, t: number): { x: number; y: number; w: number; h: number } {
  const cell = Math.min(p.stride, p.tile);
  const inset = (p.tile - cell) / 2;
  return { x: p.xs[t]! + inset * p.plan.factorX, y: p.ys[t]! + inset * p.plan.factorY, w: cell * p.plan.factorX, h: cell * p.plan.factorY };
}

/** Each class's tiles, and the area they stand for: level-0 pixels² always, mm² where the resolution is known. */
export function classAreas(p: SlidePrediction, calls: Int32Array, classes: readonly string[]): { name: string; tiles: number; fraction: number; areaMm2: number | null }[] {
  const counts = new Array<number>(classes.length).fill(0);
  for (const c of calls) counts[c]!++;
  const cell = Math.min(p.stride, p.tile);
  const cellUm2 = p.resolution ? cell * p.plan.factorX * p.resolution.x * cell * p.plan.factorY * p.resolution.y : null;
  return classes.map((name, c) => ({
    name,
    tiles: counts[c]!,
    fraction: calls.length === 0 ? 0 : counts[c]! / calls.length,
    areaMm2: cellUm2 === null ? null : (counts[c]! * cellUm2) / 1e6,
  }));
}
