import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UserError, expected } from '../errors.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import { tileName } from './names.ts';
import type { TileRecord } from './tiler.ts';
import { readJson } from '../formats/json.ts';

/**
 * Resume state of a tile run, kept in `<output>/.tile-state/`: the options the folder was made with
 * (`options.json`), and a journal (`sources.jsonl`) with one line per finished source, appended as
 * each source finishes (one append instead of a file per source: creating files is what costs most
 * on slow disks). A rerun skips a source whose last journal line matches the file's size and
 * modification time and whose tiles are all present, so it finishes an interrupted run and rebuilds
 * the same manifest. A torn last line (a crash mid-append) is ignored; at the end of a run the
 * journal is rewritten atomically with the live sources only.
 */

export const STATE_DIR = '.tile-state';

/**
 * Everything the tiles of one source depend on, besides its pixels. Fields added after the first
 * version are present only when they differ from their defaults, so older folders still resume.
 */
export interface RunKey {
  mode: 'grid' | 'pass-through';
  tile: number;
  stride: number;
  scale: number;
  whiteThreshold: number;
  maxWhite: number;
  filter: boolean;
  /** Tile names in level-0 pixels also where the image was read scaled (before, names used scaled pixels). */
  origins?: 'level-0';
  mpp?: number;
  sourceMpp?: number;
  tissue?: 'otsu';
  minTissue?: number;
  tissueMinArea?: number | null;
  stain?: { method: string; fit: string; target: string | null };
}

/** What one finished source produced. */
export interface SourceRecord {
  source: string;
  className: string;
  /** `<class>__<source>`, the common prefix of its tile names. */
  prefix: string;
  size: number;
  mtimeMs: number;
  /** Size of the full-resolution image, which tile origins refer to (in records older than --mpp: of the scaled image). */
  width: number;
  height: number;
  /** A tile's size in level-0 pixels (absent in older records: the tile size). */
  tileWidth?: number;
  tileHeight?: number;
  /** µm per level-0 pixel, where known. */
  sourceMpp?: number | null;
  /** Otsu's saturation threshold (the otsu tissue rule). */
  threshold?: number;
  /** How the stain was fitted, and how many tiles (tile fit) or whether the image (slide fit: 1) were left unchanged. */
  stain?: { fit: 'tile' | 'slide'; unstained: number };
  /** Every grid position, kept or dropped. */
  tiles: TileRecord[];
}

/** The open state of one output folder: earlier records by tile-name prefix, and where to append. */
export interface RunState {
  output: string;
  records: Map<string, SourceRecord>;
}

function describe(key: RunKey): string {
  const parts = [key.mode, `--tile ${key.tile}`, `--stride ${key.stride}`, key.mpp !== undefined ? `--mpp ${key.mpp}` : `--scale ${key.scale}`];
  if (key.sourceMpp !== undefined) parts.push(`--source-mpp ${key.sourceMpp}`);
  if (!key.filter) parts.push('filter off');
  else if (key.tissue === 'otsu') parts.push(`--tissue otsu (--min-tissue ${key.minTissue}${key.tissueMinArea ? `, --tissue-min-area ${key.tissueMinArea}` : ''})`);
  else parts.push(`white filter (--white-threshold ${key.whiteThreshold}, --max-white ${key.maxWhite})`);
  if (key.stain) parts.push(`--stain-normalize ${key.stain.method} (fit ${key.stain.fit}${key.stain.target ? `, target sha256 ${key.stain.target.slice(0, 12)}` : ''})`);
  if (key.origins === undefined && key.scale !== 1) parts.push('tile names in scaled pixels');
  return parts.join(', ');
}

const journalPath = (output: string): string => join(output, STATE_DIR, 'sources.jsonl');

function readJournal(output: string): Map<string, SourceRecord> {
  const records = new Map<string, SourceRecord>();
  const path = journalPath(output);
  if (!existsSync(path)) return records;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    let entry: SourceRecord | { removed: string };
    try {
      entry = JSON.parse(line) as SourceRecord | { removed: string };
    } catch {
      continue; // blank or torn line
    }
    if ('removed' in entry) records.delete(entry.removed);
    else records.set(entry.prefix, entry);
  }
  return records;
}

/**
 * Claim `output` for a run with `key`: an absent or empty folder is fine, and so is one made
 * earlier with the same key. Anything else is refused, so tiles of two runs never mix.
 */
export function openState(output: string, key: RunKey): RunState {
  if (existsSync(output) && !statSync(output).isDirectory()) throw expected('folder', '<output-dir>', output);
  const optionsFile = join(output, STATE_DIR, 'options.json');
  if (existsSync(optionsFile)) {
    const previous = readJson<RunKey>(optionsFile, 'the tiling options of this output folder');
    if (JSON.stringify(previous) !== JSON.stringify(key)) {
      throw new UserError(`${output}: made earlier with other options (${describe(previous)}; now ${describe(key)}); use an empty output folder`);
    }
    return { output, records: readJournal(output) };
  }
  if (existsSync(output) && readdirSync(output).length > 0) {
    throw new UserError(`${output}: not empty and not made by tile; use an empty output folder`);
  }
  mkdirSync(join(output, STATE_DIR), { recursive: true });
  writeFileAtomic(optionsFile, `${JSON.stringify(key, null, 2)}\n`);
  return { output, records: new Map() };
}

/** Whether an earlier record can stand for this run: same file (size, modification time) and all its tiles present. */
export function isFinished(state: RunState, record: SourceRecord, size: number, mtimeMs: number): boolean {
  return record.size === size && record.mtimeMs === mtimeMs && record.tiles.every((t) => !t.kept || existsSync(join(state.output, tileName(record.prefix, t.x, t.y))));
}

/** Note a finished source in the journal. */
export function recordSource(state: RunState, record: SourceRecord): void {
  appendFileSync(journalPath(state.output), `${JSON.stringify(record)}\n`);
  state.records.set(record.prefix, record);
}

/** Delete a source's tiles and forget it (before it is redone, or when it left the input). */
export function removeSource(state: RunState, record: SourceRecord): void {
  for (const t of record.tiles) if (t.kept) rmSync(join(state.output, tileName(record.prefix, t.x, t.y)), { force: true });
  appendFileSync(journalPath(state.output), `${JSON.stringify({ removed: record.prefix })}\n`);
  state.records.delete(record.prefix);
}

/** Remove sources not in `live` (no longer in the input, or unreadable now) and rewrite the journal compactly. */
export function closeState(state: RunState, live: readonly SourceRecord[]): void {
  const keep = new Set(live.map((r) => r.prefix));
  for (const record of [...state.records.values()]) if (!keep.has(record.prefix)) removeSource(state, record);
  writeFileAtomic(journalPath(state.output), live.map((r) => `${JSON.stringify(r)}\n`).join(''));
}
