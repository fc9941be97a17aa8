/**
 * Decoding in the study worker. PNG, JPEG and WebP: the browser's own decoders, createImageBitmap
 * and an OffscreenCanvas, oriented as their EXIF says (as the CLI's sharp does), without colour
 * management (as the CLI reads PNG and JPEG without a profile), alpha flattened onto white (as the
 * CLI flattens it). TIFF, told by its header as the CLI tells it (not by the name: a slide's .svs
 * is one): utif2 and the CLI's reading rules, in ../tiff.ts. Tiles go back out as PNG.
 */
import { UserError } from '../../errors.ts';
import type { SourceImage } from '../tiles.ts';
import { isTiffHeader } from '../../formats/tiff-header.ts';
import { decodeTiff } from '../tiff.ts';

/** A chosen file decoded, or why it could not be. */
export async function decodeImage(source: string, blob: Blob): Promise<SourceImage> {
  if (isTiffHeader(new Uint8Array(await blob.slice(0, 4).arrayBuffer()))) {
    try {
      return { source, ...decodeTiff(await blob.arrayBuffer()) };
    } catch (err) {
      if (err instanceof UserError) return { source, error: err.message };
      throw err;
    }
  }
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none', imageOrientation: 'from-image' });
  } catch {
    return { source, error: 'not an image the browser can decode (PNG, JPEG or WebP)' };
  }
  const { width, height } = bitmap;
  const canvas = new OffscreenCanvas(width, height);
  const context = canvas.getContext('2d', { willReadFrequently: true })!;
  context.drawImage(bitmap, 0, 0);
  bitmap.close();
  const rgba = context.getImageData(0, 0, width, height).data;
  const rgb = new Uint8Array(width * height * 3);
  for (let p = 0, q = 0; p < rgba.length; p += 4, q += 3) {
    const a = rgba[p + 3]!;
    for (let c = 0; c < 3; c++) rgb[q + c] = a === 255 ? rgba[p + c]! : Math.round((rgba[p + c]! * a + 255 * (255 - a)) / 255);
  }
  return { source, width, height, rgb };
}

/** Packed RGB (size x size) as PNG bytes. */
export async function encodePng(rgb: Uint8Array, size: number): Promise<Uint8Array> {
  const canvas = new OffscreenCanvas(size, size);
  const context = canvas.getContext('2d')!;
  const image = context.createImageData(size, size);
  for (let p = 0, q = 0; q < rgb.length; p += 4, q += 3) {
    image.data[p] = rgb[q]!;
    image.data[p + 1] = rgb[q + 1]!;
    image.data[p + 2] = rgb[q + 2]!;
    image.data[p + 3] = 255;
  }
  context.putImageData(image, 0, 0);
  return new Uint8Array(await (await canvas.convertToBlob({ type: 'image/png' })).arrayBuffer());
}

/** SHA-256 as hex (the data set checksum). */
export async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}
