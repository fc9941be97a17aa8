import type { Normalization } from '../formats/rundir.ts';
import type { Rng } from '../util/random.ts';
import { DENSITY, HED_FROM_RGB, RGB_FROM_HED, densityToByte } from './colour.ts';

/**
 * Training-time augmentation and the conversion of a decoded tile into the network's input.
 *
 * Histology has no "up": every flip and 90-degree rotation of a tile is an equally real tile, so
 * the default augmentation draws one of the 8 symmetries of the square (the dihedral group D4)
 * per sample. An optional light colour jitter (brightness, contrast, saturation, as torchvision's
 * ColorJitter applies them in that order, clamping to [0, 1] after each) imitates stain variation;
 * stain jitter imitates it where it arises, in the stains' own space (Tellez et al., "H&E stain
 * augmentation improves generalization of convolutional networks for histopathological mitosis
 * detection", SPIE 2018): each pixel is deconvolved into haematoxylin, eosin and DAB optical
 * densities (Ruifrok and Johnston's matrix), each channel is scaled by a factor from
 * U[1 - s, 1 + s] and shifted by an offset from U[-s, s], and the result is recomposed.
 *
 * The random draws happen on the main thread, from the epoch's seeded generator, and travel to the
 * loader workers as numbers: which worker builds a batch never changes the batch.
 */

export interface Augmentation {
  /** Random flips and 90-degree rotations. */
  readonly flips: boolean;
  /** Colour jitter strength s: each factor is drawn from [1 - s, 1 + s]; 0 turns jitter off. */
  readonly colorJitter: number;
  /** Stain jitter strength s in HED space (absent or 0: off). */
  readonly stainJitter?: number;
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

/** One sample's random augmentation: its symmetry, colour jitter factors and HED stain factors and offsets. */
export interface AugmentationDraw {
  symmetry: Symmetry;
  jitter: [number, number, number] | null;
  /** Factors for H, E, D, then offsets for H, E, D (null when stain jitter is off). */
  stain: [number, number, number, number, number, number] | null;
}

/**
 * Draw one sample's symmetry (0 when flips are off), jitter factors (none when jitter is off) and
 * stain factors and offsets (none when stain jitter is off), in that order from `rng`: a run without
 * stain jitter draws exactly what it drew before stain jitter existed.
 */
export function drawAugmentation(rng: Rng, augmentation: Augmentation, square: boolean): AugmentationDraw {
  const symmetry = augmentation.flips ? rng.int(square ? 8 : 4) : IDENTITY;
  const s = augmentation.colorJitter;
  const factor = (): number => 1 - s + 2 * s * rng.next();
  const jitter: [number, number, number] | null = s > 0 ? [factor(), factor(), factor()] : null;
  const h = augmentation.stainJitter ?? 0;
  let stain: AugmentationDraw['stain'] = null;
  if (h > 0) {
    const scale = (): number => 1 - h + 2 * h * rng.next();
    const shift = (): number => -h + 2 * h * rng.next();
    stain = [scale(), scale(), scale(), shift(), shift(), shift()];
  }
  return { symmetry, jitter, stain };
}

/**
 * Stain jitter of one packed-RGB tile: per pixel, optical densities -> H, E, D -> each scaled by
 * `factors[0..2]` and shifted by `factors[3..5]` -> optical densities -> bytes (rounded, clipped).
 * Factors 1 and offsets 0 give back every byte exactly.
 */
export function jitterStain(rgb: Uint8Array, factors: ArrayLike<number>): Uint8Array {
  const m = RGB_FROM_HED;
  const inv = HED_FROM_RGB;
  // od' = ((od · inv) ∘ a + b) · m = od · (inv diag(a) m) + b · m: one 3x3 matrix and one offset per tile.
  const t = [0, 1, 2].map((r) => [0, 1, 2].map((c) => inv[r]![0]! * factors[0]! * m[0]![c]! + inv[r]![1]! * factors[1]! * m[1]![c]! + inv[r]![2]! * factors[2]! * m[2]![c]!));
  const shift = [0, 1, 2].map((c) => factors[3]! * m[0]![c]! + factors[4]! * m[1]![c]! + factors[5]! * m[2]![c]!);
  const out = new Uint8Array(rgb.length);
  for (let i = 0; i < rgb.length; i += 3) {
    const r = DENSITY[rgb[i]!]!;
    const g = DENSITY[rgb[i + 1]!]!;
    const b = DENSITY[rgb[i + 2]!]!;
    for (let c = 0; c < 3; c++) out[i + c] = densityToByte(r * t[0]![c]! + g * t[1]![c]! + b * t[2]![c]! + shift[c]!);
  }
  return out;
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
