/**
 * `explain`: where a network looks on each image, by Grad-CAM (graph/gradcam.ts). The model is a
 * run folder (its fold ensemble, or one fold; the best checkpoints, or the last), made in memory
 * into the model `export --explain` would write, or a model file with Grad-CAM in it. Each image is
 * decoded and resized as training did and fed as 0-255 RGB. Written to the output folder, each file
 * atomically:
 *
 *   <name>.gradcam.png   the image, the image with its map (upsampled, scaled by its maximum, on
 *                        viridis) over it, and a colour bar, under the call and what is explained
 *   explain.json         the model, the layer, and per image its call, probabilities, the class
 *                        explained and the raw map at the layer's resolution
 *
 * An image that cannot be read is a failure of its own; the others are still explained.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { UserError, expected } from '../errors.ts';
import { decodeTile } from '../data/decode.ts';
import { probeImage } from '../data/image.ts';
import { IDENTITY, RAW_PIXELS, writeSample } from '../data/augment.ts';
import { isRun, listFolds, readFoldState, readRunConfig } from '../formats/rundir.ts';
import { modelMetadata, decodeModel } from '../formats/protobuf.ts';
import { foldCheckpoint } from '../formats/members.ts';
import { Explainer, runExplainModel } from '../infer/explainer.ts';
import { readModelInfo } from '../infer/predict.ts';
import type { Device } from '../infer/session.ts';
import { camPanelPng, formatValue, mapMaximum } from '../report/cam-overlay.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import { fileHeader } from '../version.ts';

export const EXPLAIN_FILE = 'explain.json';
/** The shorter side of a picture lies in this range: a 64 px tile is enlarged, a large image shrunk. */
const DISPLAY = { min: 256, max: 512 } as const;

export interface ExplainRequest {
  /** A run folder, or a model file with Grad-CAM (export --explain, gen-graph --explain). */
  readonly model: string;
  readonly images: readonly string[];
  readonly out: string;
  /** The class to explain, by name; default each image's predicted class. */
  readonly className?: string;
  /** Run folders only: one fold instead of the ensemble of the finished folds. */
  readonly fold?: number;
  /** Run folders only (default best, as export). */
  readonly checkpoint?: 'best' | 'last';
  /** Run folders only: the layer (default the last stage); a model file has its own. */
  readonly layer?: string;
  readonly threads?: number;
  readonly device?: Device;
  /** Images per batch (default 16). */
  readonly batch?: number;
}

export interface ExplainedImage {
  readonly file: string;
  /** The picture written. */
  readonly png: string;
  readonly predicted: string;
  readonly probability: number;
  readonly probabilities: readonly number[];
  /** The class the map is of. */
  readonly explained: string;
  /** The map's largest value (0: nothing in the image speaks for the class at this layer). */
  readonly max: number;
  /** The map at the layer's resolution, row by row. */
  readonly map: readonly (readonly number[])[];
}

export interface ExplainResult {
  /** What was explained, in words: `se_resnet20, ensemble of folds 1, 2 (best checkpoints)` or the file. */
  readonly model: string;
  readonly layer: string;
  readonly classes: readonly string[];
  readonly results: readonly ExplainedImage[];
  readonly failures: readonly string[];
  readonly notes: readonly string[];
  readonly written: readonly string[];
}

interface OpenedModel {
  readonly bytes: Uint8Array;
  readonly label: string;
  readonly layer: string;
  readonly classes: readonly string[];
  readonly notes: string[];
}

function openRun(request: ExplainRequest): OpenedModel {
  const run = request.model;
  const config = readRunConfig(run);
  const which = request.checkpoint ?? 'best';
  const folds = request.fold !== undefined ? [request.fold] : listFolds(run).filter((k) => readFoldState(run, k)?.finished);
  if (folds.length === 0) throw new UserError(`${run}: no finished fold to explain; give --fold k for one that has a checkpoint`);
  const model = runExplainModel(run, folds.map((fold) => ({ fold, checkpoint: foldCheckpoint(run, fold, which) })), request.layer);
  const what = folds.length > 1 ? `ensemble of folds ${folds.join(', ')}` : `fold ${folds[0]}`;
  return { bytes: model.bytes, label: `${config.options.arch}, ${what} (${which} checkpoint${folds.length > 1 ? 's' : ''})`, layer: model.layer, classes: config.dataset.classes, notes: [] };
}

function openFile(request: ExplainRequest): OpenedModel {
  for (const [flag, given] of [['--fold', request.fold], ['--last', request.checkpoint === 'last' ? true : undefined], ['--layer', request.layer]] as const) {
    if (given !== undefined) throw new UserError(`${flag} applies to a run folder; ${request.model} is a model file (its layer is the one it was written with)`);
  }
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(request.model);
  } catch (err) {
    throw new UserError(`${request.model}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  const info = readModelInfo(bytes, request.model);
  const layer = modelMetadata(decodeModel(bytes))['gradcam_layer'] ?? 'unknown layer';
  const notes = info.rawPixels ? [] : [`${request.model} was not made by \`export\`; feeding 0-255 RGB as exported models expect`];
  return { bytes, label: basename(request.model), layer, classes: info.classNames, notes };
}

