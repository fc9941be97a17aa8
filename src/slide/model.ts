/**
 * What a model says about the tiles it was trained on (the metadata `export` writes): their size
 * and resolution, the rule that chose them and their stain normalisation. A slide is cut the same
 * way before the model sees it.
 */
import { readFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { UserError } from '../errors.ts';
import type { Preparation, StainRecord, TissueRule } from '../formats/preparation.ts';
import { readModelInfo } from '../infer/predict.ts';
import type { ModelInfo } from '../infer/predict.ts';
import { MACENKO_ALPHA, MACENKO_BETA, MACENKO_IO } from '../data/stain.ts';
import type { StainFit } from '../data/stain.ts';
import { MASK_MAX_SIDE, MASK_PIXELS_PER_TILE, MASK_RADIUS_TILES } from '../data/tiler.ts';
import { DARK, OTSU_MAX, OTSU_MIN } from '../data/tissue.ts';

export interface SlideModel {
  readonly path: string;
  /** The file name without `.onnx`: how outputs and messages name the model. */
  readonly label: string;
  readonly bytes: Uint8Array;
  readonly info: ModelInfo;
  readonly preparation: Preparation;
  /** What was assumed for metadata an older export did not write. */
  readonly notes: readonly string[];
}

/** The study's white rule, which every model exported before tissue rules were recorded was trained with (unless its tiles were ready-made). */
const ASSUMED_TISSUE: TissueRule = { method: 'white', whiteThreshold: 220, maxWhite: 0.5 };

function parse<T>(path: string, key: string, text: string): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new UserError(`${path}: metadata ${key} is not valid JSON`);
  }
}

/** The otsu rule as this version computes it; a model that records other parameters cannot be matched. */
function checkOtsu(path: string, rule: TissueRule): void {
  if (rule.method !== 'otsu') return;
  const ours = { darkBelow: DARK, thresholdBounds: [OTSU_MIN, OTSU_MAX], thumbnailPixelsPerTile: MASK_PIXELS_PER_TILE, thumbnailMaxSide: MASK_MAX_SIDE, radiusTiles: MASK_RADIUS_TILES };
  const theirs = { darkBelow: rule.darkBelow, thresholdBounds: rule.thresholdBounds, thumbnailPixelsPerTile: rule.thumbnailPixelsPerTile, thumbnailMaxSide: rule.thumbnailMaxSide, radiusTiles: rule.radiusTiles };
  if (JSON.stringify(ours) !== JSON.stringify(theirs)) {
    throw new UserError(`${path}: its tiles were chosen by a tissue mask with other parameters (${JSON.stringify(theirs)}) than this version makes (${JSON.stringify(ours)})`);
  }
}

function readBytes(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new UserError(`${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}

/** The side of the tiles a model was trained on: its recorded tile size, else its input's height. */
export function tileSizeOf(path: string): number {
  const info = readModelInfo(readBytes(path), path);
  const tile = Number(info.metadata['source_tile_size']);
  return Number.isInteger(tile) && tile > 0 ? tile : info.input[1];
}

/** Read a model and the preparation of its tiles; a model without a tile size cannot cut slides. */
export function readSlideModel(path: string): SlideModel {
  const bytes = readBytes(path);
  const info = readModelInfo(bytes, path);
  const m = info.metadata;
  const tile = Number(m['source_tile_size']);
  if (!Number.isInteger(tile) || tile < 1) {
    throw new UserError(`${path}: no tile size in its metadata (source_tile_size), so it cannot cut a slide; use a model made by senet-ort export, or classify the image whole with --as tile`);
  }
  const notes: string[] = [];
  let mpp: number | null = null;
  if (m['tile_mpp'] === undefined) notes.push('no tile_mpp recorded: tiles cut at each slide\'s own resolution');
  else if (m['tile_mpp'] !== 'none') {
    mpp = Number(m['tile_mpp']);
    if (!(mpp > 0)) throw new UserError(`${path}: metadata tile_mpp is ${JSON.stringify(m['tile_mpp'])}, not a resolution in µm per pixel`);
  }
  let tissue: TissueRule = ASSUMED_TISSUE;
  if (m['tissue_detection'] === undefined) notes.push('no tissue_detection recorded: the white rule (--white-threshold 220, --max-white 0.5) assumed');
  else tissue = parse<TissueRule>(path, 'tissue_detection', m['tissue_detection']);
  checkOtsu(path, tissue);
  const stain: StainRecord = m['stain_normalization'] === undefined ? { method: 'none' } : parse<StainRecord>(path, 'stain_normalization', m['stain_normalization']);
  if (stain.method === 'macenko' && (stain.io !== MACENKO_IO || stain.alpha !== MACENKO_ALPHA || stain.beta !== MACENKO_BETA)) {
    throw new UserError(`${path}: its tiles were normalised by Macenko with Io ${stain.io}, alpha ${stain.alpha}, beta ${stain.beta}; this version uses ${MACENKO_IO}, ${MACENKO_ALPHA}, ${MACENKO_BETA}`);
  }
  return { path, label: basename(path, extname(path)), bytes, info, preparation: { mpp, tile, tissue, stain }, notes };
}

/** The stain a model's tiles were normalised towards, as the normaliser takes it; null for none. */
export function stainTarget(stain: StainRecord): StainFit | null {
  if (stain.method === 'macenko') {
    const s = stain.stains;
    return { method: 'macenko', stains: [[s[0]![0]!, s[0]![1]!], [s[1]![0]!, s[1]![1]!], [s[2]![0]!, s[2]![1]!]], maxConcentrations: [stain.maxConcentrations[0]!, stain.maxConcentrations[1]!] };
  }
  if (stain.method === 'reinhard') return { method: 'reinhard', mean: [stain.mean[0]!, stain.mean[1]!, stain.mean[2]!], std: [stain.std[0]!, stain.std[1]!, stain.std[2]!] };
  return null;
}

/** Why two models cannot be compared tile by tile (other tiles, other classes), or null when they can. */
export function incomparable(a: SlideModel, b: SlideModel): string | null {
  if (JSON.stringify(a.preparation) !== JSON.stringify(b.preparation)) {
    return `${b.path} was trained on tiles prepared otherwise than ${a.path}'s (${JSON.stringify(b.preparation)} against ${JSON.stringify(a.preparation)}); --compare needs the same tile size, resolution, tissue rule and stain normalisation`;
  }
  if (JSON.stringify(a.info.classNames) !== JSON.stringify(b.info.classNames)) {
    return `${b.path} has the classes ${b.info.classNames.join(', ')}, ${a.path} ${a.info.classNames.join(', ')}; --compare needs the same classes`;
  }
  return null;
}
