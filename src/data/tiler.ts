import { encodePng, readBand, scaledSize } from './image.ts';
import type { ImageInfo } from './image.ts';
import { cropTile, whiteFraction } from './white.ts';

/** How one image is cut (the resolved tile options). */
export interface GridSettings {
  tile: number;
  stride: number;
  scale: number;
  whiteThreshold: number;
  maxWhite: number;
  /** Whether tiles with more background than `maxWhite` are dropped. */
  filter: boolean;
  /** Largest band decoded at once, in pixels; taller images are read band by band. */
  bandPixels: number;
}

/** One grid position of an image: its origin, its background fraction, and whether it was kept. */
export interface TileRecord {
  x: number;
  y: number;
  white: number;
  kept: boolean;
}

/** Origins of the full tiles along one axis: 0, stride, 2·stride… while the tile still fits (partial edge tiles are dropped). */
export function gridPositions(length: number, tile: number, stride: number): number[] {
  const out: number[] = [];
  for (let p = 0; p + tile <= length; p += stride) out.push(p);
  return out;
}

/** How many tile rows go into one decoded band, so a band stays within `bandPixels`. */
export function rowsPerBand(width: number, settings: GridSettings): number {
  const bandRows = Math.floor(settings.bandPixels / Math.max(1, width));
  return Math.max(1, Math.floor((bandRows - settings.tile) / settings.stride) + 1);
}

/** Round a background fraction for the manifest (4 decimals: finer than one pixel of a 150 px tile is not needed). */
const round4 = (v: number): number => Math.round(v * 10000) / 10000;

/** Encode at most this many tiles of one image at a time (sharp runs them on libuv's worker threads). */
const ENCODE_AHEAD = 4;

/**
 * Cut one image into tiles: decode it in horizontal bands, crop each grid position, measure its
 * background, and hand every kept tile's PNG to `write`. Returns every grid position (kept or
 * dropped) in row-major order.
 */
export async function tileImage(
  path: string,
  info: ImageInfo,
  settings: GridSettings,
  write: (x: number, y: number, png: Buffer) => void,
): Promise<TileRecord[]> {
  const { width, height } = scaledSize(info, settings.scale);
  const { tile, stride } = settings;
  const xs = gridPositions(width, tile, stride);
  const ys = gridPositions(height, tile, stride);
  const perBand = rowsPerBand(width, settings);
  const records: TileRecord[] = [];
  for (let first = 0; first < ys.length; first += perBand) {
    const rowsHere = ys.slice(first, first + perBand);
    const top = rowsHere[0]!;
    const band = await readBand(path, info, settings.scale, top, rowsHere.at(-1)! + tile - top);
    let pending: Promise<void>[] = [];
    for (const y of rowsHere) {
      for (const x of xs) {
        const rgb = cropTile(band, width, x, y - top, tile);
        const white = round4(whiteFraction(rgb, settings.whiteThreshold));
        const kept = !settings.filter || white <= settings.maxWhite;
        records.push({ x, y, white, kept });
        if (!kept) continue;
        pending.push(encodePng(rgb, tile, tile).then((png) => write(x, y, png)));
        if (pending.length >= ENCODE_AHEAD) {
          await Promise.all(pending);
          pending = [];
        }
      }
    }
    await Promise.all(pending);
  }
  return records;
}
