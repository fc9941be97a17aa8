import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { tileDataset } from '../../src/data/dataset.ts';
import { put, tempDir, TEST_OUTPUT, WHOLE_IMAGES } from './fixtures.ts';
import { requireData } from '../helpers/needs.ts';

const SVS = join(WHOLE_IMAGES, 'CMU-1-Small-Region.svs');

describe('contact sheet', { skip: requireData(SVS) }, () => {
  it('draws CMU-1-Small-Region.svs at 150 px with kept tiles outlined and white tiles shaded (test-output/, to look at)', async (t) => {
    const input = join(tempDir(t), 'in');
    put(join(input, 'he', 'CMU-1-Small-Region.svs'), readFileSync(SVS));
    const sheet = join(TEST_OUTPUT, 'cmu-1-small-region-150-contact-sheet.png');
    const summary = await tileDataset({ input, output: join(tempDir(t), 'out'), contactSheet: sheet });
    assert.equal(summary.contactSheet, sheet);
    // One tile is 40 px on the sheet; panels sit 8 px from the edge.
    const { data, info } = await sharp(sheet).raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([info.width, info.height, info.channels], [8 + 592 + 8, 8 + 791 + 8, 3]);
    const at = (x: number, y: number): number[] => [...data.subarray((y * info.width + x) * 3, (y * info.width + x) * 3 + 3)];
    const [r0, g0, b0] = at(8 + 20, 8 + 20); // tile (0, 0): glass, dropped, shaded red
    assert.ok(r0! > 240 && g0! < 180 && b0! < 180, `dropped tile shows ${[r0, g0, b0]}`);
    const edge = at(8 + 8 * 40, 8 + 7 * 40 + 20); // left edge of kept tile (1200, 1050): green outline
    assert.ok(edge[1]! > 150 && edge[0]! < 100, `kept tile outline ${edge}`);
  });
});
