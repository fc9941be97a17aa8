import type { Normalization } from '../formats/rundir.ts';
import type { Rng } from '../util/random.ts';

/**
 * Training-time augmentation and the conversion of a decoded tile into the network's input.
 *
 * Histology has no "up": every flip and 90-degree rotation of a tile is an equally real tile, so
 * the default augmentation draws one of the 8 symmetries of the square (the dihedral group D4)
 * per sample. An optional light colour jitter (brightness, contrast, saturation, as torchvision's
 * ColorJitter applies them in that order, clamping to [0, 1] after each) imitates stain variation.
 *
 * The random draws happen on the main thread, from the epoch's seeded generator, and travel to the
 * loader workers as numbers: which worker builds a batch never changes the batch.
 */

export interface Augmentation {
  /** Random flips and 90-degree rotations. */
  readonly flips: boolean;
  /** Colour jitter strength s: each factor is drawn from [1 - s, 1 + s]; 0 turns jitter off. */
  readonly colorJitter: number;
}


export const IDENTITY_NORMALIZATION: Normalization = { mean: [0, 0, 0], std: [1, 1, 1] };

/** Bytes kept at 0-255: what exported models take (they normalise inside). */
export const RAW_PIXELS: Normalization = { mean: [0, 0, 0], std: [1 / 255, 1 / 255, 1 / 255] };

/**
 * A symmetry of the square as three bits: transpose (4), flip rows (2), flip columns (1). Their 8
 * combinations are the whole dihedral group; codes below 4 need no transpose, so they also work on
 * rectangles (identity, horizontal flip, vertical flip, 180-degree rotation).
 */
export type Symmetry = number;
export const IDENTITY: Symmetry = 0;

/** Draw one sample's symmetry (0 when flips are off) and jitter factors (none when jitter is off). */
export function drawAugmentation(rng: Rng, augmentation: Augmentation, square: boolean): { symmetry: Symmetry; jitter: [number, number, number] | null } {
  const symmetry = augmentation.flips ? rng.int(square ? 8 : 4) : IDENTITY;
  const s = augmentation.colorJitter;
  const factor = (): number => 1 - s + 2 * s * rng.next();
  const jitter: [number, number, number] | null = s > 0 ? [factor(), factor(), factor()] : null;
  return { symmetry, jitter };
}

const clamp01 = (v: number): number => (v < 0 ? 0 : v > 1 ? 1 : v);

/**
 * Write one packed-RGB tile (`width` x `height`) into `out` at `offset` as normalised float32 CHW,
 * transformed by `symmetry` and jittered by [brightness, contrast, saturation] factors.
 */
export function writeSample(
  rgb: Uint8Array,
  width: number,
  height: number,
  symmetry: Symmetry,
  jitter: readonly [number, number, number] | null,
  norm: Normalization,
  out: Float32Array,
  offset: number,
): void {
  const transpose = (symmetry & 4) !== 0;
  if (transpose && width !== height) throw new RangeError('writeSample: transposing symmetries need a square tile');
  const flipRows = (symmetry & 2) !== 0;
  const flipCols = (symmetry & 1) !== 0;
  // Output pixel (y, x) reads source pixel start + y * rowStep + x * colStep.
  const start = (flipRows ? (height - 1) * width : 0) + (flipCols ? width - 1 : 0);
  const rows = flipRows ? -width : width;
  const cols = flipCols ? -1 : 1;
  const rowStep = transpose ? cols : rows;
  const colStep = transpose ? rows : cols;
  const plane = width * height;

  if (jitter === null) {
    // Bytes map to floats through a 256-entry table per channel: no arithmetic per pixel.
    const lut = [0, 1, 2].map((c) => Float32Array.from({ length: 256 }, (_, v) => (v / 255 - norm.mean[c]!) / norm.std[c]!));
    const [l0, l1, l2] = lut as [Float32Array, Float32Array, Float32Array];
    let o = offset;
    for (let y = 0; y < height; y++) {
      let src = start + y * rowStep;
      for (let x = 0; x < width; x++, o++, src += colStep) {
        const s = src * 3;
        out[o] = l0[rgb[s]!]!;
        out[o + plane] = l1[rgb[s + 1]!]!;
        out[o + 2 * plane] = l2[rgb[s + 2]!]!;
      }
    }
    return;
  }

  const [brightness, contrast, saturation] = jitter;
  // Contrast blends with the mean gray of the brightness-adjusted image (torchvision's definition).
  let graySum = 0;
  for (let p = 0; p < plane; p++) {
    const s = p * 3;
    graySum += 0.299 * clamp01((rgb[s]! / 255) * brightness) + 0.587 * clamp01((rgb[s + 1]! / 255) * brightness) + 0.114 * clamp01((rgb[s + 2]! / 255) * brightness);
  }
  const meanGray = graySum / plane;
  const affine = Float32Array.from({ length: 256 }, (_, v) => clamp01((clamp01((v / 255) * brightness) - meanGray) * contrast + meanGray));
  const [m0, m1, m2] = norm.mean;
  const [s0, s1, s2] = norm.std;
  let o = offset;
  for (let y = 0; y < height; y++) {
    let src = start + y * rowStep;
    for (let x = 0; x < width; x++, o++, src += colStep) {
      const s = src * 3;
      const r = affine[rgb[s]!]!;
      const g = affine[rgb[s + 1]!]!;
      const b = affine[rgb[s + 2]!]!;
      const gray = 0.299 * r + 0.587 * g + 0.114 * b;
      out[o] = (clamp01(gray + (r - gray) * saturation) - m0) / s0;
      out[o + plane] = (clamp01(gray + (g - gray) * saturation) - m1) / s1;
      out[o + 2 * plane] = (clamp01(gray + (b - gray) * saturation) - m2) / s2;
    }
  }
}

/** Per-channel sums of x and x^2 over a tile's pixels, x = byte / 255 (for the fold's mean and std). */
export function channelSums(rgb: Uint8Array): Float64Array {
  // Integer sums are exact in float64, so the totals do not depend on the order tiles are added in.
  const sums = new Float64Array(6);
  for (let i = 0; i < rgb.length; i += 3) {
    for (let c = 0; c < 3; c++) {
      const v = rgb[i + c]!;
      sums[c]! += v;
      sums[3 + c]! += v * v;
    }
  }
  return sums;
}

/** The normalisation of a set of tiles from their summed `channelSums` and pixel count. */
export function normalizationFromSums(sums: Float64Array, pixels: number): Normalization {
  const mean = [0, 1, 2].map((c) => sums[c]! / 255 / pixels);
  const std = [0, 1, 2].map((c) => {
    const variance = sums[3 + c]! / (255 * 255) / pixels - mean[c]! ** 2;
    // A constant channel (an all-white test set) would divide by zero: leave its scale alone.
    return variance > 1e-12 ? Math.sqrt(variance) : 1;
  });
  return { mean: mean as [number, number, number], std: std as [number, number, number] };
}
