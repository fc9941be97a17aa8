/**
 * The browser app's data set, with the CLI's rules (`tile`, then `split` as `study` runs them) and
 * no file I/O: the images of a folder of class folders, decoded by the page, become tiles named
 * as `tile` names them, the white rule filters them, and the tiles are split by group (by Kather
 * slide when every name carries one) with the same seed, so the page and the CLI split the same
 * images the same way. Images that are tiles already keep their size (ready.ts); larger ones are
 * cut into 150 px tiles on `tile`'s grid.
 */
import { UserError } from '../errors.ts';
import { toCsv } from '../formats/csv.ts';
import type { Preparation } from '../formats/preparation.ts';
import type { Splits, TileSplit } from '../data/grouped-split.ts';
import { splitTiles } from '../data/grouped-split.ts';
import type { GroupBy } from '../data/groups.ts';
import { groupTiles, slideGrouping } from '../data/groups.ts';
import { MANIFEST_HEADER, byteOrder, safeName, sourceIds, sourcePrefix, tileName } from '../data/names.ts';
import { DEFAULT_TILE, readyTileRejection, readyTileSize } from '../data/ready.ts';
import type { Rejection } from '../data/scan.ts';
import { cropTile, gridPositions, whiteFraction } from '../data/white.ts';
import { fileHeader } from '../version.ts';

/** `tile`'s white rule defaults: a tile with more than half its pixels above 220 in R, G and B is background. */
export const WHITE_THRESHOLD = 220;
export const MAX_WHITE = 0.5;

/** An image of the chosen folder: its path inside it (`class/…/name.png`) and its pixels, or why it could not be read. */
export type SourceImage =
  | { readonly source: string; readonly width: number; readonly height: number; readonly rgb: Uint8Array }
  | { readonly source: string; readonly error: string };

/** One tile: its file name, class, source, origin, white fraction and pixels (tile x tile RGB). */
export interface PageTile {
  readonly file: string;
  readonly className: string;
  readonly source: string;
  readonly x: number;
  readonly y: number;
  readonly white: number;
  readonly rgb: Uint8Array;
}

export interface SplitSettings {
  readonly testFraction: number;
  readonly folds: number;
  readonly seed: number;
}

/** The CLI's defaults: `split`'s (and `study`'s). */
export const DEFAULT_SPLIT: SplitSettings = { testFraction: 0.2, folds: 4, seed: 0 };

export interface PreparedTiles {
  readonly mode: 'grid' | 'pass-through';
  readonly tile: number;
  readonly filter: boolean;
  /** Classes with tiles, in folder order: the label order. */
  readonly classes: string[];
  readonly tiles: PageTile[];
  readonly rejected: Rejection[];
  readonly dropped: number;
  readonly warnings: string[];
  readonly preparation: Preparation;
  readonly groupBy: GroupBy;
  readonly split: TileSplit;
  /** The files `tile` and `split` write beside the tiles: manifest.csv, rejected.csv, dataset.json, splits.json. */
  readonly files: Readonly<Record<'manifest.csv' | 'rejected.csv' | 'dataset.json' | 'splits.json', string>>;
}

const round4 = (v: number): number => Math.round(v * 10000) / 10000;

/** The order `tile` walks a class folder in: depth first, each folder's entries in byte order. */
function walkOrder(a: string, b: string): number {
  const [pa, pb] = [a.split('/'), b.split('/')];
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) if (pa[i] !== pb[i]) return byteOrder(pa[i]!, pb[i]!);
  return pa.length - pb.length;
}

/** Classes and their images as `tile`'s scan finds them (hidden files skipped, top-level files rejected). */
function scan(root: string, images: readonly SourceImage[], rejected: Rejection[]): { classes: string[]; classIds: Map<string, string>; sources: SourceImage[]; ids: Map<string, string> } {
  const visible = images.filter((i) => !i.source.split('/').some((part) => part.startsWith('.')));
  for (const i of visible) if (!i.source.includes('/')) rejected.push({ file: i.source, reason: 'file at the top level: images belong in a class folder' });
  const inClass = visible.filter((i) => i.source.includes('/'));
  const classes = [...new Set(inClass.map((i) => i.source.split('/')[0]!))].sort(byteOrder);
  if (classes.length === 0) throw new UserError(`${root}: expected a folder with one subfolder per class, but it holds no class folders with images`);
  const classIds = new Map<string, string>();
  for (const name of classes) {
    const id = safeName(name);
    const clash = [...classIds].find(([, other]) => other.toLowerCase() === id.toLowerCase());
    if (clash) throw new UserError(`${root}: class folders "${clash[0]}" and "${name}" would both be named "${id}" in tile names; rename one`);
    classIds.set(name, id);
  }
  const sources: SourceImage[] = [];
  const ids = new Map<string, string>();
  for (const c of classes) {
    const mine = inClass.filter((i) => i.source.split('/')[0] === c).sort((a, b) => walkOrder(a.source, b.source));
    const rel = (s: string): string => s.slice(c.length + 1);
    for (const [path, id] of sourceIds(mine.map((i) => rel(i.source)))) ids.set(`${c}/${path}`, id);
    sources.push(...mine);
  }
  return { classes, classIds, sources, ids };
}

