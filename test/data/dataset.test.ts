import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, readdirSync, readFileSync, rmSync, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { UserError } from '../../src/errors.ts';
import { parseCsv } from '../../src/formats/csv.ts';
import { tileDataset } from '../../src/data/dataset.ts';
import { planScale, probeImage } from '../../src/data/image.ts';
import { MACENKO_REFERENCE, applyMacenko, fitMacenko, fitReinhard } from '../../src/data/stain.ts';
import { gridPositions, imageTissueMask, STAIN_SAMPLE_PIXELS } from '../../src/data/tiler.ts';
import { maskCover } from '../../src/data/tissue.ts';
import { patientPatches, put, SAMPLE, synthetic, tempDir, TEST_OUTPUT, tissue, WHOLE_IMAGES } from './fixtures.ts';
import { needs, requireData } from '../helpers/needs.ts';

const SVS = join(WHOLE_IMAGES, 'CMU-1-Small-Region.svs');
/** Its level 0 as lossless PNG (OpenSlide's decode, pixel for pixel the .svs's). */
const PNG_REGION = join(WHOLE_IMAGES, 'CMU-1-Small-Region.png');
const vips = spawnSync('vips', ['--version'], { stdio: 'ignore' }).status === 0;

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
    assert.deepEqual(manifest[0], ['file', 'class', 'group', 'source', 'x', 'y', 'white_fraction', 'tissue_fraction', 'source_mpp']);
    assert.deepEqual(manifest.slice(1).map((r) => r[0]), [
      'stroma__half-white__x0_y0.png',
      'tumor__nested+slide-2__x0_y0.png',
      'tumor__nested+slide-2__x150_y0.png',
      'tumor__slide-1__x0_y0.png',
      'tumor__slide-1__x150_y0.png',
      'tumor__slide-1__x0_y150.png',
      'tumor__slide-1__x150_y150.png',
    ]);
    assert.deepEqual(manifest[2]!.slice(1), ['tumor', 'tumor/nested/slide 2.jpg', 'tumor/nested/slide 2.jpg', '0', '0', '0', '', '']);
    const files = readdirSync(output).filter((f) => f.endsWith('.png')).sort();
    assert.deepEqual(files, manifest.slice(1).map((r) => r[0]).sort());
    assert.ok(readdirSync(output).every((f) => !f.endsWith('.tmp')));
    const tile = await sharp(join(output, files[0]!)).metadata();
    assert.deepEqual([tile.format, tile.width, tile.height, tile.channels, tile.depth], ['png', 150, 150, 3, 'uchar']);
    const dataset = json(join(output, 'dataset.json'));
    assert.deepEqual(dataset['classes'], ['stroma', 'tumor']);
    assert.equal(dataset['tileSize'], 150);
    assert.deepEqual(dataset['options'], {
      tile: 150, stride: 150, scale: 1, whiteThreshold: 220, maxWhite: 0.5, filter: true, mpp: null, sourceMpp: null,
      tissue: 'white', minTissue: 0.5, tissueMinArea: null, stainNormalize: null, stainFit: null, stainTarget: null,
    });
    assert.deepEqual(dataset['preparation'], { mpp: null, tile: 150, tissue: { method: 'white', whiteThreshold: 220, maxWhite: 0.5 }, stain: { method: 'none' } });
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

