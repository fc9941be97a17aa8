import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { planScale, probeImage } from '../../src/data/image.ts';
import { gridPositions, rowsPerBand, tileImage } from '../../src/data/tiler.ts';
import type { GridSettings, TileRecord } from '../../src/data/tiler.ts';
import { WHOLE_IMAGES } from './fixtures.ts';
import { requireData } from '../helpers/needs.ts';

const SVS = join(WHOLE_IMAGES, 'CMU-1-Small-Region.svs');
const PNG = join(WHOLE_IMAGES, 'CMU-1-Small-Region.png');
const IHC = join(WHOLE_IMAGES, 'skimage_ihc.png');
const study: GridSettings = { tile: 150, stride: 150, whiteThreshold: 220, maxWhite: 0.5, filter: true, tissue: 'white', minTissue: 0.5, stain: null, bandPixels: 1 << 24 };

async function run(path: string, settings: GridSettings): Promise<{ records: TileRecord[]; pngs: Map<string, Buffer> }> {
  const info = await probeImage(path, statSync(path).size);
  const pngs = new Map<string, Buffer>();
  const { tiles: records } = await tileImage(path, info, planScale(info, 1), settings, { minAreaPixels: 0 }, (x, y, png) => pngs.set(`${x},${y}`, png));
  return { records, pngs };
}

describe('gridPositions', () => {
  it('keeps only full tiles and drops the partial edge', () => {
    assert.deepEqual(gridPositions(512, 150, 150), [0, 150, 300]);
    assert.deepEqual(gridPositions(450, 150, 150), [0, 150, 300]);
    assert.deepEqual(gridPositions(149, 150, 150), []);
  });
  it('overlaps tiles when the stride is smaller than the tile', () => {
    assert.deepEqual(gridPositions(300, 150, 75), [0, 75, 150]);
  });
});

describe('rowsPerBand', () => {
  it('fits as many tile rows as the pixel budget allows, at least one', () => {
    assert.equal(rowsPerBand(1000, { ...study, bandPixels: 1000 * 450 }), 3);
    assert.equal(rowsPerBand(1000, { ...study, bandPixels: 1000 * 449 }), 2);
    assert.equal(rowsPerBand(1000, { ...study, bandPixels: 10 }), 1);
    assert.equal(rowsPerBand(1000, { ...study, stride: 75, bandPixels: 1000 * 300 }), 3);
  });
});

describe('tileImage', { skip: requireData(SVS) }, () => {
  it('keeps the tissue tiles of CMU-1-Small-Region.svs and drops the white ones', async () => {
    const { records, pngs } = await run(SVS, study);
    assert.equal(records.length, 14 * 19); // 2220 x 2967: 14 columns, 19 rows, edge strips dropped
    const kept = records.filter((r) => r.kept);
    // The data notes count 170 of the 266 tiles at >= 50% near-white; this filter drops > 50%.
    assert.ok(kept.length >= 90 && kept.length <= 100, `kept ${kept.length}`);
    assert.ok(kept.every((r) => r.white <= 0.5));
    assert.ok(records.filter((r) => !r.kept).every((r) => r.white > 0.5));
    assert.equal(pngs.size, kept.length);
    // Corners of this slide region are glass; its middle column is tissue.
    const at = (x: number, y: number): TileRecord => records.find((r) => r.x === x && r.y === y)!;
    assert.equal(at(0, 0).kept, false);
    assert.ok(at(0, 0).white > 0.9);
    assert.equal(at(1950, 2700).kept, false);
    assert.equal(at(1200, 1050).kept, true);
    assert.ok(at(1200, 1050).white < 0.05);
  });

  it('reads the Aperio .svs (JPEG-in-TIFF, largest page) as its lossless PNG decode', async () => {
    const svs = await run(SVS, { ...study, filter: false });
    const png = await run(PNG, { ...study, filter: false });
    assert.deepEqual(svs.records, png.records);
    assert.ok([...svs.pngs].every(([key, bytes]) => bytes.equals(png.pngs.get(key)!)));
  });

  it('gives the same tiles whether the image is decoded whole or band by band', async () => {
    const settings = { ...study, stride: 100, filter: false };
    const whole = await run(IHC, settings);
    const banded = await run(IHC, { ...settings, bandPixels: 512 * 160 }); // one tile row per band
    assert.equal(rowsPerBand(512, { ...settings, bandPixels: 512 * 160 }), 1);
    assert.equal(whole.records.length, 16); // 512 px: origins 0, 100, 200, 300
    assert.deepEqual(banded.records, whole.records);
    assert.ok([...whole.pngs].every(([key, bytes]) => bytes.equals(banded.pngs.get(key)!)));
  });
});
