import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { UserError } from '../../src/errors.ts';
import { encodePng, planScale, probeImage, readBand } from '../../src/data/image.ts';
import { put, synthetic, tempDir } from './fixtures.ts';

async function decode(path: string, scale = 1): Promise<{ width: number; height: number; rgb: Buffer }> {
  const info = await probeImage(path, statSync(path).size);
  const plan = planScale(info, scale);
  return { width: plan.width, height: plan.height, rgb: await readBand(path, info, plan, 0, plan.height) };
}

const pixel = (d: { width: number; rgb: Buffer }, x: number, y: number): number[] => [...d.rgb.subarray((y * d.width + x) * 3, (y * d.width + x) * 3 + 3)];

async function rejection(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof UserError, `expected a UserError, got ${String(err)}`);
    return err.message;
  }
  assert.fail('expected a rejection');
}

describe('reading images as 8-bit RGB', () => {
  it('converts 16-bit RGB and 16-bit gray PNG to 8-bit RGB', async (t) => {
    const dir = tempDir(t);
    const rgb16 = new Uint16Array(4 * 2 * 3).map((_, i) => [0, 32896, 65535][i % 3]!);
    const a = put(join(dir, 'rgb16.png'), await sharp(rgb16, { raw: { width: 4, height: 2, channels: 3 } }).toColourspace('rgb16').png().toBuffer());
    assert.deepEqual(pixel(await decode(a), 3, 1), [0, 128, 255]);
    const grey16 = new Uint16Array(4 * 2).fill(51400);
    const b = put(join(dir, 'grey16.png'), await sharp(grey16, { raw: { width: 4, height: 2, channels: 1 } }).toColourspace('grey16').png().toBuffer());
    assert.deepEqual(pixel(await decode(b), 0, 0), [200, 200, 200]);
  });

  it('expands gray JPEG, flattens RGBA onto white, converts CMYK TIFF, reads lossless WebP and BigTIFF', async (t) => {
    const dir = tempDir(t);
    const grey = put(join(dir, 'grey.jpg'), await synthetic(16, 16, [77]).jpeg({ quality: 100 }).toBuffer());
    const g = pixel(await decode(grey), 5, 5);
    assert.ok(g[0] === g[1] && g[1] === g[2] && Math.abs(g[0]! - 77) <= 1, String(g));
    const rgba = put(join(dir, 'rgba.png'), await synthetic(4, 2, (x) => [200, 40, 90, x < 2 ? 0 : 255] as number[]).png().toBuffer());
    assert.deepEqual(pixel(await decode(rgba), 0, 0), [255, 255, 255]); // transparent counts as background
    assert.deepEqual(pixel(await decode(rgba), 3, 0), [200, 40, 90]);
    const cmyk = put(join(dir, 'cmyk.tif'), await synthetic(4, 2, [200, 40, 90]).toColourspace('cmyk').tiff().toBuffer());
    const c = pixel(await decode(cmyk), 1, 1);
    assert.ok(Math.abs(c[0]! - 200) < 8 && Math.abs(c[1]! - 40) < 25 && Math.abs(c[2]! - 90) < 15, String(c));
    const webp = put(join(dir, 'x.webp'), await synthetic(4, 2, [200, 40, 90]).webp({ lossless: true }).toBuffer());
    assert.deepEqual(pixel(await decode(webp), 2, 1), [200, 40, 90]);
    const big = put(join(dir, 'big.tif'), await synthetic(4, 2, [10, 20, 30]).tiff({ bigtiff: true, compression: 'lzw' }).toBuffer());
    assert.deepEqual([...readFileSync(big).subarray(0, 4)], [0x49, 0x49, 0x2b, 0x00]); // "II*\0" + 43: BigTIFF
    assert.deepEqual(pixel(await decode(big), 0, 0), [10, 20, 30]);
  });

  it('reads the largest level of a tiled pyramidal TIFF and applies EXIF orientation', async (t) => {
    const dir = tempDir(t);
    const pyramid = put(join(dir, 'pyramid.tif'), await synthetic(700, 500, [120, 60, 150]).tiff({ tile: true, tileWidth: 128, tileHeight: 128, pyramid: true }).toBuffer());
    const info = await probeImage(pyramid, statSync(pyramid).size);
    assert.deepEqual([info.format, info.levels[0], info.width, info.height], ['tiff', { page: 0, subifd: null, width: 700, height: 500 }, 700, 500]);
    const rotated = put(join(dir, 'rotated.jpg'), await synthetic(300, 150, (x) => (x < 150 ? [250, 0, 0] : [0, 0, 250])).jpeg({ quality: 100 }).withMetadata({ orientation: 6 }).toBuffer());
    const r = await decode(rotated);
    assert.deepEqual([r.width, r.height], [150, 300]); // orientation 6: rotate 90° clockwise
    assert.ok(pixel(r, 75, 10)[0]! > 200 && pixel(r, 75, 290)[2]! > 200);
  });

  it('downscales by --scale before tiling', async (t) => {
    const dir = tempDir(t);
    const path = put(join(dir, 'wide.png'), await synthetic(600, 300, [90, 40, 140]).png().toBuffer());
    const d = await decode(path, 2);
    assert.deepEqual([d.width, d.height, d.rgb.length], [300, 150, 300 * 150 * 3]);
    assert.deepEqual(pixel(d, 299, 149), [90, 40, 140]);
  });

  it('encodes tiles as lossless PNG', async () => {
    const rgb = Buffer.from(Array.from({ length: 5 * 3 * 3 }, (_, i) => (i * 37) % 256));
    const png = await encodePng(rgb, 5, 3);
    const back = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([back.info.width, back.info.height, back.info.channels], [5, 3, 3]);
    assert.ok(back.data.equals(rgb));
  });
});

describe('bad input gives a UserError whose message is the reason', () => {
  it('names empty, non-image, unsupported and truncated files', async (t) => {
    const dir = tempDir(t);
    assert.equal(await rejection(probeImage(put(join(dir, 'empty.png'), ''), 0)), 'empty file (0 bytes)');
    const text = put(join(dir, 'notes.png'), 'not a picture\n');
    assert.equal(await rejection(probeImage(text, statSync(text).size)), 'not an image: unrecognised format or corrupt header');
    const gif = put(join(dir, 'anim.gif'), await synthetic(8, 8, [1, 2, 3]).gif().toBuffer());
    assert.equal(await rejection(probeImage(gif, statSync(gif).size)), 'unsupported format gif (expected TIFF, PNG, JPEG or WebP)');
    const full = await synthetic(300, 300, (x, y) => [x % 256, y % 256, (x + y) % 256]).png().toBuffer();
    const cut = put(join(dir, 'cut.png'), full.subarray(0, Math.floor(full.length / 2)));
    const info = await probeImage(cut, statSync(cut).size); // the header is intact
    assert.equal(await rejection(readBand(cut, info, planScale(info, 1), 0, 300)), 'corrupt or truncated PNG image: its pixels could not be decoded');
  });
});