describe('ready tiles: patches of one size, without --tile', () => {
  it('takes the size of 95% of the images as the tile size and rejects the smaller ones with their reason', async (t) => {
    const root = tempDir(t);
    const input = await patientPatches(root);
    const s = await tileDataset({ input, output: join(root, 'out') });
    assert.deepEqual(s.ready, { tile: 48, count: 60, total: 63 });
    assert.deepEqual([s.mode, s.filter, s.tiles, s.classes], ['pass-through', false, 60, ['0', '1']]);
    const why = 'smaller than the 48x48 tile size that 60 of the 63 images have';
    assert.deepEqual(csv(join(root, 'out', 'rejected.csv')), [
      ['file', 'reason'],
      ['0/10254_idx5_x1051_y2101_class0.png', `image is 48x30, ${why}`],
      ['1/12626_idx5_x1151_y2151_class1.png', `image is 20x48, ${why}`],
      ['1/9036_idx5_x1001_y2301_class1.png', `image is 33x41, ${why}`],
    ]);
    assert.equal(json(join(root, 'out', 'dataset.json'))['tileSize'], 48);
    const name = '10253_idx5_x1001_y51_class0';
    const tile = await sharp(join(root, 'out', `0__${name}__x0_y0.png`)).raw().toBuffer();
    assert.ok(tile.equals(await sharp(join(input, '0', `${name}.png`)).raw().toBuffer()), 'passed through unchanged');

    // --tile keeps its meaning: the same tiles, the odd ones rejected by the tile rule.
    const given = await tileDataset({ input, output: join(root, 'given'), tile: 48 });
    assert.deepEqual([given.ready, given.tiles], [null, 60]);
    assert.equal(given.rejected[0]!.reason, 'image is 48x30, smaller than one 48x48 tile');
  });

  it('rejects larger images too, and decides on the size after --scale', async (t) => {
    const root = tempDir(t);
    const input = join(root, 'in');
    for (let i = 0; i < 20; i++) put(join(input, i % 2 ? 'a' : 'b', `p${i}.png`), await synthetic(32, 32, tissue).png().toBuffer());
    put(join(input, 'a', 'big.png'), await synthetic(40, 40, tissue).png().toBuffer());
    const s = await tileDataset({ input, output: join(root, 'out') });
    assert.deepEqual([s.ready?.tile, s.tiles], [32, 20]);
    assert.deepEqual(s.rejected, [{ file: 'a/big.png', reason: 'image is 40x40, larger than the 32x32 tile size that 20 of the 21 images have (--tile 32 cuts such images into tiles too)' }]);
    const scaled = await tileDataset({ input, output: join(root, 'scaled'), scale: 2 });
    assert.deepEqual([scaled.ready?.tile, scaled.tiles], [16, 20]);
    assert.equal(scaled.rejected[0]!.reason, 'image is 40x40 (20x20 at --scale 2), larger than the 16x16 tile size that 20 of the 21 images have (--tile 16 cuts such images into tiles too)');
  });

  it('names the sizes found and --tile when no size covers 95%, before writing anything', async (t) => {
    const root = tempDir(t);
    const input = await patientPatches(root);
    put(join(input, '0', '8863_idx5_x1_y1_class0.png'), await synthetic(40, 40, tissue).png().toBuffer());
    put(join(input, '1', '8863_idx5_x1_y1_class1.png'), await synthetic(40, 40, tissue).png().toBuffer());
    await assert.rejects(tileDataset({ input, output: join(root, 'out') }), {
      name: 'UserError',
      message: `${input}: 65 of the 65 images are under 300x300 px, so they are taken to be tiles already, but no one size covers 95% of them (48x48: 60 (92.3%), 40x40: 2 (3.1%), 48x30: 1 (1.5%), 33x41: 1 (1.5%), and 1 more sizes); give the tile size with --tile`,
    });
    assert.equal(existsSync(join(root, 'out')), false);
  });
});

