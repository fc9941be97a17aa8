/**
 * A data set prepared by `tile` and `split`, read and checked in one place before training,
 * evaluation or export use it:
 *
 *   dataset.json   the class list (a tile's label is its class's index) and the tile size
 *   manifest.csv   each tile file's class
 *   splits.json    the test split, the folds and each tile's group (src/data/split.ts writes it; a
 *                  run keeps a copy)
 *
 * Each check fails with one line that names the file. Only the parts senet-ort reads back are
 * checked; the rest of splits.json (group lists, counts, warnings) is there for people.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.ts';
import { parseCsv } from '../formats/csv.ts';
import { readJson } from '../formats/json.ts';
import type { Preparation } from '../formats/preparation.ts';
import { resolveGroups } from './groups-file.ts';
import type { Splits } from './grouped-split.ts';
import { splitFiles as filesOfSplits } from './grouped-split.ts';

export interface PreparedDataset {
  readonly dir: string;
  /** dataset.json's class list: a tile's label is its class's index here. */
  readonly classes: readonly string[];
  readonly tileSize: number | null;
  /** How the tiles were prepared (resolution, tissue rule, stain); reconstructed for data sets from before it was recorded. */
  readonly preparation: Preparation;
  /** Label of each tile file listed in manifest.csv. */
  readonly labels: ReadonlyMap<string, number>;
  readonly splits: Splits;
  /** The splits file read: the folder's splits.json, or a run's copy of it. */
  readonly splitsFile: string;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStringList = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

/** A splits file, checked to hold the class list, the test split and at least one fold. */
export function readSplits(path: string, hint?: string): Splits {
  const splits = readJson<unknown>(path, 'a senet-ort splits file', hint);
  const bad = (what: string): never => {
    throw new UserError(`${path}: ${what} (a senet-ort splits file, written by \`senet-ort split\`)`);
  };
  if (!isObject(splits) || splits['format'] !== 'senet-ort splits') return bad('expected "format": "senet-ort splits"');
  if (!isStringList(splits['classes'])) bad('expected "classes", a list of class names');
  if (!isStringList(splits['test'])) bad('expected "test", a list of tile files');
  const folds = splits['folds'];
  if (!Array.isArray(folds) || folds.length === 0) return bad('expected "folds", a list of at least one fold');
  folds.forEach((fold: unknown, k) => {
    if (!isObject(fold) || !isStringList(fold['train']) || !isStringList(fold['val'])) bad(`expected fold ${k + 1} to have "train" and "val" lists of tile files`);
  });
  const groups = splits['tileGroups'];
  if (groups !== undefined && !(isObject(groups) && Object.values(groups).every((g) => typeof g === 'string' && g !== ''))) {
    bad('expected "tileGroups", an object of tile file to group name');
  }
  return splits as unknown as Splits;
}

/**
 * Read a prepared data set: dataset.json (classes), manifest.csv (each tile's class) and the splits
 * (`splitsFile`, by default the folder's splits.json). Every split tile must be in the manifest.
 */
export function readPreparedDataset(dir: string, splitsFile: string = join(dir, 'splits.json')): PreparedDataset {
  const hint = `prepare the data set first: senet-ort tile <images> ${dir} --split`;
  const datasetFile = join(dir, 'dataset.json');
  const dataset = readJson<{ classes?: unknown; tileSize?: unknown; preparation?: Preparation; options?: { filter?: unknown; whiteThreshold?: unknown; maxWhite?: unknown } }>(datasetFile, 'a senet-ort data set description', hint);
  const splits = readSplits(splitsFile, `split the data set first: senet-ort split ${dir}`);
  const classes = isStringList(dataset.classes) ? dataset.classes : [];
  if (classes.length < 2) throw new UserError(`${datasetFile}: expected at least 2 classes but received ${classes.length}`);
  if (JSON.stringify(splits.classes) !== JSON.stringify(classes)) {
    throw new UserError(`${splitsFile}: its classes (${splits.classes.join(', ')}) differ from dataset.json's (${classes.join(', ')}); split the data set again`);
  }
  const labels = readLabels(join(dir, 'manifest.csv'), classes, hint);
  for (const file of [...splits.test, ...splits.folds.flatMap((f) => [...f.train, ...f.val])]) {
    if (!labels.has(file)) throw new UserError(`${splitsFile}: tile ${file} is not in manifest.csv with a known class; split the data set again`);
    if (splits.tileGroups && splits.tileGroups[file] === undefined) throw new UserError(`${splitsFile}: tile ${file} has no group in "tileGroups"; split the data set again`);
  }
  const tileSize = typeof dataset.tileSize === 'number' ? dataset.tileSize : null;
  return { dir, classes, tileSize, preparation: readPreparation(dataset, tileSize), labels, splits, splitsFile };
}

