import { UserError } from '../errors.ts';
import { createRng } from '../util/random.ts';
import { fileHeader } from '../version.ts';
import { assignGroups } from './assign.ts';
import type { GroupBy } from './groups.ts';
import { byteOrder } from './names.ts';

/**
 * The split itself, with no file I/O (split.ts reads manifest.csv and writes splits.json; the
 * browser app splits its tiles here too, so both give the same splits for the same seed): hold out
 * a test set and make k cross-validation folds, stratified by class and grouped (a group never
 * lands on two sides). `splits.json` holds what splitTiles returns:
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

export type ClassCounts = Record<string, number>;

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

/** One tile as the split sees it: its file, class, source and resolved group. */
export interface SplitTile {
  readonly file: string;
  readonly className: string;
  readonly source: string;
  readonly group: string;
}

/** The split's settings, checked (split.ts checks the flags). */
export interface SplitSettings {
  /** Share of each class held out for testing, 0 (no test set) to below 1. */
  readonly testFraction: number;
  /** Cross-validation folds over the rest, at least 2. */
  readonly k: number;
  /** Seed of the search. */
  readonly seed: number;
  /** How the groups were resolved (recorded in the splits). */
  readonly groupBy: GroupBy;
}

export interface TileSplit {
  splits: Splits;
  /** Tiles and groups per class (for the table). */
  perClass: Record<string, { tiles: number; groups: number }>;
}

function countBy(tiles: readonly SplitTile[], classes: readonly string[]): ClassCounts {
  const counts: ClassCounts = Object.fromEntries(classes.map((c) => [c, 0]));
  for (const t of tiles) counts[t.className]!++;
  return counts;
}

const list = (names: readonly string[]): string => (names.length <= 3 ? names.join(', ') : `${names.slice(0, 3).join(', ')}, …`);

/**
 * Split `tiles` (in manifest order, each with its group) of `classes` (label order). Refusals as
 * the top of this file lists them, as UserErrors.
 */
export function splitTiles(tiles: readonly SplitTile[], classes: readonly string[], settings: SplitSettings): TileSplit {
  const { testFraction, k, seed, groupBy: by } = settings;
  if (tiles.length === 0) throw new UserError('no tiles to split');
  const tileGroup = tiles.map((t) => t.group);
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
  const isTest = (t: SplitTile): boolean => testSet.has(groupIndex.get(t.group)!);
  const valFold = (t: SplitTile): number | undefined => foldOf.get(groupIndex.get(t.group)!);
  const folds = Array.from({ length: k }, (_, f) => ({
    train: tiles.filter((t) => !isTest(t) && valFold(t) !== f),
    val: tiles.filter((t) => valFold(t) === f),
  }));
  folds.forEach((fold, f) => {
    const devClasses = new Set(tiles.filter((t) => !isTest(t)).map((t) => t.className));
    const missing = [...devClasses].filter((c) => !fold.train.some((t) => t.className === c));
    if (missing.length > 0) throw new UserError(`fold ${f + 1} would train without class ${list(missing)}: too few groups to spread over ${k} folds; use fewer --folds`);
  });

  const files = (ts: readonly SplitTile[]): string[] => ts.map((t) => t.file);
  const names = (gs: readonly number[]): string[] => gs.map((g) => groupIds[g]!);
  const splits: Splits = {
    ...fileHeader('splits'),
    seed,
    testFraction,
    k,
    groupBy: by,
    classes: [...classes],
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
  return { splits, perClass };
}

/** Every tile the splits use, each once: test first, then the folds' tiles in order (the data set checksum's order). */
export function splitFiles(splits: Pick<Splits, 'test' | 'folds'>): string[] {
  const seen = new Set<string>();
  for (const file of splits.test) seen.add(file);
  for (const fold of splits.folds) for (const file of [...fold.train, ...fold.val]) seen.add(file);
  return [...seen];
}
