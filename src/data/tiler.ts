import { encodePng, readBand, readThumbnail } from './image.ts';
import type { ImageInfo } from './image.ts';
import type { ReadPlan } from './resolution.ts';
import { applyStain, fitStain } from './stain.ts';
import type { StainFit, StainMethod } from './stain.ts';
import { maskCover, tissueMask } from './tissue.ts';
import type { Mask } from './tissue.ts';
import { cropTile, gridPositions, whiteFraction } from './white.ts';

export { gridPositions } from './white.ts';

/** How one image is cut (the resolved tile options). */
export interface GridSettings {
  tile: number;
  stride: number;
  whiteThreshold: number;
  maxWhite: number;
  /** Whether tiles are dropped by the tissue rule at all. */
  filter: boolean;
  /** The tissue rule: `white` drops tiles with more background than `maxWhite`, `otsu` keeps tiles whose mask cover is at least `minTissue`. */
  tissue: 'white' | 'otsu';
  minTissue: number;
  /** Stain normalisation, or null for none. */
  stain: StainSettings | null;
  /** Largest band decoded at once, in pixels; taller images are read band by band. */
  bandPixels: number;
}

export interface StainSettings {
  method: StainMethod;
  /** `tile`: each tile fitted on its own; `slide`: the image fitted once on its kept tiles. */
  fit: 'tile' | 'slide';
  target: StainFit;
}

/** One grid position of an image: its origin in level-0 pixels, its background and tissue shares, and whether it was kept. */
export interface TileRecord {
  x: number;
  y: number;
  white: number;
  /** The tissue mask's cover (the otsu rule only). */
  tissue?: number;
  kept: boolean;
}

/** What cutting one image gave: its grid, and what the tissue and stain steps found. */
export interface TiledImage {
  tiles: TileRecord[];
  /** Otsu's saturation threshold of this image (the otsu rule only). */
  threshold?: number;
  /** Tiles (tile fit) or 1 for the image (slide fit) left unchanged for too few stained pixels. */
  unstained?: number;
}

/** Per image: the tissue rule's smallest region, in tiled pixels² (from µm² where the resolution is known). */
export interface SourceSettings {
  minAreaPixels: number;
}


/** How many tile rows go into one decoded band, so a band stays within `bandPixels`. */
export function rowsPerBand(width: number, settings: Pick<GridSettings, 'bandPixels' | 'tile' | 'stride'>): number {
  const bandRows = Math.floor(settings.bandPixels / Math.max(1, width));
  return Math.max(1, Math.floor((bandRows - settings.tile) / settings.stride) + 1);
}

/** Round a fraction for the manifest (4 decimals: finer than one pixel of a 150 px tile is not needed). */
const round4 = (v: number): number => Math.round(v * 10000) / 10000;

/** Encode at most this many tiles of one image at a time (sharp runs them on libuv's worker threads). */
const ENCODE_AHEAD = 4;

/** Thumbnail pixels per tile side for the tissue mask, and the longest thumbnail side. */
export const MASK_PIXELS_PER_TILE = 8;
export const MASK_MAX_SIDE = 4096;
/** Radius of the mask's closing and opening, in tiles (an eighth: one thumbnail pixel at full thumbnail size). */
export const MASK_RADIUS_TILES: number = 1 / 8;
/** Pixels a slide fit samples at most, spread evenly over the kept tiles. */
export const STAIN_SAMPLE_PIXELS: number = 1 << 21;

/** The thumbnail the tissue mask is made on: tiled pixels per thumbnail pixel, and its size. */
export function maskGeometry(plan: Pick<ReadPlan, 'width' | 'height'>, tile: number): { down: number; width: number; height: number } {
  const down = Math.max(1, tile / MASK_PIXELS_PER_TILE, Math.max(plan.width, plan.height) / MASK_MAX_SIDE);
  return { down, width: Math.max(1, Math.round(plan.width / down)), height: Math.max(1, Math.round(plan.height / down)) };
}

/** The tissue mask of an image read by `plan`, and Otsu's threshold on it. */
export async function imageTissueMask(path: string, info: ImageInfo, plan: ReadPlan, tile: number, source: SourceSettings): Promise<{ mask: Mask; threshold: number; down: number }> {
  const g = maskGeometry(plan, tile);
  const rgb = await readThumbnail(path, info, g.width, g.height);
  const { mask, threshold } = tissueMask(rgb, g.width, g.height, {
    radius: Math.max(1, Math.round((tile * MASK_RADIUS_TILES) / g.down)),
    minPixels: Math.ceil(source.minAreaPixels / (g.down * g.down)),
  });
  return { mask, threshold, down: g.down };
}

/** The image's bands of tile rows, each decoded while the one before is in use (two in memory at most). */
async function* bands(path: string, info: ImageInfo, plan: ReadPlan, settings: GridSettings): AsyncGenerator<{ band: Buffer; top: number; rows: number[] }> {
  const { tile, stride } = settings;
  const ys = gridPositions(plan.height, tile, stride);
  const perBand = rowsPerBand(plan.width, settings);
  const starts = Array.from({ length: Math.ceil(ys.length / perBand) }, (_, i) => i * perBand);
  const read = (first: number): { rows: number[]; band: Promise<Buffer> } => {
    const rows = ys.slice(first, first + perBand);
    const band = readBand(path, info, plan, rows[0]!, rows.at(-1)! + tile - rows[0]!);
    band.catch(() => undefined); // awaited below; until then a failure must not count as unhandled
    return { rows, band };
  };
  let next = starts.length > 0 ? read(starts[0]!) : null;
  for (let i = 0; next; i++) {
    const current = next;
    next = i + 1 < starts.length ? read(starts[i + 1]!) : null;
    yield { band: await current.band, top: current.rows[0]!, rows: current.rows };
  }
}

