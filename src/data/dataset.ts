import { createHash } from 'node:crypto';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { UserError } from '../errors.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import { fileHeader } from '../version.ts';
import { contactSheet } from './contact-sheet.ts';
import type { SheetSource } from './contact-sheet.ts';
import { toCsv } from '../formats/csv.ts';
import type { Preparation, StainRecord, TissueRule } from '../formats/preparation.ts';
import { planScale, probeImage, readThumbnail } from './image.ts';
import type { ImageInfo } from './image.ts';
import { readyTileRejection, readyTileSize } from './ready.ts';
import type { ReadyTiles } from './ready.ts';
import { planRead } from './resolution.ts';
import type { ReadPlan, Resolution } from './resolution.ts';
import { MANIFEST_HEADER, sourcePrefix, tileName, byteOrder } from './names.ts';
import { resolveTileSettings } from './options.ts';
import type { TileOptions, TileSettings } from './options.ts';
import { mapPool } from './pool.ts';
import { scanInput } from './scan.ts';
import type { Rejection, SourceFile } from './scan.ts';
import { closeState, isFinished, openState, recordSource, removeSource } from './state.ts';
import type { RunKey, RunState, SourceRecord } from './state.ts';
import { MACENKO_ALPHA, MACENKO_BETA, MACENKO_IO, MACENKO_REFERENCE, MIN_STAINED, fitStain } from './stain.ts';
import type { StainFit } from './stain.ts';
import { imageTissueMask, MASK_MAX_SIDE, MASK_PIXELS_PER_TILE, MASK_RADIUS_TILES, tileImage } from './tiler.ts';
import type { GridSettings, StainSettings } from './tiler.ts';
import { DARK, OTSU_MAX, OTSU_MIN } from './tissue.ts';

/**
 * `tile`: turn a folder of class folders into one flat folder of PNG tiles plus
 *   manifest.csv  file,class,group,source,x,y,white_fraction,tissue_fraction,source_mpp — one row per
 *                 tile, in class order, then source path, then row-major position. x and y are the
 *                 tile's origin in the source's full-resolution (level-0) pixels. `group` is the
 *                 source image (what `split` keeps together by default); `source` is its path inside
 *                 the input folder; tissue_fraction is the otsu mask's cover (empty under the white
 *                 rule); source_mpp the source's µm per pixel where known.
 *   dataset.json  { format, version, tool, mode, classes, tileSize, mpp, preparation, options, counts, totals }
 *   rejected.csv  file,reason — every input that could not be used.
 */

export { MANIFEST_HEADER } from './names.ts';

export interface ClassCount {
  /** Source images that were tiled. */
  sources: number;
  /** Tiles written. */
  tiles: number;
  /** Tiles dropped by the tissue rule. */
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
  /** How the tiles were prepared (resolution, tissue rule, stain normalisation). */
  preparation: Preparation;
  /** Without --tile, on images that are tiles already: their size, taken as the tile size (ready.ts); else null. */
  ready: ReadyTiles | null;
  contactSheet?: string;
}

/** A source whose size is known, and how it is read at the tiling resolution. */
interface Probed {
  file: SourceFile;
  info: ImageInfo;
  plan: ReadPlan;
  resolution: Resolution | null;
  /** How the read differs from the image's own pixels, for messages: ` at --mpp 0.5`, or empty. */
  at: string;
}

/** A source that can be tiled, and how: the plan that reads it at the tiling resolution. */
interface Usable extends Probed {
  /** The tissue rule's smallest region, in tiled pixels². */
  minAreaPixels: number;
}

const UNKNOWN_RESOLUTION = 'resolution unknown (no Aperio MPP, OME-XML PhysicalSize or plausible TIFF resolution tag)';
const fmt = (v: number): string => String(+v.toPrecision(6));

/** How one probed source is read, or the reason it cannot be (a UserError). */
function planSource(file: SourceFile, info: ImageInfo, settings: TileSettings): Probed {
  const { mpp } = settings;
  const resolution: Resolution | null = settings.sourceMpp !== null ? { x: settings.sourceMpp, y: settings.sourceMpp, from: '--source-mpp' } : info.resolution;
  if (mpp !== null) {
    if (!resolution) throw new UserError(`${UNKNOWN_RESOLUTION}: give its µm per pixel with --source-mpp to tile it at --mpp ${fmt(mpp)}`);
    return { file, info, plan: planRead(info.levels, mpp / resolution.x, mpp / resolution.y), resolution, at: ` at --mpp ${fmt(mpp)}` };
  }
  return { file, info, plan: planScale(info, settings.scale), resolution, at: settings.scale !== 1 ? ` at --scale ${fmt(settings.scale)}` : '' };
}

