import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UserError, either, expected } from '../errors.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import { parseCsv } from '../formats/csv.ts';
import type { SplitTile, TileSplit } from './grouped-split.ts';
import { splitTiles } from './grouped-split.ts';
import { GROUP_ON } from './groups.ts';
import type { GroupBy, GroupOn } from './groups.ts';
import { resolveGroups } from './groups-file.ts';
import { byteOrder } from './names.ts';
import { integerIn, numberIn } from './options.ts';
import { readJson } from '../formats/json.ts';

/**
 * `split`: read a tile folder's manifest.csv, resolve every tile's group, split the tiles
 * (grouped-split.ts: the test set and k folds, stratified by class and grouped, the file's layout
 * and what is refused or warned) and write `splits.json`.
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

export interface SplitResult extends TileSplit {
  /** Where splits.json was written. */
  path: string;
}

function readManifest(dir: string): { tiles: SplitTile[]; classes: string[] } {
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

/** Split the tile folder `options.dir` and write its splits.json (its layout: grouped-split.ts). */
export function splitDataset(options: SplitOptions): SplitResult {
  const testFraction = numberIn(options.testFraction, '--test-fraction', 0, 1, 0.2, true);
  const k = integerIn(options.folds, '--folds', 2, 1000, 4);
  const seed = integerIn(options.seed, '--seed', 0, 4294967295, 0);
  const by = groupBy(options);
  const dir = resolve(options.dir);
  const { tiles: manifestTiles, classes } = readManifest(dir);
  const groups = resolveGroups(manifestTiles, by);
  const tiles = manifestTiles.map((t, i) => ({ ...t, group: groups[i]! }));

  const { splits, perClass } = splitTiles(tiles, classes, { testFraction, k, seed, groupBy: by });
  const path = join(dir, 'splits.json');
  writeFileAtomic(path, `${JSON.stringify(splits, null, 2)}\n`);
  return { path, splits, perClass };
}
