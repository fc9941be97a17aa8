import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cropTile, whiteFraction } from '../../src/data/white.ts';

describe('white', () => {
  it('counts a pixel as background only when R, G and B are all above the threshold', () => {
    const rgb = Uint8Array.from([255, 255, 255, 221, 221, 221, 221, 221, 220, 0, 0, 0]);
    assert.equal(whiteFraction(rgb, 220), 0.5);
    assert.equal(whiteFraction(rgb, 254), 0.25);
  });

  it('crops a tile out of a wider band', () => {
    // A 4 x 3 band whose pixel (x, y) is [x, y, 9].
    const band = Uint8Array.from({ length: 4 * 3 * 3 }, (_, i) => [Math.floor(i / 3) % 4, Math.floor(i / 12), 9][i % 3]!);
    assert.deepEqual([...cropTile(band, 4, 2, 1, 2)], [2, 1, 9, 3, 1, 9, 2, 2, 9, 3, 2, 9]);
  });
});