/** `image is 600x600 (300x300 at --scale 2)`: the image's size, and the size it is tiled at where that differs. */
function describeSize(p: Probed): string {
  const scaled = p.at === '' ? '' : ` (${p.plan.width}x${p.plan.height}${p.at})`;
  return `image is ${p.info.width}x${p.info.height}${scaled}`;
}

/** A probed source checked against the tile settings, or the reason it cannot be tiled (a UserError). */
function checkSource(p: Probed, settings: TileSettings): Usable {
  const { tile } = settings;
  const { plan, resolution, at } = p;
  if (plan.width < tile || plan.height < tile) throw new UserError(`${describeSize(p)}, smaller than one ${tile}x${tile} tile`);
  if (settings.stride * Math.min(plan.factorX, plan.factorY) < 1) {
    throw new UserError(`a --stride of ${settings.stride} px${at} is under one pixel of the image, so tiles would share a name; use a larger --stride`);
  }
  let minAreaPixels = 0.5 * tile * tile;
  if (settings.tissue === 'otsu' && settings.tissueMinArea !== null) {
    if (!resolution) throw new UserError(`${UNKNOWN_RESOLUTION}: --tissue-min-area is in µm², so give its µm per pixel with --source-mpp`);
    minAreaPixels = settings.tissueMinArea / (resolution.x * plan.factorX * resolution.y * plan.factorY);
  }
  return { ...p, minAreaPixels };
}

async function probeAll(files: readonly SourceFile[], settings: TileSettings, rejected: Rejection[]): Promise<Probed[]> {
  const probed = await mapPool(files, 8, async (file) => {
    try {
      return planSource(file, await probeImage(file.path, file.size), settings);
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
      rejected.push({ file: file.source, reason: err.message });
      return undefined;
    }
  });
  return probed.filter((p): p is Probed => p !== undefined);
}

/** The sources that can be tiled; the others go to `rejected` (with ready tiles: every image not of their size). */
function checkAll(probed: readonly Probed[], settings: TileSettings, ready: ReadyTiles | null, rejected: Rejection[]): Usable[] {
  const usable: Usable[] = [];
  for (const p of probed) {
    const odd = ready && readyTileRejection(p.plan, ready);
    try {
      if (odd) throw new UserError(`${describeSize(p)}, ${odd}`);
      usable.push(checkSource(p, settings));
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
      rejected.push({ file: p.file.source, reason: err.message });
    }
  }
  return usable;
}

