/**
 * Viridis (matplotlib's), the perceptually uniform colour map of every map the project draws: a
 * slide's class probabilities (src/slide) and the Grad-CAM maps of `explain` and the report. Its
 * luminance rises monotonically, so it reads in print and in grey, and to colour-blind readers.
 */
import { el, num } from './svg.ts';
import type { Child } from './svg.ts';

export type Rgb = [number, number, number];

/** Viridis at ten even stops, interpolated linearly between them. */
export const VIRIDIS: readonly Rgb[] = ['440154', '482878', '3e4989', '31688e', '26828e', '1f9e89', '35b779', '6ece58', 'b5de2b', 'fde725']
  .map((hex) => [0, 2, 4].map((i) => parseInt(hex.slice(i, i + 2), 16)) as Rgb);

/** The colour of v in [0, 1] (clamped). */
export function viridis(v: number): Rgb {
  const x = Math.min(1, Math.max(0, v)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const f = x - i;
  return [0, 1, 2].map((c) => Math.round(VIRIDIS[i]![c]! + (VIRIDIS[i + 1]![c]! - VIRIDIS[i]![c]!) * f)) as Rgb;
}

/** `#rrggbb`. */
export function hexColour(c: Rgb): string {
  return `#${c.map((v) => v.toString(16).padStart(2, '0')).join('')}`;
}

/** Viridis as an SVG gradient from bottom (0) to top (1), in `<defs>`, for colour bars: fill="url(#id)". */
export function viridisGradient(id: string): Child {
  const stops = VIRIDIS.map((rgb, i) => el('stop', { offset: num(i / (VIRIDIS.length - 1), 4), 'stop-color': hexColour(rgb) }));
  return el('defs', {}, el('linearGradient', { id, x1: 0, y1: 1, x2: 0, y2: 0 }, stops));
}
