// Whole-slide prediction on CMU-1-Small-Region.svs with a real (tiny) exported model: the tiles it
// predicts, what it writes for QuPath and GDAL, the maps, the comparison of two models, bad input.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import onnxProto from 'onnx-proto';
import sharp from 'sharp';
import { decodeModel } from '../../src/formats/protobuf.ts';
import { parseCsv } from '../../src/formats/csv.ts';
import { tileDataset } from '../../src/data/dataset.ts';
import { splitDataset } from '../../src/data/split.ts';
import { train } from '../../src/train/trainer.ts';
import { exportRun } from '../../src/deploy/export.ts';
import { predictFiles } from '../../src/infer/predict.ts';
import { predictSlides } from '../../src/slide/slides.ts';
import type { SlideSummary } from '../../src/slide/table.ts';
import type { Progress } from '../../src/train/progress.ts';
import { KATHER_SLIDE_REGEX } from '../../src/data/groups.ts';
import { REPO, SAMPLE, WHOLE_IMAGES } from '../data/fixtures.ts';
import { needs, requireData } from '../helpers/needs.ts';

const SVS = join(WHOLE_IMAGES, 'CMU-1-Small-Region.svs');
const PNG_REGION = join(WHOLE_IMAGES, 'CMU-1-Small-Region.png');
const QUIET: Progress = { line: () => undefined, step: () => undefined, status: () => undefined, clear: () => undefined };
const ogrinfo = spawnSync('ogrinfo', ['--version'], { stdio: 'ignore' }).status === 0;

const csv = (path: string): string[][] => parseCsv(readFileSync(path, 'utf8'));

/** The model file with metadata keys set (a string) or removed (null). */
function withMetadata(from: string, to: string, changes: Record<string, string | null>): string {
  const model = decodeModel(readFileSync(from));
  const kept = (model.metadataProps ?? []).filter((p) => !(p.key! in changes));
  const added = Object.entries(changes).flatMap(([key, value]) => (value === null ? [] : [new onnxProto.onnx.StringStringEntryProto({ key, value })]));
  model.metadataProps = [...kept, ...added];
  writeFileSync(to, onnxProto.onnx.ModelProto.encode(model).finish());
  return to;
}