/** The white fraction of each grid tile of an image, and the kept ones' pixels. */
function cut(image: Extract<SourceImage, { rgb: Uint8Array }>, tile: number, filter: boolean): { tiles: Omit<PageTile, 'file' | 'className' | 'source'>[]; dropped: number } {
  const tiles: Omit<PageTile, 'file' | 'className' | 'source'>[] = [];
  let dropped = 0;
  for (const y of gridPositions(image.height, tile, tile)) {
    // Rows of the band the tile lies in, so cropTile reads from its first row.
    const band = image.rgb.subarray(y * image.width * 3, (y + tile) * image.width * 3);
    for (const x of gridPositions(image.width, tile, tile)) {
      const rgb = cropTile(band, image.width, x, 0, tile);
      const white = round4(whiteFraction(rgb, WHITE_THRESHOLD));
      if (filter && white > MAX_WHITE) dropped++;
      else tiles.push({ x, y, white, rgb });
    }
  }
  return { tiles, dropped };
}

/** Tile, filter and split the images of the folder `root` as `senet-ort study` does. */
export function prepareTiles(root: string, images: readonly SourceImage[], settings: SplitSettings = DEFAULT_SPLIT): PreparedTiles {
  const rejected: Rejection[] = [];
  const { classes: folders, classIds, sources, ids } = scan(root, images, rejected);
  const decoded = sources.filter((s): s is Extract<SourceImage, { rgb: Uint8Array }> => {
    if ('error' in s) rejected.push({ file: s.source, reason: s.error });
    return !('error' in s);
  });
  const ready = readyTileSize(decoded, root, DEFAULT_TILE);
  const tile = ready?.tile ?? DEFAULT_TILE;
  const usable = decoded.filter((s) => {
    const odd = ready && readyTileRejection(s, ready);
    const reason = odd ? `image is ${s.width}x${s.height}, ${odd}` : s.width < tile || s.height < tile ? `image is ${s.width}x${s.height}, smaller than one ${tile}x${tile} tile` : null;
    if (reason) rejected.push({ file: s.source, reason });
    return reason === null;
  });
  const passThrough = usable.length > 0 && usable.every((s) => s.width === tile && s.height === tile);
  const filter = !passThrough;
  const tiles: PageTile[] = [];
  const counts = new Map(folders.map((c) => [c, { sources: 0, tiles: 0, dropped: 0 }]));
  let dropped = 0;
  for (const s of usable) {
    const className = s.source.split('/')[0]!;
    const prefix = sourcePrefix(classIds.get(className)!, ids.get(s.source)!);
    const made = cut(s, tile, filter);
    const count = counts.get(className)!;
    count.sources++;
    count.tiles += made.tiles.length;
    count.dropped += made.dropped;
    dropped += made.dropped;
    for (const t of made.tiles) tiles.push({ ...t, file: tileName(prefix, t.x, t.y), className, source: s.source });
  }
  rejected.sort((a, b) => byteOrder(a.file, b.file));
  const classes = folders.filter((c) => counts.get(c)!.tiles > 0);
  if (tiles.length === 0) throw new UserError(`${root}: no tiles were made (${rejected.length} images rejected${rejected[0] ? `, the first: ${rejected[0].file}: ${rejected[0].reason}` : ''}; ${dropped} tiles were more than ${MAX_WHITE * 100}% white)`);
  const warnings = passThrough ? [`every image is already one ${tile}x${tile} tile: tiles pass through unchanged, white filter off`] : [];
  for (const c of folders) if (counts.get(c)!.tiles === 0) warnings.push(`class ${c}: no tiles; left out of the class list`);

  const pattern = slideGrouping(tiles.map((t) => t.source));
  const groupBy: GroupBy = pattern ? { kind: 'regex', pattern, on: 'name' } : { kind: 'source' };
  const groups = groupTiles(tiles.map((t) => ({ source: t.source, group: t.source })), groupBy);
  const split = splitTiles(tiles.map((t, i) => ({ file: t.file, className: t.className, source: t.source, group: groups[i]! })), classes, { testFraction: settings.testFraction, k: settings.folds, seed: settings.seed, groupBy });

  const preparation: Preparation = { mpp: null, tile, tissue: filter ? { method: 'white', whiteThreshold: WHITE_THRESHOLD, maxWhite: MAX_WHITE } : { method: 'none' }, stain: { method: 'none' } };
  const dataset = {
    ...fileHeader('tiles'),
    mode: passThrough ? 'pass-through' : 'grid',
    classes,
    tileSize: tile,
    mpp: null,
    preparation,
    options: { tile, stride: tile, scale: 1, whiteThreshold: WHITE_THRESHOLD, maxWhite: MAX_WHITE, filter, mpp: null, sourceMpp: null, tissue: 'white', minTissue: null, tissueMinArea: null, stainNormalize: null, stainFit: null, stainTarget: null },
    counts: Object.fromEntries(counts),
    totals: { sources: usable.length, tiles: tiles.length, dropped, rejected: rejected.length },
  };
  return {
    mode: passThrough ? 'pass-through' : 'grid', tile, filter, classes, tiles, rejected, dropped, warnings, preparation, groupBy, split,
    files: {
      'manifest.csv': toCsv(MANIFEST_HEADER, tiles.map((t) => [t.file, t.className, t.source, t.source, t.x, t.y, t.white, '', ''])),
      'rejected.csv': toCsv(['file', 'reason'], rejected.map((r) => [r.file, r.reason])),
      'dataset.json': `${JSON.stringify(dataset, null, 2)}\n`,
      'splits.json': `${JSON.stringify(split.splits satisfies Splits, null, 2)}\n`,
    },
  };
}