describe('slides at a physical resolution (--mpp)', { skip: requireData(SVS) || needs(vips, 'vips (Debian libvips-tools)') }, () => {
  /** Every tile of a --mpp 1.0 run against the same crop of a whole-image reference; the largest and the mean byte difference. */
  async function compare(output: string, prefix: string, reference: { data: Buffer; info: { width: number; height: number } }, factor: [number, number]): Promise<{ max: number; mean: number; tiles: number }> {
    const rows = csv(join(output, 'manifest.csv')).slice(1).filter((r) => r[0]!.startsWith(prefix));
    let max = 0;
    let sum = 0;
    let n = 0;
    for (const row of rows) {
      // The tile's origin in the resized image, from its level-0 origin in the name.
      const [x, y] = [Math.round(Number(row[4]) / factor[0]), Math.round(Number(row[5]) / factor[1])];
      const tile = await sharp(join(output, row[0]!)).raw().toBuffer();
      for (let r = 0; r < 150; r++) {
        for (let c = 0; c < 450; c++) {
          const d = Math.abs(tile[r * 450 + c]! - reference.data[((y + r) * reference.info.width + x) * 3 + c]!);
          max = Math.max(max, d);
          sum += d;
          n++;
        }
      }
    }
    return { max, mean: sum / n, tiles: rows.length };
  }

  it('reads the Aperio MPP, resizes to 1 µm per pixel, names tiles in level-0 pixels, and records it all', async (t) => {
    const root = tempDir(t);
    put(join(root, 'in', 'he', 'CMU-1-Small-Region.svs'), readFileSync(SVS));
    const output = join(root, 'out');
    const s = await tileDataset({ input: join(root, 'in'), output, mpp: 1, filter: false });
    // 2220 x 2967 at 0.499 µm/px is 1108 x 1481 at 1 µm/px: 7 x 9 tiles of 150, 300.6 level-0 pixels apart.
    assert.equal(s.tiles, 63);
    const manifest = csv(join(output, 'manifest.csv'));
    assert.deepEqual(manifest.slice(1).map((r) => [r[4], r[5]]).slice(0, 3), [['0', '0'], ['301', '0'], ['601', '0']]);
    assert.ok(manifest.slice(1).every((r) => r[8] === '0.499'));
    const dataset = json(join(output, 'dataset.json'));
    assert.equal(dataset['mpp'], 1);
    assert.deepEqual((dataset['preparation'] as Record<string, unknown>)['mpp'], 1);
    // The same crops of the whole region resized in one go: by sharp exactly (band reading and origins
    // are right), and by the vips command line of Debian's older libvips within its resampling's rounding.
    const factor: [number, number] = [2220 / 1108, 2967 / 1481];
    const bySharp = await sharp(PNG_REGION).resize(1108, 1481, { fit: 'fill' }).raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual(await compare(output, 'he__', bySharp, factor), { max: 0, mean: 0, tiles: 63 });
    const byVips = join(root, 'reference.png');
    assert.equal(spawnSync('vips', ['resize', PNG_REGION, byVips, String(1108 / 2220), '--vscale', String(1481 / 2967)]).status, 0);
    const vipsRgb = await sharp(byVips).raw().toBuffer({ resolveWithObject: true });
    const loose = await compare(output, 'he__', vipsRgb, factor);
    assert.ok(loose.max <= 6 && loose.mean < 0.5, JSON.stringify(loose));
  });

  it('reads the coarsest fine-enough pyramid level of a TIFF that vips wrote, from its resolution tags', async (t) => {
    const root = tempDir(t);
    const pyramid = join(root, 'in', 'he', 'pyramid.tif');
    put(pyramid, '');
    assert.equal(spawnSync('vips', ['tiffsave', PNG_REGION, pyramid, '--tile', '--tile-width', '256', '--tile-height', '256', '--pyramid', '--compression', 'deflate', '--xres', '2004.008', '--yres', '2004.008']).status, 0);
    const output = join(root, 'out');
    assert.equal((await tileDataset({ input: join(root, 'in'), output, mpp: 1, filter: false })).tiles, 63);
    // Read from level 1 (1110 x 1483, 0.998 µm/px), resized to 1108 x 1481: not from level 0.
    const fromLevel1 = await sharp(pyramid, { page: 1 }).resize(1108, 1481, { fit: 'fill' }).raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual(await compare(output, 'he__', fromLevel1, [2220 / 1108, 2967 / 1481]), { max: 0, mean: 0, tiles: 63 });
    const fromLevel0 = await sharp(pyramid, { page: 0 }).resize(1108, 1481, { fit: 'fill' }).raw().toBuffer({ resolveWithObject: true });
    assert.ok((await compare(output, 'he__', fromLevel0, [2220 / 1108, 2967 / 1481])).max > 0);
    assert.ok(csv(join(output, 'manifest.csv')).slice(1).every((r) => Math.abs(Number(r[8]) - 0.499) < 1e-4));
  });

  it('rejects images of unknown resolution with a reason naming --source-mpp, which supplies or overrides it', async (t) => {
    const root = tempDir(t);
    put(join(root, 'in', 'he', 'region.png'), readFileSync(PNG_REGION));
    put(join(root, 'in', 'he', 'slide.svs'), readFileSync(SVS));
    const s = await tileDataset({ input: join(root, 'in'), output: join(root, 'out'), mpp: 1, filter: false });
    assert.deepEqual(csv(join(root, 'out', 'rejected.csv')).slice(1), [[
      'he/region.png',
      'resolution unknown (no Aperio MPP, OME-XML PhysicalSize or plausible TIFF resolution tag): give its µm per pixel with --source-mpp to tile it at --mpp 1',
    ]]);
    assert.equal(s.tiles, 63);
    // --source-mpp 0.25 for both: the .svs's own 0.499 is overridden, so both give 555 x 742 at 1 µm/px.
    const both = await tileDataset({ input: join(root, 'in'), output: join(root, 'both'), mpp: 0.5, sourceMpp: 0.25, filter: false });
    assert.equal(both.rejected.length, 0);
    assert.equal(both.tiles, 2 * 7 * 9);
    assert.ok(csv(join(root, 'both', 'manifest.csv')).slice(1).every((r) => r[8] === '0.25'));
    // Enlarging is allowed, and said: 300 px at 0.5 µm/px are 375 px at 0.4.
    put(join(root, 'small', 'he', 'a.png'), await synthetic(300, 300, tissue).png().toBuffer());
    const up = await tileDataset({ input: join(root, 'small'), output: join(root, 'up'), mpp: 0.4, sourceMpp: 0.5, filter: false });
    assert.equal(up.tiles, 4);
    assert.ok(up.warnings.some((w) => w.startsWith('1 image is coarser than --mpp 0.4 and was enlarged to it (first: he/a.png at 0.5 µm/px)')), up.warnings.join('\n'));
  });

  it('refuses --mpp with --scale, and options of one rule given with another, in one line', async (t) => {
    const root = tempDir(t);
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ mpp: 0.5, scale: 2 }, /^--mpp and --scale both given; use one/],
      [{ mpp: 0 }, /^expected positive number for --mpp but received 0$/],
      [{ minTissue: 0.3 }, /^--min-tissue applies to --tissue otsu only/],
      [{ tissue: 'otsus' }, /^expected white or otsu for --tissue but received "otsus"$/],
      [{ stainNormalize: 'reinhard' }, /^--stain-normalize reinhard needs --stain-target IMAGE/],
      [{ stainFit: 'slide' }, /^--stain-fit applies with --stain-normalize only$/],
    ];
    for (const [options, message] of bad) {
      await assert.rejects(tileDataset({ input: root, output: join(root, 'o'), ...options }), (err: Error) => err instanceof UserError && message.test(err.message));
    }
    assert.ok(!existsSync(join(root, 'o')));
  });
});

