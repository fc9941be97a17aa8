import { UserError, expected } from '../errors.ts';
import { parseCsv } from '../formats/csv.ts';

/**
 * What `split` keeps together. Tiles of one group never land on two sides of a split.
 *   source  the source image (manifest.csv's `group` column), the default;
 *   regex   a pattern applied to each tile's source: its first capture group, or the whole match.
 *           `on` says to what: the source's file name (`name`, the default), or its path inside the
 *           input folder (`path`: `class/patient-7/slide.svs`), which begins with the class folder,
 *           so `^\d+` there would match a class named `0`. Kather 2016 tiles name their slide, so
 *           `CRC-Prim-HE-\d+` groups them by slide either way. Splits written before `on` existed
 *           matched the path, and say so by leaving it out;
 *   file    a CSV/TSV of `source,group` rows (a `source,group` header is allowed) mapping every
 *           source path of manifest.csv to a patient or slide.
 */
export type GroupBy = { kind: 'source' } | { kind: 'regex'; pattern: string; on?: GroupOn } | { kind: 'file'; file: string };

/** What `--group-regex` is matched against: the source's file name, or its relative path. */
export type GroupOn = 'name' | 'path';
export const GROUP_ON: readonly GroupOn[] = ['name', 'path'];

/** The part of a source path (`class/sub/file.png`, always with `/`) a pattern is matched against. */
export function groupSubject(source: string, on: GroupOn): string {
  return on === 'name' ? source.slice(source.lastIndexOf('/') + 1) : source;
}

/** The grouping in words, as tables and reports name it: `/^\d+/ on file names`. */
export function describeGroupBy(by: GroupBy): string {
  if (by.kind === 'source') return 'source image';
  if (by.kind === 'file') return `--groups ${by.file}`;
  return `/${by.pattern}/ on ${(by.on ?? 'path') === 'name' ? 'file names' : 'source paths'}`;
}

/** The slide id in Kather 2016 tile names, e.g. `10009_CRC-Prim-HE-03_009.tif_Row_301_Col_151.tif`. */
export const KATHER_SLIDE_REGEX = 'CRC-Prim-HE-\\d+';

/** Kather 2016 names carry their slide (CRC-Prim-HE-07): group by it when every source does, so no slide straddles splits. */
export function slideGrouping(sources: readonly string[]): string | undefined {
  const re = new RegExp(KATHER_SLIDE_REGEX);
  return sources.length > 0 && sources.every((s) => re.test(s)) ? KATHER_SLIDE_REGEX : undefined;
}

export function compileGroupRegex(pattern: string): RegExp {
  try {
    return new RegExp(pattern);
  } catch {
    throw expected('valid regular expression', '--group-regex', pattern);
  }
}

/** A `source,group` file's text (read from `file`) as a map. */
export function parseGroupsFile(text: string, file: string): Map<string, string> {
  const rows = text.includes('\t') && !text.includes(',') ? text.split(/\r?\n/).filter((l) => l !== '').map((l) => l.split('\t')) : parseCsv(text);
  const map = new Map<string, string>();
  for (const [i, row] of rows.entries()) {
    if (i === 0 && row[0]?.trim() === 'source' && row[1]?.trim() === 'group') continue;
    if (row.length < 2 || row[0]!.trim() === '' || row[1]!.trim() === '') {
      throw new UserError(`${file}: line ${i + 1}: expected "source,group" but received ${JSON.stringify(row.join(','))}`);
    }
    map.set(row[0]!.trim(), row[1]!.trim());
  }
  return map;
}

/**
 * The group of every tile, given the source path and default group of each (from manifest.csv);
 * `groupsFile` is the parsed `--groups` file where `by` names one (groups-file.ts reads it).
 */
export function groupTiles(tiles: readonly { source: string; group: string }[], by: GroupBy, groupsFile?: ReadonlyMap<string, string>): string[] {
  if (by.kind === 'source') return tiles.map((t) => t.group);
  const misses = new Set<string>();
  let find: (source: string) => string | undefined;
  const on = by.kind === 'regex' ? by.on ?? 'path' : 'path';
  if (by.kind === 'regex') {
    const re = compileGroupRegex(by.pattern);
    find = (source) => {
      const m = re.exec(groupSubject(source, on));
      return m ? (m[1] ?? m[0]) : undefined;
    };
  } else {
    const map = groupsFile;
    if (!map) throw new Error(`groupTiles: grouping by --groups ${by.file} without the file's map`);
    find = (source) => map.get(source);
  }
  const groups = tiles.map((t) => {
    const g = find(t.source);
    if (g === undefined || g === '') misses.add(t.source);
    return g ?? '';
  });
  if (misses.size > 0) {
    const first = [...misses][0]!;
    const more = misses.size > 1 ? ` (and ${misses.size - 1} more sources)` : '';
    if (by.kind === 'file') throw new UserError(`--groups ${by.file}: no group for source "${first}"${more}`);
    const subject = on === 'name' ? `file name "${groupSubject(first, on)}" (source "${first}")` : `source "${first}"`;
    throw new UserError(`--group-regex /${by.pattern}/ does not match ${subject}${more}${on === 'name' ? '; --group-on path matches the path inside the input folder' : ''}`);
  }
  return groups;
}
