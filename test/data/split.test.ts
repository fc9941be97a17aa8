import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { toCsv } from '../../src/formats/csv.ts';
import { MANIFEST_HEADER } from '../../src/data/dataset.ts';
import { KATHER_SLIDE_REGEX } from '../../src/data/groups.ts';
import { splitDataset } from '../../src/data/split.ts';
import type { Splits } from '../../src/data/grouped-split.ts';
import { KATHER_FULL, put, tempDir } from './fixtures.ts';
import { requireData } from '../helpers/needs.ts';

interface Row { file: string; className: string; source: string }

/** A tile folder's manifest.csv (no tiles needed to split). */
function writeManifest(dir: string, rows: readonly Row[]): string {
  put(join(dir, 'manifest.csv'), toCsv(MANIFEST_HEADER, rows.map((r) => [r.file, r.className, r.source, r.source, 0, 0, 0])));
  return dir;
}

/** The full Kather 2016 copy (345 tiles, 10 slides) as `tile` would list it: one tile per image. */
function katherRows(): Row[] {
  const classes = readdirSync(KATHER_FULL).filter((d) => /^\d\d_/.test(d)).sort();
  return classes.flatMap((c) => readdirSync(join(KATHER_FULL, c)).sort().map((f) => ({ file: `${c}__${f.replace(/\.tif$/, '')}__x0_y0.png`, className: c, source: `${c}/${f}` })));
}

const slideOf = (file: string): string => /CRC-Prim-HE-\d+/.exec(file)![0];

/** Slides on both sides of each split, if any. */
function crossings(s: Splits): string[] {
  const slides = (files: readonly string[]): Set<string> => new Set(files.map(slideOf));
  const out: string[] = [];
  const test = slides(s.test);
  s.folds.forEach((fold, f) => {
    const train = slides(fold.train);
    const val = slides(fold.val);
    for (const x of test) if (train.has(x) || val.has(x)) out.push(`test/fold${f + 1}: ${x}`);
    for (const x of val) if (train.has(x)) out.push(`fold${f + 1} train/val: ${x}`);
  });
  return out;
}

describe('splitDataset on the Kather 2016 set', { skip: requireData(KATHER_FULL) }, () => {
  it('grouped by slide, puts no slide on both sides of any split', (t) => {
    const rows = katherRows();
    const dir = writeManifest(tempDir(t), rows);
    const { splits, path } = splitDataset({ dir, groupRegex: KATHER_SLIDE_REGEX });
    assert.deepEqual(crossings(splits), []);
    assert.equal(new Set(rows.map((r) => slideOf(r.file))).size, 10);
    // Every fold is a partition of all tiles into test, train and val.
    for (const fold of splits.folds) {
      const all = [...splits.test, ...fold.train, ...fold.val].sort();
      assert.deepEqual(all, rows.map((r) => r.file).sort());
    }
    // Every class can be tested and is trained on in every fold.
    for (const c of splits.classes) {
      assert.ok(splits.counts.test[c]! > 0, `${c} in test`);
      for (const fold of splits.counts.folds) assert.ok(fold.train[c]! > 0, `${c} in training`);
    }
    const share = splits.test.length / rows.length;
    assert.ok(share > 0.1 && share < 0.3, `test share ${share}`);
    // 08_EMPTY comes from two slides only: one goes to test, the other always trains.
    assert.equal(splits.groups.trainOnly.length, 1);
    assert.ok(splits.warnings.some((w) => w.startsWith('class 08_EMPTY has 2 groups, fewer than the 5 splits')));
    assert.ok(splits.warnings.some((w) => w.startsWith('class 08_EMPTY has one group in the development set')));
    assert.deepEqual(JSON.parse(readFileSync(path, 'utf8')), splits);
    assert.deepEqual(splits.groupBy, { kind: 'regex', pattern: 'CRC-Prim-HE-\\d+', on: 'name' });
    assert.deepEqual(Object.keys(splits.tileGroups!), rows.map((r) => r.file));
    assert.deepEqual(Object.entries(splits.tileGroups!).filter(([file, slide]) => slideOf(file) !== slide), []);
  });

  it('grouped by source image (one tile each), leaks slides across splits and says so', (t) => {
    const dir = writeManifest(tempDir(t), katherRows());
    const { splits } = splitDataset({ dir });
    assert.ok(crossings(splits).length > 0);
    assert.ok(splits.warnings.some((w) => w.startsWith('every group holds a single tile')));
  });

  it('is deterministic for a seed', (t) => {
    const dir = writeManifest(tempDir(t), katherRows());
    const once = readFileSync(splitDataset({ dir, groupRegex: KATHER_SLIDE_REGEX, seed: 11 }).path, 'utf8');
    const twice = readFileSync(splitDataset({ dir, groupRegex: KATHER_SLIDE_REGEX, seed: 11 }).path, 'utf8');
    assert.equal(once, twice);
  });
});

