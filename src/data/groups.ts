import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError, expected } from '../errors.ts';
import { parseCsv } from '../formats/csv.ts';

/**
 * What `split` keeps together. Tiles of one group never land on two sides of a split.
 *   source  the source image (manifest.csv's `group` column), the default;
 *   regex   a pattern applied to each tile's source path: its first capture group, or the whole
 *           match. Kather 2016 tiles name their slide, so `CRC-Prim-HE-\d+` groups them by slide;
 *   file    a CSV/TSV of `source,group` rows (a `source,group` header is allowed) mapping every
 *           source path of manifest.csv to a patient or slide.
 */
export type GroupBy = { kind: 'source' } | { kind: 'regex'; pattern: string } | { kind: 'file'; file: string };

/** The slide id in Kather 2016 tile names, e.g. `10009_CRC-Prim-HE-03_009.tif_Row_301_Col_151.tif`. */
export const KATHER_SLIDE_REGEX = 'CRC-Prim-HE-\\d+';

/** Kather 2016 names carry their slide (CRC-Prim-HE-07): group by it when every source does, so no slide straddles splits. */
export function defaultGrouping(data: string): string | undefined {
  const [header, ...rows] = parseCsv(readFileSync(join(data, 'manifest.csv'), 'utf8'));
  const source = header?.indexOf('source') ?? -1;
  const re = new RegExp(KATHER_SLIDE_REGEX);
  return source >= 0 && rows.length > 0 && rows.every((r) => re.test(r[source]!)) ? KATHER_SLIDE_REGEX : undefined;
}

export function compileGroupRegex(pattern: string): RegExp {
  try {
    return new RegExp(pattern);
  } catch {
    throw expected('valid regular expression', '--group-regex', pattern);
  }
}

/** Read a `source,group` file into a map. */
export function readGroupsFile(file: string): Map<string, string> {
  if (!existsSync(file)) throw expected('existing file', '--groups', file);
  const text = readFileSync(file, 'utf8');
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

/** The group of every tile, given the source path and default group of each (from manifest.csv). */
export function resolveGroups(tiles: readonly { source: string; group: string }[], by: GroupBy): string[] {
  if (by.kind === 'source') return tiles.map((t) => t.group);
  const misses = new Set<string>();
  let find: (source: string) => string | undefined;
  if (by.kind === 'regex') {
    const re = compileGroupRegex(by.pattern);
    find = (source) => {
      const m = re.exec(source);
      return m ? (m[1] ?? m[0]) : undefined;
    };
  } else {
    const map = readGroupsFile(by.file);
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
    throw by.kind === 'regex'
      ? new UserError(`--group-regex /${by.pattern}/ does not match source "${first}"${more}`)
      : new UserError(`--groups ${by.file}: no group for source "${first}"${more}`);
  }
  return groups;
}
