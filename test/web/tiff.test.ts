// The browser app's TIFF decoder against the CLI's (sharp, libvips) on the same files, byte for
// byte: every compression and layout it decodes, orientation, alpha (associated or not) and 16-bit
// samples over their whole range; and what it refuses, with its reasons.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import sharp from 'sharp';
import { decodeTile } from '../../src/data/decode.ts';
import { planScale, probeImage, readBand } from '../../src/data/image.ts';
import { CORRUPT_HEADER, CORRUPT_PIXELS, LOOPING, MAX_TIFF_PIXELS, NOT_AN_IMAGE, decodeTiff } from '../../src/web/tiff.ts';
import { isTiffHeader } from '../../src/formats/tiff-header.ts';
import type { DecodedTiff } from '../../src/web/tiff.ts';
import { synthetic, tempDir, tissue } from '../data/fixtures.ts';
import type { RawImage } from './tiff-files.ts';
import { noise, sharpTiffs, writeTiff } from './tiff-files.ts';

const buffer = (b: Buffer): ArrayBuffer => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;

/** The CLI's pixels of the file (as training decodes a tile: decode.ts), at its own size. */
async function cli(t: TestContext, bytes: Buffer): Promise<DecodedTiff> {
  const path = join(tempDir(t), 'image.tif');
  writeFileSync(path, bytes);
  const meta = await sharp(path).metadata();
  const [width, height] = [meta.autoOrient.width, meta.autoOrient.height];
  return { width, height, rgb: new Uint8Array(await decodeTile(path, width, height)) };
}

async function sameAsCli(t: TestContext, bytes: Buffer, what: string): Promise<void> {
  const want = await cli(t, bytes);
  const got = decodeTiff(buffer(bytes));
  assert.deepEqual([got.width, got.height], [want.width, want.height], what);
  const differ = got.rgb.findIndex((v, i) => v !== want.rgb[i]);
  assert.equal(differ, -1, `${what}: byte ${differ} is ${got.rgb[differ]}, the CLI's ${want.rgb[differ]}`);
}

const raw = (image: Partial<RawImage> & Pick<RawImage, 'samplesPerPixel' | 'tags'>): RawImage => {
  const width = image.width ?? 256;
  const height = image.height ?? 256;
  const bits = image.bits ?? 8;
  return { width, height, bits, samples: image.samples ?? noise(width * height * image.samplesPerPixel, bits === 8 ? 255 : 65535), ...image };
};

