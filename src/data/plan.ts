/**
 * Batch plans: which tiles each batch holds, in which order, with which flips and jitter. A plan is
 * data, made on the main thread before any tile is decoded; the loader (loader.ts) builds the
 * batches it describes.
 *
 * Everything random in an epoch's plan is drawn from a generator seeded by (seed, fold, epoch)
 * alone, so a resumed run replays exactly what an uninterrupted one would have done.
 */
import { createRng } from '../util/random.ts';
import type { Normalization } from '../formats/rundir.ts';
import type { Augmentation } from './augment.ts';
import { drawAugmentation } from './augment.ts';

/** One batch to build: tile indices into the TileSet, one symmetry per sample, optional jitter. */
export interface BatchRequest {
  readonly indices: Int32Array;
  readonly symmetries: Uint8Array;
  /** Three factors (brightness, contrast, saturation) per sample, or null for no jitter. */
  readonly jitter: Float32Array | null;
  /** Six numbers per sample (H, E, D factors, then offsets), or null for no stain jitter. */
  readonly stain: Float32Array | null;
  readonly normalization: Normalization;
}

/** A 32-bit seed for one (seed, fold, epoch) stream: a murmur3-style mix of the three. */
export function streamSeed(seed: number, fold: number, epoch: number): number {
  let h = 0x2545f491;
  for (const part of [seed, fold, epoch]) {
    let k = Math.imul(part >>> 0, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export interface EpochPlan {
  /** Indices into the TileSet of the training tiles (the fold's train split). */
  readonly tiles: readonly number[];
  /** Samples to draw this epoch. */
  readonly samples: number;
  readonly batchSize: number;
  readonly seed: number;
  readonly fold: number;
  readonly epoch: number;
  readonly augmentation: Augmentation;
  readonly square: boolean;
  readonly normalization: Normalization;
}

/**
 * The batches of one epoch: `samples` draws from successive random permutations of the training
 * tiles (one pass when samples equals their count), cut into batches of `batchSize` (the last one
 * shorter when samples is not a multiple), each sample with its own augmentation.
 */
export function planEpoch(plan: EpochPlan): BatchRequest[] {
  const rng = createRng(streamSeed(plan.seed, plan.fold, plan.epoch));
  const order = new Int32Array(plan.samples);
  const n = plan.tiles.length;
  const perm = Int32Array.from(plan.tiles);
  for (let filled = 0; filled < plan.samples; filled += n) {
    for (let i = n - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      const t = perm[i]!;
      perm[i] = perm[j]!;
      perm[j] = t;
    }
    order.set(perm.subarray(0, Math.min(n, plan.samples - filled)), filled);
  }
  const batches: BatchRequest[] = [];
  const jitterOn = plan.augmentation.colorJitter > 0;
  const stainOn = (plan.augmentation.stainJitter ?? 0) > 0;
  for (let start = 0; start < plan.samples; start += plan.batchSize) {
    const indices = order.slice(start, Math.min(plan.samples, start + plan.batchSize));
    const symmetries = new Uint8Array(indices.length);
    const jitter = jitterOn ? new Float32Array(indices.length * 3) : null;
    const stain = stainOn ? new Float32Array(indices.length * 6) : null;
    for (let i = 0; i < indices.length; i++) {
      const draw = drawAugmentation(rng, plan.augmentation, plan.square);
      symmetries[i] = draw.symmetry;
      if (jitter && draw.jitter) jitter.set(draw.jitter, i * 3);
      if (stain && draw.stain) stain.set(draw.stain, i * 6);
    }
    batches.push({ indices, symmetries, jitter, stain, normalization: plan.normalization });
  }
  return batches;
}

/** Evaluation batches: the tiles in order, unaugmented. */
export function planEvaluation(tiles: readonly number[], batchSize: number, normalization: Normalization): BatchRequest[] {
  const batches: BatchRequest[] = [];
  for (let start = 0; start < tiles.length; start += batchSize) {
    const indices = Int32Array.from(tiles.slice(start, start + batchSize));
    batches.push({ indices, symmetries: new Uint8Array(indices.length), jitter: null, stain: null, normalization });
  }
  return batches;
}
