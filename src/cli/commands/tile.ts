import type { CAC } from 'cac';
import { formatTileSummary, tileDataset } from '../../data/index.ts';
import type { TileOptions } from '../../data/index.ts';
import { addSplitOptions, runSplit } from './split.ts';
import type { SplitFlags } from './split.ts';

interface TileFlags extends SplitFlags {
  tile?: number | string;
  stride?: number | string;
  whiteThreshold?: number | string;
  maxWhite?: number | string;
  scale?: number | string;
  filter?: boolean;
  concurrency?: number | string;
  contactSheet?: string | number;
  split?: boolean;
}

/** The tile options of parsed flags; checks happen in tileDataset, in one place. */
export function tileOptions(input: string, output: string, flags: TileFlags): TileOptions {
  const options: TileOptions = { input, output };
  const numeric = ['tile', 'stride', 'whiteThreshold', 'maxWhite', 'scale', 'concurrency'] as const;
  for (const name of numeric) if (flags[name] !== undefined) options[name] = flags[name] as number;
  if (flags.filter !== undefined) options.filter = flags.filter;
  if (flags.contactSheet !== undefined) options.contactSheet = String(flags.contactSheet);
  return options;
}

function progress(done: number, total: number): void {
  if (!process.stderr.isTTY) return;
  process.stderr.write(done < total ? `\rtiling ${done}/${total} images` : '\r\x1b[K');
}

export function register(cli: CAC): void {
  const command = cli
    .command('tile <input-dir> <output-dir>', 'Cut class folders of images (TIFF/SVS, PNG, JPEG, WebP) into PNG tiles, dropping mostly-white ones (writes manifest.csv, dataset.json, rejected.csv)')
    .option('--tile <px>', 'Tile width and height in pixels (default: 150)')
    .option('--stride <px>', 'Step between tiles in pixels (default: the tile size)')
    .option('--white-threshold <0-255>', 'A pixel is background when R, G and B are all above this (default: 220)')
    .option('--max-white <fraction>', 'Drop tiles with a larger background fraction (default: 0.5)')
    .option('--scale <factor>', 'Downscale images by this factor before tiling (default: 1)')
    .option('--filter', 'Drop mostly-white tiles, or keep every tile with --no-filter (default: on, but off when every image is already one tile)')
    .option('--concurrency <n>', 'Images processed at once (default: number of CPUs)')
    .option('--contact-sheet <file.png>', 'Also draw every image with kept tiles outlined green and dropped tiles shaded red')
    .option('--split', 'Then split the tiles as `split` does (with the options below)')
    .example('senet-ort tile slides/ tiles/ --contact-sheet tiles-check.png')
    .ignoreOptionDefaultValue();
  addSplitOptions(command).action(async (input: string, output: string, flags: TileFlags) => {
    const summary = await tileDataset({ ...tileOptions(input, output, flags), onSource: progress });
    process.stdout.write(formatTileSummary(summary));
    if (flags.split) runSplit(output, flags);
  });
}