/** The size an image is shown at: its own, its shorter side brought into DISPLAY's range. */
async function displaySize(path: string): Promise<[number, number]> {
  const info = await probeImage(path, statSync(path).size);
  const short = Math.min(info.width, info.height);
  const scale = short < DISPLAY.min ? DISPLAY.min / short : short > DISPLAY.max ? DISPLAY.max / short : 1;
  return [Math.max(1, Math.round(info.width * scale)), Math.max(1, Math.round(info.height * scale))];
}

/** `<stem>.gradcam.png`, made unique where two images share a name. */
function pictureNames(files: readonly string[]): string[] {
  const seen = new Map<string, number>();
  return files.map((f) => {
    const stem = basename(f, extname(f));
    const n = (seen.get(stem) ?? 0) + 1;
    seen.set(stem, n);
    return `${stem}${n > 1 ? `-${n}` : ''}.gradcam.png`;
  });
}

export async function explainImages(request: ExplainRequest): Promise<ExplainResult> {
  if (request.images.length === 0) throw new UserError('give one or more image files after the model');
  const folder = isRun(request.model) || (existsSync(request.model) && statSync(request.model).isDirectory());
  const opened = folder ? openRun(request) : openFile(request);
  const classIndex = request.className === undefined ? undefined : opened.classes.indexOf(request.className);
  if (classIndex === -1) throw expected(`one of ${opened.classes.join(', ')}`, '--class', request.className);
  const batch = Math.max(1, Math.min(request.batch ?? 16, request.images.length));
  const explainer = await Explainer.open(opened.bytes, { threads: request.threads ?? 2, device: request.device ?? 'cpu', batch }, request.model);
  const [, height, width] = explainer.input;
  const plane = height * width;
  const names = pictureNames(request.images);
  const results: ExplainedImage[] = [];
  const failures: string[] = [];
  const written: string[] = [];
  try {
    for (let start = 0; start < request.images.length; start += batch) {
      const decoded: { file: string; name: string; rgb: Uint8Array }[] = [];
      for (const [i, file] of request.images.slice(start, start + batch).entries()) {
        try {
          decoded.push({ file, name: names[start + i]!, rgb: await decodeTile(file, width, height) });
        } catch (err) {
          failures.push(err instanceof UserError ? err.message : `${file}: ${String(err)}`);
        }
      }
      if (decoded.length === 0) continue;
      const images = new Float32Array(decoded.length * 3 * plane);
      decoded.forEach((d, i) => writeSample(d.rgb, width, height, IDENTITY, null, RAW_PIXELS, images, i * 3 * plane));
      const e = await explainer.explain(images, decoded.length, classIndex === undefined ? undefined : decoded.map(() => classIndex));
      const k = opened.classes.length;
      for (const [i, d] of decoded.entries()) {
        const probabilities = Array.from(e.probabilities.subarray(i * k, (i + 1) * k));
        const best = probabilities.indexOf(Math.max(...probabilities));
        const map = e.maps.subarray(i * e.height * e.width, (i + 1) * e.height * e.width);
        const [dw, dh] = await displaySize(d.file);
        const explained = opened.classes[e.classes[i]!] ?? String(e.classes[i]);
        const png = join(request.out, d.name);
        const max = mapMaximum(map);
        writeFileAtomic(png, await camPanelPng({
          rgb: await decodeTile(d.file, dw, dh), width: dw, height: dh, map, mapHeight: e.height, mapWidth: e.width,
          lines: [
            `${opened.classes[best]} (p = ${probabilities[best]!.toFixed(3)}) by ${opened.label}`,
            basename(d.file),
            `Grad-CAM of ${opened.layer} (${e.height}x${e.width}) for ${explained}; colour scale 0 to ${formatValue(max)}`,
          ],
        }));
        written.push(png);
        results.push({
          file: d.file, png, predicted: opened.classes[best] ?? String(best), probability: probabilities[best]!, probabilities, explained, max,
          map: Array.from({ length: e.height }, (_, r) => Array.from(map.subarray(r * e.width, (r + 1) * e.width))),
        });
      }
    }
  } finally {
    await explainer.release();
  }
  const notes = [...opened.notes, ...results.filter((r) => r.max === 0).map((r) => `${r.file}: the map for ${r.explained} is zero everywhere (no part of the image raises its logit at ${opened.layer})`)];
  if (results.length > 0) {
    const json = join(request.out, EXPLAIN_FILE);
    writeFileAtomic(json, `${JSON.stringify({ ...fileHeader('explain'), model: opened.label, layer: opened.layer, classes: opened.classes, images: results.map((r) => ({ ...r, png: basename(r.png) })) }, null, 1)}\n`);
    written.push(json);
  }
  return { model: opened.label, layer: opened.layer, classes: opened.classes, results, failures, notes, written };
}
