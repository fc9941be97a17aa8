/**
 * What `study`, `init` and `sweep` are given, made into a prepared, split data set, the one way
 * all three do it. The source is one of:
 *
 *   images     a folder of class folders: tiled into `output` with the tiling options (where the
 *              images are tiles already, at their own size: ready.ts), then split there;
 *   tiled      what `tile` wrote (dataset.json, manifest.csv, no splits.json): its tiles are linked
 *              into `output` (hard links, else symbolic links, else copies) with its dataset.json,
 *              manifest.csv and rejected.csv, and split there, so the folder given stays as it was;
 *   split      what `split` or `tile --split` wrote (splits.json too): used where it is.
 *
 * The split groups by Kather slide when no grouping is given and every source name carries one.
 * Options that would be ignored are refused in one line before anything is written: tiling
 * options with a tiled or split data set, split and grouping options with a split one.
 */
import { copyFileSync, existsSync, linkSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { UserError } from '../errors.ts';
import { parseCsv } from '../formats/csv.ts';
import { readJson } from '../formats/json.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import { tileDataset } from './dataset.ts';
import type { TileSummary } from './dataset.ts';
import { defaultGrouping } from './groups-file.ts';
import type { TileOptions } from './options.ts';
import { splitDataset } from './split.ts';
import type { SplitOptions, SplitResult } from './split.ts';

/** The tiling options a command passes on: everything `tile` takes but its two folders. */
export type TilingOptions = Omit<TileOptions, 'input' | 'output'>;

export interface PrepareOptions {
  /** Images, a tiled data set or a split one. */
  readonly source: string;
  /** Where images are tiled, or a tiled data set's tiles are linked, and split. */
  readonly output: string;
  readonly tiling?: TilingOptions;
  readonly split?: Omit<SplitOptions, 'dir'>;
}

export type SourceKind = 'images' | 'tiled' | 'split';

export interface PreparedSource {
  readonly kind: SourceKind;
  /** The folder given, absolute. */
  readonly source: string;
  /** The prepared, split data set: `output`, or the source itself when it was split already. */
  readonly data: string;
  /** What tiling did (images only). */
  readonly tiled: TileSummary | null;
  /** Tiles linked from a tiled data set (tiled only). */
  readonly linked: number | null;
  /** The split made here (images and tiled data sets). */
  readonly split: SplitResult | null;
}

/** The file in a folder of linked tiles that names the data set they come from. */
export const LINKED_FROM = '.linked-from';

/** Tiling options by the flag that sets them (typed so that a new option must be named here; the callback and the band size are no flags). */
const TILING_FLAGS: Readonly<Record<Exclude<keyof TilingOptions, 'onSource' | 'bandPixels'>, string>> = {
  tile: '--tile', stride: '--stride', whiteThreshold: '--white-threshold', maxWhite: '--max-white', scale: '--scale', mpp: '--mpp',
  sourceMpp: '--source-mpp', tissue: '--tissue', minTissue: '--min-tissue', tissueMinArea: '--tissue-min-area',
  stainNormalize: '--stain-normalize', stainFit: '--stain-fit', stainTarget: '--stain-target', filter: '--filter',
  concurrency: '--concurrency', contactSheet: '--contact-sheet',
};

/** Split options by flag; the seed is `study`'s --split-seed, the one command that passes it. */
const SPLIT_FLAGS: Readonly<Record<Exclude<keyof SplitOptions, 'dir'>, string>> = {
  testFraction: '--test-fraction', folds: '--folds', seed: '--split-seed', groupRegex: '--group-regex', groupOn: '--group-on', groupsFile: '--groups',
};

/** The flags of the options given, in flag order, as typed (`--no-filter` for a filter turned off). */
function given<K extends string>(options: Partial<Record<K, unknown>> | undefined, flags: Readonly<Record<K, string>>): string[] {
  const keys = Object.keys(flags) as K[];
  return keys.filter((k) => options?.[k] !== undefined).map((k) => (options?.[k] === false ? flags[k].replace(/^--/, '--no-') : flags[k]));
}

/** `--tile applies` / `--tile and --stride apply`, and the pronoun after it. */
function applies(flags: readonly string[]): { verb: string; them: string } {
  const named = flags.length === 1 ? flags[0]! : `${flags.slice(0, -1).join(', ')} and ${flags.at(-1)}`;
  return flags.length === 1 ? { verb: `${named} applies`, them: 'it' } : { verb: `${named} apply`, them: 'them' };
}

/** What the folder `source` holds; a folder that is neither a data set nor a folder of class folders is for tileDataset to refuse. */
export function sourceKind(source: string): SourceKind {
  if (existsSync(join(source, 'splits.json'))) return 'split';
  const description = join(source, 'dataset.json');
  if (!existsSync(description)) return 'images';
  const dataset = readJson<{ format?: unknown }>(description, 'a senet-ort data set description');
  if (dataset?.format !== 'senet-ort tiles') throw new UserError(`${description}: not a data set description written by senet-ort tile; a folder of images holds class folders only`);
  return 'tiled';
}

/** Make `source` a prepared, split data set (see the top of this file). */
export async function prepareSource(options: PrepareOptions): Promise<PreparedSource> {
  const source = resolve(options.source);
  if (!existsSync(source)) throw new UserError(`${source}: not found; give a folder of class folders or a prepared data set`);
  const kind = sourceKind(source);
  const tiling = given(options.tiling, TILING_FLAGS);
  if (kind !== 'images' && tiling.length > 0) {
    const a = applies(tiling);
    throw new UserError(`${source}: already tiled (dataset.json); ${a.verb} to images, so leave ${a.them} out or tile the images again with senet-ort tile`);
  }
  const splitting = given(options.split, SPLIT_FLAGS);
  if (kind === 'split') {
    if (splitting.length > 0) {
      const a = applies(splitting);
      throw new UserError(`${source}: already split (splits.json); ${a.verb} when splitting, so leave ${a.them} out or split again with senet-ort split`);
    }
    return { kind, source, data: source, tiled: null, linked: null, split: null };
  }

  const output = resolve(options.output);
  const tiled = kind === 'images' ? await tileDataset({ ...options.tiling, input: source, output }) : null;
  const linked = kind === 'tiled' ? linkTiledDataset(source, output) : null;
  const chosen = options.split?.groupRegex !== undefined || options.split?.groupsFile !== undefined;
  const kather = chosen ? undefined : defaultGrouping(output);
  const split = splitDataset({ dir: output, ...(kather ? { groupRegex: kather } : {}), ...options.split });
  return { kind, source, data: output, tiled, linked, split };
}

/** The tile files a manifest lists, each a plain file name in its folder. */
function manifestFiles(dir: string): string[] {
  const manifest = join(dir, 'manifest.csv');
  if (!existsSync(manifest)) throw new UserError(`${manifest}: not found; tile the images again with senet-ort tile`);
  const [header, ...rows] = parseCsv(readFileSync(manifest, 'utf8'));
  const col = header?.indexOf('file') ?? -1;
  if (col < 0) throw new UserError(`${manifest}: expected a "file" column`);
  const files = rows.map((r) => r[col] ?? '');
  const odd = files.find((f) => f === '' || basename(f) !== f || f.startsWith('.'));
  if (odd !== undefined) throw new UserError(`${manifest}: tile ${JSON.stringify(odd)} is not a file name in ${dir}`);
  return files;
}

/** Whether `to` is already `from` (the same hard link, or a symbolic link to it). */
function alreadyLinked(from: string, to: string): boolean {
  const there = lstatSync(to, { throwIfNoEntry: false });
  if (!there) return false;
  if (there.isSymbolicLink()) return readlinkSync(to) === from;
  const origin = statSync(from);
  return there.ino === origin.ino && there.dev === origin.dev;
}

/** `to` as a hard link to `from`; across file systems (or where links are not allowed) a symbolic link, else a copy. */
function linkFile(from: string, to: string): void {
  try {
    linkSync(from, to);
    return;
  } catch {
    // EXDEV (another file system), EPERM or ENOTSUP (no hard links there): try the next way.
  }
  try {
    symlinkSync(from, to);
  } catch {
    copyFileSync(from, to);
  }
}

/**
 * Link the tiles of the tiled data set `source` into `output`, with its description files. Running
 * again follows the source: tiles it rewrote are linked anew, tiles it dropped are removed. The
 * folder has no splits.json until every tile is in place, so an interrupted run is never used.
 * Returns the number of tiles.
 */
function linkTiledDataset(source: string, output: string): number {
  const marker = join(output, LINKED_FROM);
  if (existsSync(output) && readdirSync(output).length > 0) {
    const from = existsSync(marker) ? readFileSync(marker, 'utf8').trim() : null;
    if (from !== source) throw new UserError(`${output}: not empty and not made from ${source}; move it away or choose another folder`);
  }
  const files = manifestFiles(source);
  mkdirSync(output, { recursive: true });
  writeFileAtomic(marker, `${source}\n`);
  rmSync(join(output, 'splits.json'), { force: true });
  const own = new Set([LINKED_FROM, 'dataset.json', 'manifest.csv', 'rejected.csv', ...files]);
  for (const name of readdirSync(output)) if (!own.has(name)) rmSync(join(output, name), { recursive: true, force: true });
  for (const file of files) {
    const from = join(source, file);
    const to = join(output, file);
    if (!existsSync(from)) throw new UserError(`${from}: listed in manifest.csv but not found; tile the images again with senet-ort tile`);
    if (alreadyLinked(from, to)) continue;
    rmSync(to, { force: true });
    linkFile(from, to);
  }
  for (const name of ['dataset.json', 'manifest.csv', 'rejected.csv']) {
    if (existsSync(join(source, name))) writeFileAtomic(join(output, name), readFileSync(join(source, name)));
    else rmSync(join(output, name), { force: true });
  }
  return files.length;
}
