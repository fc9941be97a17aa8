import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isSmall, readyTileRejection, readyTileSize } from '../../src/data/ready.ts';
import type { ImageSize } from '../../src/data/ready.ts';

const many = (n: number, width: number, height = width): ImageSize[] => Array.from({ length: n }, () => ({ width, height }));

describe('ready tiles: the tile size of images that are tiles already', () => {
  it('small: a grid of default tiles would cut at most one tile from it', () => {
    assert.equal(isSmall({ width: 299, height: 299 }), true);
    assert.equal(isSmall({ width: 300, height: 50 }), false);
    assert.equal(isSmall({ width: 50, height: 300 }), false);
    assert.equal(isSmall({ width: 99, height: 99 }, 50), true);
    assert.equal(isSmall({ width: 100, height: 99 }, 50), false);
  });

  it('takes the size that covers 95% of mostly small images, at exactly 95% too', () => {
    assert.deepEqual(readyTileSize([...many(95, 50), ...many(5, 40)], 'in'), { tile: 50, count: 95, total: 100 });
    assert.deepEqual(readyTileSize(many(80, 150), 'in'), { tile: 150, count: 80, total: 80 });
    assert.deepEqual(readyTileSize(many(3, 224), 'in'), { tile: 224, count: 3, total: 3 });
    // A large outlier among patches is one of the 5% (it is rejected, not tiled: readyTileRejection).
    assert.deepEqual(readyTileSize([...many(99, 50), { width: 4000, height: 3000 }], 'in'), { tile: 50, count: 99, total: 100 });
  });

  it('leaves images that are mostly large to the default grid', () => {
    assert.equal(readyTileSize([], 'in'), null);
    assert.equal(readyTileSize(many(10, 300), 'in'), null);
    assert.equal(readyTileSize([...many(5, 50), ...many(5, 2000)], 'in'), null); // half small is not most
    assert.equal(readyTileSize([{ width: 400, height: 400 }, { width: 300, height: 160 }, { width: 100, height: 80 }], 'in'), null);
  });

  it('names the sizes found and --tile in one line when no size covers 95%', () => {
    const sizes = [...many(94, 50), ...many(3, 48), ...many(2, 40), { width: 30, height: 20 }, { width: 10, height: 10 }];
    assert.throws(() => readyTileSize(sizes, '/data/patches'), {
      name: 'UserError',
      message: '/data/patches: 101 of the 101 images are under 300x300 px, so they are taken to be tiles already, but no one size covers 95% of them (50x50: 94 (93.1%), 48x48: 3 (3%), 40x40: 2 (2%), 30x20: 1 (1%), and 1 more sizes); give the tile size with --tile',
    });
    // Ties are ranked by size, not by input order.
    assert.throws(() => readyTileSize([...many(2, 40), ...many(2, 60)], 'in'), { message: /\(60x60: 2 \(50%\), 40x40: 2 \(50%\)\)/ });
  });

  it('refuses a size that is not square, suggesting a square tile', () => {
    assert.throws(() => readyTileSize(many(20, 100, 80), 'in'), {
      message: 'in: 20 of the 20 images are under 300x300 px, so they are taken to be tiles already, and 100% of them are 100x80, which is not square; give a square tile size with --tile (--tile 80 cuts 80x80 tiles from them)',
    });
  });

  it('says why an image is not one of the tiles: smaller, or larger', () => {
    const ready = { tile: 48, count: 60, total: 63 };
    assert.equal(readyTileRejection({ width: 48, height: 48 }, ready), null);
    assert.equal(readyTileRejection({ width: 48, height: 30 }, ready), 'smaller than the 48x48 tile size that 60 of the 63 images have');
    assert.equal(readyTileRejection({ width: 200, height: 40 }, ready), 'smaller than the 48x48 tile size that 60 of the 63 images have');
    assert.equal(readyTileRejection({ width: 50, height: 48 }, ready), 'larger than the 48x48 tile size that 60 of the 63 images have (--tile 48 cuts such images into tiles too)');
  });
});
