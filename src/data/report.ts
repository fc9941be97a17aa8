import type { TileSummary } from './dataset.ts';
import type { PreparedSource } from './prepare.ts';
import type { SplitResult } from './split.ts';
import { textTable } from '../util/table.ts';
import { describeGroupBy } from './groups.ts';

/** Plain-text tables for the terminal: what `tile` and `split` print when they finish. */

/** Shown rejections before "… and N more (see rejected.csv)". */
const SHOWN = 10;

/** `grid, at 0.5 µm/px, otsu tissue mask, stain normalised (macenko)`: what the first line says of the tiles. */
function describePreparation(s: TileSummary): string {
  const p = s.preparation;
  const parts: string[] = [s.mode];
  if (p.mpp !== null) parts.push(`at ${p.mpp} µm/px`);
  parts.push(p.tissue.method === 'otsu' ? 'otsu tissue mask' : `white filter ${s.filter ? 'on' : 'off'}`);
  if (p.stain.method !== 'none') parts.push(`stain normalised (${p.stain.method}, ${p.stain.fit} fit)`);
  return parts.join(', ');
}

export function formatTileSummary(s: TileSummary): string {
  const rows = Object.entries(s.counts).map(([c, n]) => [c, n.sources, n.tiles, n.dropped, s.rejected.filter((r) => r.file.startsWith(`${c}/`)).length]);
  rows.push(['total', s.sources, s.tiles, s.dropped, s.rejected.length]);
  const lines = [
    `tiled ${s.sources} sources into ${s.tiles} tiles in ${s.output} (${describePreparation(s)}${s.resumed > 0 ? `, ${s.resumed} sources finished earlier` : ''})`,
    ...(s.ready ? [`tile size ${s.ready.tile} px, as the images are: ${s.ready.count} of the ${s.ready.total} images are ${s.ready.tile}x${s.ready.tile} tiles already (--tile sets another)`] : []),
    textTable(['class', 'sources', 'tiles', 'dropped', 'rejected'], rows),
  ];
  if (s.rejected.length > 0) {
    lines.push(`rejected ${s.rejected.length} inputs (rejected.csv):`);
    for (const r of s.rejected.slice(0, SHOWN)) lines.push(`  ${r.file}: ${r.reason}`);
    if (s.rejected.length > SHOWN) lines.push(`  … and ${s.rejected.length - SHOWN} more`);
  }
  for (const w of s.warnings) lines.push(`warning: ${w}`);
  if (s.contactSheet) lines.push(`contact sheet: ${s.contactSheet}`);
  return `${lines.join('\n')}\n`;
}

export function formatSplitTable(result: SplitResult): string {
  const { splits, perClass } = result;
  const folds = splits.counts.folds;
  const header = ['class', 'groups', 'tiles', 'test', ...folds.map((_, f) => `val${f + 1}`)];
  const rows: (string | number)[][] = splits.classes.map((c) => [
    c, perClass[c]!.groups, perClass[c]!.tiles, splits.counts.test[c]!, ...folds.map((f) => f.val[c]!),
  ]);
  const groups = new Set([...splits.groups.test, ...splits.groups.folds.flatMap((f) => f.val), ...splits.groups.trainOnly]);
  rows.push(['total', groups.size, Object.values(perClass).reduce((n, p) => n + p.tiles, 0), splits.test.length, ...splits.folds.map((f) => f.val.length)]);
  rows.push(['(groups)', '', '', splits.groups.test.length, ...splits.groups.folds.map((f) => f.val.length)]);
  const by = describeGroupBy(splits.groupBy);
  const lines = [
    `split ${splits.test.length + splits.folds[0]!.train.length + splits.folds[0]!.val.length} tiles by ${by}: test ${splits.testFraction}, ${splits.k} folds, seed ${splits.seed} -> ${result.path}`,
    textTable(header, rows),
    `each fold trains on the non-test tiles outside its val column${splits.groups.trainOnly.length > 0 ? `; ${splits.groups.trainOnly.length} group${splits.groups.trainOnly.length === 1 ? '' : 's'} always in training` : ''}`,
  ];
  for (const w of splits.warnings) lines.push(`warning: ${w}`);
  return `${lines.join('\n')}\n`;
}

/** What `study`, `init` and `sweep` did to their source: the tiling summary or the linked tiles, then the split table. */
export function formatPrepared(p: PreparedSource): string {
  if (p.kind === 'split') return `data set ${p.data}: tiled and split already, used as it is\n`;
  const tiles = p.tiled ? formatTileSummary(p.tiled) : `linked the ${p.linked} tiles of ${p.source} into ${p.data}, to be split there\n`;
  return tiles + (p.split ? formatSplitTable(p.split) : '');
}
