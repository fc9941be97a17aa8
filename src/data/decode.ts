import sharp from 'sharp';
import type { OutputInfo } from 'sharp';
import { UserError } from '../errors.ts';

/**
 * Decoding one tile for training: the file becomes packed 8-bit RGB (row-major, R G B per pixel)
 * at the network's input size. It follows image.ts's reading rules (EXIF orientation applied, gray
 * expanded, alpha flattened onto white, CMYK and 16-bit converted to 8-bit sRGB), so a tile trains
 * on the pixels `tile` wrote. A tile of another size is resized to fill the input exactly (Lanczos-3,
 * the libvips default): tiles are square, so nothing is distorted in the common case.
 */

/** How tiles are resized when their size differs from the network input: recorded in run configs. */
export const RESIZE_METHOD = 'sharp fit=fill, kernel lanczos3';

/** Decode `path` into `out` (width * height * 3 bytes) as packed RGB, resizing when sizes differ. */
export async function decodeTileInto(path: string, width: number, height: number, out: Uint8Array): Promise<void> {
  if (out.length !== width * height * 3) throw new RangeError(`decodeTileInto: expected ${width * height * 3} bytes but received ${out.length}`);
  let data: Buffer;
  let info: OutputInfo;
  try {
    let image = sharp(path, { failOn: 'truncated', limitInputPixels: false }).autoOrient();
    const meta = await image.metadata();
    const size = { width: meta.autoOrient?.width ?? meta.width, height: meta.autoOrient?.height ?? meta.height };
    if (size.width !== width || size.height !== height) image = image.resize(width, height, { fit: 'fill' });
    if (meta.hasAlpha) image = image.flatten({ background: '#ffffff' });
    ({ data, info } = await image.toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true }));
  } catch (err) {
    throw new UserError(`${path}: cannot decode tile (${String((err as Error)?.message ?? err).split('\n')[0]})`);
  }
  if (info.channels !== 3 || info.width !== width || info.height !== height) {
    throw new UserError(`${path}: decoded to ${info.width}x${info.height} with ${info.channels} channels, expected ${width}x${height} RGB`);
  }
  out.set(data);
}

/**
 * A packed-RGB tile of `size` x `size` resized to `width` x `height` as `decodeTileInto` resizes a
 * tile file (the same libvips resize), so that a tile cut from a slide in memory reaches the
 * network exactly as the same tile written to a file and read back would. Unchanged when the sizes agree.
 */
export async function resizeTile(rgb: Uint8Array, size: number, width: number, height: number): Promise<Uint8Array> {
  if (size === width && size === height) return rgb;
  const input = Buffer.from(rgb.buffer, rgb.byteOffset, rgb.byteLength);
  const { data, info } = await sharp(input, { raw: { width: size, height: size, channels: 3 } })
    .resize(width, height, { fit: 'fill' })
    .toColourspace('srgb')
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 3 || info.width !== width || info.height !== height) throw new RangeError(`resizeTile: got ${info.width}x${info.height}x${info.channels}`);
  return data;
}

/** Decode `path` as packed RGB at `width` x `height`. */
export async function decodeTile(path: string, width: number, height: number): Promise<Uint8Array> {
  const out = new Uint8Array(width * height * 3);
  await decodeTileInto(path, width, height, out);
  return out;
}

/** Decode `path` as float32 CHW in [0, 1] (the layout of the network's `images` input). */
export async function decodeTileChw(path: string, width: number, height: number): Promise<Float32Array> {
  const rgb = await decodeTile(path, width, height);
  const plane = width * height;
  const out = new Float32Array(3 * plane);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) out[c * plane + p] = rgb[p * 3 + c]! / 255;
  }
  return out;
}