/** The stain target: Macenko's published reference, or the fit of --stain-target with where it came from. */
async function stainTarget(settings: TileSettings): Promise<{ fit: StainFit; file: string; sha256: string } | null> {
  if (settings.stainNormalize === null) return null;
  if (settings.stainTarget === null) return { fit: MACENKO_REFERENCE, file: '', sha256: '' };
  const file = resolve(settings.stainTarget);
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new UserError(`--stain-target ${settings.stainTarget}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  let rgb: Uint8Array;
  try {
    const info = await probeImage(file, statSync(file).size);
    // A region or a tile is the usual target; a whole slide is fitted on a view of at most 16 megapixels.
    const shrink = Math.max(1, Math.sqrt((info.width * info.height) / (1 << 24)));
    rgb = await readThumbnail(file, info, Math.max(1, Math.round(info.width / shrink)), Math.max(1, Math.round(info.height / shrink)));
  } catch (err) {
    if (!(err instanceof UserError)) throw err;
    throw new UserError(`--stain-target ${settings.stainTarget}: ${err.message}`);
  }
  const fit = fitStain(settings.stainNormalize, rgb);
  if (!fit) {
    throw new UserError(`--stain-target ${settings.stainTarget}: fewer than ${MIN_STAINED * 100}% of its pixels are stained (optical density at least ${MACENKO_BETA} in every channel); choose an image with tissue`);
  }
  return { fit, file, sha256: createHash('sha256').update(bytes).digest('hex') };
}

/** Tile one source, or reuse what an earlier run left; undefined (and a rejection) when it cannot be read. */
async function tileSource(state: RunState, u: Usable, settings: GridSettings, stainFit: 'tile' | 'slide' | null, rejected: Rejection[]): Promise<{ record: SourceRecord; resumed: boolean } | undefined> {
  const output = state.output;
  const prefix = sourcePrefix(u.file.classId, u.file.id);
  const previous = state.records.get(prefix);
  if (previous && isFinished(state, previous, u.file.size, u.file.mtimeMs)) return { record: previous, resumed: true };
  if (previous) removeSource(state, previous);
  const written: string[] = [];
  const stain: StainSettings | null = settings.stain && {
    ...settings.stain,
    fit: stainFit ?? (u.plan.width === settings.tile && u.plan.height === settings.tile ? 'tile' : 'slide'),
  };
  try {
    const tiled = await tileImage(u.file.path, u.info, u.plan, { ...settings, stain }, { minAreaPixels: u.minAreaPixels }, (x, y, png) => {
      const name = tileName(prefix, x, y);
      writeFileAtomic(join(output, name), png);
      written.push(name);
    });
    const record: SourceRecord = {
      source: u.file.source, className: u.file.className, prefix, size: u.file.size, mtimeMs: u.file.mtimeMs,
      width: u.info.width, height: u.info.height, tileWidth: settings.tile * u.plan.factorX, tileHeight: settings.tile * u.plan.factorY,
      sourceMpp: u.resolution ? +u.resolution.x.toPrecision(6) : null,
      ...(tiled.threshold !== undefined ? { threshold: tiled.threshold } : {}),
      ...(tiled.unstained !== undefined && stain ? { stain: { fit: stain.fit, unstained: tiled.unstained } } : {}),
      tiles: tiled.tiles,
    };
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
      rows.push([tileName(record.prefix, t.x, t.y), record.className, record.source, record.source, t.x, t.y, t.white, t.tissue ?? '', record.sourceMpp ?? '']);
    }
  }
  return { counts, rows };
}

function dropReason(settings: TileSettings): string {
  return settings.tissue === 'otsu'
    ? `covered by the tissue mask under ${fmt(settings.minTissue * 100)}%`
    : `more than ${fmt(settings.maxWhite * 100)}% white`;
}

function runWarnings(passThrough: boolean, filter: boolean, settings: TileSettings, counts: Record<string, ClassCount>, usable: readonly Usable[]): string[] {
  const warnings: string[] = [];
  const { tile } = settings;
  if (passThrough) {
    warnings.push(`every image is already one ${tile}x${tile} tile: tiles pass through ${settings.stainNormalize ? `stain-normalised (${settings.stainNormalize})` : 'unchanged'}, tissue filter ${filter ? 'on (asked for)' : 'off (--filter turns it on)'}`);
  }
  const upsampled = usable.filter((u) => u.plan.factorX < 0.999 || u.plan.factorY < 0.999);
  if (upsampled.length > 0 && settings.mpp !== null) {
    warnings.push(`${upsampled.length} image${upsampled.length === 1 ? ' is' : 's are'} coarser than --mpp ${fmt(settings.mpp)} and ${upsampled.length === 1 ? 'was' : 'were'} enlarged to it (first: ${upsampled[0]!.file.source} at ${fmt(upsampled[0]!.resolution!.x)} µm/px): enlarging adds no detail`);
  }
  for (const [c, n] of Object.entries(counts)) {
    if (n.tiles > 0) continue;
    const why = n.dropped > 0 ? ` (all ${n.dropped} were ${dropReason(settings)}; --no-filter keeps them)` : '';
    warnings.push(`class ${c}: no tiles${why}; left out of the class list`);
  }
  return warnings;
}

/** The tissue rule as dataset.json and exported models record it. */
function tissueRule(settings: TileSettings, filter: boolean): TissueRule {
  if (!filter) return { method: 'none' };
  if (settings.tissue === 'white') return { method: 'white', whiteThreshold: settings.whiteThreshold, maxWhite: settings.maxWhite };
  return {
    method: 'otsu', channel: 'saturation', darkBelow: DARK, thresholdBounds: [OTSU_MIN, OTSU_MAX],
    thumbnailPixelsPerTile: MASK_PIXELS_PER_TILE, thumbnailMaxSide: MASK_MAX_SIDE, radiusTiles: MASK_RADIUS_TILES,
    minAreaUm2: settings.tissueMinArea, minTissue: settings.minTissue,
  };
}

/** The stain normalisation as dataset.json and exported models record it. */
function stainRecord(settings: TileSettings, target: { fit: StainFit; file: string; sha256: string } | null): StainRecord {
  if (!settings.stainNormalize || !target) return { method: 'none' };
  const fit = settings.stainFit ?? 'auto';
  const from = target.file === '' ? null : { file: target.file, sha256: target.sha256 };
  if (target.fit.method === 'macenko') {
    return {
      method: 'macenko', fit, io: MACENKO_IO, alpha: MACENKO_ALPHA, beta: MACENKO_BETA,
      stains: target.fit.stains, maxConcentrations: target.fit.maxConcentrations, reference: from ?? 'Macenko 2009',
    };
  }
  return { method: 'reinhard', fit, mean: target.fit.mean, std: target.fit.std, target: from! };
}

/** Everything the tiles of a source depend on besides its pixels: a rerun with other values is refused. */
function runKey(settings: TileSettings, mode: RunKey['mode'], filter: boolean, targetSha256: string | null): RunKey {
  const { tile, stride, scale, whiteThreshold, maxWhite } = settings;
  // Options at their defaults are left out, so that a folder made before they existed is resumed.
  return {
    mode, tile, stride, scale, whiteThreshold, maxWhite, filter,
    ...(scale !== 1 || settings.mpp !== null ? { origins: 'level-0' as const } : {}),
    ...(settings.mpp !== null ? { mpp: settings.mpp } : {}),
    ...(settings.sourceMpp !== null ? { sourceMpp: settings.sourceMpp } : {}),
    ...(settings.tissue === 'otsu' ? { tissue: 'otsu' as const, minTissue: settings.minTissue, tissueMinArea: settings.tissueMinArea } : {}),
    ...(settings.stainNormalize ? { stain: { method: settings.stainNormalize, fit: settings.stainFit ?? 'auto', target: targetSha256 } } : {}),
  };
}

/**
 * Cut every image under `options.input` into tiles in `options.output` (see the file formats at the
 * top of this file). Unusable inputs are recorded in rejected.csv and the run goes on; a rerun over
 * the same output skips finished sources and writes the same files.
 */
export async function tileDataset(options: TileOptions): Promise<TileSummary> {
  let settings = resolveTileSettings(options);
  const input = resolve(options.input);
  const output = resolve(options.output);
  if (`${output}${sep}`.startsWith(`${input}${sep}`)) {
    throw new UserError(`<output-dir> ${output} is inside <input-dir> ${input}; choose a folder outside it`);
  }
  const target = await stainTarget(settings);
  const scan = scanInput(input);
  const rejected = [...scan.rejected];
  const probed = await probeAll(scan.sources, settings, rejected);
  // Without --tile, images that are tiles already keep their size (ready.ts).
  const ready = options.tile === undefined ? readyTileSize(probed.map((p) => p.plan), input, settings.tile) : null;
  if (ready) settings = resolveTileSettings({ ...options, tile: ready.tile });
  const usable = checkAll(probed, settings, ready, rejected);

  const passThrough = usable.length > 0 && usable.every((u) => u.plan.width === settings.tile && u.plan.height === settings.tile);
  const mode = passThrough ? 'pass-through' : 'grid';
  const filter = settings.filter ?? !passThrough;
  const state = openState(output, runKey(settings, mode, filter, target?.sha256 || null));
  const grid: GridSettings = {
    tile: settings.tile, stride: settings.stride, whiteThreshold: settings.whiteThreshold, maxWhite: settings.maxWhite,
    filter, tissue: settings.tissue, minTissue: settings.minTissue, bandPixels: settings.bandPixels,
    stain: settings.stainNormalize && target ? { method: settings.stainNormalize, fit: 'slide', target: target.fit } : null,
  };

  let done = 0;
  const results = await mapPool(usable, settings.concurrency, async (u) => {
    const result = await tileSource(state, u, grid, settings.stainFit, rejected);
    options.onSource?.(++done, usable.length, u.file.source);
    return result;
  });
  const finished = results.flatMap((r, i) => (r ? [{ ...r, usable: usable[i]! }] : []));
  closeState(state, finished.map((r) => r.record));

  const { counts, rows } = tally(scan.classes, finished.map((r) => r.record));
  rejected.sort((a, b) => byteOrder(a.file, b.file));
  const classes = scan.classes.filter((c) => counts[c]!.tiles > 0);
  const tiles = rows.length;
  const dropped = Object.values(counts).reduce((n, c) => n + c.dropped, 0);
  const warnings = runWarnings(passThrough, filter, settings, counts, finished.map((r) => r.usable));
  const preparation: Preparation = { mpp: settings.mpp, tile: settings.tile, tissue: tissueRule(settings, filter), stain: stainRecord(settings, target) };
  const unstained = {
    tiles: finished.reduce((n, r) => n + (r.record.stain?.fit === 'tile' ? r.record.stain.unstained : 0), 0),
    images: finished.reduce((n, r) => n + (r.record.stain?.fit === 'slide' ? r.record.stain.unstained : 0), 0),
  };
  if (settings.stainNormalize && unstained.tiles + unstained.images > 0) {
    const parts = [unstained.images > 0 ? `${unstained.images} image${unstained.images === 1 ? '' : 's'}` : '', unstained.tiles > 0 ? `${unstained.tiles} tile${unstained.tiles === 1 ? '' : 's'}` : ''].filter(Boolean);
    warnings.push(`stain normalisation left ${parts.join(' and ')} unchanged: fewer than ${MIN_STAINED * 100}% of pixels stained (optical density at least ${MACENKO_BETA} in every channel)`);
  }

  writeFileAtomic(join(output, 'manifest.csv'), toCsv(MANIFEST_HEADER, rows));
  writeFileAtomic(join(output, 'rejected.csv'), toCsv(['file', 'reason'], rejected.map((r) => [r.file, r.reason])));
  const { tile, stride, scale, whiteThreshold, maxWhite } = settings;
  const dataset = {
    ...fileHeader('tiles'),
    mode,
    classes,
    tileSize: tile,
    mpp: settings.mpp,
    preparation,
    options: {
      tile, stride, scale, whiteThreshold, maxWhite, filter,
      mpp: settings.mpp, sourceMpp: settings.sourceMpp, tissue: settings.tissue, minTissue: settings.minTissue, tissueMinArea: settings.tissueMinArea,
      stainNormalize: settings.stainNormalize, stainFit: settings.stainFit, stainTarget: target?.file || null,
    },
    counts,
    totals: { sources: finished.length, tiles, dropped, rejected: rejected.length, ...(settings.stainNormalize ? { unstained } : {}) },
  };
  writeFileAtomic(join(output, 'dataset.json'), `${JSON.stringify(dataset, null, 2)}\n`);

  const summary: TileSummary = {
    output, mode, filter, classes, counts,
    sources: finished.length,
    resumed: finished.filter((r) => r.resumed).length,
    tiles, dropped, rejected, warnings, preparation, ready,
  };
  if (options.contactSheet !== undefined) {
    const sources = await mapPool(finished, settings.concurrency, async ({ record, usable: u }): Promise<SheetSource> => ({
      path: u.file.path, info: u.info, width: record.width, height: record.height,
      tileWidth: record.tileWidth ?? tile, tileHeight: record.tileHeight ?? tile, tiles: record.tiles,
      ...(grid.filter && grid.tissue === 'otsu' ? { mask: (await imageTissueMask(u.file.path, u.info, u.plan, tile, { minAreaPixels: u.minAreaPixels })).mask } : {}),
    }));
    const sheet = await contactSheet(sources);
    writeFileAtomic(resolve(options.contactSheet), sheet);
    summary.contactSheet = resolve(options.contactSheet);
  }
  if (tiles === 0) {
    throw new UserError(`${input}: no tiles were made (${rejected.length} inputs rejected, see ${join(output, 'rejected.csv')}; ${dropped} tiles dropped by the tissue rule)`);
  }
  return summary;
}
