import sharp from 'sharp';
import type { OverlayOptions, Sharp } from 'sharp';
import { UserError } from '../errors.ts';

/**
 * The one file that talks to sharp (libvips) for reading and writing pixels. Every image leaves it
 * as 8-bit RGB: gray is expanded, alpha is flattened onto white (transparent counts as background),
 * CMYK and 16-bit are converted, EXIF orientation is applied. Failures become UserErrors whose
 * message is the reason recorded in rejected.csv.
 */

/** What the tiler needs to know about an image before reading its pixels. */
export interface ImageInfo {
  format: string;
  /** TIFF page read: the largest one (level 0 of a pyramid or an Aperio .svs). */
  page: number;
  /** Size after EXIF orientation, before scaling. */
  width: number;
  height: number;
  hasAlpha: boolean;
}

const FORMATS = new Set(['tiff', 'png', 'jpeg', 'webp']);
/**
 * libvips refuses truncated files but tolerates harmless warnings (unknown TIFF tags); sequential
 * reading lets a band of a PNG or JPEG be decoded without holding the rest of the image.
 */
const READ = { failOn: 'truncated', limitInputPixels: false, sequentialRead: true } as const;
/** Largest number of TIFF pages looked at when searching for the largest level. */
const MAX_PAGES = 32;

const FORMAT_NAMES: Record<string, string> = { tiff: 'TIFF', png: 'PNG', jpeg: 'JPEG', webp: 'WebP' };

/**
 * The rejection reason for a libvips failure. libvips's own message is left out: it is not stable
 * (under concurrency it can come back as "Unknown error"), and rejected.csv must be reproducible.
 */
function reason(err: unknown, format: string | undefined): string {
  const message = String((err as Error)?.message ?? err);
  if (/unsupported image format/i.test(message)) return 'not an image: unrecognised format or corrupt header';
  if (format === undefined) return 'corrupt image: its header could not be read';
  return `corrupt or truncated ${FORMAT_NAMES[format] ?? format} image: its pixels could not be decoded`;
}

/** Run sharp work, turning its failures into a UserError with the reason (format: known once the header was read). */
async function sharpCall<T>(work: () => Promise<T>, format?: string): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError(reason(err, format));
  }
}

/** Read an image's header (no pixels) and pick the page to tile. */
export function probeImage(path: string, bytes: number): Promise<ImageInfo> {
  if (bytes === 0) return Promise.reject(new UserError('empty file (0 bytes)'));
  return sharpCall(async () => {
    const meta = await sharp(path, READ).metadata();
    if (!FORMATS.has(meta.format)) throw new UserError(`unsupported format ${meta.format} (expected TIFF, PNG, JPEG or WebP)`);
    let page = 0;
    let best = meta;
    for (let p = 1; meta.format === 'tiff' && p < Math.min(meta.pages ?? 1, MAX_PAGES); p++) {
      const other = await sharp(path, { ...READ, page: p }).metadata();
      if (other.width * other.height > best.width * best.height) [page, best] = [p, other];
    }
    return {
      format: meta.format,
      page,
      width: best.autoOrient?.width ?? best.width,
      height: best.autoOrient?.height ?? best.height,
      hasAlpha: best.hasAlpha,
    };
  });
}

/** The image's size after downscaling by `scale`. */
export function scaledSize(info: ImageInfo, scale: number): { width: number; height: number } {
  if (scale === 1) return { width: info.width, height: info.height };
  return { width: Math.max(1, Math.round(info.width / scale)), height: Math.max(1, Math.round(info.height / scale)) };
}

function pipeline(path: string, info: ImageInfo, scale: number): Sharp {
  let image = sharp(path, { ...READ, page: info.page }).autoOrient();
  if (scale !== 1) {
    const size = scaledSize(info, scale);
    image = image.resize(size.width, size.height, { fit: 'fill' });
  }
  return image;
}

async function toRgb(image: Sharp, info: ImageInfo, width: number, height: number): Promise<Buffer> {
  if (info.hasAlpha) image = image.flatten({ background: '#ffffff' });
  const { data, info: out } = await image.toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  if (out.channels !== 3 || out.width !== width || out.height !== height) {
    throw new UserError(`decoded to ${out.width}x${out.height} with ${out.channels} channels, expected ${width}x${height} RGB`);
  }
  return data;
}

/**
 * Decode rows [top, top + rows) of the (scaled) image as packed 8-bit RGB. libvips reads only what
 * the band needs from tiled TIFFs, so a slide never has to fit in memory whole.
 */
export function readBand(path: string, info: ImageInfo, scale: number, top: number, rows: number): Promise<Buffer> {
  const { width } = scaledSize(info, scale);
  return sharpCall(() => toRgb(pipeline(path, info, scale).extract({ left: 0, top, width, height: rows }), info, width, rows), info.format);
}

/** The whole image shrunk to `width` x `height`, as 8-bit RGB (for contact sheets). */
export function readThumbnail(path: string, info: ImageInfo, width: number, height: number): Promise<Buffer> {
  return sharpCall(() => toRgb(sharp(path, { ...READ, page: info.page }).autoOrient().resize(width, height, { fit: 'fill' }), info, width, height), info.format);
}

/** Lossless PNG of packed 8-bit RGB pixels (adaptive filtering: about a fifth smaller, a little slower). */
export function encodePng(rgb: Uint8Array, width: number, height: number): Promise<Buffer> {
  return sharp(rgb, { raw: { width, height, channels: 3 } }).png({ compressionLevel: 6, adaptiveFiltering: true }).toBuffer();
}

/** Paste RGB panels and SVG overlays onto a background and encode the result as PNG. */
export function composePng(
  width: number,
  height: number,
  layers: { input: Uint8Array; raw?: { width: number; height: number }; left: number; top: number }[],
): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: '#303030' } })
    .composite(layers.map((l): OverlayOptions => ({
      input: Buffer.from(l.input.buffer, l.input.byteOffset, l.input.byteLength),
      left: l.left,
      top: l.top,
      ...(l.raw ? { raw: { width: l.raw.width, height: l.raw.height, channels: 3 as const } } : {}),
    })))
    .removeAlpha()
    .png()
    .toBuffer();
}

/** The libvips and sharp versions, for benchmark records. */
export function imageLibraryVersions(): { sharp: string; vips: string } {
  const v = sharp.versions as unknown as Record<string, string>;
  return { sharp: v['sharp'] ?? 'unknown', vips: v['vips'] ?? 'unknown' };
}
