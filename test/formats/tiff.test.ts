import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { readTiffDirectories } from '../../src/formats/tiff.ts';
import { UserError } from '../../src/errors.ts';
import { WHOLE_IMAGES } from '../data/fixtures.ts';
import { needs, requireData } from '../helpers/needs.ts';

const SVS = join(WHOLE_IMAGES, 'CMU-1-Small-Region.svs');
const vips = spawnSync('vips', ['--version'], { stdio: 'ignore' }).status === 0;

function temp(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'senet-ort-tiff-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * A big-endian classic TIFF of one 3x2 image with the given ImageDescription and resolution tags,
 * written byte by byte (no pixel data is read by the reader, so the strip offset is a dummy).
 */
function bigEndianTiff(description: string, xres: [number, number], unit: number): Buffer {
  const text = Buffer.from(`${description}\0`, 'latin1');
  const entries: [number, number, number, number | Buffer][] = [
    [256, 3, 1, 3], [257, 3, 1, 2], [270, 2, text.length, text], [273, 4, 1, 8], [274, 3, 1, 6],
    [282, 5, 1, Buffer.from(new Uint32Array([xres[0], xres[1]]).buffer).swap32()], [283, 5, 1, Buffer.from(new Uint32Array([xres[0], xres[1]]).buffer).swap32()], [296, 3, 1, unit],
  ];
  const ifdAt = 8;
  const ifdSize = 2 + entries.length * 12 + 4;
  let extraAt = ifdAt + ifdSize;
  const head = Buffer.from([0x4d, 0x4d, 0, 42, 0, 0, 0, ifdAt]);
  const ifd = Buffer.alloc(ifdSize);
  const extras: Buffer[] = [];
  ifd.writeUInt16BE(entries.length, 0);
  entries.forEach(([tag, type, count, value], i) => {
    const at = 2 + i * 12;
    ifd.writeUInt16BE(tag, at);
    ifd.writeUInt16BE(type, at + 2);
    ifd.writeUInt32BE(count, at + 4);
    if (Buffer.isBuffer(value)) {
      ifd.writeUInt32BE(extraAt, at + 8);
      extras.push(value);
      extraAt += value.length;
    } else if (type === 3) ifd.writeUInt16BE(value, at + 8);
    else ifd.writeUInt32BE(value, at + 8);
  });
  return Buffer.concat([head, ifd, ...extras]);
}

describe('readTiffDirectories', () => {
  it('lists an Aperio .svs: the image, then its stripped thumbnail, label and macro', { skip: requireData(SVS) }, () => {
    const dirs = readTiffDirectories(SVS);
    assert.deepEqual(dirs.map((d) => [d.page, d.width, d.height, d.tiled, d.subfileType]), [
      [0, 2220, 2967, true, 0], [1, 574, 768, false, 0], [2, 387, 463, false, 1], [3, 1280, 431, false, 9],
    ]);
    assert.match(dirs[0]!.description!, /\|MPP = 0\.4990\|/);
    assert.match(dirs[2]!.description!, /\nlabel 387x463$/);
  });

  it('reads pyramids that vips writes as pages and as SubIFDs, with their resolution tags', { skip: needs(vips, 'vips (Debian libvips-tools)') }, async (t) => {
    const dir = temp(t);
    const png = join(dir, 'in.png');
    await sharp({ create: { width: 1000, height: 600, channels: 3, background: '#c080b0' } }).png().toFile(png);
    for (const [name, extra] of [['pages.tif', []], ['subifd.tif', ['--subifd']]] as const) {
      const out = join(dir, name);
      const run = spawnSync('vips', ['tiffsave', png, out, '--tile', '--pyramid', '--compression', 'jpeg', '--xres', '4000', '--yres', '4000', ...extra]);
      assert.equal(run.status, 0, String(run.stderr));
      const dirs = readTiffDirectories(out);
      const levels = name === 'pages.tif' ? dirs : [dirs[0]!, ...dirs[0]!.subifds];
      assert.deepEqual(levels.map((d) => [d.width, d.height, d.tiled]), [[1000, 600, true], [500, 300, true], [250, 150, true], [125, 75, true]]);
      assert.equal(dirs.length, name === 'pages.tif' ? 4 : 1);
      assert.deepEqual(levels.slice(1).map((d) => d.subifd), name === 'pages.tif' ? [null, null, null] : [0, 1, 2]);
      // vips takes --xres in pixels per mm and writes pixels per centimetre.
      assert.equal(dirs[0]!.resolutionUnit, 3);
      assert.ok(Math.abs(dirs[0]!.xResolution! - 40000) < 1e-6);
    }
  });

  it('reads BigTIFF, and big-endian files with rationals, long descriptions and orientation', async (t) => {
    const dir = temp(t);
    const big = join(dir, 'big.tif');
    await sharp({ create: { width: 20, height: 10, channels: 3, background: '#000000' } }).tiff({ bigtiff: true, xres: 2, yres: 2 }).toFile(big);
    const [only] = readTiffDirectories(big);
    assert.deepEqual([only!.width, only!.height, only!.tiled], [20, 10, false]);
    const mm = join(dir, 'mm.tif');
    const description = `<?xml version="1.0"?><OME>${'x'.repeat(300)}</OME>`;
    writeFileSync(mm, bigEndianTiff(description, [20000, 7], 3));
    const [d] = readTiffDirectories(mm);
    assert.deepEqual([d!.width, d!.height, d!.description, d!.resolutionUnit, d!.orientation], [3, 2, description, 3, 6]);
    assert.ok(Math.abs(d!.xResolution! - 20000 / 7) < 1e-9);
  });

  it('names what is wrong with a file that is not a readable TIFF, without a stack', (t) => {
    const dir = temp(t);
    const cases: [Buffer, RegExp][] = [
      [Buffer.from('GIF89a'), /no TIFF header/],
      [Buffer.from([0x49, 0x49, 42, 0, 200, 0, 0, 0]), /beyond the end of the file/],
      // An IFD whose "next" offset points back at itself.
      [Buffer.concat([Buffer.from([0x49, 0x49, 42, 0, 8, 0, 0, 0]), Buffer.from([2, 0, 0, 1, 3, 0, 1, 0, 0, 0, 4, 0, 0, 0, 1, 1, 3, 0, 1, 0, 0, 0, 4, 0, 0, 0, 8, 0, 0, 0])]), /loops/],
      [Buffer.concat([Buffer.from([0x49, 0x49, 42, 0, 8, 0, 0, 0]), Buffer.from([0, 0, 0, 0, 0, 0])]), /no ImageWidth/],
    ];
    cases.forEach(([bytes, message], i) => {
      const path = join(dir, `${i}.tif`);
      writeFileSync(path, bytes);
      assert.throws(() => readTiffDirectories(path), (err: Error) => err instanceof UserError && message.test(err.message) && err.message.startsWith('not a readable TIFF ('));
    });
  });
});
