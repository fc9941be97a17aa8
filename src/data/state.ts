import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UserError, expected } from '../errors.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import { tileName } from './names.ts';
import type { GridSettings, TileRecord } from './tiler.ts';
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

/** Everything the tiles of one source depend on, besides its pixels. */
export interface RunKey extends Omit<GridSettings, 'bandPixels'> {
  mode: 'grid' | 'pass-through';
}

/** What one finished source produced. */
export interface SourceRecord {
  source: string;
  className: string;
  /** `<class>__<source>`, the common prefix of its tile names. */
  prefix: string;
  size: number;
  mtimeMs: number;
  /** Size of the (scaled) image that was tiled. */
  width: number;
  height: number;
  /** Every grid position, kept or dropped. */
  tiles: TileRecord[];
}

/** The open state of one output folder: earlier records by tile-name prefix, and where to append. */
export interface RunState {
  output: string;
  records: Map<string, SourceRecord>;
}

const describe = (key: RunKey): string =>
  `${key.mode}, --tile ${key.tile}, --stride ${key.stride}, --scale ${key.scale}, filter ${key.filter ? `on (--white-threshold ${key.whiteThreshold}, --max-white ${key.maxWhite})` : 'off'}`;

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
