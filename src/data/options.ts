import { availableParallelism } from 'node:os';
import { expected } from '../errors.ts';

/** What `tileDataset` takes; every field but `input` and `output` has a default (the study's). */
export interface TileOptions {
  /** Folder with one subfolder per class (nested folders allowed inside a class). */
  input: string;
  /** Flat output folder for the tiles, manifest.csv, dataset.json and rejected.csv. */
  output: string;
  /** Tile width and height in pixels (default 150). */
  tile?: number;
  /** Step between tile origins in pixels (default: the tile size, so tiles do not overlap). */
  stride?: number;
  /** A pixel is background when R, G and B are all above this (default 220). */
  whiteThreshold?: number;
  /** Drop tiles whose background fraction is larger than this (default 0.5). */
  maxWhite?: number;
  /** Downscale factor applied before tiling, >= 1 (default 1). */
  scale?: number;
  /** true/false forces the white filter; undefined: on for whole images, off for already-tiled sets. */
  filter?: boolean;
  /** Images processed at once (default: the number of CPUs). */
  concurrency?: number;
  /** Also write a contact sheet PNG here (kept tiles outlined green, dropped tiles shaded red). */
  contactSheet?: string;
  /** Largest decoded band in pixels; bigger images are read in horizontal bands (default 2^24). */
  bandPixels?: number;
  /** Called after each source image is done (for progress displays). */
  onSource?: (done: number, total: number, source: string) => void;
}

/** The options after defaults and checks; `filter` stays undefined until the dataset's mode is known. */
export interface TileSettings {
  tile: number;
  stride: number;
  whiteThreshold: number;
  maxWhite: number;
  scale: number;
  filter: boolean | undefined;
  concurrency: number;
  bandPixels: number;
}

/** A number from a flag or from code: numbers pass, numeric strings are converted, anything else is NaN. */
function toNumber(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && value.trim() !== '') return Number(value);
  return Number.NaN;
}

/** A positive integer, or the default when the value is absent. */
export function positiveInteger(value: unknown, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = toNumber(value);
  if (!Number.isInteger(n) || n < 1) throw expected('positive integer', flag, value);
  return n;
}

/** An integer in [lo, hi], or the default when the value is absent. */
export function integerIn(value: unknown, flag: string, lo: number, hi: number, fallback: number): number {
  if (value === undefined) return fallback;
  const n = toNumber(value);
  if (!Number.isInteger(n) || n < lo || n > hi) throw expected(`integer from ${lo} to ${hi}`, flag, value);
  return n;
}

/** A number in [lo, hi] (or [lo, hi) when `openHigh`), or the default when the value is absent. */
export function numberIn(value: unknown, flag: string, lo: number, hi: number, fallback: number, openHigh = false): number {
  if (value === undefined) return fallback;
  const n = toNumber(value);
  if (!Number.isFinite(n) || n < lo || (openHigh ? n >= hi : n > hi)) {
    throw expected(`number from ${lo} to ${openHigh ? `below ${hi}` : hi}`, flag, value);
  }
  return n;
}

/** Apply defaults and check every option, with the flag's name in the message. */
export function resolveTileSettings(options: TileOptions): TileSettings {
  const tile = positiveInteger(options.tile, '--tile', 150);
  const scale = toNumber(options.scale ?? 1);
  if (!Number.isFinite(scale) || scale < 1) throw expected('number >= 1', '--scale', options.scale);
  if (options.filter !== undefined && typeof options.filter !== 'boolean') throw expected('boolean', '--filter', options.filter);
  return {
    tile,
    stride: positiveInteger(options.stride, '--stride', tile),
    whiteThreshold: integerIn(options.whiteThreshold, '--white-threshold', 0, 255, 220),
    maxWhite: numberIn(options.maxWhite, '--max-white', 0, 1, 0.5),
    scale,
    filter: options.filter,
    concurrency: positiveInteger(options.concurrency, '--concurrency', Math.max(1, availableParallelism())),
    bandPixels: positiveInteger(options.bandPixels, 'bandPixels', 1 << 24),
  };
}
