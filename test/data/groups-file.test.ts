// The groups' file reads: the default grouping from a tile folder's manifest.csv, the --groups file.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import { MANIFEST_HEADER } from '../../src/data/dataset.ts';
import { KATHER_SLIDE_REGEX } from '../../src/data/groups.ts';
import { defaultGrouping, readGroupsFile, resolveGroups } from '../../src/data/groups-file.ts';
import { toCsv } from '../../src/formats/csv.ts';
import { put, tempDir } from './fixtures.ts';

function tiles(t: TestContext, sources: readonly string[]): string {
  const dir = tempDir(t);
  put(join(dir, 'manifest.csv'), toCsv(MANIFEST_HEADER, sources.map((s, i) => [`t${i}.png`, 'a', s, s, 0, 0, 0])));
  return dir;
}

describe('defaultGrouping', () => {
  it('groups by Kather slide when every source carries one', (t) => {
    assert.equal(defaultGrouping(tiles(t, ['01_TUMOR/1A11_CRC-Prim-HE-07_022.tif_Row_601_Col_151.tif', '02_STROMA/1A2_CRC-Prim-HE-03_009.tif'])), KATHER_SLIDE_REGEX);
  });

  it('leaves the default (the source image) when one source has no slide id, or there are no tiles', (t) => {
    assert.equal(defaultGrouping(tiles(t, ['01_TUMOR/1A11_CRC-Prim-HE-07_022.tif', '01_TUMOR/scan-4.tif'])), undefined);
    assert.equal(defaultGrouping(tiles(t, [])), undefined);
  });
});

describe('readGroupsFile and resolveGroups', () => {
  it('reads the --groups file that a grouping names, and refuses a missing one in one line', (t) => {
    const file = join(tempDir(t), 'patients.tsv');
    put(file, 'a/1.png\tp1\nb/2.png\tp2\n');
    assert.deepEqual([...readGroupsFile(file)], [['a/1.png', 'p1'], ['b/2.png', 'p2']]);
    assert.deepEqual(resolveGroups([{ source: 'a/1.png', group: 'a/1.png' }, { source: 'b/2.png', group: 'b/2.png' }], { kind: 'file', file }), ['p1', 'p2']);
    assert.throws(() => readGroupsFile(`${file}.missing`), /expected existing file for --groups but received ".*patients.tsv.missing"/);
  });
});
