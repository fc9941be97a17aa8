import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UserError, either, expected } from '../errors.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import { createRng } from '../util/random.ts';
import { fileHeader } from '../version.ts';
import { assignGroups } from './assign.ts';
import { parseCsv } from '../formats/csv.ts';
import { GROUP_ON, resolveGroups } from './groups.ts';
import type { GroupBy, GroupOn } from './groups.ts';
import { byteOrder } from './names.ts';
import { integerIn, numberIn } from './options.ts';
import { readJson } from '../formats/json.ts';

/**
 * `split`: hold out a test set and make k cross-validation folds from a tile folder's manifest.csv,
 * stratified by class and grouped (a group never lands on two sides). Writes `splits.json`:
 *
 * {
 *   "format": "senet-ort splits", "version": 1, "tool": "senet-ort 0.1.0",
 *   "seed": 0,                 // same manifest + options + seed => same file
 *   "testFraction": 0.2,       // target share of each class's tiles in "test"
 *   "k": 4,                    // number of folds
 *   "groupBy": { "kind": "source" } | { "kind": "regex", "pattern": "^\\d+", "on": "name" | "path" } | { "kind": "file", "file": "…" },
 *   "classes": ["01_TUMOR", …],   // label order (dataset.json's), index = label
 *   "test": ["<tile file>", …],   // held out: never trained on, never used to choose a model
 *   "folds": [ { "train": [file…], "val": [file…] }, … ],   // k entries; train + val = every non-test tile
 *   "groups": { "test": [group…], "folds": [ { "val": [group…] }, … ], "trainOnly": [group…] },
 *   "tileGroups": { "<tile file>": "<group>", … },   // every tile's group, so evaluation never resolves them again
 *   "counts": { "test": { class: tiles }, "folds": [ { "train": { class: tiles }, "val": { class: tiles } }, … ] },
 *   "warnings": ["…"]
 * }
 *
 * Files are tile file names relative to the tile folder, in manifest order. Splits written before
 * "tileGroups" lack it, and their regex "groupBy" lacks "on" (it matched the path). "trainOnly" groups are
 * the only development group of some class: they stay in training in every fold (a fold without a
 * class in training is refused), so no validation fold holds that class.
 *
 * Refused (UserError): a class whose tiles all come from one group when a test set is asked for,
 * a class that would end up only in test or only in training, fewer validatable groups than folds.
 * Warned: a class with fewer groups than splits (test + k folds), single-tile groups everywhere.
 */

export interface SplitOptions {
  /** A folder written by `tile` (manifest.csv, dataset.json). */
  dir: string;
  /** Share of each class held out for testing, 0 (no test set) to below 1 (default 0.2). */
  testFraction?: number;
  /** Cross-validation folds over the rest, at least 2 (default 4). */
  folds?: number;
  /** Seed of the search (default 0). */
  seed?: number;
  /** Group by a pattern on the source's file name or path (see groups.ts). */
  groupRegex?: string;
  /** What `groupRegex` is matched against: `name` (default) or `path`. */
  groupOn?: string;
  /** Group by a `source,group` CSV file. */
  groupsFile?: string;
}

type ClassCounts = Record<string, number>;

export interface Splits {
  format: 'senet-ort splits';
  version: 1;
  tool: string;
  seed: number;
  testFraction: number;
  k: number;
  groupBy: GroupBy;
  classes: string[];
  test: string[];
  folds: { train: string[]; val: string[] }[];
  groups: { test: string[]; folds: { val: string[] }[]; trainOnly: string[] };
  /** Each tile's group; absent in splits written before it was recorded. */
  tileGroups?: Record<string, string>;
  counts: { test: ClassCounts; folds: { train: ClassCounts; val: ClassCounts }[] };
  warnings: string[];
}

export interface SplitResult {
  /** Where splits.json was written. */
  path: string;
  splits: Splits;
  /** Tiles and groups per class (for the table). */
  perClass: Record<string, { tiles: number; groups: number }>;
}

interface Tile {
  file: string;
  className: string;
  source: string;
  group: string;
}

