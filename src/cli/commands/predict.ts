import type { CAC } from 'cac';
import { UserError, expected } from '../../errors.ts';
import { deviceFlag, intFlag } from '../flags.ts';
import { predictFiles } from '../../infer/predict.ts';
import type { Verdict } from '../../infer/predict.ts';
import { heavyNodesWarning } from '../../infer/placement.ts';
import { requireDevice } from '../../infer/session.ts';
import type { Device } from '../../infer/session.ts';
import { tileSizeOf } from '../../slide/model.ts';
import { isSlide, predictSlides } from '../../slide/slides.ts';
import type { SlideResult } from '../../slide/slides.ts';

interface PredictFlags {
  json?: boolean;
  threads?: string | number;
  batchSize?: string | number;
  device?: string;
  out?: string;
  as?: string;
  stride?: string | number;
  sourceMpp?: string | number;
  compare?: string;
}

const AS = ['tile', 'slide'] as const;

/** Sort the images into tiles (one verdict each) and slides (maps), by size or by --as; unreadable ones are failures. */
async function sortInputs(model: string, images: readonly string[], as: (typeof AS)[number] | undefined): Promise<{ tiles: string[]; slides: string[]; failures: string[] }> {
  if (as === 'tile') return { tiles: [...images], slides: [], failures: [] };
  const tile = tileSizeOf(model);
  if (as === 'slide') return { tiles: [], slides: [...images], failures: [] };
  const out = { tiles: [] as string[], slides: [] as string[], failures: [] as string[] };
  for (const image of images) {
    try {
      (await isSlide(image, tile) ? out.slides : out.tiles).push(image);
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
      out.failures.push(`${image}: ${err.message}`);
    }
  }
  return out;
}

function progress(slide: string, done: number, total: number): void {
  if (!process.stderr.isTTY) return;
  const width = 30;
  const filled = Math.round((width * done) / Math.max(1, total));
  process.stderr.write(done < total ? `\r${slide} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} tiles` : '\r\x1b[K');
}

function slideLine(r: SlideResult): string {
  const s = r.summary;
  const calls = s.classes.map((classes, m) => {
    const top = [...classes].sort((a, b) => b.tiles - a.tiles).filter((c) => c.tiles > 0).slice(0, 3);
    return `${s.models[m]!.label}: ${top.map((c) => `${c.name} ${(100 * c.fraction).toFixed(1)}%`).join(', ') || 'no tiles'}`;
  });
  const compared = s.comparison ? `; disagree on ${s.comparison.disagreements} tiles` : '';
  return `${s.slide}\t${s.grid.tiles} of ${s.grid.positions} tiles\t${calls.join('; ')}${compared}\t-> ${r.files[0]}`;
}

