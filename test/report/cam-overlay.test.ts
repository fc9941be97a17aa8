// Grad-CAM maps as pictures: bilinear upsampling as PyTorch's interpolate(align_corners=False),
// the overlay's arithmetic by hand, and explain's panel laid out as drawn.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { camOverlay, camPanelPng, cutMiddle, formatValue, upsampleBilinear } from '../../src/report/cam-overlay.ts';

describe('Grad-CAM pictures', () => {
  it('upsamples bilinearly with pixel centres aligned, clamped at the edges', () => {
    // map = 2 row + col; the 4 output rows (and columns) sample 0, 0.25, 0.75 and 1 (the edges
    // clamped), where a linear map is exact: out = 2 sy + sx.
    const up = upsampleBilinear([0, 1, 2, 3], 2, 2, 4, 4);
    const s = [0, 0.25, 0.75, 1];
    assert.deepEqual([...up], s.flatMap((sy) => s.map((sx) => 2 * sy + sx)));
    assert.deepEqual([...upsampleBilinear([5, 1, 7, 2, 0, 3], 2, 3, 2, 3)], [5, 1, 7, 2, 0, 3], 'the same size is the map itself');
    // 3 -> 2 on one axis: samples at 0.25 and 1.75.
    assert.deepEqual([...upsampleBilinear([0, 4, 8], 1, 3, 1, 2)], [1, 7]);
  });

  it('lays viridis at half opacity over the image, the map scaled by its maximum', () => {
    const grey = new Uint8Array(2 * 3).fill(100);
    // viridis(0) = #440154, viridis(1) = #fde725: (100 + c) / 2, rounded.
    assert.deepEqual([...camOverlay(grey, 2, 1, [0, 4], 1, 2)], [84, 51, 92, 177, 166, 69]);
    assert.deepEqual([...camOverlay(grey, 2, 1, [0, 0], 1, 2)], [84, 51, 92, 84, 51, 92], 'an all-zero map is viridis(0) everywhere');
    assert.deepEqual([formatValue(0.000123456), formatValue(12.345), formatValue(0)], ['0.000123', '12.3', '0']);
    assert.deepEqual([cutMiddle('short.png', 20), cutMiddle('04_LYMPHO__104E0_CRC-Prim-HE-02.png', 15)], ['short.png', '04_LYMP…-02.png']);
  });

  it('draws explain\'s panel: the image, the image with its map, a colour bar, under two lines', async () => {
    const rgb = Uint8Array.from({ length: 40 * 30 * 3 }, (_, i) => (i * 7) % 256);
    const map = [0, 1, 2, 3, 4, 5];
    const png = await camPanelPng({ rgb, width: 40, height: 30, map, mapHeight: 2, mapWidth: 3, lines: ['a (p = 0.900)', 'tile.png', 'Grad-CAM of layer3'] });
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([info.width, info.height, info.channels], [12 + 40 + 12 + 40 + 12 + 110, 12 + 3 * 18 + 30 + 12, 3]);
    const at = (x: number, y: number): number[] => [...data.subarray((y * info.width + x) * 3, (y * info.width + x) * 3 + 3)];
    const overlay = camOverlay(rgb, 40, 30, map, 2, 3);
    for (const [x, y] of [[0, 0], [39, 29], [17, 11]] as const) {
      assert.deepEqual(at(12 + x, 66 + y), [...rgb.subarray((y * 40 + x) * 3, (y * 40 + x) * 3 + 3)], 'the image as it is');
      assert.deepEqual(at(64 + x, 66 + y), [...overlay.subarray((y * 40 + x) * 3, (y * 40 + x) * 3 + 3)], 'the image with its map');
    }
  });
});
