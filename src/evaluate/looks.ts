/**
 * "Where they look", the report's Grad-CAM section, in numbers. Test tiles are chosen with a
 * seed: per class, two that both networks' fold ensembles classify correctly and up to two where
 * the ensembles disagree (for one network: two it gets right and up to two it gets wrong). Each
 * run's ensemble, from the checkpoints its evaluation used, then gives every chosen tile's map
 * (graph/gradcam.ts) for the class it predicted, so a map shows what the call rested on.
 */
import { join } from 'node:path';
import { decodeTile } from '../data/decode.ts';
import { IDENTITY, RAW_PIXELS, writeSample } from '../data/augment.ts';
import { readRunConfig } from '../formats/rundir.ts';
import { Explainer, runExplainModel } from '../infer/explainer.ts';
import { UserError } from '../errors.ts';
import { createRng } from '../util/random.ts';
import type { RunMetrics } from './scores.ts';
import { ensemblePredictions } from './compare.ts';

/** agree/disagree with two networks; right/wrong with one. */
export type LookKind = 'agree' | 'disagree' | 'right' | 'wrong';

export interface LookChoice {
  /** Row of the test split (test-predictions.csv). */
  readonly index: number;
  readonly kind: LookKind;
}

/** One run's view of a chosen tile. */
export interface LookMap {
  /** The ensemble's class, which the map explains. */
  readonly predicted: number;
  readonly probability: number;
  /** height x width, as the model gives it (not normalised). */
  readonly map: readonly number[];
  readonly height: number;
  readonly width: number;
}

export interface LookTile {
  /** Relative to the data set folder, as in splits.json. */
  readonly file: string;
  readonly label: number;
  readonly kind: LookKind;
  /** One per run, in the order the runs were given. */
  readonly maps: readonly LookMap[];
}

export interface Looks {
  readonly classes: readonly string[];
  /** Each run's Grad-CAM layer. */
  readonly layers: readonly string[];
  readonly seed: number;
  readonly perClass: number;
  /** Class by class; within a class, the agreeing (right) tiles first. */
  readonly tiles: readonly LookTile[];
  /** The data set folder the tiles are in. */
  readonly dataDir: string;
}

export const LOOKS_PER_CLASS = 2;

/**
 * The tiles to show: for each class, `perClass` drawn without replacement from those every
 * ensemble gets right, and up to `perClass` from those where two ensembles disagree (one
 * ensemble: where it is wrong). `predicted[r][i]` is run r's class for test tile i.
 */
export function chooseLookTiles(labels: readonly number[], predicted: readonly (readonly number[])[], classes: number, seed: number, perClass: number = LOOKS_PER_CLASS): LookChoice[] {
  if (predicted.length < 1 || predicted.length > 2) throw new Error(`Grad-CAM tiles are chosen for 1 or 2 runs, not ${predicted.length}`);
  const rng = createRng(seed);
  const draw = (pool: number[]): number[] => {
    // A partial Fisher-Yates shuffle: the first `perClass` of a seeded permutation.
    const a = [...pool];
    const n = Math.min(perClass, a.length);
    for (let i = 0; i < n; i++) {
      const j = i + rng.int(a.length - i);
      [a[i], a[j]] = [a[j]!, a[i]!];
    }
    return a.slice(0, n);
  };
  const two = predicted.length === 2;
  const chosen: LookChoice[] = [];
  for (let c = 0; c < classes; c++) {
    const ofClass = labels.flatMap((y, i) => (y === c ? [i] : []));
    const right = ofClass.filter((i) => predicted.every((p) => p[i] === c));
    const other = ofClass.filter((i) => (two ? predicted[0]![i] !== predicted[1]![i] : predicted[0]![i] !== c));
    chosen.push(...draw(right).map((index) => ({ index, kind: two ? 'agree' as const : 'right' as const })));
    chosen.push(...draw(other).map((index) => ({ index, kind: two ? 'disagree' as const : 'wrong' as const })));
  }
  return chosen;
}

export interface LooksOptions {
  readonly seed: number;
  /** Default each network's last stage. */
  readonly layer?: string;
  /** ONNX Runtime threads (default 2). */
  readonly threads?: number;
  readonly perClass?: number;
}

/** The chosen tiles and each run's maps of them; the runs are evaluated (metrics.json, test-predictions.csv) on the same test split. */
export async function computeLooks(runs: readonly { dir: string; metrics: RunMetrics }[], options: LooksOptions): Promise<Looks> {
  const predictions = runs.map((r) => ensemblePredictions(r.dir, r.metrics));
  const first = predictions[0]!;
  predictions.slice(1).forEach((p, k) => {
    if (p.names.join('\n') !== first.names.join('\n')) throw new UserError(`${runs[k + 1]!.dir}: its test predictions list other tiles than ${runs[0]!.dir}'s; evaluate both runs again`);
  });
  const perClass = options.perClass ?? LOOKS_PER_CLASS;
  const choices = chooseLookTiles(first.labels, predictions.map((p) => p.predicted), runs[0]!.metrics.classes.length, options.seed, perClass);
  const dataDir = readRunConfig(runs[0]!.dir).options.data;
  const perRun: LookMap[][] = [];
  const layers: string[] = [];
  for (const [r, run] of runs.entries()) {
    const model = runExplainModel(run.dir, run.metrics.folds.map((f) => ({ fold: f.fold, checkpoint: f.checkpoint })), options.layer);
    layers.push(model.layer);
    perRun.push(await mapsOf(model.bytes, model.config.input, choices.map((c) => join(dataDir, first.names[c.index]!)), choices.map((c) => predictions[r]!.predicted[c.index]!), options.threads ?? 2, run.dir));
  }
  return {
    classes: runs[0]!.metrics.classes,
    layers,
    seed: options.seed,
    perClass,
    dataDir,
    tiles: choices.map((c, i) => ({ file: first.names[c.index]!, label: first.labels[c.index]!, kind: c.kind, maps: perRun.map((maps) => maps[i]!) })),
  };
}

/** Each tile's map for its class, by an explain model, in batches. */
async function mapsOf(model: Uint8Array, input: readonly [number, number, number], files: readonly string[], classes: readonly number[], threads: number, name: string): Promise<LookMap[]> {
  const [, height, width] = input;
  const plane = 3 * height * width;
  const batch = 16;
  const explainer = await Explainer.open(model, { threads, device: 'cpu' }, name);
  const maps: LookMap[] = [];
  try {
    for (let start = 0; start < files.length; start += batch) {
      const part = files.slice(start, start + batch);
      const images = new Float32Array(part.length * plane);
      for (const [i, file] of part.entries()) writeSample(await decodeTile(file, width, height), width, height, IDENTITY, null, RAW_PIXELS, images, i * plane);
      const e = await explainer.explain(images, part.length, classes.slice(start, start + batch));
      const k = explainer.classCount;
      const size = e.height * e.width;
      part.forEach((_, i) => maps.push({
        predicted: e.classes[i]!,
        probability: e.probabilities[i * k + e.classes[i]!]!,
        map: Array.from(e.maps.subarray(i * size, (i + 1) * size)),
        height: e.height,
        width: e.width,
      }));
    }
  } finally {
    await explainer.release();
  }
  return maps;
}
