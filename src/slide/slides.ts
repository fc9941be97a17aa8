/**
 * `predict` on whole slides: each slide cut on the model's grid and predicted (predict-slide.ts),
 * then its maps written to the output folder:
 *
 *   <name>.geojson              one tile object per tile and model, for QuPath (geojson.ts)
 *   <name>.csv                  x, y, w, h in level-0 pixels, the class and every probability (table.ts)
 *   <name>.summary.json         the grid, each class's tiles and area, the models' agreement (table.ts)
 *   <name>.overlay.png          the calls on the slide's thumbnail, with a legend (overlay.ts)
 *   <name>.heatmap.<class>.png  each class's probability on viridis; a compared model's as
 *                               <name>.<model>.heatmap.<class>.png
 *
 * Every file of a slide is made before any is written, each written to a temporary name and
 * renamed: a slide that fails (a corrupt or truncated file) leaves nothing behind, and the others go on.
 */
import { statSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { UserError } from '../errors.ts';
import { writeChunksAtomic, writeFileAtomic } from '../util/atomic.ts';
import { probeImage } from '../data/image.ts';
import { mapPool } from '../data/pool.ts';
import { safeName } from '../data/names.ts';
import { predictorOn } from '../infer/predictor.ts';
import type { Predictor } from '../infer/predictor.ts';
import { createSession } from '../infer/session.ts';
import type { Device } from '../infer/session.ts';
import type { SlideModel } from './model.ts';
import { incomparable, readSlideModel } from './model.ts';
import { predictSlide } from './predict-slide.ts';
import { geoJsonChunks } from './geojson.ts';
import { csvChunks, slideSummary } from './table.ts';
import type { SlideSummary } from './table.ts';
import { heatmapPng, overlayPng, slideThumbnail } from './overlay.ts';

export interface SlidesOptions {
  readonly out: string;
  /** A second model to compare with the first, tile by tile. */
  readonly compare?: string;
  readonly stride?: number;
  readonly sourceMpp?: number;
  /** Tiles per batch (default 32). */
  readonly batch?: number;
  readonly threads?: number;
  readonly device?: Device;
  readonly progress?: (slide: string, done: number, total: number) => void;
}

export interface SlideResult {
  readonly slide: string;
  readonly files: readonly string[];
  readonly summary: SlideSummary;
}

/** Whether an image is a slide for a model with `tile`-pixel tiles: at least two tiles across in either dimension. */
export async function isSlide(path: string, tile: number): Promise<boolean> {
  const info = await probeImage(path, statSync(path).size);
  return Math.max(info.width, info.height) >= 2 * tile;
}

/** The name a slide's files start with: its file name without the extension. */
export function slideName(path: string): string {
  return safeName(basename(path, extname(path)));
}

async function load(model: SlideModel, options: SlidesOptions, batch: number): Promise<{ model: SlideModel; predictor: Predictor }> {
  if (model.info.input[0] !== 3) throw new UserError(`${model.path}: expects ${model.info.input[0]} channels; slides are RGB`);
  const session = await createSession(model.bytes, { threads: options.threads ?? 2, device: options.device ?? 'cpu', batch });
  return { model, predictor: predictorOn(session, { classes: model.info.classNames.length, input: model.info.input }) };
}

/**
 * Predict every slide with the model (and the compared one); a slide that cannot be read is a
 * failure line, and the others go on. Bad models and options fail before any slide is read.
 */
export async function predictSlides(modelPath: string, slides: readonly string[], options: SlidesOptions): Promise<{ results: SlideResult[]; failures: string[]; notes: string[] }> {
  const models = [readSlideModel(modelPath), ...(options.compare !== undefined ? [readSlideModel(options.compare)] : [])];
  if (models.length === 2) {
    const why = incomparable(models[0]!, models[1]!);
    if (why) throw new UserError(why);
    if (models[0]!.label === models[1]!.label) throw new UserError(`--compare ${options.compare}: both models are named ${models[0]!.label}; rename one, as their files and columns are told apart by name`);
  }
  const names = new Map<string, string>();
  for (const slide of slides) {
    const name = slideName(slide);
    const other = names.get(name.toLowerCase());
    if (other) throw new UserError(`${other} and ${slide} would both write ${name}.* in ${options.out}; predict them in separate runs or rename one`);
    names.set(name.toLowerCase(), slide);
  }
  const batch = models[0]!.info.batch ?? options.batch ?? 32;
  const loaded: { model: SlideModel; predictor: Predictor }[] = [];
  const results: SlideResult[] = [];
  const failures: string[] = [];
  try {
    for (const m of models) loaded.push(await load(m, options, batch));
    const classes = models[0]!.info.classNames;
    const labels = models.map((m) => m.label);
    for (const slide of slides) {
      try {
        const p = await predictSlide(slide, loaded, {
          batch, ...(options.stride !== undefined ? { stride: options.stride } : {}), ...(options.sourceMpp !== undefined ? { sourceMpp: options.sourceMpp } : {}),
          progress: (done, total) => options.progress?.(slide, done, total),
        });
        const name = slideName(slide);
        const summary = slideSummary(p, models, classes, models[0]!.preparation);
        // The pictures first: everything is made before anything is written.
        const thumb = await slideThumbnail(p);
        const heatmaps = p.probabilities.flatMap((probs, m) => classes.map((cls, c) => ({ m, c, file: `${name}${m === 0 ? '' : `.${safeName(labels[m]!)}`}.heatmap.${safeName(cls)}.png`, probs })));
        // A few at a time: sharp encodes each on libuv's threads while the next is drawn.
        const drawn = await mapPool(heatmaps, 4, (h) => heatmapPng(p, thumb, labels[h.m]!, h.probs, classes, h.c));
        const pictures: [string, Buffer][] = [[`${name}.overlay.png`, await overlayPng(p, thumb, labels, classes)], ...heatmaps.map((h, i): [string, Buffer] => [h.file, drawn[i]!])];
        const files = [`${name}.geojson`, `${name}.csv`, ...pictures.map(([file]) => file), `${name}.summary.json`];
        writeChunksAtomic(join(options.out, files[0]!), geoJsonChunks(p, labels, classes));
        writeChunksAtomic(join(options.out, files[1]!), csvChunks(p, labels, classes));
        for (const [file, png] of pictures) writeFileAtomic(join(options.out, file), png);
        writeFileAtomic(join(options.out, files.at(-1)!), `${JSON.stringify(summary, null, 2)}\n`);
        results.push({ slide, files: files.map((f) => join(options.out, f)), summary });
      } catch (err) {
        if (!(err instanceof UserError)) throw err;
        failures.push(`${slide}: ${err.message}`);
      }
    }
  } finally {
    await Promise.all(loaded.map((l) => l.predictor.release()));
  }
  return { results, failures, notes: models.flatMap((m) => m.notes.map((n) => `${m.path}: ${n}`)) };
}
