// Dataset preparation: tiling class folders of images, and grouped, stratified splits. The only part of senet-ort that uses sharp.
export { tileDataset, MANIFEST_HEADER } from './dataset.ts';
export type { ClassCount, TileSummary } from './dataset.ts';
export type { TileOptions } from './options.ts';
export { splitDataset } from './split.ts';
export type { SplitOptions, SplitResult } from './split.ts';
export type { Splits } from './grouped-split.ts';
export { KATHER_SLIDE_REGEX } from './groups.ts';
export { defaultGrouping } from './groups-file.ts';
export { prepareSource } from './prepare.ts';
export type { PreparedSource, PrepareOptions, SourceKind, TilingOptions } from './prepare.ts';
export type { GroupBy } from './groups.ts';
export { contactSheet } from './contact-sheet.ts';
export type { SheetOptions, SheetSource } from './contact-sheet.ts';
export { formatPrepared, formatSplitTable, formatTileSummary } from './report.ts';
export type { Rejection } from './scan.ts';
