import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { safeName, sourceIds, sourcePrefix, tileName } from '../../src/data/names.ts';

describe('tile names', () => {
  it('are <class>__<source>__x<x>_y<y>.png', () => {
    assert.equal(tileName(sourcePrefix('01_TUMOR', '10009_CRC-Prim-HE-03_009.tif_Row_301_Col_151'), 0, 150), '01_TUMOR__10009_CRC-Prim-HE-03_009.tif_Row_301_Col_151__x0_y150.png');
  });

  it('keep only safe characters and never contain the __ separator inside a part', () => {
    assert.equal(safeName('slide 1 (left)/é'), 'slide-1--left---');
    assert.equal(safeName('a__b___c'), 'a_b_c');
  });

  it('give each source of a class a unique id, even when stems or case collide', () => {
    const ids = sourceIds(['b.tif', 'a.png', 'a.tif', 'sub/c.jpg', 'x y.png', 'x-y.png', 'Q.png', 'q.png']);
    assert.deepEqual(Object.fromEntries(ids), {
      'Q.png': 'Q.png',
      'a.png': 'a.png',
      'a.tif': 'a.tif',
      'b.tif': 'b',
      'q.png': 'q.png-2',
      'sub/c.jpg': 'sub+c',
      'x y.png': 'x-y.png',
      'x-y.png': 'x-y.png-2',
    });
  });
});
