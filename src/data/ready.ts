import { UserError } from '../errors.ts';

/**
 * Most published patch sets are tiles already: Kather 2016's 150 px tiles, NCT-CRC-HE's 224 px,
 * the 50 px patches of breast-cancer histology sets. A grid of 150 px tiles would crop the larger
 * ones and reject the smaller ones, so without `--tile` the images' own size decides:
 *
 *   - when most images are small (both sides under two default tiles: a 150 px grid would cut at
 *     most one tile from them, a crop rather than a tiling), they are taken to be tiles;
 *   - the size that covers at least 95% of them (square, as tiles are) is then the tile size;
 *     every other image is rejected with its reason: a smaller one cannot give a tile, a larger
 *     one would give tiles unlike the rest (`--tile` cuts them, if that is wanted);
 *   - when no size covers 95%, or that size is not square, the tile size is the user's choice:
 *     one message names the sizes found and `--tile`.
 *
 * Otherwise (slides, large regions) the images are cut into default tiles, as before.
 */

export const DEFAULT_TILE = 150;
/** The share of the images one size must cover to be taken as the tile size. */
export const READY_SHARE = 0.95;

export interface ImageSize {
  readonly width: number;
  readonly height: number;
}

/** The tile size read off a set of ready tiles. */
export interface ReadyTiles {
  readonly tile: number;
  /** Images of exactly that size. */
  readonly count: number;
  /** Images looked at. */
  readonly total: number;
}

const key = (s: ImageSize): string => `${s.width}x${s.height}`;
const percent = (n: number, total: number): string => `${+((100 * n) / total).toFixed(1)}%`;

/** Whether a grid of `tile` px tiles would cut at most one tile from an image of this size. */
export function isSmall(size: ImageSize, tile: number = DEFAULT_TILE): boolean {
  return size.width < 2 * tile && size.height < 2 * tile;
}

/**
 * The tile size of images that are tiles already, or null when they are not (most are large
 * enough to be cut into `defaultTile` tiles). A UserError, naming `where`, the sizes found and
 * `--tile`, when they are tiles of no one square size.
 */
export function readyTileSize(sizes: readonly ImageSize[], where: string, defaultTile: number = DEFAULT_TILE): ReadyTiles | null {
  const small = sizes.filter((s) => isSmall(s, defaultTile)).length;
  if (sizes.length === 0 || small * 2 <= sizes.length) return null;
  const counts = new Map<string, { size: ImageSize; count: number }>();
  for (const s of sizes) {
    const entry = counts.get(key(s));
    if (entry) entry.count++;
    else counts.set(key(s), { size: s, count: 1 });
  }
  // Most frequent first; among equals the larger tile, then the wider, so the order never depends on the input's.
  const ranked = [...counts.values()].sort((a, b) => b.count - a.count || b.size.width * b.size.height - a.size.width * a.size.height || b.size.width - a.size.width);
  const top = ranked[0]!;
  const why = `${where}: ${small} of the ${sizes.length} images are under ${2 * defaultTile}x${2 * defaultTile} px, so they are taken to be tiles already`;
  if (top.count < READY_SHARE * sizes.length) {
    const shown = ranked.slice(0, 4).map((r) => `${key(r.size)}: ${r.count} (${percent(r.count, sizes.length)})`);
    const more = ranked.length > 4 ? `, and ${ranked.length - 4} more sizes` : '';
    throw new UserError(`${why}, but no one size covers ${READY_SHARE * 100}% of them (${shown.join(', ')}${more}); give the tile size with --tile`);
  }
  if (top.size.width !== top.size.height) {
    const side = Math.min(top.size.width, top.size.height);
    throw new UserError(`${why}, and ${percent(top.count, sizes.length)} of them are ${key(top.size)}, which is not square; give a square tile size with --tile (--tile ${side} cuts ${side}x${side} tiles from them)`);
  }
  return { tile: top.size.width, count: top.count, total: sizes.length };
}

/** How an image of `size` differs from a set of ready tiles ("smaller than ..."), or null when it is one of them. */
export function readyTileRejection(size: ImageSize, ready: ReadyTiles): string | null {
  const { tile } = ready;
  if (size.width === tile && size.height === tile) return null;
  const share = `the ${tile}x${tile} tile size that ${ready.count} of the ${ready.total} images have`;
  if (size.width < tile || size.height < tile) return `smaller than ${share}`;
  return `larger than ${share} (--tile ${tile} cuts such images into tiles too)`;
}
