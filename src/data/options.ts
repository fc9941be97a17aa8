import { availableParallelism } from 'node:os';
import { UserError, expected, either } from '../errors.ts';
import { DEFAULT_TILE } from './ready.ts';
import { STAIN_METHODS } from './stain.ts';
import type { StainMethod } from './stain.ts';

/** What `tileDataset` takes; every field but `input` and `output` has a default (the study's). */
export interface TileOptions {
  /** Folder with one subfolder per class (nested folders allowed inside a class). */
  input: string;
  /** Flat output folder for the tiles, manifest.csv, dataset.json and rejected.csv. */
  output: string;
  /** Tile width and height in pixels (default 150, or the images' own size where they are tiles already: ready.ts). */
  tile?: number;
  /** Step between tile origins in pixels (default: the tile size, so tiles do not overlap). */
  stride?: number;
  /** A pixel is background when R, G and B are all above this (default 220). */
  whiteThreshold?: number;
  /** Drop tiles whose background fraction is larger than this (default 0.5). */
  maxWhite?: number;
  /** Downscale factor applied before tiling, >= 1 (default 1); exclusive with `mpp`. */
  scale?: number;
  /** Tile at this many micrometres per pixel (read from the coarsest fine-enough pyramid level, then resized). */
  mpp?: number;
  /** Every source's resolution in µm per pixel, over what its file says (or where it says nothing). */
  sourceMpp?: number;
  /** The tissue rule: `white` (default: the original study's background fraction) or `otsu` (a thumbnail mask). */
  tissue?: string;
  /** With `otsu`: keep tiles whose mask cover is at least this (default 0.5). */
  minTissue?: number;
  /** With `otsu`: drop tissue regions smaller than this many µm² (default: half a tile). */
  tissueMinArea?: number;
  /** Stain normalisation of the kept tiles: `macenko` or `reinhard` (default none). */
  stainNormalize?: string;
  /** `tile` fits each tile on its own, `slide` each image once (default: slide for images larger than a tile). */
  stainFit?: string;
  /** An image whose stain the tiles are normalised to (Macenko: instead of the published reference; Reinhard: required). */
  stainTarget?: string;
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
  mpp: number | null;
  sourceMpp: number | null;
  tissue: 'white' | 'otsu';
  minTissue: number;
  /** µm², or null for half a tile. */
  tissueMinArea: number | null;
  stainNormalize: StainMethod | null;
  /** null: slide for images larger than a tile, tile for the others. */
  stainFit: 'tile' | 'slide' | null;
  stainTarget: string | null;
  filter: boolean | undefined;
  concurrency: number;
  bandPixels: number;
}

export const TISSUE_RULES = ['white', 'otsu'] as const;
export const STAIN_FITS = ['tile', 'slide'] as const;

function choice<T extends string>(value: unknown, flag: string, allowed: readonly T[]): T | null {
  if (value === undefined) return null;
  if (!allowed.includes(value as T)) throw expected(either(allowed), flag, value);
  return value as T;
}

/** A positive number (µm, µm²), or null when absent. */
function positive(value: unknown, flag: string): number | null {
  if (value === undefined) return null;
  const n = toNumber(value);
  if (!Number.isFinite(n) || n <= 0) throw expected('positive number', flag, value);
  return n;
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
  const tile = positiveInteger(options.tile, '--tile', DEFAULT_TILE);
  const scale = toNumber(options.scale ?? 1);
  if (!Number.isFinite(scale) || scale < 1) throw expected('number >= 1', '--scale', options.scale);
  if (options.filter !== undefined && typeof options.filter !== 'boolean') throw expected('boolean', '--filter', options.filter);
  const mpp = positive(options.mpp, '--mpp');
  if (mpp !== null && options.scale !== undefined) {
    throw new UserError('--mpp and --scale both given; use one (--mpp reads every image at that many µm per pixel, --scale shrinks each by a bare factor)');
  }
  const tissue = choice(options.tissue, '--tissue', TISSUE_RULES) ?? 'white';
  if (tissue !== 'otsu') {
    if (options.minTissue !== undefined) throw new UserError('--min-tissue applies to --tissue otsu only (the white rule has --max-white)');
    if (options.tissueMinArea !== undefined) throw new UserError('--tissue-min-area applies to --tissue otsu only');
  }
  const stainNormalize = choice(options.stainNormalize, '--stain-normalize', STAIN_METHODS);
  if (stainNormalize === null) {
    if (options.stainFit !== undefined) throw new UserError('--stain-fit applies with --stain-normalize only');
    if (options.stainTarget !== undefined) throw new UserError('--stain-target applies with --stain-normalize only');
  }
  const stainTarget = options.stainTarget === undefined ? null : String(options.stainTarget);
  if (stainNormalize === 'reinhard' && stainTarget === null) {
    throw new UserError('--stain-normalize reinhard needs --stain-target IMAGE, the image whose L*a*b* statistics the tiles are matched to');
  }
  return {
    tile,
    stride: positiveInteger(options.stride, '--stride', tile),
    whiteThreshold: integerIn(options.whiteThreshold, '--white-threshold', 0, 255, 220),
    maxWhite: numberIn(options.maxWhite, '--max-white', 0, 1, 0.5),
    scale,
    mpp,
    sourceMpp: positive(options.sourceMpp, '--source-mpp'),
    tissue,
    minTissue: numberIn(options.minTissue, '--min-tissue', 0, 1, 0.5),
    tissueMinArea: positive(options.tissueMinArea, '--tissue-min-area'),
    stainNormalize,
    stainFit: choice(options.stainFit, '--stain-fit', STAIN_FITS),
    stainTarget,
    filter: options.filter,
    concurrency: positiveInteger(options.concurrency, '--concurrency', Math.max(1, availableParallelism())),
    bandPixels: positiveInteger(options.bandPixels, 'bandPixels', 1 << 24),
  };
}