function readManifest(dir: string): { tiles: Tile[]; classes: string[] } {
  const manifest = join(dir, 'manifest.csv');
  if (!existsSync(manifest)) throw expected('tile folder with manifest.csv', '<dataset-dir>', dir);
  const [header, ...rows] = parseCsv(readFileSync(manifest, 'utf8'));
  const col = (name: string): number => {
    const i = header?.indexOf(name) ?? -1;
    if (i < 0) throw new UserError(`${manifest}: expected a "${name}" column but received header ${JSON.stringify(header?.join(',') ?? '')}`);
    return i;
  };
  const [f, c, g, s] = [col('file'), col('class'), col('group'), col('source')];
  const tiles = rows.map((r) => ({ file: r[f]!, className: r[c]!, group: r[g]!, source: r[s]! }));
  if (tiles.length === 0) throw new UserError(`${manifest}: no tiles to split`);
  const present = new Set(tiles.map((t) => t.className));
  const datasetJson = join(dir, 'dataset.json');
  const listed = existsSync(datasetJson) ? (readJson<{ classes?: string[] }>(datasetJson, 'the data set description written by tile').classes ?? []) : [];
  const classes = [...listed.filter((x) => present.has(x)), ...[...present].filter((x) => !listed.includes(x)).sort(byteOrder)];
  return { tiles, classes };
}

function groupBy(options: SplitOptions): GroupBy {
  if (options.groupRegex !== undefined && options.groupsFile !== undefined) {
    throw new UserError('--group-regex and --groups both given; use one');
  }
  const on = options.groupOn === undefined ? 'name' : String(options.groupOn);
  if (!(GROUP_ON as readonly string[]).includes(on)) throw expected(either(GROUP_ON), '--group-on', on);
  if (options.groupOn !== undefined && options.groupRegex === undefined) throw new UserError('--group-on says what --group-regex matches; give --group-regex too');
  if (options.groupRegex !== undefined) return { kind: 'regex', pattern: String(options.groupRegex), on: on as GroupOn };
  if (options.groupsFile !== undefined) return { kind: 'file', file: String(options.groupsFile) };
  return { kind: 'source' };
}

function countBy(tiles: readonly Tile[], classes: readonly string[]): ClassCounts {
  const counts: ClassCounts = Object.fromEntries(classes.map((c) => [c, 0]));
  for (const t of tiles) counts[t.className]!++;
  return counts;
}

const list = (names: readonly string[]): string => (names.length <= 3 ? names.join(', ') : `${names.slice(0, 3).join(', ')}, …`);

