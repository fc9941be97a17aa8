/**
 * The groups' file reads: the `--groups` file, and the manifest that decides the default grouping.
 * The rules themselves are pure, in groups.ts, where the browser app (src/web) uses them too.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expected } from '../errors.ts';
import { parseCsv } from '../formats/csv.ts';
import type { GroupBy } from './groups.ts';
import { groupTiles, parseGroupsFile, slideGrouping } from './groups.ts';

/** The tile folder's default grouping (groups.ts's slideGrouping over manifest.csv's sources). */
export function defaultGrouping(data: string): string | undefined {
  const [header, ...rows] = parseCsv(readFileSync(join(data, 'manifest.csv'), 'utf8'));
  const source = header?.indexOf('source') ?? -1;
  return source >= 0 ? slideGrouping(rows.map((r) => r[source]!)) : undefined;
}

/** Read a `source,group` file into a map. */
export function readGroupsFile(file: string): Map<string, string> {
  if (!existsSync(file)) throw expected('existing file', '--groups', file);
  return parseGroupsFile(readFileSync(file, 'utf8'), file);
}

/** The group of every tile (groups.ts's groupTiles), reading the `--groups` file where `by` names one. */
export function resolveGroups(tiles: readonly { source: string; group: string }[], by: GroupBy): string[] {
  return groupTiles(tiles, by, by.kind === 'file' ? readGroupsFile(by.file) : undefined);
}