describe('decodeTiff', () => {
  it('decodes the synthetic tiles as the CLI does: no compression, LZW, Deflate, PackBits, 16-bit, gray', async (t) => {
    for (const [name, bytes] of Object.entries(await sharpTiffs())) await sameAsCli(t, bytes, name);
  });

  it('decodes tiled files, without the predictor too, and big-endian ones', async (t) => {
    const image = synthetic(70, 45, tissue);
    await sameAsCli(t, await image.clone().tiff({ compression: 'lzw', tile: true, tileWidth: 16, tileHeight: 32 }).toBuffer(), 'tiled LZW, edge tiles cut');
    await sameAsCli(t, await image.clone().tiff({ compression: 'deflate', predictor: 'none' }).toBuffer(), 'Deflate without the predictor');
    for (const bits of [8, 16] as const) {
      await sameAsCli(t, writeTiff([raw({ bits, samplesPerPixel: 3, tags: { 262: [2] } })], true), `big-endian ${bits}-bit RGB`);
    }
  });

  it('flattens alpha onto white as the CLI does, for every colour and alpha value, associated or not, 8- and 16-bit', async (t) => {
    const every = Array.from({ length: 256 * 256 }, (_, i) => [i & 255, 255 - (i & 255), (i & 255) ^ 0x55, i >> 8]).flat();
    await sameAsCli(t, await sharp(Buffer.from(every), { raw: { width: 256, height: 256, channels: 4 } }).tiff({ compression: 'none' }).toBuffer(), 'RGBA');
    await sameAsCli(t, writeTiff([raw({ samplesPerPixel: 4, samples: every, tags: { 262: [2], 338: [1] } })]), 'RGBA, associated alpha');
    const gray = Array.from({ length: 256 * 256 }, (_, i) => [i & 255, i >> 8]).flat();
    await sameAsCli(t, writeTiff([raw({ samplesPerPixel: 2, samples: gray, tags: { 262: [1], 338: [2] } })]), 'gray and alpha');
    await sameAsCli(t, writeTiff([raw({ samplesPerPixel: 2, samples: gray, tags: { 262: [1], 338: [1] } })]), 'gray and associated alpha');
    // 16-bit: random samples, a tenth of them opaque and a tenth transparent.
    const wide = noise(256 * 256 * 4, 65535, 3).map((v, i) => (i % 4 !== 3 ? v : i % 40 === 3 ? 65535 : i % 40 === 7 ? 0 : v));
    await sameAsCli(t, await sharp(Uint16Array.from(wide), { raw: { width: 256, height: 256, channels: 4 } }).toColourspace('rgb16').tiff({ compression: 'lzw' }).toBuffer(), '16-bit RGBA');
    await sameAsCli(t, writeTiff([raw({ bits: 16, samplesPerPixel: 4, samples: wide, tags: { 262: [2], 338: [1] } })]), '16-bit RGBA, associated alpha');
    await sameAsCli(t, writeTiff([raw({ bits: 16, samplesPerPixel: 2, samples: wide.slice(0, 256 * 256 * 2), tags: { 262: [1] } })]), '16-bit gray and alpha');
  });

  it('inverts WhiteIsZero and looks palettes up as the CLI does', async (t) => {
    await sameAsCli(t, writeTiff([raw({ samplesPerPixel: 1, tags: { 262: [0] } })]), 'WhiteIsZero');
    await sameAsCli(t, writeTiff([raw({ bits: 16, samplesPerPixel: 1, tags: { 262: [0] } })]), '16-bit WhiteIsZero');
    const map = noise(3 * 256, 65535, 5);
    await sameAsCli(t, writeTiff([raw({ samplesPerPixel: 1, tags: { 262: [3], 320: map } })]), 'palette of 16-bit entries');
    await sameAsCli(t, writeTiff([raw({ samplesPerPixel: 1, tags: { 262: [3], 320: map.map((v) => v >> 8) } })]), 'palette of 8-bit entries');
  });

  it('applies the Orientation tag as the CLI does (all eight)', async (t) => {
    for (let orientation = 1; orientation <= 8; orientation++) {
      // By hand: sharp's withMetadata would embed a colour profile, which the page refuses.
      const bytes = writeTiff([raw({ width: 30, height: 17, samplesPerPixel: 3, tags: { 262: [2], 274: [orientation] } })]);
      await sameAsCli(t, bytes, `orientation ${orientation}`);
      assert.deepEqual([decodeTiff(buffer(bytes)).width, orientation >= 5], [orientation >= 5 ? 17 : 30, orientation >= 5]);
    }
  });

  it('decodes the largest image of the file, as the CLI\'s tiler reads it', async (t) => {
    // A thumbnail first, the image second (as some scanners write them), and a pyramid of sharp's.
    const thumbnail = raw({ width: 20, height: 15, samplesPerPixel: 3, tags: { 262: [2], 254: [1] } });
    const image = raw({ width: 80, height: 60, samplesPerPixel: 3, tags: { 262: [2] } });
    const pyramid = await synthetic(300, 200, tissue).tiff({ compression: 'deflate', pyramid: true, tile: true, tileWidth: 64, tileHeight: 64 }).toBuffer();
    for (const [what, bytes] of [['thumbnail first', writeTiff([thumbnail, image])], ['pyramid', pyramid]] as const) {
      const path = join(tempDir(t), 'image.tif');
      writeFileSync(path, bytes);
      const info = await probeImage(path, bytes.length);
      const plan = planScale(info, 1);
      const want = new Uint8Array(await readBand(path, info, plan, 0, plan.height));
      const got = decodeTiff(buffer(bytes));
      assert.deepEqual([got.width, got.height], [plan.width, plan.height], what);
      assert.ok(got.rgb.every((v, i) => v === want[i]), what);
    }
  });

  it('refuses what it does not decode as the CLI would, saying so and that senet-ort study reads it', async () => {
    const image = synthetic(40, 40, tissue);
    const refusals: [string, Buffer, RegExp][] = [
      ['JPEG', await image.clone().tiff({ compression: 'jpeg' }).toBuffer(), /^JPEG-compressed TIFF: the browser app decodes uncompressed, PackBits, LZW and Deflate TIFF; senet-ort study reads it$/],
      ['WebP', await image.clone().tiff({ compression: 'webp' }).toBuffer(), /^WebP-compressed TIFF: .*; senet-ort study reads it$/],
      // sharp's libtiff reads no Zstandard either: no claim that the CLI does.
      ['Zstandard', writeTiff([raw({ samplesPerPixel: 3, tags: { 262: [2], 259: [50000] } })]), /^Zstandard-compressed TIFF: the browser app decodes uncompressed, PackBits, LZW and Deflate TIFF$/],
      ['BigTIFF', await image.clone().tiff({ compression: 'lzw', bigtiff: true }).toBuffer(), /^BigTIFF: the browser app reads classic TIFF only; senet-ort study reads it$/],
      ['ICC profile', await image.clone().withIccProfile('p3').tiff({ compression: 'lzw' }).toBuffer(), /^TIFF with an embedded ICC colour profile: the CLI converts its colours to sRGB with it, which the browser app does not; senet-ort study reads it$/],
      ['CMYK', writeTiff([raw({ samplesPerPixel: 4, tags: { 262: [5] } })]), /^CMYK TIFF: the CLI converts CMYK to RGB with an ICC profile, which the browser app does not; senet-ort study reads it$/],
      ['planes', writeTiff([raw({ samplesPerPixel: 3, tags: { 262: [2], 284: [2] } })]), /^TIFF with separate colour planes \(PlanarConfiguration 2\): .*; senet-ort study reads it$/],
      ['float', writeTiff([raw({ samplesPerPixel: 3, tags: { 262: [2], 339: [3, 3, 3] } })]), /^TIFF of RGB, floating-point samples, 3 per pixel: the browser app decodes 8- and 16-bit gray and RGB \(with or without alpha\) and 8-bit palette TIFF; senet-ort study reads it$/],
      ['extra samples', writeTiff([raw({ samplesPerPixel: 5, tags: { 262: [2] } })]), /^TIFF of RGB, 8\/8\/8\/8\/8-bit samples, 5 per pixel: /],
      ['YCbCr', writeTiff([raw({ samplesPerPixel: 3, tags: { 262: [6] } })]), /^TIFF of YCbCr, 8\/8\/8-bit samples, 3 per pixel: /],
      // A slide: its header says 9000 x 8000 px; nothing beyond the header is read.
      ['slide', writeTiff([raw({ width: 9000, height: 8000, samplesPerPixel: 3, samples: [], tags: { 262: [2] } })]), /^a slide \(9000x8000 px\): the browser app decodes images of up to 64 Mpx \(8192x8192\) whole; senet-ort study reads it a band at a time$/],
    ];
    for (const [what, bytes, reason] of refusals) assert.throws(() => decodeTiff(buffer(bytes)), (err: Error) => err.name === 'UserError' && reason.test(err.message), what);
    assert.equal(MAX_TIFF_PIXELS, 8192 * 8192);
  });

  it('refuses broken files with the CLI\'s reasons, without hanging on a directory chain that loops', async (t) => {
    const path = join(tempDir(t), 'broken.tif');
    /** The reason the CLI records for the file (its tiler's read). */
    const cliReason = async (bytes: Buffer): Promise<string> => {
      writeFileSync(path, bytes);
      try {
        const info = await probeImage(path, bytes.length);
        await readBand(path, info, planScale(info, 1), 0, info.height);
        return 'read';
      } catch (err) {
        return (err as Error).message;
      }
    };
    const pageReason = (bytes: Buffer): string => {
      try {
        decodeTiff(buffer(bytes));
        return 'read';
      } catch (err) {
        return (err as Error).message;
      }
    };
    // libtiff writes the directory last: a file cut short loses it.
    const lzw = await synthetic(64, 64, tissue).tiff({ compression: 'lzw' }).toBuffer();
    const looping = writeTiff([raw({ width: 4, height: 4, samplesPerPixel: 3, tags: { 262: [2] } })]);
    const at = looping.readUInt32LE(4);
    looping.writeUInt32LE(at, at + 2 + 12 * looping.readUInt16LE(at));
    const broken: [string, Buffer, string][] = [
      ['cut short', lzw.subarray(0, lzw.length - 100), NOT_AN_IMAGE],
      ['a directory past the end', Buffer.from('II*\0\xff\xff\xff\x7f', 'latin1'), NOT_AN_IMAGE],
      ['no directory', Buffer.from('II*\0\0\0\0\0', 'latin1'), NOT_AN_IMAGE],
      ['a looping chain', looping, LOOPING],
      ['no PhotometricInterpretation', writeTiff([raw({ width: 4, height: 4, samplesPerPixel: 3, tags: {} })]), CORRUPT_HEADER],
    ];
    for (const [what, bytes, reason] of broken) assert.deepEqual([pageReason(bytes), await cliReason(bytes)], [reason, reason], what);
    assert.equal(pageReason(readFileSync(new URL('../../data/kather2016-crc-texture-sample/SOURCE.md', import.meta.url))), NOT_AN_IMAGE);

    // Pixels cut short (the directory first): the CLI's libtiff reads the missing part of an
    // uncompressed strip as zeros and records no error; the page refuses the file.
    const whole = writeTiff([raw({ width: 64, height: 64, samplesPerPixel: 3, tags: { 262: [2] } })]);
    assert.equal(pageReason(whole.subarray(0, whole.length - 1000)), CORRUPT_PIXELS);
    // Byte counts larger than the pixels need, as some writers give them: libtiff reads what it needs, and so does the page.
    const image = raw({ width: 64, height: 64, samplesPerPixel: 3, tags: { 262: [2] } });
    await sameAsCli(t, writeTiff([{ ...image, tags: { ...image.tags, 279: [64 * 64 * 3 + 5000] } }]), 'byte count too large');
  });

  it('tells TIFF and BigTIFF headers from others', () => {
    assert.equal(isTiffHeader(Buffer.from('II*\0')), true);
    assert.equal(isTiffHeader(Buffer.from('MM\0*')), true);
    assert.equal(isTiffHeader(Buffer.from('II+\0')), true);
    assert.equal(isTiffHeader(Buffer.from('\x89PNG', 'latin1')), false);
    assert.equal(isTiffHeader(Buffer.from('MM*\0')), false);
  });
});
