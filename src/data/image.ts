import sharp from 'sharp';
import type { OverlayOptions, Sharp } from 'sharp';
import { UserError } from '../errors.ts';
import { readTiffDirectories } from '../formats/tiff.ts';
import { planRead, pyramidLevels, tiffResolution } from './resolution.ts';
import type { ImageLevel, ReadPlan, Resolution } from './resolution.ts';

/**
 * The one file that talks to sharp (libvips) for reading and writing pixels. Every image leaves it
 * as 8-bit RGB: gray is expanded, alpha is flattened onto white (transparent counts as background),
 * CMYK and 16-bit are converted, EXIF orientation is applied. Failures become UserErrors whose
 * message is the reason recorded in rejected.csv.
 */

/** What the tiler needs to know about an image before reading its pixels. */
export interface ImageInfo {
  format: string;
  /** Size of the full-resolution image (level 0) after EXIF orientation. */
  width: number;
  height: number;
  hasAlpha: boolean;
  /** The images that can be decoded, finest first: a TIFF's pyramid levels, else the image alone. */
  levels: readonly ImageLevel[];
  /** Micrometres per level-0 pixel, where the file says (TIFF only), else null. */
  resolution: Resolution | null;
}

const FORMATS = new Set(['tiff', 'png', 'jpeg', 'webp']);
/**
 * libvips refuses truncated files but tolerates harmless warnings (unknown TIFF tags); sequential
 * reading lets a band of a PNG or JPEG be decoded without holding the rest of the image.
 */
const READ = { failOn: 'truncated', limitInputPixels: false, sequentialRead: true } as const;
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

/**
 * Read an image's header (no pixels): its size, and for a TIFF its pyramid levels and resolution
 * (read from the TIFF directories by the project's own reader: libvips does not expose them).
 */
export function probeImage(path: string, bytes: number): Promise<ImageInfo> {
  if (bytes === 0) return Promise.reject(new UserError('empty file (0 bytes)'));
  return sharpCall(async () => {
    const meta = await sharp(path, READ).metadata();
    if (!FORMATS.has(meta.format)) throw new UserError(`unsupported format ${meta.format} (expected TIFF, PNG, JPEG or WebP)`);
    const swap = (meta.orientation ?? 1) >= 5;
    const single: ImageLevel = { page: 0, subifd: null, width: swap ? meta.height : meta.width, height: swap ? meta.width : meta.height };
    if (meta.format !== 'tiff') return { format: meta.format, width: single.width, height: single.height, hasAlpha: meta.hasAlpha, levels: [single], resolution: null };
    const directories = readTiffDirectories(path);
    const levels = pyramidLevels(directories);
    const base = levels[0]!;
    const baseMeta = base.page === 0 && base.subifd === null ? meta : await sharp(path, { ...READ, page: base.page }).metadata();
    return { format: 'tiff', width: base.width, height: base.height, hasAlpha: baseMeta.hasAlpha, levels, resolution: tiffResolution(directories) };
  });
}

/** The plan that reads `info` at `scale` level-0 pixels per tiled pixel (1: as it is). */
export function planScale(info: ImageInfo, scale: number): ReadPlan {
  return planRead(info.levels, scale, scale);
}

/** A level of the image, oriented, resized to the plan's size where it differs. */
function pipeline(path: string, plan: ReadPlan): Sharp {
  const { page, subifd } = plan.level;
  let image = sharp(path, { ...READ, page, ...(subifd !== null ? { subifd } : {}) }).autoOrient();
  if (plan.width !== plan.level.width || plan.height !== plan.level.height) image = image.resize(plan.width, plan.height, { fit: 'fill' });
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
 * Decode rows [top, top + rows) of the image as the plan reads it, as packed 8-bit RGB. libvips
 * reads only what the band needs from tiled TIFFs, so a slide never has to fit in memory whole.
 */
export function readBand(path: string, info: ImageInfo, plan: ReadPlan, top: number, rows: number): Promise<Buffer> {
  return sharpCall(() => toRgb(pipeline(path, plan).extract({ left: 0, top, width: plan.width, height: rows }), info, plan.width, rows), info.format);
}

/** The whole image shrunk to `width` x `height` from its smallest level that is still large enough, as 8-bit RGB. */
export function readThumbnail(path: string, info: ImageInfo, width: number, height: number): Promise<Buffer> {
  const plan = planRead(info.levels, info.width / width, info.height / height);
  const { page, subifd } = plan.level;
  const image = sharp(path, { ...READ, page, ...(subifd !== null ? { subifd } : {}) }).autoOrient().resize(width, height, { fit: 'fill' });
  return sharpCall(() => toRgb(image, info, width, height), info.format);
}

/** Lossless PNG of packed 8-bit RGB pixels (adaptive filtering: about a fifth smaller, a little slower). */
export function encodePng(rgb: Uint8Array, width: number, height: number): Promise<Buffer> {
  return sharp(rgb, { raw: { width, height, channels: 3 } }).png({ compressionLevel: 6, adaptiveFiltering: true }).toBuffer();
}

/** JPEG of packed 8-bit RGB pixels: for pictures embedded in the report, where a lossless tile would weigh four times as much. */
export function encodeJpeg(rgb: Uint8Array, width: number, height: number, quality = 88): Promise<Buffer> {
  return sharp(rgb, { raw: { width, height, channels: 3 } }).jpeg({ quality, chromaSubsampling: '4:4:4' }).toBuffer();
}

/** Paste raw panels (RGB or RGBA) and SVG overlays onto a background and encode the result as PNG. */
export function composePng(
  width: number,
  height: number,
  layers: { input: Uint8Array; raw?: { width: number; height: number; channels: 3 | 4 }; left: number; top: number }[],
  background = '#303030',
): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background } })
    .composite(layers.map((l): OverlayOptions => ({
      input: Buffer.from(l.input.buffer, l.input.byteOffset, l.input.byteLength),
      left: l.left,
      top: l.top,
      ...(l.raw ? { raw: l.raw } : {}),
    })))
    .removeAlpha()
    .png()
    .toBuffer();
}

/**
 * A picture drawn in memory (packed RGB) with SVG text laid over it, as PNG. Compression level 3:
 * maps of a slide are big and mostly flat, and level 6 takes half as long again for a few percent.
 */
export function encodeCanvas(rgb: Uint8Array, width: number, height: number, svgs: { input: Uint8Array; left: number; top: number }[]): Promise<Buffer> {
  return sharp(Buffer.from(rgb.buffer, rgb.byteOffset, rgb.byteLength), { raw: { width, height, channels: 3 } })
    .composite(svgs.map((l) => ({ input: Buffer.from(l.input.buffer, l.input.byteOffset, l.input.byteLength), left: l.left, top: l.top })))
    .png({ compressionLevel: 3 })
    .toBuffer();
}

/** Resize raw RGBA pixels (nearest neighbour: masks keep their edges). */
export async function resizeRgba(rgba: Uint8Array, width: number, height: number, toWidth: number, toHeight: number): Promise<Uint8Array> {
  return sharp(rgba, { raw: { width, height, channels: 4 } }).resize(toWidth, toHeight, { fit: 'fill', kernel: 'nearest' }).raw().toBuffer();
}

/** The libvips and sharp versions, for benchmark records. */
export function imageLibraryVersions(): { sharp: string; vips: string } {
  const v = sharp.versions as unknown as Record<string, string>;
  return { sharp: v['sharp'] ?? 'unknown', vips: v['vips'] ?? 'unknown' };
}
