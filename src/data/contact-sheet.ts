import { composePng, readThumbnail, resizeRgba } from './image.ts';
import type { ImageInfo } from './image.ts';
import type { TileRecord } from './tiler.ts';
import type { Mask } from './tissue.ts';

/** One source image as the contact sheet shows it. */
export interface SheetSource {
  path: string;
  info: ImageInfo;
  /** Size of the image the tile origins refer to (level 0). */
  width: number;
  height: number;
  /** A tile's size in those pixels. */
  tileWidth: number;
  tileHeight: number;
  tiles: readonly TileRecord[];
  /** The tissue mask (the otsu rule), drawn as a blue tint over what it calls background. */
  mask?: Mask;
}

export interface SheetOptions {
  /** Pixels per tile on the sheet (default 40; less for images that would exceed 4096 px). */
  cell?: number;
  /** Row width at which panels wrap (default 2400, or the widest panel). */
  maxWidth?: number;
}

const GAP = 8;
/** Longest side of one panel: a whole slide is shrunk further so the sheet stays viewable. */
const MAX_PANEL = 4096;

function overlay(source: SheetSource, factor: number, width: number, height: number): Buffer {
  const w = source.tileWidth * factor;
  const h = source.tileHeight * factor;
  const rects = source.tiles.map((t) => {
    const at = `x="${(t.x * factor + 1).toFixed(1)}" y="${(t.y * factor + 1).toFixed(1)}" width="${(w - 2).toFixed(1)}" height="${(h - 2).toFixed(1)}"`;
    return t.kept
      ? `<rect ${at} fill="none" stroke="#00d000" stroke-width="2"/>`
      : `<rect ${at} fill="#ff0000" fill-opacity="0.35" stroke="#ff0000" stroke-width="1"/>`;
  });
  return Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${rects.join('')}</svg>`);
}

/** The mask's background as a translucent blue layer of the panel's size (RGBA). */
async function maskLayer(mask: Mask, width: number, height: number): Promise<{ input: Uint8Array; raw: { width: number; height: number; channels: 4 } }> {
  const rgba = new Uint8Array(mask.width * mask.height * 4);
  for (let p = 0; p < mask.data.length; p++) {
    if (mask.data[p]) continue;
    rgba.set([40, 90, 255, 110], p * 4);
  }
  return { input: await resizeRgba(rgba, mask.width, mask.height, width, height), raw: { width, height, channels: 4 } };
}

/**
 * Draw each source shrunk so that one tile is `cell` pixels, with its grid on top: kept tiles
 * outlined green, dropped tiles shaded red, the untiled edge strips left bare, and under the otsu
 * rule the tissue mask's background tinted blue. Panels are laid out left to right in rows, in the
 * order given. Returns the PNG.
 */
export async function contactSheet(sources: readonly SheetSource[], options: SheetOptions = {}): Promise<Buffer> {
  const cell = options.cell ?? 40;
  const panels = sources.map((s) => {
    const factor = Math.min(cell / s.tileWidth, MAX_PANEL / Math.max(s.width, s.height));
    return { source: s, factor, width: Math.max(1, Math.round(s.width * factor)), height: Math.max(1, Math.round(s.height * factor)) };
  });
  const maxWidth = Math.max(options.maxWidth ?? 2400, ...panels.map((p) => p.width + 2 * GAP));
  const placed: { left: number; top: number }[] = [];
  let left = GAP;
  let top = GAP;
  let rowHeight = 0;
  for (const p of panels) {
    if (left > GAP && left + p.width + GAP > maxWidth) {
      left = GAP;
      top += rowHeight + GAP;
      rowHeight = 0;
    }
    placed.push({ left, top });
    left += p.width + GAP;
    rowHeight = Math.max(rowHeight, p.height);
  }
  const width = Math.max(...placed.map((at, i) => at.left + panels[i]!.width), 1) + GAP;
  const height = top + rowHeight + GAP;
  const layers = [];
  for (const [i, p] of panels.entries()) {
    const rgb = await readThumbnail(p.source.path, p.source.info, p.width, p.height);
    layers.push({ input: rgb, raw: { width: p.width, height: p.height, channels: 3 as const }, ...placed[i]! });
    if (p.source.mask) layers.push({ ...(await maskLayer(p.source.mask, p.width, p.height)), ...placed[i]! });
    layers.push({ input: overlay(p.source, p.factor, p.width, p.height), ...placed[i]! });
  }
  return composePng(width, height, layers);
}
