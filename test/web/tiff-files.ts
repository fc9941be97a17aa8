// TIFF files for the browser app's TIFF tests: written by sharp (libvips, as published tile sets are
// written by libtiff), and by hand where sharp writes no such file (big-endian, WhiteIsZero, a
// palette, associated alpha, separate planes, CMYK, a looping directory chain).
import sharp from 'sharp';
import { synthetic, tissue } from '../data/fixtures.ts';

/** One image of a hand-written TIFF: its samples (8- or 16-bit, interleaved) in one uncompressed strip, and its other tags. */
export interface RawImage {
  readonly width: number;
  readonly height: number;
  readonly samplesPerPixel: number;
  readonly bits: 8 | 16;
  readonly samples: ArrayLike<number>;
  /** Tag number to SHORT values, or an ASCII string; PhotometricInterpretation (262) is up to the caller. */
  readonly tags: Readonly<Record<number, readonly number[] | string>>;
}

const LONG_TAGS = new Set([256, 257, 273, 278, 279]);

/**
 * A classic TIFF holding `images` in its top-level chain, little-endian unless `bigEndian`: the
 * directories first and the pixels last (as some writers do), so that cutting the file short cuts
 * its pixels.
 */
export function writeTiff(images: readonly RawImage[], bigEndian = false): Buffer {
  const chunks: Buffer[] = [];
  let size = 8;
  const put = (b: Buffer): number => {
    const at = size;
    chunks.push(b);
    size += b.length;
    if (size % 2) put(Buffer.alloc(1));
    return at;
  };
  const u16 = (b: Buffer, v: number, at: number): number => (bigEndian ? b.writeUInt16BE(v, at) : b.writeUInt16LE(v, at));
  const u32 = (b: Buffer, v: number, at: number): number => (bigEndian ? b.writeUInt32BE(v, at) : b.writeUInt32LE(v, at));
  const directories: { at: number; entries: number; stripOffsetAt: number; strip: Buffer }[] = [];
  for (const image of images) {
    const strip = Buffer.alloc(image.samples.length * (image.bits / 8));
    for (let i = 0; i < image.samples.length; i++) (image.bits === 8 ? strip.writeUInt8(image.samples[i]!, i) : u16(strip, image.samples[i]!, 2 * i));
    const tags: Record<number, readonly number[] | string> = {
      256: [image.width], 257: [image.height], 258: Array(image.samplesPerPixel).fill(image.bits), 273: [0],
      277: [image.samplesPerPixel], 278: [image.height], 279: [strip.length], ...image.tags,
    };
    const numbers = Object.keys(tags).map(Number).sort((a, b) => a - b);
    const values = numbers.map((tag) => {
      const v = tags[tag]!;
      if (typeof v === 'string') return { tag, type: 2, count: v.length + 1, bytes: Buffer.from(`${v}\0`, 'latin1') };
      const wide = LONG_TAGS.has(tag);
      const bytes = Buffer.alloc(v.length * (wide ? 4 : 2));
      v.forEach((x, i) => (wide ? u32(bytes, x, 4 * i) : u16(bytes, x, 2 * i)));
      return { tag, type: wide ? 4 : 3, count: v.length, bytes };
    });
    const outOfLine = values.map((v) => (v.bytes.length > 4 ? put(v.bytes) : -1));
    const block = Buffer.alloc(2 + 12 * values.length + 4);
    u16(block, values.length, 0);
    values.forEach((v, i) => {
      const e = 2 + 12 * i;
      u16(block, v.tag, e);
      u16(block, v.type, e + 2);
      u32(block, v.count, e + 4);
      if (outOfLine[i]! >= 0) u32(block, outOfLine[i]!, e + 8);
      else v.bytes.copy(block, e + 8);
    });
    const at = put(block);
    directories.push({ at, entries: values.length, stripOffsetAt: at + 2 + 12 * numbers.indexOf(273) + 8, strip });
  }
  const strips = directories.map((d) => put(d.strip));
  const file = Buffer.concat([Buffer.alloc(8), ...chunks]);
  file.write(bigEndian ? 'MM' : 'II', 0, 'latin1');
  u16(file, 42, 2);
  u32(file, directories[0]!.at, 4);
  directories.forEach((d, i) => {
    u32(file, directories[i + 1]?.at ?? 0, d.at + 2 + 12 * d.entries);
    u32(file, strips[i]!, d.stripOffsetAt);
  });
  return file;
}

/** Samples `width * height * channels` long from a seeded generator (every value of the depth turns up). */
export function noise(length: number, max: number, seed = 1): number[] {
  let s = seed;
  return Array.from({ length }, () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return (s >>> 8) % (max + 1);
  });
}

/**
 * The synthetic tiles the tests decode in Node and in the page, by file name: tissue-like RGB with
 * no compression, LZW, Deflate and PackBits, and a 16-bit and a gray one, 48 px each.
 */
export async function sharpTiffs(): Promise<Record<string, Buffer>> {
  const tile = (dx: number): ReturnType<typeof synthetic> => synthetic(48, 48, (x, y) => tissue(x + dx, y + 2 * dx));
  return {
    'none.tif': await tile(1).tiff({ compression: 'none' }).toBuffer(),
    'lzw.tif': await tile(2).tiff({ compression: 'lzw' }).toBuffer(),
    'deflate.tif': await tile(3).tiff({ compression: 'deflate' }).toBuffer(),
    'packbits.tif': await tile(4).tiff({ compression: 'packbits' }).toBuffer(),
    // 16-bit: the tissue's 8-bit values spread over the 16-bit range, with low bytes that the CLI drops.
    '16-bit.tif': await sharp(Uint16Array.from(noise(48 * 48 * 3, 65535, 7)), { raw: { width: 48, height: 48, channels: 3 } }).toColourspace('rgb16').tiff({ compression: 'lzw' }).toBuffer(),
    'gray.tif': await tile(5).toColourspace('b-w').tiff({ compression: 'deflate' }).toBuffer(),
  };
}
