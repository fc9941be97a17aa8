import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { closeOpen, dropSmallRegions, maskCover, otsuThreshold, saturation, tissueMask } from '../../src/data/tissue.ts';
import type { Mask } from '../../src/data/tissue.ts';

/** A mask from rows of '#' (tissue) and '.' (background). */
function mask(rows: string[]): Mask {
  return { width: rows[0]!.length, height: rows.length, data: Uint8Array.from(rows.join('').split('').map((c) => (c === '#' ? 1 : 0))) };
}
const show = (m: Mask): string[] => Array.from({ length: m.height }, (_, y) => [...m.data.subarray(y * m.width, (y + 1) * m.width)].map((v) => (v ? '#' : '.')).join(''));

describe('saturation and Otsu\'s threshold', () => {
  it('saturation is (max - min) / max, 0 for glass, grey and dark pixels', () => {
    const rgb = new Uint8Array([240, 238, 241, 128, 128, 128, 20, 0, 30, 200, 100, 150, 255, 0, 0]);
    assert.deepEqual([...saturation(rgb)], [Math.round((255 * 3) / 241), 0, 0, 128, 255]);
  });

  it('picks the threshold that maximises the between-class variance (hand-computed), the first on ties', () => {
    // {0 x4 | 50 x3, 100 x3}: 4 * 6 * (0 - 75)^2 = 135000; {0 x4, 50 x3 | 100 x3}: 7 * 3 * (150/7 - 100)^2 = 129643.
    assert.equal(otsuThreshold(Uint8Array.from([0, 0, 0, 0, 50, 50, 50, 100, 100, 100])), 0);
    // {10 x2, 12 x2 | 200 x6}: every t from 12 to 199 separates the same classes; the first is 12.
    assert.equal(otsuThreshold(Uint8Array.from([10, 10, 12, 12, 200, 200, 200, 200, 200, 200])), 12);
    assert.equal(otsuThreshold(new Uint8Array(5).fill(7)), 7);
  });
});

describe('mask morphology', () => {
  it('closing fills holes narrower than the disk, opening removes specks and rounds corners (hand-drawn)', () => {
    // An 8 x 8 block with a one-pixel hole, and a speck; the disk of radius 1 is a plus.
    const rows = Array.from({ length: 14 }, (_, y) => Array.from({ length: 14 }, (_, x) => (x >= 2 && x <= 9 && y >= 2 && y <= 9 && !(x === 5 && y === 5)) || (x === 12 && y === 12) ? '#' : '.').join(''));
    const expected = Array.from({ length: 14 }, (_, y) => Array.from({ length: 14 }, (_, x) => {
      const inside = x >= 2 && x <= 9 && y >= 2 && y <= 9;
      const corner = (x === 2 || x === 9) && (y === 2 || y === 9);
      return inside && !corner ? '#' : '.';
    }).join(''));
    assert.deepEqual(show(closeOpen(mask(rows), 1)), expected);
    // The image goes on beyond its border as its edge pixels: a block cut by the border keeps its
    // corners there, and is neither eaten nor grown; its inner corner is rounded.
    assert.deepEqual(show(closeOpen(mask(['###...', '###...', '###...', '......', '......']), 1)), ['###...', '###...', '##....', '......', '......']);
  });

  it('drops 8-connected regions under the minimum size', () => {
    const m = mask([
      '##....#',
      '##...#.',
      '.....#.',
      '#......',
    ]);
    assert.deepEqual(show(dropSmallRegions(m, 3)), [
      '##....#',
      '##...#.',
      '.....#.',
      '.......',
    ]);
    assert.deepEqual(show(dropSmallRegions(m, 4)), ['##.....', '##.....', '.......', '.......']);
  });

  it('a tile\'s cover counts the mask pixels whose centres lie in it', () => {
    const m = mask(['##..', '##..', '#...', '....']);
    assert.equal(maskCover(m, 0, 0, 2, 2), 1);
    assert.equal(maskCover(m, 0, 0, 4, 4), 5 / 16);
    assert.equal(maskCover(m, 0, 1, 2, 2), 3 / 4);
    assert.equal(maskCover(m, 1.6, 0, 2, 2), 0); // centres at 2.5 and 3.5
    assert.equal(maskCover(m, 0.2, 0.2, 0.2, 0.2), 1); // no centre inside: the pixel under its middle
  });
});

describe('tissueMask', () => {
  it('keeps pale pink tissue and drops glass, a black background and a grey fold', () => {
    // 40 x 30: glass, a black band at the top, pale eosin (230, 190, 220) in the middle, a grey fold inside it.
    const width = 40;
    const height = 30;
    const rgb = new Uint8Array(width * height * 3);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        let c = [242, 240, 241];
        if (y < 5) c = [8, 8, 10];
        else if (x >= 10 && x < 30 && y >= 10 && y < 25) c = x >= 18 && x < 20 ? [120, 120, 122] : [230, 190, 220];
        rgb.set(c, (y * width + x) * 3);
      }
    }
    const { mask: m, threshold } = tissueMask(rgb, width, height, { radius: 1, minPixels: 10 });
    assert.ok(threshold >= 0.04 && threshold <= 0.1, String(threshold));
    // The fold two pixels wide is closed over but for its two ends; opening rounds the four corners.
    assert.equal(maskCover(m, 10, 10, 20, 15), 1 - 8 / 300);
    assert.equal(maskCover(m, 0, 0, 40, 5), 0); // black background
    assert.equal(maskCover(m, 0, 5, 10, 25), 0); // glass
    // The white rule would call the pale tissue background: R, G and B above 220? no, G is 190; but at
    // (235, 215, 230) it would be. Saturation still finds it.
    const paler = Uint8Array.from(rgb, (v, i) => (rgb[i - (i % 3)] === 230 ? [235, 215, 230][i % 3]! : v));
    assert.equal(maskCover(tissueMask(paler, width, height, { radius: 1, minPixels: 10 }).mask, 10, 10, 20, 15), 1 - 8 / 300);
  });
});