/** Every grid position's pixels, band by band, in row-major order (positions in tiled pixels). */
async function* gridTiles(path: string, info: ImageInfo, plan: ReadPlan, settings: GridSettings): AsyncGenerator<{ x: number; y: number; rgb: Buffer }> {
  const xs = gridPositions(plan.width, settings.tile, settings.stride);
  for await (const { band, top, rows } of bands(path, info, plan, settings)) {
    for (const y of rows) {
      for (const x of xs) {
        const crop = cropTile(band, plan.width, x, y - top, settings.tile);
        yield { x, y, rgb: Buffer.from(crop.buffer, crop.byteOffset, crop.byteLength) };
      }
    }
  }
}

/** A kept tile: its record (origin in level-0 pixels) and its pixels, stain-normalised where asked. */
export interface CutTile {
  record: TileRecord;
  rgb: Uint8Array;
}

/**
 * Cut one image into tiles as `plan` reads it: decide each grid position by the tissue rule,
 * normalise the stain of the kept tiles, and yield each kept tile in row-major order; `result`
 * gathers every grid position's record and what the tissue and stain steps found. A slide fit needs
 * its kept tiles before any tile is yielded, so that case decodes the image twice: once to choose
 * and sample the tiles, once to normalise them.
 */
export async function* cutImage(path: string, info: ImageInfo, plan: ReadPlan, settings: GridSettings, source: SourceSettings, result: TiledImage): AsyncGenerator<CutTile> {
  const { tile } = settings;
  const origin = (x: number, y: number): [number, number] => [Math.round(x * plan.factorX), Math.round(y * plan.factorY)];
  let mask: { mask: Mask; down: number } | null = null;
  if (settings.filter && settings.tissue === 'otsu') {
    const m = await imageTissueMask(path, info, plan, tile, source);
    mask = m;
    result.threshold = m.threshold;
  }
  const decide = (x: number, y: number, rgb: Buffer): TileRecord => {
    const [x0, y0] = origin(x, y);
    const white = round4(whiteFraction(rgb, settings.whiteThreshold));
    if (!mask) return { x: x0, y: y0, white, kept: !settings.filter || white <= settings.maxWhite };
    const tissue = round4(maskCover(mask.mask, x / mask.down, y / mask.down, tile / mask.down, tile / mask.down));
    return { x: x0, y: y0, white, tissue, kept: tissue >= settings.minTissue };
  };
  const stain = settings.stain;
  if (stain) result.unstained = 0;

  if (stain?.fit !== 'slide') {
    for await (const { x, y, rgb } of gridTiles(path, info, plan, settings)) {
      const record = decide(x, y, rgb);
      result.tiles.push(record);
      if (!record.kept) continue;
      let pixels: Uint8Array = rgb;
      if (stain) {
        const fit = fitStain(stain.method, rgb);
        if (fit) pixels = applyStain(rgb, fit, stain.target);
        else result.unstained!++;
      }
      yield { record, rgb: pixels };
    }
    return;
  }
  // Pass 1: the grid's decisions and an even sample of the kept tiles' pixels.
  const grid = gridPositions(plan.width, tile, settings.stride).length * gridPositions(plan.height, tile, settings.stride).length;
  const every = Math.max(1, Math.ceil((grid * tile * tile) / STAIN_SAMPLE_PIXELS));
  const sample = new Uint8Array((Math.ceil((grid * tile * tile) / every) + 1) * 3);
  let sampled = 0;
  let counter = 0;
  for await (const { x, y, rgb } of gridTiles(path, info, plan, settings)) {
    const record = decide(x, y, rgb);
    result.tiles.push(record);
    if (!record.kept) continue;
    for (let p = 0; p < rgb.length; p += 3, counter++) {
      if (counter % every !== 0) continue;
      sample.set(rgb.subarray(p, p + 3), sampled);
      sampled += 3;
    }
  }
  const fit = sampled > 0 ? fitStain(stain.method, sample.subarray(0, sampled)) : null;
  if (sampled > 0 && !fit) result.unstained = 1;
  // Pass 2: the kept tiles, normalised with the one fit.
  const kept = new Map(result.tiles.filter((t) => t.kept).map((t) => [`${t.x},${t.y}`, t]));
  if (kept.size === 0) return;
  for await (const { x, y, rgb } of gridTiles(path, info, plan, settings)) {
    const [x0, y0] = origin(x, y);
    const record = kept.get(`${x0},${y0}`);
    if (record) yield { record, rgb: fit ? applyStain(rgb, fit, stain.target) : rgb };
  }
}

/** Cut one image (cutImage) and hand each kept tile's PNG to `write` with its origin in level-0 pixels. */
export async function tileImage(
  path: string,
  info: ImageInfo,
  plan: ReadPlan,
  settings: GridSettings,
  source: SourceSettings,
  write: (x: number, y: number, png: Buffer) => void,
): Promise<TiledImage> {
  const result: TiledImage = { tiles: [] };
  let pending: Promise<void>[] = [];
  for await (const { record, rgb } of cutImage(path, info, plan, settings, source, result)) {
    pending.push(encodePng(rgb, settings.tile, settings.tile).then((png) => write(record.x, record.y, png)));
    if (pending.length >= ENCODE_AHEAD) {
      await Promise.all(pending);
      pending = [];
    }
  }
  await Promise.all(pending);
  return result;
}
