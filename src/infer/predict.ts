/**
 * `predict`: classify image files with an exported model. Images are decoded and resized exactly as
 * training decoded its tiles, and fed as 0-255 RGB, which is what `export` models take.
 */
import { readFileSync } from 'node:fs';
import { decodeModel } from '../formats/protobuf.ts';
import { decodeTile } from '../data/decode.ts';
import { UserError } from '../errors.ts';
import { IDENTITY, RAW_PIXELS, writeSample } from '../data/augment.ts';
import type { Batch } from './predictor.ts';
import { predictorOn } from './predictor.ts';
import type { Predictor } from './predictor.ts';
import { createSession } from './session.ts';
import type { Device } from './session.ts';

export interface ModelInfo {
  readonly classNames: readonly string[];
  /** [C, H, W] */
  readonly input: readonly [number, number, number];
  /** True for `export` models (0-255 RGB in); false for other models, fed the same way with a warning. */
  readonly rawPixels: boolean;
  /** The model's fixed batch, or null when it is symbolic (as `export` writes it). */
  readonly batch: number | null;
  readonly metadata: Readonly<Record<string, string>>;
}

/** What `predict` says about one image file. */
export interface Verdict {
  readonly file: string;
  readonly label: string;
  readonly probability: number;
  /** Every class's probability, in class order. */
  readonly probabilities: readonly number[];
}

export function readModelInfo(bytes: Uint8Array, path: string): ModelInfo {
  let model;
  try {
    model = decodeModel(bytes);
  } catch {
    throw new UserError(`${path}: not an ONNX model`);
  }
  const metadata = Object.fromEntries((model.metadataProps ?? []).map((p) => [p.key ?? '', p.value ?? '']));
  const images = model.graph?.input?.find((i) => i.name === 'images');
  const dims = images?.type?.tensorType?.shape?.dim?.map((d) => Number(d.dimValue ?? 0)) ?? [];
  if (!images || dims.length !== 4 || dims.slice(1).some((d) => !(d > 0))) throw new UserError(`${path}: expected an input "images" of shape [N,C,H,W]`);
  const probabilities = model.graph?.output?.find((o) => o.name === 'probabilities');
  if (!probabilities) throw new UserError(`${path}: expected an output "probabilities"`);
  const classes = Number(probabilities.type?.tensorType?.shape?.dim?.[1]?.dimValue ?? metadata['classes'] ?? 0);
  let classNames: string[];
  try {
    classNames = metadata['class_names'] ? (JSON.parse(metadata['class_names']) as string[]) : Array.from({ length: classes }, (_, i) => `class ${i}`);
  } catch {
    throw new UserError(`${path}: metadata class_names is not a JSON list`);
  }
  const batch = dims[0]! > 0 ? dims[0]! : null;
  return { classNames, input: [dims[1]!, dims[2]!, dims[3]!], rawPixels: metadata['input_format']?.startsWith('RGB 0-255') ?? false, batch, metadata };
}

export interface PredictOptions {
  /** ONNX Runtime threads (default 2). */
  readonly threads?: number;
  /** Images per batch (default 16; never more than there are files; a model with a fixed batch takes its own). */
  readonly batch?: number;
  /** Default cpu. On webgpu the model's batch is fixed to `batch` and the last batch padded. */
  readonly device?: Device;
  /** Called once the model is loaded, with its predictor (placement warnings: `hostNodes`). */
  readonly loaded?: (predictor: Predictor) => void;
}

export async function predictFiles(modelPath: string, files: readonly string[], options: PredictOptions = {}): Promise<{ info: ModelInfo; predictions: Verdict[]; failures: string[] }> {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(modelPath);
  } catch (err) {
    throw new UserError(`${modelPath}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  const info = readModelInfo(bytes, modelPath);
  const [channels, height, width] = info.input;
  if (channels !== 3) throw new UserError(`${modelPath}: expects ${channels} channels; predict feeds RGB images`);
  // A model's own fixed batch is the one it takes; else the batch is fixed here on WebGPU, where a
  // short batch is padded to it: no larger than the files need.
  const batchSize = info.batch ?? Math.max(1, Math.min(options.batch ?? 16, files.length));
  const session = await createSession(modelPath, { threads: options.threads ?? 2, device: options.device ?? 'cpu', batch: batchSize });
  const predictor = predictorOn(session, { classes: info.classNames.length, input: info.input });
  const failures: string[] = [];
  // The files of each batch, in the order the batches are predicted.
  const batchFiles: string[][] = [];
  async function* batches(): AsyncGenerator<Batch> {
    for (let start = 0; start < files.length; start += batchSize) {
      const decoded: { file: string; rgb: Uint8Array }[] = [];
      for (const file of files.slice(start, start + batchSize)) {
        try {
          decoded.push({ file, rgb: await decodeTile(file, width, height) });
        } catch (err) {
          failures.push(err instanceof UserError ? err.message : `${file}: ${String(err)}`);
        }
      }
      if (decoded.length === 0) continue;
      const plane = height * width;
      const images = new Float32Array(decoded.length * 3 * plane);
      decoded.forEach((d, i) => writeSample(d.rgb, width, height, IDENTITY, null, RAW_PIXELS, images, i * 3 * plane));
      batchFiles.push(decoded.map((d) => d.file));
      yield { images };
    }
  }
  const predictions: Verdict[] = [];
  try {
    options.loaded?.(predictor);
    for await (const p of predictor.predictions(batches())) {
      const k = p.classes;
      batchFiles.shift()!.forEach((file, i) => {
        const row = [...p.probabilities.slice(i * k, (i + 1) * k)];
        const best = p.predicted[i]!;
        predictions.push({ file, label: info.classNames[best] ?? String(best), probability: row[best]!, probabilities: row });
      });
    }
  } finally {
    await predictor.release();
  }
  return { info, predictions, failures };
}
