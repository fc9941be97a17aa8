// The split with no file I/O, which the browser app runs: given the same tiles, groups and seed it
// gives what `split` writes, and it refuses what `split` refuses.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { MANIFEST_HEADER } from '../../src/data/dataset.ts';
import type { SplitTile } from '../../src/data/grouped-split.ts';
import { splitTiles } from '../../src/data/grouped-split.ts';
import { splitDataset } from '../../src/data/split.ts';
import { toCsv } from '../../src/formats/csv.ts';
import { put, tempDir } from './fixtures.ts';

/** 3 classes x 6 patients x 3 tiles, the patient first in each name. */
function tiles(): SplitTile[] {
  return ['a', 'b', 'c'].flatMap((c) =>
    Array.from({ length: 18 }, (_, i) => {
      const source = `${c}/${100 + Math.floor(i / 3)}${c}_${i % 3}.png`;
      return { file: `${c}__${source.split('/')[1]!.replace('.png', '')}__x0_y0.png`, className: c, source, group: source };
    }),
  );
}

describe('splitTiles', () => {
  it('gives the splits splitDataset writes for the same manifest, groups and seed', (t) => {
    const all = tiles();
    const dir = tempDir(t);
    put(join(dir, 'manifest.csv'), toCsv(MANIFEST_HEADER, all.map((x) => [x.file, x.className, x.source, x.source, 0, 0, 0])));
    const written = splitDataset({ dir, seed: 7, groupRegex: '^\\d+' });
    const byPatient = all.map((x) => ({ ...x, group: /^\d+/.exec(x.source.split('/')[1]!)![0] }));
    const { splits, perClass } = splitTiles(byPatient, ['a', 'b', 'c'], { testFraction: 0.2, k: 4, seed: 7, groupBy: { kind: 'regex', pattern: '^\\d+', on: 'name' } });
    assert.deepEqual(splits, JSON.parse(readFileSync(written.path, 'utf8')));
    assert.deepEqual(perClass, written.perClass);
    assert.deepEqual(perClass['a'], { tiles: 18, groups: 6 });
  });

  it('keeps each group on one side, and changes with the seed', () => {
    const byPatient = tiles().map((x) => ({ ...x, group: x.source.slice(0, 5) }));
    const settings = { testFraction: 0.2, k: 3, seed: 0, groupBy: { kind: 'source' } as const };
    const a = splitTiles(byPatient, ['a', 'b', 'c'], settings).splits;
    const b = splitTiles(byPatient, ['a', 'b', 'c'], { ...settings, seed: 1 }).splits;
    assert.notDeepEqual(a.test, b.test);
    const groupOf = new Map(byPatient.map((x) => [x.file, x.group]));
    const testGroups = new Set(a.test.map((f) => groupOf.get(f)));
    for (const fold of a.folds) for (const f of fold.train) assert.ok(!testGroups.has(groupOf.get(f)), `${f} trains while its group is tested`);
  });

  it('refuses a class from one group, and no tiles', () => {
    const one = tiles().map((x) => ({ ...x, group: x.className === 'a' ? 'one' : x.source }));
    assert.throws(() => splitTiles(one, ['a', 'b', 'c'], { testFraction: 0.2, k: 2, seed: 0, groupBy: { kind: 'source' } }), /class a: all 18 tiles come from one group \(one\)/);
    assert.throws(() => splitTiles([], ['a'], { testFraction: 0.2, k: 2, seed: 0, groupBy: { kind: 'source' } }), /no tiles to split/);
  });
});
