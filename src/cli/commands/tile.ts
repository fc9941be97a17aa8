import type { CAC, Command } from 'cac';
import { formatTileSummary, tileDataset } from '../../data/index.ts';
import type { TilingOptions } from '../../data/index.ts';
import { addSplitOptions, runSplit } from './split.ts';
import type { SplitFlags } from './split.ts';

/** The tiling flags as cac parses them (numbers or strings). */
interface TilingFlags {
  tile?: number | string;
  stride?: number | string;
  whiteThreshold?: number | string;
  maxWhite?: number | string;
  scale?: number | string;
  mpp?: number | string;
  sourceMpp?: number | string;
  tissue?: string;
  minTissue?: number | string;
  tissueMinArea?: number | string;
  stainNormalize?: string;
  stainFit?: string;
  stainTarget?: string;
  filter?: boolean;
  concurrency?: number | string;
  contactSheet?: string | number;
}

interface TileFlags extends SplitFlags, TilingFlags {
  split?: boolean;
}

/** The tiling options of parsed flags, shared by `tile`, `study`, `init` and `sweep`; checks happen in tileDataset, in one place. */
export function tilingOptions(flags: TilingFlags): TilingOptions {
  const options: TilingOptions = {};
  const numeric = ['tile', 'stride', 'whiteThreshold', 'maxWhite', 'scale', 'mpp', 'sourceMpp', 'minTissue', 'tissueMinArea', 'concurrency'] as const;
  for (const name of numeric) if (flags[name] !== undefined) options[name] = flags[name] as number;
  const text = ['tissue', 'stainNormalize', 'stainFit', 'stainTarget'] as const;
  for (const name of text) if (flags[name] !== undefined) options[name] = String(flags[name]);
  if (flags.filter !== undefined) options.filter = flags.filter;
  if (flags.contactSheet !== undefined) options.contactSheet = String(flags.contactSheet);
  return options;
}

/** The tiling flags, shared by `tile`, `study`, `init` and `sweep`; `when` says to what they apply there. */
export function addTilingOptions(command: Command, when = ''): Command {
  return command
    .option('--tile <px>', `Tile width and height in pixels (default: 150, or the images' own size when most are under 300x300 px and one size covers 95% of them)${when}`)
    .option('--stride <px>', `Step between tiles in pixels (default: the tile size)${when}`)
    .option('--white-threshold <0-255>', `A pixel is background when R, G and B are all above this (default: 220)${when}`)
    .option('--max-white <fraction>', `Drop tiles with a larger background fraction (default: 0.5)${when}`)
    .option('--scale <factor>', `Downscale images by this factor before tiling (default: 1)${when}`)
    .option('--mpp <µm>', `Tile every image at this many micrometres per pixel (e.g. 0.5 for 20x), read from the coarsest fine-enough pyramid level${when}`)
    .option('--source-mpp <µm>', `The images' own micrometres per pixel, where their files do not say (or say wrongly)${when}`)
    .option('--tissue <white|otsu>', `Tissue rule: white (the original study's background fraction) or otsu (a saturation mask on a thumbnail; default: white)${when}`)
    .option('--min-tissue <fraction>', `With --tissue otsu: keep tiles the mask covers at least this much (default: 0.5)${when}`)
    .option('--tissue-min-area <µm²>', `With --tissue otsu: drop tissue regions smaller than this (default: half a tile)${when}`)
    .option('--stain-normalize <macenko|reinhard>', `Normalise the stain of the kept tiles (Macenko 2009 to its published reference, or Reinhard 2001 to --stain-target)${when}`)
    .option('--stain-fit <tile|slide>', `Fit the stain on each tile alone, or once per image on its kept tiles (default: slide for images larger than a tile)${when}`)
    .option('--stain-target <image>', `Normalise towards this image's stain (Macenko: instead of the published reference; Reinhard: required)${when}`)
    .option('--filter', `Drop tiles the tissue rule rejects, or keep every tile with --no-filter (default: on, but off when every image is already one tile)${when}`)
    .option('--concurrency <n>', `Images processed at once (default: number of CPUs)${when}`)
    .option('--contact-sheet <file.png>', `Also draw every image with kept tiles outlined green, dropped tiles shaded red and (otsu) the mask's background tinted blue${when}`);
}

function progress(done: number, total: number): void {
  if (!process.stderr.isTTY) return;
  process.stderr.write(done < total ? `\rtiling ${done}/${total} images` : '\r\x1b[K');
}

export function register(cli: CAC): void {
  const command = cli.command('tile <input-dir> <output-dir>', 'Cut class folders of images (TIFF/SVS, PNG, JPEG, WebP) into PNG tiles, dropping mostly-white ones (writes manifest.csv, dataset.json, rejected.csv)');
  addTilingOptions(command)
    .option('--split', 'Then split the tiles as `split` does (with the options below)')
    .example('senet-ort tile slides/ tiles/ --contact-sheet tiles-check.png')
    .example('senet-ort tile slides/ tiles/ --mpp 0.5 --tissue otsu --stain-normalize macenko')
    .ignoreOptionDefaultValue();
  addSplitOptions(command).action(async (input: string, output: string, flags: TileFlags) => {
    const summary = await tileDataset({ ...tilingOptions(flags), input, output, onSource: progress });
    process.stdout.write(formatTileSummary(summary));
    if (flags.split) runSplit(output, flags);
  });
}