async function predict(model: string, images: string[], flags: PredictFlags): Promise<void> {
  if (images.length === 0) throw new UserError('give one or more image files after the model');
  const threads = intFlag(flags.threads, '--threads', 1);
  const batch = intFlag(flags.batchSize, '--batch-size', 1);
  const stride = intFlag(flags.stride, '--stride', 1);
  const device: Device = deviceFlag(flags.device) ?? 'cpu';
  if (flags.as !== undefined && !(AS as readonly string[]).includes(flags.as)) throw expected('tile or slide', '--as', flags.as);
  let sourceMpp: number | undefined;
  if (flags.sourceMpp !== undefined) {
    sourceMpp = Number(flags.sourceMpp);
    if (!(sourceMpp > 0) || !Number.isFinite(sourceMpp)) throw expected('positive number', '--source-mpp', flags.sourceMpp);
  }
  // Before any output: a GPU that cannot run here is one line and exit 1.
  await requireDevice(device);
  const { tiles, slides, failures } = await sortInputs(model, images, flags.as as (typeof AS)[number] | undefined);
  if (slides.length > 0 && flags.out === undefined) {
    throw new UserError(`${slides[0]} is a slide (at least two of the model's tiles across): give --out DIR for its maps, or --as tile to classify it whole`);
  }
  const common = { ...(threads ? { threads } : {}), ...(batch ? { batch } : {}), device };

  if (tiles.length > 0) {
    const verdicts: Verdict[][] = [];
    for (const m of [model, ...(flags.compare !== undefined ? [flags.compare] : [])]) {
      const { info, predictions, failures: bad } = await predictFiles(m, tiles, {
        ...common,
        loaded: (p) => {
          const warning = heavyNodesWarning(p.hostNodes, m);
          if (warning) process.stderr.write(`predict: ${warning}\n`);
        },
      });
      if (!info.rawPixels) process.stderr.write(`predict: ${m} was not made by \`export\`; feeding 0-255 RGB as exported models expect\n`);
      if (verdicts.length === 0) failures.push(...bad);
      verdicts.push(predictions);
      if (flags.json && verdicts.length === 1 && flags.compare === undefined) process.stdout.write(JSON.stringify({ classes: info.classNames, predictions }, null, 2) + '\n');
    }
    if (flags.json && flags.compare !== undefined) {
      process.stdout.write(JSON.stringify({ predictions: verdicts[0]!.map((p, i) => ({ ...p, compared: verdicts[1]![i] })) }, null, 2) + '\n');
    } else if (!flags.json) {
      for (const [i, p] of verdicts[0]!.entries()) {
        const b = verdicts[1]?.[i];
        process.stdout.write(`${p.file}\t${p.label}\t${p.probability.toFixed(4)}${b ? `\t${b.label}\t${b.probability.toFixed(4)}` : ''}\n`);
      }
    }
  }
  if (slides.length > 0) {
    const { results, failures: bad, notes } = await predictSlides(model, slides, {
      ...common, out: flags.out!, progress,
      ...(flags.compare !== undefined ? { compare: flags.compare } : {}),
      ...(stride !== undefined ? { stride } : {}),
      ...(sourceMpp !== undefined ? { sourceMpp } : {}),
    });
    for (const n of notes) process.stderr.write(`predict: ${n}\n`);
    for (const r of results) process.stdout.write(flags.json ? `${JSON.stringify(r.summary)}\n` : `${slideLine(r)}\n`);
    failures.push(...bad);
  }
  for (const f of failures) process.stderr.write(`predict: ${f}\n`);
  if (failures.length) process.exitCode = 1;
}

export function register(cli: CAC): void {
  cli.command('predict <model> [...images]', 'Classify images with an exported model: a tile gets a line (file, class, probability); a slide gets maps for QuPath (--out)')
    .option('--out <dir>', 'where slides\' maps go: <name>.geojson (QuPath), .csv, .overlay.png, .heatmap.<class>.png, .summary.json')
    .option('--as <tile|slide>', 'treat every image as one tile, or as a slide (default: a slide when at least two of the model\'s tiles across)')
    .option('--stride <px>', 'slides: step between tiles, in pixels at the model\'s resolution (default: the tile size; smaller overlaps)')
    .option('--source-mpp <µm>', 'slides: their µm per pixel, where their files do not say (or say wrongly)')
    .option('--compare <model-b>', 'also run a second model (trained on tiles prepared alike) and map where the two disagree')
    .option('--json', 'print every class probability as JSON (slides: their summaries, one per line)')
    .option('--threads <n>', 'ONNX Runtime threads (default 2)')
    .option('--batch-size <n>', 'images per inference batch (default 16; slides: tiles per batch, default 32)')
    .option('--device <cpu|cuda|webgpu>', 'execution provider (default cpu); on webgpu the model runs with a fixed batch of --batch-size, the last one padded')
    .example('senet-ort predict models/se_resnet20.onnx tiles/*.png')
    .example('senet-ort predict models/se_resnet20-ensemble.onnx slides/*.svs --out maps/ --compare models/resnet20-ensemble.onnx')
    .ignoreOptionDefaultValue()
    .action((model: string, images: string[], flags: PredictFlags) => predict(model, images, flags));
}