/** dataset.json's preparation record; a data set from before it names its white rule in "options" alone. */
function readPreparation(dataset: { preparation?: Preparation; options?: { filter?: unknown; whiteThreshold?: unknown; maxWhite?: unknown } }, tileSize: number | null): Preparation {
  if (isObject(dataset.preparation)) return dataset.preparation;
  const o = dataset.options ?? {};
  const white = o.filter === true && typeof o.whiteThreshold === 'number' && typeof o.maxWhite === 'number';
  return {
    mpp: null,
    tile: tileSize ?? 0,
    tissue: white ? { method: 'white', whiteThreshold: o.whiteThreshold as number, maxWhite: o.maxWhite as number } : { method: 'none' },
    stain: { method: 'none' },
  };
}

/** Each tile file's label from manifest.csv; tiles of a class not in `classes` are left out. */
function readLabels(manifest: string, classes: readonly string[], hint: string): Map<string, number> {
  if (!existsSync(manifest)) throw new UserError(`${manifest}: not found; ${hint}`);
  const [header, ...rows] = parseCsv(readFileSync(manifest, 'utf8'));
  const fileCol = header?.indexOf('file') ?? -1;
  const classCol = header?.indexOf('class') ?? -1;
  if (fileCol < 0 || classCol < 0) throw new UserError(`${manifest}: expected "file" and "class" columns`);
  const classIndex = new Map(classes.map((c, i) => [c, i]));
  const labels = new Map<string, number>();
  for (const row of rows) {
    const label = classIndex.get(row[classCol]!);
    if (label !== undefined) labels.set(row[fileCol]!, label);
  }
  return labels;
}

/** Where each tile's group came from: splits.json, or resolved again for splits written before it was recorded. */
export type TileGroupsSource = 'splits.json' | 'resolved again';

/**
 * The group of every tile the splits use. Splits written before "tileGroups" are resolved again
 * from manifest.csv as `split` did then (a pattern on the source path, a groups file, or the
 * source image); a UserError says why that failed (a groups file moved, say).
 */
export function tileGroups(dataset: PreparedDataset): { groups: ReadonlyMap<string, string>; source: TileGroupsSource } {
  const recorded = dataset.splits.tileGroups;
  if (recorded) return { groups: new Map(Object.entries(recorded)), source: 'splits.json' };
  const manifest = join(dataset.dir, 'manifest.csv');
  const [header, ...rows] = parseCsv(readFileSync(manifest, 'utf8'));
  const [fileCol, groupCol, sourceCol] = ['file', 'group', 'source'].map((c) => header?.indexOf(c) ?? -1) as [number, number, number];
  if (fileCol < 0 || groupCol < 0 || sourceCol < 0) throw new UserError(`${manifest}: expected "file", "group" and "source" columns`);
  const used = new Set(splitFiles(dataset));
  const tiles = rows.filter((r) => used.has(r[fileCol]!)).map((r) => ({ file: r[fileCol]!, group: r[groupCol]!, source: r[sourceCol]! }));
  const groups = resolveGroups(tiles, dataset.splits.groupBy ?? { kind: 'source' });
  return { groups: new Map(tiles.map((t, i) => [t.file, groups[i]!])), source: 'resolved again' };
}

/** Every tile the splits use, each once: test first, then the folds' tiles in order. */
export function splitFiles(dataset: PreparedDataset): string[] {
  return filesOfSplits(dataset.splits);
}
