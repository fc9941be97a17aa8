import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { readTiffDirectories } from '../../src/formats/tiff.ts';
import type { TiffDirectory } from '../../src/formats/tiff.ts';
import { planRead, pyramidLevels, tiffResolution } from '../../src/data/resolution.ts';
import { tempDir, WHOLE_IMAGES } from './fixtures.ts';
import { needs, requireData } from '../helpers/needs.ts';

const SVS = join(WHOLE_IMAGES, 'CMU-1-Small-Region.svs');
const vips = spawnSync('vips', ['--version'], { stdio: 'ignore' }).status === 0;

function directory(d: Partial<TiffDirectory> & { width: number; height: number }): TiffDirectory {
  return { page: 0, subifd: null, tiled: true, subfileType: 0, description: null, xResolution: null, yResolution: null, resolutionUnit: 2, orientation: 1, subifds: [], ...d };
}

describe('tiffResolution', () => {
  it('reads the Aperio MPP of CMU-1-Small-Region.svs', { skip: requireData(SVS) }, () => {
    assert.deepEqual(tiffResolution(readTiffDirectories(SVS)), { x: 0.499, y: 0.499, from: 'aperio' });
  });

  it('reads OME-XML PhysicalSize with its units, and TIFF resolution tags in inches or centimetres', () => {
    const ome = '<?xml version="1.0"?><OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06"><Image ID="Image:0"><Pixels ID="Pixels:0" PhysicalSizeX="250" PhysicalSizeXUnit="nm" PhysicalSizeY="0.26" SizeX="10"></Pixels></Image></OME>';
    assert.deepEqual(tiffResolution([directory({ width: 10, height: 10, description: ome })]), { x: 0.25, y: 0.26, from: 'ome' });
    const noUnit = ome.replace(' PhysicalSizeXUnit="nm"', '').replace('250', '0.5');
    assert.deepEqual(tiffResolution([directory({ width: 10, height: 10, description: noUnit })]), { x: 0.5, y: 0.26, from: 'ome' });
    // 40,000 pixels per cm is 0.25 µm; 101,600 per inch is 0.25 µm too.
    assert.deepEqual(tiffResolution([directory({ width: 10, height: 10, xResolution: 40000, yResolution: 40000, resolutionUnit: 3 })]), { x: 0.25, y: 0.25, from: 'tiff-tags' });
    assert.deepEqual(tiffResolution([directory({ width: 10, height: 10, xResolution: 101600, yResolution: 50800, resolutionUnit: 2, orientation: 6 })]), { x: 0.5, y: 0.25, from: 'tiff-tags' });
  });

  it('treats writers\' defaults (72 and 300 dpi, no unit) and absent tags as unknown', () => {
    for (const [xResolution, resolutionUnit] of [[72, 2], [300, 2], [28.35, 3], [40000, 1]] as const) {
      assert.equal(tiffResolution([directory({ width: 10, height: 10, xResolution, yResolution: xResolution, resolutionUnit })]), null);
    }
    assert.equal(tiffResolution([directory({ width: 10, height: 10 })]), null);
    assert.equal(tiffResolution([directory({ width: 10, height: 10, description: 'Aperio Image Library v10 |AppMag = 20' })]), null);
  });
});

describe('pyramidLevels', () => {
  it('keeps the .svs image and leaves out its thumbnail, label and macro', { skip: requireData(SVS) }, () => {
    assert.deepEqual(pyramidLevels(readTiffDirectories(SVS)), [{ page: 0, subifd: null, width: 2220, height: 2967 }]);
  });

  it('orders the levels of a pyramid written by vips as pages and as SubIFDs', { skip: needs(vips, 'vips (Debian libvips-tools)') }, async (t) => {
    const dir = tempDir(t);
    const png = join(dir, 'in.png');
    await sharp({ create: { width: 2220, height: 2967, channels: 3, background: '#c080b0' } }).png().toFile(png);
    for (const [name, extra] of [['pages.tif', []], ['subifd.tif', ['--subifd']]] as const) {
      const out = join(dir, name);
      assert.equal(spawnSync('vips', ['tiffsave', png, out, '--tile', '--tile-width', '256', '--tile-height', '256', '--pyramid', '--compression', 'jpeg', '--xres', '2004.01', '--yres', '2004.01', ...extra]).status, 0);
      const directories = readTiffDirectories(out);
      const levels = pyramidLevels(directories);
      assert.deepEqual(levels.map((l) => [l.width, l.height]), [[2220, 2967], [1110, 1483], [555, 741], [277, 370], [138, 185]]);
      assert.deepEqual(levels.map((l) => [l.page, l.subifd]), name === 'pages.tif' ? [[0, null], [1, null], [2, null], [3, null], [4, null]] : [[0, null], [0, 0], [0, 1], [0, 2], [0, 3]]);
      const res = tiffResolution(directories)!;
      assert.ok(Math.abs(res.x - 0.499) < 1e-4 && res.from === 'tiff-tags', JSON.stringify(res));
    }
  });

  it('leaves out images of another aspect ratio, masks and labels', () => {
    const base = directory({ width: 4000, height: 3000, subifds: [directory({ width: 2000, height: 1500, subifd: 0 })] });
    const levels = pyramidLevels([
      base,
      directory({ page: 1, width: 1000, height: 750 }),
      directory({ page: 2, width: 500, height: 375, subfileType: 4 }), // a transparency mask
      directory({ page: 3, width: 400, height: 100 }), // another aspect ratio: a macro photograph
      directory({ page: 4, width: 300, height: 225, tiled: false }), // stripped, not reduced-resolution: a thumbnail
      directory({ page: 5, width: 200, height: 150, description: 'Aperio Image Library v11\nlabel 200x150' }),
    ]);
    assert.deepEqual(levels.map((l) => [l.page, l.subifd, l.width]), [[0, null, 4000], [0, 0, 2000], [1, null, 1000]]);
  });
});

describe('planRead', () => {
  const levels = [[2220, 2967], [1110, 1483], [555, 741], [277, 370]].map(([width, height], page) => ({ page, subifd: null, width: width!, height: height! }));

  it('reads the coarsest level still at least as fine as the target, and resizes it', () => {
    // 0.499 µm/px to 1.0: 2.004 level-0 pixels per tiled pixel: level 1 (2x) resized to 1108 x 1481.
    const plan = planRead(levels, 1 / 0.499, 1 / 0.499);
    assert.deepEqual([plan.level.page, plan.width, plan.height], [1, 1108, 1481]);
    assert.ok(Math.abs(plan.factorX - 2220 / 1108) < 1e-12);
    // Exactly a level's factor: that level as it is, no resampling by a pixel.
    assert.deepEqual((({ level, width, height }) => [level.page, width, height])(planRead(levels, 2, 2)), [1, 1110, 1483]);
    assert.deepEqual((({ level, width, height }) => [level.page, width, height])(planRead(levels, 7.9, 7.9)), [2, 281, 376]);
    // Finer than level 0: level 0, enlarged.
    assert.deepEqual((({ level, width, height }) => [level.page, width, height])(planRead(levels, 0.5, 0.5)), [0, 4440, 5934]);
    assert.deepEqual((({ level, width, height }) => [level.page, width, height])(planRead(levels, 1, 1)), [0, 2220, 2967]);
  });
});