/** Tiles of two classes over the given groups: `spec` maps group -> [tiles of a, tiles of b]. */
function twoClasses(spec: Record<string, [number, number]>): Row[] {
  return Object.entries(spec).flatMap(([g, [a, b]]) => [
    ...Array.from({ length: a }, (_, i) => ({ file: `a__${g}-${i}__x0_y0.png`, className: 'a', source: `a/${g}-${i}.png` })),
    ...Array.from({ length: b }, (_, i) => ({ file: `b__${g}-${i}__x0_y0.png`, className: 'b', source: `b/${g}-${i}.png` })),
  ]);
}

describe('splitDataset', () => {
  it('stratifies by class: many groups give each class its share in test and in every fold', (t) => {
    const spec: Record<string, [number, number]> = {};
    for (let g = 0; g < 200; g++) spec[`p${String(g).padStart(3, '0')}`] = [1 + (g % 4), g % 3 === 0 ? 3 : 0];
    const dir = writeManifest(tempDir(t), twoClasses(spec));
    const { splits } = splitDataset({ dir, groupRegex: '^(p\\d+)-' });
    for (const c of ['a', 'b']) {
      const total = splits.counts.test[c]! + splits.counts.folds[0]!.train[c]! + splits.counts.folds[0]!.val[c]!;
      assert.ok(Math.abs(splits.counts.test[c]! / total - 0.2) < 0.02, `${c} test`);
      for (const fold of splits.counts.folds) assert.ok(Math.abs(fold.val[c]! / total - 0.2) < 0.02, `${c} val`);
    }
    assert.equal(splits.groups.test.length + splits.groups.folds.reduce((n, f) => n + f.val.length, 0), 200);
  });

  it('maps sources to patients with --groups, and keeps each patient on one side', (t) => {
    const dir = tempDir(t);
    const spec: Record<string, [number, number]> = {};
    for (let g = 0; g < 12; g++) spec[`s${g}`] = [3, 2];
    const rows = twoClasses(spec);
    writeManifest(dir, rows);
    const patientOf = (source: string): string => `patient-${Math.floor(Number(/s(\d+)-/.exec(source)![1]) / 2)}`; // two slides each
    put(join(dir, 'patients.csv'), `source,group\n${rows.map((r) => `${r.source},${patientOf(r.source)}`).join('\n')}\n`);
    const { splits } = splitDataset({ dir, groupsFile: join(dir, 'patients.csv'), folds: 3 });
    const sourceOf = new Map(rows.map((r) => [r.file, r.source]));
    const patients = (files: readonly string[]): Set<string> => new Set(files.map((f) => patientOf(sourceOf.get(f)!)));
    const test = patients(splits.test);
    for (const fold of splits.folds) {
      const val = patients(fold.val);
      for (const p of patients(fold.train)) assert.ok(!test.has(p) && !val.has(p), p);
    }
    assert.equal(splits.groups.test.length + splits.groups.folds.reduce((n, f) => n + f.val.length, 0), 6);
  });

  it('refuses a class that cannot be on both sides, and too many folds', (t) => {
    const dir = writeManifest(tempDir(t), twoClasses({ g1: [4, 5], g2: [4, 0], g3: [4, 0], g4: [4, 0], g5: [4, 0], g6: [4, 0] }));
    const bySlide = { groupRegex: '^[ab]/(g\\d)-', groupOn: 'path' };
    assert.throws(() => splitDataset({ dir, ...bySlide }), {
      name: 'UserError',
      message: 'class b: all 5 tiles come from one group (g1), so it cannot be in both test and training; add data, group differently, or use --test-fraction 0',
    });
    const noTest = splitDataset({ dir, ...bySlide, testFraction: 0 });
    assert.deepEqual(noTest.splits.groups.trainOnly, ['g1']);
    assert.ok(noTest.splits.folds.every((f) => f.train.some((x) => x.startsWith('b__'))));
    assert.throws(() => splitDataset({ dir, ...bySlide, testFraction: 0, folds: 6 }), {
      message: 'only 5 development groups can be validated on (6 after the test set, 1 kept in training), fewer than --folds 6',
    });
  });

  it('checks its options and grouping with one-line messages', (t) => {
    const dir = writeManifest(tempDir(t), twoClasses({ g1: [2, 2], g2: [2, 2] }));
    const cases: [Parameters<typeof splitDataset>[0], string | RegExp][] = [
      [{ dir, testFraction: 1 }, 'expected number from 0 to below 1 for --test-fraction but received 1'],
      [{ dir, folds: 1 }, 'expected integer from 2 to 1000 for --folds but received 1'],
      [{ dir, seed: -1 }, 'expected integer from 0 to 4294967295 for --seed but received -1'],
      [{ dir, groupRegex: '(' }, 'expected valid regular expression for --group-regex but received "("'],
      [{ dir, groupRegex: 'zzz' }, '--group-regex /zzz/ does not match file name "g1-0.png" (source "a/g1-0.png") (and 7 more sources); --group-on path matches the path inside the input folder'],
      [{ dir, groupRegex: '^a/', groupOn: 'path' }, '--group-regex /^a\// does not match source "b/g1-0.png" (and 3 more sources)'],
      [{ dir, groupRegex: 'g', groupOn: 'folder' }, 'expected name or path for --group-on but received "folder"'],
      [{ dir, groupOn: 'path' }, '--group-on says what --group-regex matches; give --group-regex too'],
      [{ dir, groupRegex: 'g', groupsFile: 'x.csv' }, '--group-regex and --groups both given; use one'],
      [{ dir, groupsFile: join(dir, 'none.csv') }, `expected existing file for --groups but received ${JSON.stringify(join(dir, 'none.csv'))}`],
      [{ dir: join(dir, 'nowhere') }, `expected tile folder with manifest.csv for <dataset-dir> but received ${JSON.stringify(join(dir, 'nowhere'))}`],
    ];
    for (const [options, message] of cases) assert.throws(() => splitDataset(options), { name: 'UserError', message });
    put(join(dir, 'partial.csv'), 'a/g1-0.png,p1\n');
    assert.throws(() => splitDataset({ dir, groupsFile: join(dir, 'partial.csv') }), { message: `--groups ${join(dir, 'partial.csv')}: no group for source "a/g1-1.png" (and 6 more sources)` });
  });
});