/** Split the tile folder `options.dir` and write its splits.json (format at the top of this file). */
export function splitDataset(options: SplitOptions): SplitResult {
  const testFraction = numberIn(options.testFraction, '--test-fraction', 0, 1, 0.2, true);
  const k = integerIn(options.folds, '--folds', 2, 1000, 4);
  const seed = integerIn(options.seed, '--seed', 0, 4294967295, 0);
  const by = groupBy(options);
  const dir = resolve(options.dir);
  const { tiles, classes } = readManifest(dir);
  const tileGroup = resolveGroups(tiles, by);
  tiles.forEach((t, i) => (t.group = tileGroup[i]!));

  const groupIds = [...new Set(tileGroup)].sort(byteOrder);
  const groupIndex = new Map(groupIds.map((g, i) => [g, i]));
  const classIndex = new Map(classes.map((c, i) => [c, i]));
  const counts = groupIds.map(() => new Array<number>(classes.length).fill(0));
  for (const t of tiles) counts[groupIndex.get(t.group)!]![classIndex.get(t.className)!]!++;
  const groupsOfClass = (ci: number, within: readonly number[]): string[] => within.filter((g) => counts[g]![ci]! > 0).map((g) => groupIds[g]!);
  const allGroups = groupIds.map((_, i) => i);
  const perClass = Object.fromEntries(classes.map((c, ci) => [c, { tiles: tiles.filter((t) => t.className === c).length, groups: groupsOfClass(ci, allGroups).length }]));

  const warnings: string[] = [];
  const splitsWanted = k + (testFraction > 0 ? 1 : 0);
  for (const c of classes) {
    if (perClass[c]!.groups < splitsWanted) warnings.push(`class ${c} has ${perClass[c]!.groups} groups, fewer than the ${splitsWanted} splits (${testFraction > 0 ? 'test + ' : ''}${k} folds): some splits lack it`);
  }
  if (by.kind === 'source' && groupIds.length === tiles.length && tiles.length > 1) {
    warnings.push('every group holds a single tile: if tiles share slides or patients, group them with --group-regex or --groups, or the split leaks');
  }

  const rng = createRng(seed);
  // 1. Test set versus development set.
  let dev = allGroups;
  let test: number[] = [];
  if (testFraction > 0) {
    classes.forEach((c, ci) => {
      const only = groupsOfClass(ci, allGroups);
      if (only.length < 2) throw new UserError(`class ${c}: all ${perClass[c]!.tiles} tiles come from one group (${only[0]}), so it cannot be in both test and training; add data, group differently, or use --test-fraction 0`);
    });
    const bin = assignGroups(counts, [testFraction, 1 - testFraction], rng);
    test = allGroups.filter((g) => bin[g] === 0);
    dev = allGroups.filter((g) => bin[g] === 1);
    classes.forEach((c, ci) => {
      const side = groupsOfClass(ci, test).length === 0 ? 'training' : groupsOfClass(ci, dev).length === 0 ? 'test' : undefined;
      if (side) throw new UserError(`class ${c} would be only in ${side}: no grouped split of its ${perClass[c]!.groups} groups puts it on both sides along with the other classes; change --seed, --test-fraction or the grouping`);
    });
  }

  // 2. Folds over the development set; a class's only development group stays in training.
  const trainOnly = new Set<number>();
  classes.forEach((c, ci) => {
    const inDev = dev.filter((g) => counts[g]![ci]! > 0);
    if (inDev.length === 1) {
      trainOnly.add(inDev[0]!);
      warnings.push(`class ${c} has one group in the development set (${groupIds[inDev[0]!]}): it stays in training in every fold, so no validation fold holds ${c}`);
    }
  });
  const foldable = dev.filter((g) => !trainOnly.has(g));
  if (foldable.length < k) {
    throw new UserError(`only ${foldable.length} development groups can be validated on (${dev.length} after the test set, ${trainOnly.size} kept in training), fewer than --folds ${k}`);
  }
  const foldBin = assignGroups(foldable.map((g) => counts[g]!), new Array<number>(k).fill(1 / k), rng);
  const foldOf = new Map(foldable.map((g, i) => [g, foldBin[i]!]));

  const testSet = new Set(test);
  const isTest = (t: Tile): boolean => testSet.has(groupIndex.get(t.group)!);
  const valFold = (t: Tile): number | undefined => foldOf.get(groupIndex.get(t.group)!);
  const folds = Array.from({ length: k }, (_, f) => ({
    train: tiles.filter((t) => !isTest(t) && valFold(t) !== f),
    val: tiles.filter((t) => valFold(t) === f),
  }));
  folds.forEach((fold, f) => {
    const devClasses = new Set(tiles.filter((t) => !isTest(t)).map((t) => t.className));
    const missing = [...devClasses].filter((c) => !fold.train.some((t) => t.className === c));
    if (missing.length > 0) throw new UserError(`fold ${f + 1} would train without class ${list(missing)}: too few groups to spread over ${k} folds; use fewer --folds`);
  });

  const files = (ts: readonly Tile[]): string[] => ts.map((t) => t.file);
  const names = (gs: readonly number[]): string[] => gs.map((g) => groupIds[g]!);
  const splits: Splits = {
    ...fileHeader('splits'),
    seed,
    testFraction,
    k,
    groupBy: by,
    classes,
    test: files(tiles.filter(isTest)),
    folds: folds.map((fold) => ({ train: files(fold.train), val: files(fold.val) })),
    groups: {
      test: names(test),
      folds: Array.from({ length: k }, (_, f) => ({ val: names(foldable.filter((g) => foldOf.get(g) === f)) })),
      trainOnly: names([...trainOnly].sort((a, b) => a - b)),
    },
    tileGroups: Object.fromEntries(tiles.map((t) => [t.file, t.group])),
    counts: {
      test: countBy(tiles.filter(isTest), classes),
      folds: folds.map((fold) => ({ train: countBy(fold.train, classes), val: countBy(fold.val, classes) })),
    },
    warnings,
  };
  const path = join(dir, 'splits.json');
  writeFileAtomic(path, `${JSON.stringify(splits, null, 2)}\n`);
  return { path, splits, perClass };
}