describe('tissue detection and stain normalisation while tiling', { skip: requireData(SVS) }, () => {
  it('--tissue otsu keeps the tiles its mask covers by --min-tissue, records the rule, and shows the mask', async (t) => {
    const root = tempDir(t);
    put(join(root, 'in', 'he', 'CMU-1-Small-Region.svs'), readFileSync(SVS));
    const output = join(root, 'out');
    const sheet = join(TEST_OUTPUT, 'cmu-1-small-region-otsu-contact-sheet.png');
    const s = await tileDataset({ input: join(root, 'in'), output, tissue: 'otsu', contactSheet: sheet });
    const rows = csv(join(output, 'manifest.csv')).slice(1);
    assert.equal(rows.length, s.tiles);
    assert.ok(rows.every((r) => Number(r[7]) >= 0.5), 'every kept tile is at least half tissue');
    // The mask, made again on its own, covers exactly the kept tiles by half or more.
    const info = await probeImage(SVS, statSync(SVS).size);
    const plan = planScale(info, 1);
    const { mask, down } = await imageTissueMask(SVS, info, plan, 150, { minAreaPixels: 0.5 * 150 * 150 });
    const expected = [];
    for (const y of gridPositions(2967, 150, 150)) {
      for (const x of gridPositions(2220, 150, 150)) if (maskCover(mask, x / down, y / down, 150 / down, 150 / down) >= 0.5) expected.push(`${x},${y}`);
    }
    assert.deepEqual(rows.map((r) => `${r[4]},${r[5]}`), expected);
    // Tissue the white rule keeps too, and the corners of glass it drops too.
    assert.ok(rows.some((r) => r[4] === '1200' && r[5] === '1050'));
    assert.ok(!rows.some((r) => r[4] === '0' && r[5] === '0'));
    const dataset = json(join(output, 'dataset.json'));
    assert.deepEqual((dataset['preparation'] as Record<string, unknown>)['tissue'], {
      method: 'otsu', channel: 'saturation', darkBelow: 40, thresholdBounds: [0.04, 0.1], thumbnailPixelsPerTile: 8,
      thumbnailMaxSide: 4096, radiusTiles: 0.125, minAreaUm2: null, minTissue: 0.5,
    });
    // The sheet: glass in the top-left corner under the mask's blue tint (and the dropped tile's red).
    const { data, info: png } = await sharp(sheet).raw().toBuffer({ resolveWithObject: true });
    const at = (x: number, y: number): number[] => [...data.subarray((y * png.width + x) * 3, (y * png.width + x) * 3 + 3)];
    const glass = at(8 + 20, 8 + 20);
    assert.ok(glass[2]! > glass[1]! + 40, `glass shows ${glass}`);
  });

  it('normalises stain while tiling: each ready tile on its own, a slide once, with the one Macenko fit', async (t) => {
    const root = tempDir(t);
    const input = join(root, 'in');
    put(join(input, 'he', 'slide.svs'), readFileSync(SVS));
    const s = await tileDataset({ input, output: join(root, 'slide'), stainNormalize: 'macenko' });
    assert.equal((s.preparation.stain as { fit: string }).fit, 'auto');
    // The slide fit: fitMacenko on every k-th pixel of the kept tiles in grid order, k such that the
    // 14 x 19 grid gives at most 2^21 pixels (k = 3), applied to each kept tile.
    const white = await tileDataset({ input, output: join(root, 'plain') });
    const names = csv(join(root, 'plain', 'manifest.csv')).slice(1).map((r) => r[0]!);
    const plain = await Promise.all(names.map(async (n) => new Uint8Array(await sharp(join(root, 'plain', n)).raw().toBuffer())));
    const every = Math.ceil((14 * 19 * 150 * 150) / STAIN_SAMPLE_PIXELS);
    assert.equal(every, 3);
    const pixels = Buffer.concat(plain);
    const sample = new Uint8Array(Math.ceil(pixels.length / 3 / every) * 3);
    for (let p = 0; p < sample.length / 3; p++) sample.set(pixels.subarray(p * every * 3, p * every * 3 + 3), p * 3);
    const fit = fitMacenko(sample)!;
    assert.equal(white.tiles, s.tiles);
    for (const [i, name] of names.entries()) {
      const got = new Uint8Array(await sharp(join(root, 'slide', name)).raw().toBuffer());
      assert.deepEqual(got, applyMacenko(plain[i]!, fit, MACENKO_REFERENCE), name);
    }
    // Ready tiles (the 80-tile sample) are fitted one by one; the empty glass tiles are left as they were.
    const ready = await tileDataset({ input: SAMPLE, output: join(root, 'ready'), stainNormalize: 'macenko' });
    const name = '10009_CRC-Prim-HE-03_009.tif_Row_301_Col_151';
    const original = new Uint8Array(await sharp(join(SAMPLE, '01_TUMOR', `${name}.png`)).raw().toBuffer());
    const tile = new Uint8Array(await sharp(join(root, 'ready', `01_TUMOR__${name}__x0_y0.png`)).raw().toBuffer());
    assert.deepEqual(tile, applyMacenko(original, fitMacenko(original)!, MACENKO_REFERENCE));
    const totals = json(join(root, 'ready', 'dataset.json'))['totals'] as { unstained: { tiles: number; images: number } };
    assert.ok(totals.unstained.tiles >= 5 && totals.unstained.images === 0, JSON.stringify(totals));
    assert.ok(ready.warnings.some((w) => w.startsWith(`stain normalisation left ${totals.unstained.tiles} tiles unchanged`)));
  });

  it('fits the reference to --stain-target, and refuses a target without stained pixels before writing anything', async (t) => {
    const root = tempDir(t);
    const target = join(SAMPLE, '02_STROMA', readdirSync(join(SAMPLE, '02_STROMA')).sort()[0]!);
    const s = await tileDataset({ input: SAMPLE, output: join(root, 'm'), stainNormalize: 'reinhard', stainTarget: target });
    const stain = s.preparation.stain as { method: string; mean: number[]; target: { file: string; sha256: string } };
    assert.equal(stain.method, 'reinhard');
    assert.equal(stain.target.file, target);
    assert.match(stain.target.sha256, /^[0-9a-f]{64}$/);
    assert.deepEqual(stain.mean, fitReinhard(new Uint8Array(await sharp(target).raw().toBuffer()))!.mean);
    const glass = put(join(root, 'glass.png'), await synthetic(60, 60, [240, 240, 240]).png().toBuffer());
    await assert.rejects(tileDataset({ input: SAMPLE, output: join(root, 'none'), stainNormalize: 'macenko', stainTarget: glass }), {
      name: 'UserError',
      message: `--stain-target ${glass}: fewer than 1% of its pixels are stained (optical density at least 0.15 in every channel); choose an image with tissue`,
    });
    await assert.rejects(tileDataset({ input: SAMPLE, output: join(root, 'none'), stainNormalize: 'macenko', stainTarget: join(root, 'missing.png') }), /^Error: --stain-target .*missing\.png: cannot read it \(ENOENT\)$|cannot read it \(ENOENT\)/);
    assert.ok(!existsSync(join(root, 'none')));
  });
});