/**
 * Shaped like the public breast histology patch set of issue #22: class folders `0` and `1`, names
 * `<patient>_idx5_x<X>_y<Y>_class<N>.png`, classes about 72:28, and most patients with tiles of both
 * classes (some with one class only).
 */
function patientFirstRows(): Row[] {
  const rows: Row[] = [];
  for (let p = 0; p < 24; p++) {
    const patient = String(10250 + p * 7);
    const [neg, pos] = p % 6 === 0 ? [10, 0] : p % 6 === 1 ? [0, 5] : [8 + (p % 3), 3 + (p % 2)];
    for (const [cls, n] of [[0, neg], [1, pos]] as const) {
      for (let i = 0; i < n; i++) {
        const name = `${patient}_idx5_x${50 * i}_y${100 * cls}_class${cls}`;
        rows.push({ file: `${cls}__${name}__x0_y0.png`, className: String(cls), source: `${cls}/${name}.png` });
      }
    }
  }
  return rows;
}

describe('splitDataset on patient-first names (issue #22)', () => {
  it("--group-regex '^\\d+' matches the file name: every patient lands on one side, and splits.json records each tile's group", (t) => {
    const rows = patientFirstRows();
    const dir = writeManifest(tempDir(t), rows);
    const { splits, path } = splitDataset({ dir, groupRegex: '^\\d+', folds: 3 });
    const patientOf = (file: string): string => /__(\d+)_idx5/.exec(file)![1]!;
    const sides = new Map<string, Set<string>>();
    const mark = (files: readonly string[], side: string): void => {
      for (const f of files) sides.set(patientOf(f), (sides.get(patientOf(f)) ?? new Set()).add(side));
    };
    mark(splits.test, 'test');
    splits.folds.forEach((fold, k) => mark(fold.val, `val${k + 1}`));
    assert.equal(sides.size, 24);
    for (const [patient, s] of sides) assert.equal(s.size, 1, `patient ${patient} on ${[...s].join(' and ')}`);
    for (const [k, fold] of splits.folds.entries()) {
      const val = new Set(fold.val.map(patientOf));
      const test = new Set(splits.test.map(patientOf));
      for (const f of fold.train) assert.ok(!val.has(patientOf(f)) && !test.has(patientOf(f)), `fold ${k + 1}: ${f}`);
    }
    assert.equal(splits.groups.test.length + splits.groups.folds.reduce((n, f) => n + f.val.length, 0) + splits.groups.trainOnly.length, 24);
    assert.deepEqual(splits.groupBy, { kind: 'regex', pattern: '^\\d+', on: 'name' });
    const saved = JSON.parse(readFileSync(path, 'utf8')) as Splits;
    assert.deepEqual(Object.entries(saved.tileGroups!), rows.map((r) => [r.file, patientOf(r.file)]));
  });

  it('--group-on path matches the relative path, where ^\\d+ finds the class folder: the old behaviour, refused by the split', (t) => {
    const dir = writeManifest(tempDir(t), patientFirstRows());
    assert.throws(() => splitDataset({ dir, groupRegex: '^\\d+', groupOn: 'path' }), {
      name: 'UserError',
      message: /^class 0: all \d+ tiles come from one group \(0\), so it cannot be in both test and training/,
    });
    // A path layout (class/patient/slide) is what --group-on path is for.
    const nested = writeManifest(tempDir(t), patientFirstRows().map((r) => ({ ...r, source: r.source.replace(/^(\d)\/(\d+)_/, '$1/patient-$2/$2_') })));
    const { splits } = splitDataset({ dir: nested, groupRegex: 'patient-(\\d+)/', groupOn: 'path', folds: 3 });
    assert.equal(new Set(Object.values(splits.tileGroups!)).size, 24);
  });
});
