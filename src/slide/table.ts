/**
 * A slide's calls as a table (`<name>.csv`: one row per tile) and a summary (`<name>.summary.json`:
 * the grid, each class's tiles and area, and for two models how often and where they disagree).
 */
import { toCsv } from '../formats/csv.ts';
import type { Preparation } from '../formats/preparation.ts';
import { fileHeader } from '../version.ts';
import type { SlidePrediction } from './predict-slide.ts';
import { callsOf, classAreas } from './calls.ts';

/** The CSV, a row at a time: x, y, w, h (level-0 pixels), then per model its class and every probability. */
export function* csvChunks(p: SlidePrediction, labels: readonly string[], classes: readonly string[]): Generator<string> {
  const k = classes.length;
  const calls = p.probabilities.map((probs) => callsOf(probs, k));
  // The first model's columns are plain (class, prob_<c>); a compared model's carry its name.
  const prefix = (m: number): string => (m === 0 ? '' : `${labels[m]}_`);
  const header = ['x', 'y', 'w', 'h', ...p.probabilities.flatMap((_, m) => [`${prefix(m)}class`, ...classes.map((c) => `${prefix(m)}prob_${c}`)])];
  if (p.probabilities.length === 2) header.push('agree');
  yield toCsv(header, []);
  const w = +(p.tile * p.plan.factorX).toFixed(2);
  const h = +(p.tile * p.plan.factorY).toFixed(2);
  let rows: (string | number)[][] = [];
  for (let t = 0; t < p.xs.length; t++) {
    const row: (string | number)[] = [p.xs[t]!, p.ys[t]!, w, h];
    for (const [m, probs] of p.probabilities.entries()) row.push(classes[calls[m]![t]!]!, ...Array.from(probs.subarray(t * k, (t + 1) * k), (v) => +v.toPrecision(6)));
    if (calls.length === 2) row.push(calls[0]![t] === calls[1]![t] ? 1 : 0);
    rows.push(row);
    if (rows.length === 4096) {
      yield toCsv([], rows).slice(1);
      rows = [];
    }
  }
  if (rows.length > 0) yield toCsv([], rows).slice(1);
}

export interface SlideSummary {
  readonly format: 'senet-ort slide prediction';
  readonly version: 1;
  readonly tool: string;
  readonly slide: string;
  /** Level-0 size, and µm per level-0 pixel where known. */
  readonly size: readonly [number, number];
  readonly mpp: number | null;
  readonly models: readonly { readonly label: string; readonly path: string }[];
  readonly preparation: Preparation;
  readonly grid: {
    readonly tile: number;
    readonly stride: number;
    /** A tile's size in level-0 pixels. */
    readonly level0Tile: readonly [number, number];
    readonly positions: number;
    /** Tiles the tissue rule kept: the ones predicted. */
    readonly tiles: number;
    readonly threshold: number | null;
    readonly unstained: number | null;
  };
  /** Per model, each class's tiles, share and area (mm², null where the resolution is unknown). */
  readonly classes: readonly (readonly { readonly name: string; readonly tiles: number; readonly fraction: number; readonly areaMm2: number | null }[])[];
  /** Two models: tiles where they disagree, and the table of their calls (rows: first model, columns: second). */
  readonly comparison?: { readonly disagreements: number; readonly agreement: number; readonly table: readonly (readonly number[])[] };
}

export function slideSummary(p: SlidePrediction, models: readonly { label: string; path: string }[], classes: readonly string[], preparation: Preparation): SlideSummary {
  const calls = p.probabilities.map((probs) => callsOf(probs, classes.length));
  const summary: SlideSummary = {
    ...fileHeader('slide prediction'),
    slide: p.path,
    size: [p.info.width, p.info.height],
    mpp: p.resolution ? +p.resolution.x.toPrecision(6) : null,
    models: models.map(({ label, path }) => ({ label, path })),
    preparation,
    grid: {
      tile: p.tile,
      stride: p.stride,
      level0Tile: [+(p.tile * p.plan.factorX).toFixed(2), +(p.tile * p.plan.factorY).toFixed(2)],
      positions: p.positions,
      tiles: p.xs.length,
      threshold: p.threshold,
      unstained: p.unstained,
    },
    classes: calls.map((c) => classAreas(p, c, classes).map((a) => ({ ...a, fraction: +a.fraction.toFixed(6), areaMm2: a.areaMm2 === null ? null : +a.areaMm2.toPrecision(6) }))),
  };
  if (calls.length !== 2) return summary;
  const table = classes.map(() => new Array<number>(classes.length).fill(0));
  let disagreements = 0;
  for (let t = 0; t < p.xs.length; t++) {
    table[calls[0]![t]!]![calls[1]![t]!]!++;
    if (calls[0]![t] !== calls[1]![t]) disagreements++;
  }
  return { ...summary, comparison: { disagreements, agreement: p.xs.length === 0 ? 1 : +(1 - disagreements / p.xs.length).toFixed(6), table } };
}
