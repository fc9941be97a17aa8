/**
 * One slide through one model (or two, to compare): cut on the model's grid at the model's
 * resolution, with its tissue rule and stain normalisation, each kept tile resized to the network's
 * input as training resized its tiles, batched and predicted. Bands are decoded (on libvips'
 * threads) while the previous batch runs, and only a band or two of pixels, the thumbnail mask and
 * each tile's probabilities are held: memory does not grow with the slide.
 */
import { statSync } from 'node:fs';
import { UserError } from '../errors.ts';
import type { ImageInfo } from '../data/image.ts';
import { planScale, probeImage } from '../data/image.ts';
import { planRead } from '../data/resolution.ts';
import type { ReadPlan, Resolution } from '../data/resolution.ts';
import { IDENTITY, RAW_PIXELS, writeSample } from '../data/augment.ts';
import { resizeTile } from '../data/decode.ts';
import { cutImage, gridPositions } from '../data/tiler.ts';
import type { GridSettings, TiledImage } from '../data/tiler.ts';
import type { Predictor } from '../infer/predictor.ts';
import { prefetch } from '../util/prefetch.ts';
import type { SlideModel } from './model.ts';
import { stainTarget } from './model.ts';

export interface SlideOptions {
  /** Step between tiles in pixels at the model's resolution (default: the tile size). */
  readonly stride?: number;
  /** The slide's µm per pixel, over what its file says. */
  readonly sourceMpp?: number;
  /** Tiles per inference batch. */
  readonly batch: number;
  /** Called as grid positions are decided: done of total. */
  readonly progress?: (done: number, total: number) => void;
}

/** What a slide gave: where its kept tiles are and what each model said of them. */
export interface SlidePrediction {
  readonly path: string;
  readonly info: ImageInfo;
  readonly resolution: Resolution | null;
  readonly plan: ReadPlan;
  readonly tile: number;
  readonly stride: number;
  /** Grid positions looked at, and the tiles the tissue rule kept (predicted). */
  readonly positions: number;
  /** Level-0 origins of the kept tiles, in row-major order. */
  readonly xs: Int32Array;
  readonly ys: Int32Array;
  /** Per model: n × classes probabilities, row-major. */
  readonly probabilities: Float32Array[];
  /** Otsu's threshold of this slide (the otsu rule). */
  readonly threshold: number | null;
  /** Stain normalisation left this slide (slide fit: 1) or this many tiles (tile fit) unchanged. */
  readonly unstained: number | null;
}

const UNKNOWN_RESOLUTION = 'resolution unknown (no Aperio MPP, OME-XML PhysicalSize or plausible TIFF resolution tag)';

/** How a slide is cut for a model: the read plan, the grid settings and the tissue rule's smallest region. */
function slideGrid(model: SlideModel, info: ImageInfo, options: SlideOptions): { plan: ReadPlan; resolution: Resolution | null; settings: GridSettings; minAreaPixels: number } {
  const p = model.preparation;
  const resolution: Resolution | null = options.sourceMpp !== undefined ? { x: options.sourceMpp, y: options.sourceMpp, from: '--source-mpp' } : info.resolution;
  let plan: ReadPlan;
  if (p.mpp !== null) {
    if (!resolution) throw new UserError(`${UNKNOWN_RESOLUTION}, and ${model.label} was trained on tiles at ${p.mpp} µm per pixel: give the slide's with --source-mpp`);
    plan = planRead(info.levels, p.mpp / resolution.x, p.mpp / resolution.y);
  } else {
    plan = planScale(info, 1);
  }
  if (plan.width < p.tile || plan.height < p.tile) throw new UserError(`image is ${plan.width}x${plan.height} at the model's resolution, smaller than one ${p.tile}x${p.tile} tile`);
  const t = p.tissue;
  let minAreaPixels = 0.5 * p.tile * p.tile;
  if (t.method === 'otsu' && t.minAreaUm2 !== null) {
    if (!resolution) throw new UserError(`${UNKNOWN_RESOLUTION}, and ${model.label}'s tissue rule has a minimum area in µm²: give the slide's µm per pixel with --source-mpp`);
    minAreaPixels = t.minAreaUm2 / (resolution.x * plan.factorX * resolution.y * plan.factorY);
  }
  const target = stainTarget(p.stain);
  const settings: GridSettings = {
    tile: p.tile,
    stride: options.stride ?? p.tile,
    whiteThreshold: t.method === 'white' ? t.whiteThreshold : 220,
    maxWhite: t.method === 'white' ? t.maxWhite : 0.5,
    filter: t.method !== 'none',
    tissue: t.method === 'otsu' ? 'otsu' : 'white',
    minTissue: t.method === 'otsu' ? t.minTissue : 0.5,
    // A slide is larger than a tile: `auto` fits it once.
    stain: target && p.stain.method !== 'none' ? { method: p.stain.method, fit: p.stain.fit === 'tile' ? 'tile' : 'slide', target } : null,
    bandPixels: 1 << 24,
  };
  return { plan, resolution, settings, minAreaPixels };
}

/** Cut `path` for the first model and predict its kept tiles with every model (all prepared alike). */
export async function predictSlide(path: string, models: readonly { model: SlideModel; predictor: Predictor }[], options: SlideOptions): Promise<SlidePrediction> {
  const first = models[0]!.model;
  let size: number;
  try {
    size = statSync(path).size;
  } catch (err) {
    throw new UserError(`cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  const info = await probeImage(path, size);
  const { plan, resolution, settings, minAreaPixels } = slideGrid(first, info, options);
  const { tile, stride } = settings;
  const positions = gridPositions(plan.width, tile, stride).length * gridPositions(plan.height, tile, stride).length;
  const [, height, width] = first.info.input;
  const plane = 3 * height * width;
  const cut: TiledImage = { tiles: [] };
  const xs: number[] = [];
  const ys: number[] = [];

  async function* batches(): AsyncGenerator<{ images: Float32Array; n: number }> {
    let images = new Float32Array(options.batch * plane);
    let n = 0;
    let reported = 0;
    for await (const { record, rgb } of cutImage(path, info, plan, settings, { minAreaPixels }, cut)) {
      const pixels = await resizeTile(rgb, tile, width, height);
      writeSample(pixels, width, height, IDENTITY, null, RAW_PIXELS, images, n * plane);
      xs.push(record.x);
      ys.push(record.y);
      if (cut.tiles.length - reported >= 64) options.progress?.((reported = cut.tiles.length), positions);
      if (++n === options.batch) {
        yield { images, n };
        images = new Float32Array(options.batch * plane);
        n = 0;
      }
    }
    if (n > 0) yield { images: images.subarray(0, n * plane), n };
  }

  const classes = first.info.classNames.length;
  const chunks: Float32Array[][] = models.map(() => []);
  // The next batches are cut and decoded while this one runs.
  for await (const { images, n } of prefetch(batches(), 2)) {
    for (const [m, { predictor }] of models.entries()) chunks[m]!.push((await predictor.predict(images, n)).probabilities.slice(0, n * classes));
  }
  options.progress?.(positions, positions);
  const probabilities = chunks.map((list) => {
    const out = new Float32Array(xs.length * classes);
    let at = 0;
    for (const c of list) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  });
  return {
    path, info, resolution, plan, tile, stride, positions,
    xs: Int32Array.from(xs), ys: Int32Array.from(ys), probabilities,
    threshold: cut.threshold ?? null,
    unstained: cut.unstained ?? null,
  };
}
