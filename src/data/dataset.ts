import { rmSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { UserError } from '../errors.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import { fileHeader } from '../version.ts';
import { contactSheet } from './contact-sheet.ts';
import { toCsv } from '../formats/csv.ts';
import { probeImage, scaledSize } from './image.ts';
import type { ImageInfo } from './image.ts';
import { sourcePrefix, tileName, byteOrder } from './names.ts';
import { resolveTileSettings } from './options.ts';
import type { TileOptions } from './options.ts';
import { mapPool } from './pool.ts';
import { scanInput } from './scan.ts';
import type { Rejection, SourceFile } from './scan.ts';
import { closeState, isFinished, openState, recordSource, removeSource } from './state.ts';
import type { RunKey, RunState, SourceRecord } from './state.ts';
import { tileImage } from './tiler.ts';

/**
 * `tile`: turn a folder of class folders into one flat folder of PNG tiles plus
 *   manifest.csv  file,class,group,source,x,y,white_fraction — one row per tile, in class order,
 *                 then source path, then row-major position. `group` is the source image (what
 *                 `split` keeps together by default); `source` is its path inside the input folder.
 *   dataset.json  { format, version, tool, mode, classes, tileSize, options, counts, totals }
 *   rejected.csv  file,reason — every input that could not be used.
 */

export const MANIFEST_HEADER: readonly string[] = ['file', 'class', 'group', 'source', 'x', 'y', 'white_fraction'];

export interface ClassCount {
  /** Source images that were tiled. */
  sources: number;
  /** Tiles written. */
  tiles: number;
  /** Tiles dropped for too much white background. */
  dropped: number;
}

export interface TileSummary {
  output: string;
  /** `pass-through` when every image is exactly one tile (an already-tiled set such as Kather 2016). */
  mode: 'grid' | 'pass-through';
  filter: boolean;
  /** Classes with at least one tile, in folder-name order: the label order for training. */
  classes: string[];
  /** Per class folder, including classes left without tiles. */
  counts: Record<string, ClassCount>;
  sources: number;
  /** Sources finished by an earlier run over the same output and skipped now. */
  resumed: number;
  tiles: number;
  dropped: number;
  rejected: Rejection[];
  warnings: string[];
  contactSheet?: string;
}

interface Usable {
  file: SourceFile;
  info: ImageInfo;
}

async function probeAll(files: readonly SourceFile[], tile: number, scale: number, rejected: Rejection[]): Promise<Usable[]> {
  const probed = await mapPool(files, 8, async (file) => {
    try {
      const info = await probeImage(file.path, file.size);
      const size = scaledSize(info, scale);
      if (size.width < tile || size.height < tile) {
        const scaled = scale === 1 ? '' : ` (${size.width}x${size.height} at --scale ${scale})`;
        throw new UserError(`image is ${info.width}x${info.height}${scaled}, smaller than one ${tile}x${tile} tile`);
      }
      return { file, info };
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
      rejected.push({ file: file.source, reason: err.message });
      return undefined;
    }
  });
  return probed.filter((u): u is Usable => u !== undefined);
}

/** Tile one source, or reuse what an earlier run left; undefined (and a rejection) when it cannot be read. */
async function tileSource(state: RunState, u: Usable, key: RunKey, bandPixels: number, rejected: Rejection[]): Promise<{ record: SourceRecord; resumed: boolean } | undefined> {
  const output = state.output;
  const prefix = sourcePrefix(u.file.classId, u.file.id);
  const previous = state.records.get(prefix);
  if (previous && isFinished(state, previous, u.file.size, u.file.mtimeMs)) return { record: previous, resumed: true };
  if (previous) removeSource(state, previous);
  const written: string[] = [];
  try {
    const tiles = await tileImage(u.file.path, u.info, { ...key, bandPixels }, (x, y, png) => {
      const name = tileName(prefix, x, y);
      writeFileAtomic(join(output, name), png);
      written.push(name);
    });
    const { width, height } = scaledSize(u.info, key.scale);
    const record: SourceRecord = { source: u.file.source, className: u.file.className, prefix, size: u.file.size, mtimeMs: u.file.mtimeMs, width, height, tiles };
    recordSource(state, record);
    return { record, resumed: false };
  } catch (err) {
    if (!(err instanceof UserError)) throw err;
    for (const name of written) rmSync(join(output, name), { force: true });
    rejected.push({ file: u.file.source, reason: err.message });
    return undefined;
  }
}

/** Per-class counts and the manifest rows of the finished sources (already in class, then source order). */
function tally(classNames: readonly string[], records: readonly SourceRecord[]): { counts: Record<string, ClassCount>; rows: (string | number)[][] } {
  const counts: Record<string, ClassCount> = Object.fromEntries(classNames.map((c) => [c, { sources: 0, tiles: 0, dropped: 0 }]));
  const rows: (string | number)[][] = [];
  for (const record of records) {
    const count = counts[record.className]!;
    count.sources++;
    for (const t of record.tiles) {
      if (!t.kept) {
        count.dropped++;
        continue;
      }
      count.tiles++;
      rows.push([tileName(record.prefix, t.x, t.y), record.className, record.source, record.source, t.x, t.y, t.white]);
    }
  }
  return { counts, rows };
}

function runWarnings(passThrough: boolean, filter: boolean, tile: number, maxWhite: number, counts: Record<string, ClassCount>): string[] {
  const warnings: string[] = [];
  if (passThrough) {
    warnings.push(`every image is already one ${tile}x${tile} tile: tiles pass through unchanged, white filter ${filter ? 'on (asked for)' : 'off (--filter turns it on)'}`);
  }
  for (const [c, n] of Object.entries(counts)) {
    if (n.tiles > 0) continue;
    const why = n.dropped > 0 ? ` (all ${n.dropped} were more than ${+(maxWhite * 100).toFixed(2)}% white; --no-filter keeps them)` : '';
    warnings.push(`class ${c}: no tiles${why}; left out of the class list`);
  }
  return warnings;
}

/**
 * Cut every image under `options.input` into tiles in `options.output` (see the file formats at the
 * top of this file). Unusable inputs are recorded in rejected.csv and the run goes on; a rerun over
 * the same output skips finished sources and writes the same files.
 */
export async function tileDataset(options: TileOptions): Promise<TileSummary> {
  const settings = resolveTileSettings(options);
  const input = resolve(options.input);
  const output = resolve(options.output);
  if (`${output}${sep}`.startsWith(`${input}${sep}`)) {
    throw new UserError(`<output-dir> ${output} is inside <input-dir> ${input}; choose a folder outside it`);
  }
  const scan = scanInput(input);
  const rejected = [...scan.rejected];
  const usable = await probeAll(scan.sources, settings.tile, settings.scale, rejected);

  const passThrough = usable.length > 0 && usable.every((u) => {
    const size = scaledSize(u.info, settings.scale);
    return size.width === settings.tile && size.height === settings.tile;
  });
  const mode = passThrough ? 'pass-through' : 'grid';
  const filter = settings.filter ?? !passThrough;
  const { tile, stride, scale, whiteThreshold, maxWhite } = settings;
  const key: RunKey = { mode, tile, stride, scale, whiteThreshold, maxWhite, filter };
  const state = openState(output, key);

  let done = 0;
  const results = await mapPool(usable, settings.concurrency, async (u) => {
    const result = await tileSource(state, u, key, settings.bandPixels, rejected);
    options.onSource?.(++done, usable.length, u.file.source);
    return result;
  });
  const finished = results.flatMap((r, i) => (r ? [{ ...r, info: usable[i]!.info, path: usable[i]!.file.path }] : []));
  closeState(state, finished.map((r) => r.record));

  const { counts, rows } = tally(scan.classes, finished.map((r) => r.record));
  rejected.sort((a, b) => byteOrder(a.file, b.file));
  const classes = scan.classes.filter((c) => counts[c]!.tiles > 0);
  const tiles = rows.length;
  const dropped = Object.values(counts).reduce((n, c) => n + c.dropped, 0);

  const warnings = runWarnings(passThrough, filter, tile, maxWhite, counts);

  writeFileAtomic(join(output, 'manifest.csv'), toCsv(MANIFEST_HEADER, rows));
  writeFileAtomic(join(output, 'rejected.csv'), toCsv(['file', 'reason'], rejected.map((r) => [r.file, r.reason])));
  const dataset = {
    ...fileHeader('tiles'),
    mode,
    classes,
    tileSize: tile,
    options: { tile, stride, scale, whiteThreshold, maxWhite, filter },
    counts,
    totals: { sources: finished.length, tiles, dropped, rejected: rejected.length },
  };
  writeFileAtomic(join(output, 'dataset.json'), `${JSON.stringify(dataset, null, 2)}\n`);

  const summary: TileSummary = {
    output, mode, filter, classes, counts,
    sources: finished.length,
    resumed: finished.filter((r) => r.resumed).length,
    tiles, dropped, rejected, warnings,
  };
  if (options.contactSheet !== undefined) {
    const sheet = await contactSheet(finished.map((r) => ({ path: r.path, info: r.info, width: r.record.width, height: r.record.height, tile, tiles: r.record.tiles })));
    writeFileAtomic(resolve(options.contactSheet), sheet);
    summary.contactSheet = resolve(options.contactSheet);
  }
  if (tiles === 0) {
    throw new UserError(`${input}: no tiles were made (${rejected.length} inputs rejected, see ${join(output, 'rejected.csv')}; ${dropped} tiles dropped as white)`);
  }
  return summary;
}
