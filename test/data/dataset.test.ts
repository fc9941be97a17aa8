import assert from 'node:assert/strict';
import { appendFileSync, readdirSync, readFileSync, rmSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { UserError } from '../../src/errors.ts';
import { parseCsv } from '../../src/formats/csv.ts';
import { tileDataset } from '../../src/data/dataset.ts';
import { put, SAMPLE, synthetic, tempDir, tissue } from './fixtures.ts';

const csv = (path: string): string[][] => parseCsv(readFileSync(path, 'utf8'));
const json = (path: string): Record<string, unknown> => JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;

/** A small input folder with every kind of bad input next to good ones. */
async function messyInput(root: string): Promise<string> {
  const input = join(root, 'in');
  const tissuePng = await synthetic(400, 400, tissue).png().toBuffer();
  put(join(input, 'tumor', 'slide-1.png'), tissuePng); // 2 x 2 tiles of 150
  put(join(input, 'tumor', 'nested', 'slide 2.jpg'), await synthetic(300, 160, tissue).jpeg().toBuffer()); // 2 x 1
  put(join(input, 'tumor', 'truncated.png'), tissuePng.subarray(0, Math.floor(tissuePng.length / 3)));
  put(join(input, 'tumor', 'zero.png'), '');
  put(join(input, 'tumor', 'notes.png'), 'this is text, not a PNG\n');
  put(join(input, 'tumor', 'tiny.png'), await synthetic(100, 80, tissue).png().toBuffer());
  put(join(input, 'tumor', '.DS_Store'), 'hidden files are skipped');
  put(join(input, 'stroma', 'half-white.tif'), await synthetic(300, 150, (x) => (x < 150 ? tissue(x, 0) : [250, 250, 250])).tiff().toBuffer());
  put(join(input, 'empty', '.keep'), '');
  put(join(input, 'README.txt'), 'a file at the top level');
  return input;
}

describe('tileDataset', () => {
  it('records every bad input in rejected.csv with its reason and tiles the rest', async (t) => {
    const root = tempDir(t);
    const input = await messyInput(root);
    const output = join(root, 'out');
    const summary = await tileDataset({ input, output });
    assert.deepEqual(csv(join(output, 'rejected.csv')), [
      ['file', 'reason'],
      ['README.txt', 'file at the top level: images belong in a class folder'],
      ['empty/', 'empty class folder'],
      ['tumor/notes.png', 'not an image: unrecognised format or corrupt header'],
      ['tumor/tiny.png', 'image is 100x80, smaller than one 150x150 tile'],
      ['tumor/truncated.png', 'corrupt or truncated PNG image: its pixels could not be decoded'],
      ['tumor/zero.png', 'empty file (0 bytes)'],
    ]);
    assert.equal(summary.rejected.length, 6);
    assert.equal(summary.mode, 'grid');
    assert.equal(summary.filter, true);
    assert.deepEqual(summary.classes, ['stroma', 'tumor']); // "empty" has no tiles
    assert.deepEqual(summary.counts['tumor'], { sources: 2, tiles: 6, dropped: 0 });
    assert.deepEqual(summary.counts['stroma'], { sources: 1, tiles: 1, dropped: 1 });
    assert.deepEqual(summary.counts['empty'], { sources: 0, tiles: 0, dropped: 0 });
    const manifest = csv(join(output, 'manifest.csv'));
    assert.deepEqual(manifest[0], ['file', 'class', 'group', 'source', 'x', 'y', 'white_fraction']);
    assert.deepEqual(manifest.slice(1).map((r) => r[0]), [
      'stroma__half-white__x0_y0.png',
      'tumor__nested+slide-2__x0_y0.png',
      'tumor__nested+slide-2__x150_y0.png',
      'tumor__slide-1__x0_y0.png',
      'tumor__slide-1__x150_y0.png',
      'tumor__slide-1__x0_y150.png',
      'tumor__slide-1__x150_y150.png',
    ]);
    assert.deepEqual(manifest[2]!.slice(1), ['tumor', 'tumor/nested/slide 2.jpg', 'tumor/nested/slide 2.jpg', '0', '0', '0']);
    const files = readdirSync(output).filter((f) => f.endsWith('.png')).sort();
    assert.deepEqual(files, manifest.slice(1).map((r) => r[0]).sort());
    assert.ok(readdirSync(output).every((f) => !f.endsWith('.tmp')));
    const tile = await sharp(join(output, files[0]!)).metadata();
    assert.deepEqual([tile.format, tile.width, tile.height, tile.channels, tile.depth], ['png', 150, 150, 3, 'uchar']);
    const dataset = json(join(output, 'dataset.json'));
    assert.deepEqual(dataset['classes'], ['stroma', 'tumor']);
    assert.equal(dataset['tileSize'], 150);
    assert.deepEqual(dataset['options'], { tile: 150, stride: 150, scale: 1, whiteThreshold: 220, maxWhite: 0.5, filter: true });
    assert.match(String(dataset['tool']), /^senet-ort \d+\.\d+\.\d+/);
  });

  it('reruns over the same output: skips finished sources, writes identical files, follows changes', async (t) => {
    const root = tempDir(t);
    const input = await messyInput(root);
    const output = join(root, 'out');
    await tileDataset({ input, output });
    const snapshot = (): string[] => ['manifest.csv', 'dataset.json', 'rejected.csv'].map((f) => readFileSync(join(output, f), 'utf8'));
    const first = snapshot();
    const again = await tileDataset({ input, output });
    assert.equal(again.resumed, 3);
    assert.deepEqual(snapshot(), first);

    // An interrupted run: a tile lost and a torn journal line. The source is redone, the rest kept.
    rmSync(join(output, 'tumor__slide-1__x150_y0.png'));
    appendFileSync(join(output, '.tile-state', 'sources.jsonl'), '{"source":"tumor/sl');
    const resumed = await tileDataset({ input, output });
    assert.equal(resumed.resumed, 2);
    assert.deepEqual(snapshot(), first);

    // A changed source is tiled again; a removed one takes its tiles with it.
    put(join(input, 'tumor', 'slide-1.png'), await synthetic(300, 150, tissue).png().toBuffer());
    utimesSync(join(input, 'tumor', 'slide-1.png'), new Date(), new Date(Date.now() + 5000));
    rmSync(join(input, 'stroma', 'half-white.tif'));
    const changed = await tileDataset({ input, output });
    assert.equal(changed.resumed, 1);
    const pngs = readdirSync(output).filter((f) => f.endsWith('.png')).sort();
    assert.deepEqual(pngs, ['tumor__nested+slide-2__x0_y0.png', 'tumor__nested+slide-2__x150_y0.png', 'tumor__slide-1__x0_y0.png', 'tumor__slide-1__x150_y0.png']);
    assert.equal(csv(join(output, 'manifest.csv')).length, 1 + 4);
  });

  it('refuses an output folder made with other options or holding other files', async (t) => {
    const root = tempDir(t);
    const input = await messyInput(root);
    const output = join(root, 'out');
    await tileDataset({ input, output });
    await assert.rejects(tileDataset({ input, output, tile: 100 }), (err: Error) => err instanceof UserError && /made earlier with other options/.test(err.message));
    put(join(root, 'busy', 'thesis.docx'), 'x');
    await assert.rejects(tileDataset({ input, output: join(root, 'busy') }), /not empty and not made by tile/);
  });

  it('checks options with the one message shape', async (t) => {
    const root = tempDir(t);
    const bad: [Record<string, unknown>, string][] = [
      [{ tile: 0 }, 'expected positive integer for --tile but received 0'],
      [{ stride: 1.5 }, 'expected positive integer for --stride but received 1.5'],
      [{ whiteThreshold: 256 }, 'expected integer from 0 to 255 for --white-threshold but received 256'],
      [{ maxWhite: 'half' }, 'expected number from 0 to 1 for --max-white but received "half"'],
      [{ scale: 0.5 }, 'expected number >= 1 for --scale but received 0.5'],
    ];
    for (const [options, message] of bad) {
      await assert.rejects(tileDataset({ input: root, output: join(root, 'o'), ...options }), { name: 'UserError', message });
    }
    await assert.rejects(tileDataset({ input: root, output: join(root, 'tiles') }), { message: `<output-dir> ${join(root, 'tiles')} is inside <input-dir> ${root}; choose a folder outside it` });
    await assert.rejects(tileDataset({ input: join(root, 'missing'), output: join(root, 'o') }), { message: `expected existing folder for <input-dir> but received ${JSON.stringify(join(root, 'missing'))}` });
  });

  it('fails with a clear message, after writing rejected.csv, when no input gives a tile', async (t) => {
    const root = tempDir(t);
    put(join(root, 'in', 'a', 'x.png'), 'text');
    await assert.rejects(tileDataset({ input: join(root, 'in'), output: join(root, 'out') }), /no tiles were made \(1 inputs rejected/);
    assert.equal(csv(join(root, 'out', 'rejected.csv')).length, 2);
  });

  it('downscales with --scale and cuts overlapping tiles with --stride', async (t) => {
    const root = tempDir(t);
    put(join(root, 'in', 'a', 'x.png'), await synthetic(600, 600, tissue).png().toBuffer());
    const s = await tileDataset({ input: join(root, 'in'), output: join(root, 'out'), scale: 2, stride: 75 });
    assert.equal(s.tiles, 9); // 300 x 300 after scaling: origins 0, 75, 150 on each axis
  });
});

describe('already-tiled sets (the Kather 2016 sample in data/)', () => {
  it('pass through unchanged with the white filter off, unless asked', async (t) => {
    const root = tempDir(t);
    const s = await tileDataset({ input: SAMPLE, output: join(root, 'out') });
    assert.equal(s.mode, 'pass-through');
    assert.equal(s.filter, false);
    assert.equal(s.tiles, 80);
    assert.equal(s.classes.length, 8);
    assert.deepEqual(s.rejected.map((r) => r.file), ['SHA256SUMS', 'SOURCE.md']);
    const name = '10009_CRC-Prim-HE-03_009.tif_Row_301_Col_151';
    const original = await sharp(join(SAMPLE, '01_TUMOR', `${name}.png`)).raw().toBuffer();
    const tile = await sharp(join(root, 'out', `01_TUMOR__${name}__x0_y0.png`)).raw().toBuffer();
    assert.ok(tile.equals(original));

    const filtered = await tileDataset({ input: SAMPLE, output: join(root, 'filtered'), filter: true });
    assert.equal(filtered.counts['08_EMPTY']!.tiles, 0);
    assert.ok(filtered.counts['07_ADIPOSE']!.dropped > 0);
    assert.ok(!filtered.classes.includes('08_EMPTY'));
    assert.ok(filtered.warnings.some((w) => w.startsWith('class 08_EMPTY: no tiles')));
  });
});
