// The browser app's data set against the CLI's on the same images: the same tile names, manifest,
// tile pixels and splits (study's tile + split, seed 0), for ready tiles and for images cut on the
// grid with the white rule; and the same refusals.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { prepareSource } from '../../src/data/prepare.ts';
import { decodeTile } from '../../src/data/decode.ts';
import type { SourceImage } from '../../src/web/tiles.ts';
import { prepareTiles } from '../../src/web/tiles.ts';
import { SAMPLE, patientPatches, put, synthetic, tempDir, tissue } from '../data/fixtures.ts';

/** Every file under `dir`, decoded at its own size as the page decodes it (the CLI's decoder stands in for the browser's). */
async function decodeFolder(dir: string): Promise<SourceImage[]> {
  const walk = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : [join(d, e.name)]));
  return Promise.all(walk(dir).map(async (path): Promise<SourceImage> => {
    const source = relative(dir, path).split('\\').join('/');
    try {
      const { width, height } = await sharp(path).metadata();
      return { source, width: width!, height: height!, rgb: await decodeTile(path, width!, height!) };
    } catch {
      return { source, error: 'not an image' };
    }
  }));
}

/** The CLI's data set: what `senet-ort study <dir>` writes into its data/ folder. */
async function cliData(dir: string, out: string): Promise<{ files: Record<string, string>; tiles: string[] }> {
  await prepareSource({ source: dir, output: out });
  const files = Object.fromEntries(['manifest.csv', 'splits.json', 'rejected.csv'].map((f) => [f, readFileSync(join(out, f), 'utf8')]));
  return { files, tiles: readdirSync(out).filter((f) => f.endsWith('.png')).sort() };
}

describe('prepareTiles', () => {
  it('gives the embedded sample the CLI\'s tiles, manifest and splits (grouped by Kather slide)', async (t) => {
    const page = prepareTiles('kather2016-crc-texture-sample', await decodeFolder(SAMPLE));
    const out = join(tempDir(t), 'data');
    const cli = await cliData(SAMPLE, out);
    assert.equal(page.mode, 'pass-through');
    assert.equal(page.tiles.length, 80);
    assert.deepEqual(page.groupBy, { kind: 'regex', pattern: 'CRC-Prim-HE-\\d+', on: 'name' });
    assert.equal(page.files['manifest.csv'], cli.files['manifest.csv']);
    assert.equal(page.files['splits.json'], cli.files['splits.json']);
    assert.deepEqual(page.tiles.map((x) => x.file).sort(), cli.tiles);
    for (const tile of page.tiles.slice(0, 8)) assert.deepEqual(tile.rgb, new Uint8Array(await decodeTile(join(out, tile.file), 150, 150)), tile.file);
  });

  it('cuts large images on tile\'s grid with the white rule, and refuses what tile refuses, as the CLI does', async (t) => {
    const root = tempDir(t);
    const images = join(root, 'images');
    // 400x320: a 2x2 grid of 150 px tiles; the right half white, so its tiles are dropped.
    const half = (x: number, y: number): number[] => (x >= 200 ? [250, 250, 250] : tissue(x, y));
    put(join(images, 'a', 'slide 1.png'), await synthetic(400, 320, half).png().toBuffer());
    put(join(images, 'a', 'sub', 'slide-2.png'), await synthetic(320, 400, tissue).png().toBuffer());
    put(join(images, 'b', 'slide_3.png'), await synthetic(310, 310, (x, y) => tissue(y, x)).png().toBuffer());
    put(join(images, 'b', 'small.png'), await synthetic(100, 400, tissue).png().toBuffer());
    put(join(images, 'b', 'notes.txt'), 'not an image');
    put(join(images, 'c', 'slide-4.png'), await synthetic(300, 300, tissue).png().toBuffer());
    put(join(images, 'c', 'slide-5.png'), await synthetic(300, 300, (x, y) => tissue(x + 9, y)).png().toBuffer());
    put(join(images, 'a', 'slide-6.png'), await synthetic(300, 300, (x, y) => tissue(x, y + 9)).png().toBuffer());
    put(join(images, 'b', 'slide-7.png'), await synthetic(300, 300, (x, y) => tissue(x + 3, y + 3)).png().toBuffer());
    const page = prepareTiles('images', await decodeFolder(images), { testFraction: 0.2, folds: 2, seed: 0 });
    assert.equal(page.mode, 'grid');
    assert.equal(page.dropped, 2);
    assert.deepEqual(page.rejected.map((r) => r.file), ['b/notes.txt', 'b/small.png']);
    const cli = await prepareSource({ source: images, output: join(root, 'data'), split: { folds: 2 } });
    assert.equal(cli.tiled!.tiles, page.tiles.length);
    assert.equal(page.files['manifest.csv'], readFileSync(join(root, 'data', 'manifest.csv'), 'utf8'));
    assert.equal(page.files['splits.json'], readFileSync(join(root, 'data', 'splits.json'), 'utf8'));
    assert.match(page.rejected[1]!.reason, /^image is 100x400, smaller than one 150x150 tile$/);
    assert.match(readFileSync(join(root, 'data', 'rejected.csv'), 'utf8'), /b\/small\.png,"?image is 100x400, smaller than one 150x150 tile/);
  });

  it('takes patient patches as ready tiles at their 48 px, rejecting the other sizes, as the CLI does', async (t) => {
    const dir = await patientPatches(tempDir(t));
    const page = prepareTiles('patches', await decodeFolder(dir));
    assert.equal(page.tile, 48);
    assert.equal(page.rejected.length, 3);
    const out = join(tempDir(t), 'data');
    await prepareSource({ source: dir, output: out, split: { groupRegex: '^\\d+' } });
    // The CLI grouped by the patient because it was told to; the page groups by source here.
    assert.equal(page.files['manifest.csv'], readFileSync(join(out, 'manifest.csv'), 'utf8'));
  });

  it('refuses a folder without class folders in one line', () => {
    assert.throws(() => prepareTiles('loose', [{ source: 'a.png', width: 150, height: 150, rgb: new Uint8Array(150 * 150 * 3) }]), /^UserError: loose: expected a folder with one subfolder per class, but it holds no class folders with images$/);
  });
});
