/**
 * Tile file names: `<class>__<source>__x<x>_y<y>.png`, flat, with the class in the name as the
 * original study did. `__` separates the parts, so it never occurs inside a part.
 */

/** manifest.csv's columns, one row per tile (dataset.ts says what each holds). */
export const MANIFEST_HEADER: readonly string[] = ['file', 'class', 'group', 'source', 'x', 'y', 'white_fraction', 'tissue_fraction', 'source_mpp'];

/** Keep letters, digits and `. _ + -`; anything else becomes `-`, and runs of `_` shrink to one. */
export function safeName(text: string): string {
  return text.replace(/[^A-Za-z0-9._+-]/g, '-').replace(/_{2,}/g, '_');
}

/** `<class>__<source>`: the part all tile names of one source share. */
export function sourcePrefix(classId: string, sourceId: string): string {
  return `${classId}__${sourceId}`;
}

/** The file name of a source's tile at (x, y), in pixels of the (scaled) image. */
export function tileName(prefix: string, x: number, y: number): string {
  return `${prefix}__x${x}_y${y}.png`;
}

function stem(path: string): string {
  const slash = path.lastIndexOf('/');
  const dot = path.lastIndexOf('.');
  return dot > slash + 1 ? path.slice(0, dot) : path;
}

/**
 * Give each source of one class a short unique id for its tile names: its path inside the class
 * folder without the extension, `/` written as `+`. Where two paths would share an id (`a.png` and
 * `a.tif`, or `a b` and `a-b`), those keep their extension, then get `-2`, `-3`… in sorted order.
 * Ids are compared case-insensitively, so the names stay distinct on macOS and Windows too.
 */
export function sourceIds(paths: readonly string[]): Map<string, string> {
  const sorted = [...paths].sort(byteOrder);
  const base = (p: string, withExt: boolean): string => safeName((withExt ? p : stem(p)).replaceAll('/', '+'));
  const stemCount = new Map<string, number>();
  for (const p of sorted) stemCount.set(base(p, false).toLowerCase(), (stemCount.get(base(p, false).toLowerCase()) ?? 0) + 1);
  const ids = new Map<string, string>();
  const taken = new Set<string>();
  for (const p of sorted) {
    let id = base(p, (stemCount.get(base(p, false).toLowerCase()) ?? 0) > 1);
    for (let n = 2; taken.has(id.toLowerCase()); n++) id = `${base(p, true)}-${n}`;
    taken.add(id.toLowerCase());
    ids.set(p, id);
  }
  return ids;
}

/** Plain code-unit order, the same on every machine and locale. */
export function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
