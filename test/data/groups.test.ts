// What tiles are grouped by: Kather 2016's slide when every source names one, a pattern, a file.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KATHER_SLIDE_REGEX, groupTiles, parseGroupsFile, slideGrouping } from '../../src/data/groups.ts';

describe('slideGrouping', () => {
  it('groups by Kather slide when every source carries one', () => {
    assert.equal(slideGrouping(['01_TUMOR/1A11_CRC-Prim-HE-07_022.tif_Row_601_Col_151.tif', '02_STROMA/1A2_CRC-Prim-HE-03_009.tif']), KATHER_SLIDE_REGEX);
  });

  it('leaves the default (the source image) when one source has no slide id, or there are none', () => {
    assert.equal(slideGrouping(['01_TUMOR/1A11_CRC-Prim-HE-07_022.tif', '01_TUMOR/scan-4.tif']), undefined);
    assert.equal(slideGrouping([]), undefined);
  });
});

describe('groupTiles', () => {
  const tiles = [{ source: 'a/10253_idx5.png', group: 'a/10253_idx5.png' }, { source: 'b/10254_idx1.png', group: 'b/10254_idx1.png' }];
  it('takes the source, a pattern\'s match on the name, or the --groups file\'s map', () => {
    assert.deepEqual(groupTiles(tiles, { kind: 'source' }), ['a/10253_idx5.png', 'b/10254_idx1.png']);
    assert.deepEqual(groupTiles(tiles, { kind: 'regex', pattern: '^\\d+', on: 'name' }), ['10253', '10254']);
    const map = parseGroupsFile('source,group\na/10253_idx5.png,p1\nb/10254_idx1.png,p2\n', 'groups.csv');
    assert.deepEqual(groupTiles(tiles, { kind: 'file', file: 'groups.csv' }, map), ['p1', 'p2']);
  });

  it('names the source a pattern misses, and the line of a bad groups file', () => {
    assert.throws(() => groupTiles(tiles, { kind: 'regex', pattern: 'idx5', on: 'name' }), /does not match file name "10254_idx1.png" \(source "b\/10254_idx1.png"\)/);
    assert.throws(() => parseGroupsFile('a/1.png,p1\nb/2.png\n', 'groups.csv'), /groups.csv: line 2: expected "source,group"/);
  });
});