describe('predict on whole slides', { skip: requireData(SVS) }, () => {
  let root = '';
  let model = '';
  let other = '';
  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'senet-ort-slide-'));
    // The 80 Kather tiles, 150 px: a resnet20 at 16x16 for an epoch, fold 1 and fold 2 exported.
    const data = join(root, 'tiles');
    await tileDataset({ input: SAMPLE, output: data });
    splitDataset({ dir: data, groupRegex: KATHER_SLIDE_REGEX, folds: 2 });
    const run = join(root, 'run');
    await train({ data, arch: 'resnet20', input: [3, 16, 16], epochs: 1, batchSize: 16, lr: 0.05, threads: 2, workers: 1, out: run }, { progress: QUIET });
    model = (await exportRun({ run, fold: 1, checkpoint: 'last', out: join(root, 'plain.onnx'), threads: 2 })).path;
    other = (await exportRun({ run, fold: 2, checkpoint: 'last', out: join(root, 'other.onnx'), threads: 2 })).path;
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('predicts the white rule\'s tiles of the grid, each as the model predicts that crop alone, and writes what QuPath and GDAL read', async () => {
    // The Kather tiles were ready-made (no tissue rule); this model is told the white rule, as a slide study's would be.
    const white = withMetadata(model, join(root, 'white.onnx'), { tissue_detection: JSON.stringify({ method: 'white', whiteThreshold: 220, maxWhite: 0.5 }) });
    const out = join(root, 'maps-white');
    const { results, failures } = await predictSlides(white, [SVS], { out, threads: 2, batch: 16 });
    assert.deepEqual(failures, []);
    const summary = results[0]!.summary;
    // The tiles are exactly those `tile` keeps with the same rule.
    const expected = await keptByTile(SVS, {});
    const rows = csv(join(out, 'CMU-1-Small-Region.csv'));
    assert.deepEqual(rows[0], ['x', 'y', 'w', 'h', 'class', 'prob_01_TUMOR', 'prob_02_STROMA', 'prob_03_COMPLEX', 'prob_04_LYMPHO', 'prob_05_DEBRIS', 'prob_06_MUCOSA', 'prob_07_ADIPOSE', 'prob_08_EMPTY']);
    assert.deepEqual(rows.slice(1).map((r) => `${r[0]},${r[1]}`), expected);
    assert.equal(summary.grid.positions, 14 * 19);
    assert.equal(summary.grid.tiles, expected.length);

    // Five tiles, cut from the lossless PNG of the region and classified alone: the same probabilities.
    const region = await sharp(PNG_REGION).raw().toBuffer({ resolveWithObject: true });
    const picked = [0, 7, 19, 40, rows.length - 2].map((i) => rows[1 + i]!);
    const crops = await Promise.all(picked.map(async (r, i) => {
      const file = join(root, `crop${i}.png`);
      await sharp(region.data, { raw: { width: region.info.width, height: region.info.height, channels: 3 } })
        .extract({ left: Number(r[0]), top: Number(r[1]), width: 150, height: 150 }).png().toFile(file);
      return file;
    }));
    const alone = await predictFiles(white, crops, { threads: 2, batch: 16 });
    alone.predictions.forEach((p, i) => {
      const fromSlide = picked[i]!.slice(5).map(Number);
      p.probabilities.forEach((v, c) => assert.ok(Math.abs(v - fromSlide[c]!) < 2e-6, `tile ${picked[i]![0]},${picked[i]![1]} class ${c}: ${v} vs ${fromSlide[c]}`));
      assert.equal(p.label, picked[i]![4]);
    });

    // GeoJSON as QuPath takes it: tile objects, a classification with a colour, numeric measurements.
    const geo = JSON.parse(readFileSync(join(out, 'CMU-1-Small-Region.geojson'), 'utf8')) as { type: string; features: { type: string; geometry: { type: string; coordinates: number[][][] }; properties: Record<string, unknown> }[] };
    assert.equal(geo.type, 'FeatureCollection');
    assert.equal(geo.features.length, expected.length);
    for (const [i, f] of geo.features.entries()) {
      const [x, y] = [Number(rows[1 + i]![0]), Number(rows[1 + i]![1])];
      assert.deepEqual(f.geometry, { type: 'Polygon', coordinates: [[[x, y], [x + 150, y], [x + 150, y + 150], [x, y + 150], [x, y]]] });
      assert.equal(f.properties['objectType'], 'tile');
      const cls = f.properties['classification'] as { name: string; color: number[] };
      assert.equal(cls.name, rows[1 + i]![4]);
      assert.ok(cls.color.length === 3 && cls.color.every((v) => Number.isInteger(v) && v >= 0 && v <= 255));
      const m = f.properties['measurements'] as Record<string, number>;
      assert.equal(Object.keys(m).length, 8);
      assert.ok(Math.abs(Object.values(m).reduce((a, b) => a + b, 0) - 1) < 1e-4);
    }
    if (!needs(ogrinfo, 'ogrinfo (Debian gdal-bin)')) {
      const info = spawnSync('ogrinfo', ['-ro', '-al', '-so', join(out, 'CMU-1-Small-Region.geojson')], { encoding: 'utf8' });
      assert.equal(info.status, 0, info.stderr);
      assert.match(info.stdout, new RegExp(`^Feature Count: ${expected.length}$`, 'm'));
      assert.match(info.stdout, /^Geometry: Polygon$/m);
      assert.match(info.stdout, /^objectType: String/m);
    }
    // The summary: areas at 0.499 µm/px, 150 px tiles: 0.0056 mm² each.
    const areas = summary.classes[0]!;
    assert.equal(areas.reduce((n, a) => n + a.tiles, 0), expected.length);
    for (const a of areas) assert.ok(Math.abs(a.areaMm2! - a.tiles * (150 * 0.499) ** 2 / 1e6) < 1e-6);
    assert.deepEqual(readdirSync(out).sort(), [
      'CMU-1-Small-Region.csv', 'CMU-1-Small-Region.geojson',
      ...['01_TUMOR', '02_STROMA', '03_COMPLEX', '04_LYMPHO', '05_DEBRIS', '06_MUCOSA', '07_ADIPOSE', '08_EMPTY'].map((c) => `CMU-1-Small-Region.heatmap.${c}.png`),
      'CMU-1-Small-Region.overlay.png', 'CMU-1-Small-Region.summary.json',
    ]);
  });

  it('cuts with the otsu rule a model records, at the resolution it records', async () => {
    const rule = { method: 'otsu', channel: 'saturation', darkBelow: 40, thresholdBounds: [0.04, 0.1], thumbnailPixelsPerTile: 8, thumbnailMaxSide: 4096, radiusTiles: 0.125, minAreaUm2: null, minTissue: 0.5 };
    const otsu = withMetadata(model, join(root, 'otsu.onnx'), { tissue_detection: JSON.stringify(rule), tile_mpp: '1' });
    const out = join(root, 'maps-otsu');
    const { results } = await predictSlides(otsu, [SVS], { out, threads: 2, batch: 16 });
    const rows = csv(join(out, 'CMU-1-Small-Region.csv')).slice(1);
    assert.deepEqual(rows.map((r) => `${r[0]},${r[1]}`), await keptByTile(SVS, { mpp: 1, tissue: 'otsu' }));
    assert.equal(results[0]!.summary.grid.positions, 7 * 9); // 1108 x 1481 at 1 µm/px
    assert.ok(rows.every((r) => Math.abs(Number(r[2]) - 150 * 2220 / 1108) < 0.01));
  });

  it('--compare maps both models and where they disagree', async () => {
    const out = join(root, 'maps-compare');
    const { results } = await predictSlides(model, [SVS], { out, compare: other, threads: 2, batch: 16 });
    const summary: SlideSummary = results[0]!.summary;
    const rows = csv(join(out, 'CMU-1-Small-Region.csv'));
    assert.deepEqual(rows[0]!.slice(0, 6), ['x', 'y', 'w', 'h', 'class', 'prob_01_TUMOR']);
    assert.deepEqual(rows[0]!.slice(13, 15), ['other_class', 'other_prob_01_TUMOR']);
    assert.equal(rows[0]!.at(-1), 'agree');
    const disagree = rows.slice(1).filter((r) => r.at(-1) === '0').length;
    assert.equal(summary.comparison!.disagreements, disagree);
    assert.equal(summary.comparison!.table.flat().reduce((a, b) => a + b, 0), rows.length - 1);
    const features = (JSON.parse(readFileSync(join(out, 'CMU-1-Small-Region.geojson'), 'utf8')) as { features: { properties: { objectType: string; name: string; classification: { name: string } } }[] }).features;
    assert.equal(features.filter((f) => f.properties.objectType === 'tile' && f.properties.name === 'plain').length, rows.length - 1);
    assert.equal(features.filter((f) => f.properties.objectType === 'tile' && f.properties.name === 'other').length, rows.length - 1);
    assert.equal(features.filter((f) => f.properties.classification.name === 'Disagreement').length, disagree);
    assert.ok(existsSync(join(out, 'CMU-1-Small-Region.other.heatmap.01_TUMOR.png')));
    const overlay = await sharp(join(out, 'CMU-1-Small-Region.overlay.png')).metadata();
    assert.ok(overlay.width! > 3 * 1197, 'three maps side by side');
  });

  it('reports a corrupt slide and one of unknown resolution in one line each, and maps the others', async () => {
    const dir = join(root, 'bad');
    const truncated = join(dir, 'truncated.svs');
    const bytes = readFileSync(SVS);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    writeFileSync(truncated, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    // Its directories intact, a stretch of its JPEG tiles zeroed: found only while the pixels are read.
    const damaged = join(dir, 'damaged.svs');
    writeFileSync(damaged, Buffer.from(bytes).fill(0, 400000, 700000));
    const region = join(dir, 'region.png');
    writeFileSync(region, readFileSync(PNG_REGION));
    const at1 = withMetadata(model, join(root, 'mpp.onnx'), { tile_mpp: '1' });
    const out = join(root, 'maps-bad');
    const { results, failures } = await predictSlides(at1, [truncated, damaged, region, SVS], { out, threads: 2, batch: 16 });
    assert.deepEqual(results.map((r) => r.slide), [SVS]);
    assert.equal(failures.length, 3);
    assert.equal(failures[0], `${truncated}: not an image: unrecognised format or corrupt header`);
    assert.equal(failures[1], `${damaged}: corrupt or truncated TIFF image: its pixels could not be decoded`);
    assert.equal(failures[2], `${region}: resolution unknown (no Aperio MPP, OME-XML PhysicalSize or plausible TIFF resolution tag), and mpp was trained on tiles at 1 µm per pixel: give the slide's with --source-mpp`);
    assert.ok(readdirSync(out).every((f) => f.startsWith('CMU-1-Small-Region.') && !f.endsWith('.tmp')));
    // A model without tile metadata cannot cut slides: one line, before any slide is read.
    const bare = withMetadata(model, join(root, 'bare.onnx'), { source_tile_size: null });
    await assert.rejects(predictSlides(bare, [SVS], { out, threads: 2 }), { name: 'UserError', message: `${bare}: no tile size in its metadata (source_tile_size), so it cannot cut a slide; use a model made by senet-ort export, or classify the image whole with --as tile` });
  });

  it('senet-ort predict: tiles get a line, slides their maps; a slide without --out is one line', async () => {
    const out = join(root, 'maps-cli');
    const tile = join(SAMPLE, '01_TUMOR', readdirSync(join(SAMPLE, '01_TUMOR')).sort()[0]!);
    const main = join(REPO, 'src', 'cli', 'main.ts');
    const run = (...args: string[]): { status: number | null; stdout: string; stderr: string } => spawnSync(process.execPath, ['--import', 'tsx', main, 'predict', ...args], { cwd: REPO, encoding: 'utf8' });
    const r = run(model, tile, SVS, '--out', out, '--threads', '2');
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.match(lines[0]!, new RegExp(`^${tile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\t\\S+\t[01]\\.\\d{4}$`));
    assert.match(lines[1]!, /CMU-1-Small-Region\.svs\t266 of 266 tiles\tplain: .*-> .*CMU-1-Small-Region\.geojson$/);
    const refused = run(model, SVS);
    assert.deepEqual([refused.status, refused.stdout], [1, '']);
    assert.equal(refused.stderr, `senet-ort: ${SVS} is a slide (at least two of the model's tiles across): give --out DIR for its maps, or --as tile to classify it whole\n`);
    const whole = run(model, SVS, '--as', 'tile');
    assert.equal(whole.status, 0, whole.stderr);
    assert.match(whole.stdout, /CMU-1-Small-Region\.svs\t\S+\t[01]\.\d{4}\n$/);
  });
});

/** The origins `tile` keeps of one image with these options: "x,y" in manifest order. */
async function keptByTile(image: string, options: { mpp?: number; tissue?: string }): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'senet-ort-kept-'));
  try {
    const input = join(dir, 'in', 'he');
    mkdirSync(input, { recursive: true });
    writeFileSync(join(input, 'slide.svs'), readFileSync(image));
    await tileDataset({ input: join(dir, 'in'), output: join(dir, 'out'), ...options });
    return csv(join(dir, 'out', 'manifest.csv')).slice(1).map((r) => `${r[4]},${r[5]}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
