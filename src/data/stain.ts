/**
 * Stain normalisation: making H&E colour from one lab look like another's, on packed 8-bit RGB.
 *
 * Macenko et al., "A method for normalizing histology slides for quantitative analysis", ISBI 2009:
 * optical densities (OD) of stained pixels span a plane whose two extreme directions are the stain
 * vectors; each pixel's stain concentrations are its OD in that basis; concentrations are scaled so
 * their 99th percentiles match a reference's, and the pixel is recoloured with the reference's stain
 * vectors. Parameters as published: Io = 240, alpha = 1 (the 1st and 99th percentiles of the angle),
 * beta = 0.15 (OD below which a channel counts as unstained).
 *
 * Reinhard et al., "Color transfer between images", IEEE CG&A 2001, as used for histology: each
 * channel of CIE L*a*b* is shifted and scaled to the target's mean and standard deviation.
 *
 * An image with fewer than 1% of its pixels stained (OD at least beta in every channel) has nothing
 * to fit, and is left unchanged by either method.
 */
import { percentileInPlace, symmetricEigen3 } from '../util/numeric.ts';
import { labToRgb, rgbToLab } from './colour.ts';

export const STAIN_METHODS = ['macenko', 'reinhard'] as const;
export type StainMethod = (typeof STAIN_METHODS)[number];

export const MACENKO_IO = 240;
export const MACENKO_ALPHA = 1;
export const MACENKO_BETA = 0.15;
/** Fewer stained pixels than this fraction: nothing to fit. */
export const MIN_STAINED = 0.01;

/** Three rows (R, G, B), two columns (haematoxylin, eosin): unit OD vectors of the two stains. */
export type StainMatrix = [[number, number], [number, number], [number, number]];

/** What Macenko fits to an image: its stain vectors and the 99th percentiles of each stain's concentration. */
export interface MacenkoStains {
  readonly method: 'macenko';
  readonly stains: StainMatrix;
  readonly maxConcentrations: [number, number];
}

/** What Reinhard fits to an image: per-channel mean and (population) standard deviation of L*, a*, b*. */
export interface LabStatistics {
  readonly method: 'reinhard';
  readonly mean: [number, number, number];
  readonly std: [number, number, number];
}

export type StainFit = MacenkoStains | LabStatistics;

/** Macenko's published reference (the stain vectors and maximum concentrations of his reference slide). */
export const MACENKO_REFERENCE: MacenkoStains = {
  method: 'macenko',
  stains: [[0.5626, 0.2159], [0.7201, 0.8012], [0.4062, 0.5581]],
  maxConcentrations: [1.9705, 1.0308],
};

/** -ln((v + 1) / Io) for every byte: Macenko's optical density. */
const OD = Float64Array.from({ length: 256 }, (_, v) => -Math.log((v + 1) / MACENKO_IO));

/** Pixels whose OD is at least beta in every channel. */
function isStained(rgb: Uint8Array, i: number): boolean {
  return OD[rgb[i]!]! >= MACENKO_BETA && OD[rgb[i + 1]!]! >= MACENKO_BETA && OD[rgb[i + 2]!]! >= MACENKO_BETA;
}

/** The fraction of pixels stained in every channel (OD >= beta). */
export function stainedFraction(rgb: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < rgb.length; i += 3) if (isStained(rgb, i)) n++;
  return rgb.length === 0 ? 0 : n / (rgb.length / 3);
}

const dot3 = (a: readonly number[], b: readonly number[]): number => a[0]! * b[0]! + a[1]! * b[1]! + a[2]! * b[2]!;

/**
 * The least-squares solution of stains · c = od for every OD vector: (SᵀS)⁻¹Sᵀ, two rows of three.
 * NumPy's lstsq gives the same for a full-rank S.
 */
function pseudoInverse(s: StainMatrix): [[number, number, number], [number, number, number]] {
  const col = (j: 0 | 1): number[] => [s[0][j], s[1][j], s[2][j]];
  const h = col(0);
  const e = col(1);
  const a = dot3(h, h);
  const b = dot3(h, e);
  const d = dot3(e, e);
  const det = a * d - b * b;
  return [
    [0, 1, 2].map((k) => (d * h[k]! - b * e[k]!) / det) as [number, number, number],
    [0, 1, 2].map((k) => (a * e[k]! - b * h[k]!) / det) as [number, number, number],
  ];
}

/** Macenko's fit of an image's stains, or null when fewer than 1% of its pixels are stained. */
export function fitMacenko(rgb: Uint8Array): MacenkoStains | null {
  const pixels = rgb.length / 3;
  const stained: number[] = [];
  for (let i = 0; i < rgb.length; i += 3) if (isStained(rgb, i)) stained.push(i);
  if (stained.length < MIN_STAINED * pixels || stained.length < 3) return null;

  // Covariance of the stained pixels' OD (its eigenvectors are what matters, so the scale is free).
  const mean = [0, 0, 0];
  for (const i of stained) for (let c = 0; c < 3; c++) mean[c]! += OD[rgb[i + c]!]!;
  for (let c = 0; c < 3; c++) mean[c]! /= stained.length;
  const cov = [[0, 0, 0], [0, 0, 0], [0, 0, 0]];
  for (const i of stained) {
    const d = [0, 1, 2].map((c) => OD[rgb[i + c]!]! - mean[c]!);
    for (let r = 0; r < 3; r++) for (let c = r; c < 3; c++) cov[r]![c]! += d[r]! * d[c]!;
  }
  for (let r = 0; r < 3; r++) for (let c = 0; c < r; c++) cov[r]![c] = cov[c]![r]!;
  // The plane of the two largest eigenvalues; each vector's sign fixed (positive sum) so that the
  // angles below never straddle ±π, whatever sign the solver returns.
  const { vectors } = symmetricEigen3(cov);
  const [v1, v2] = [vectors[1]!, vectors[2]!].map((v) => (v[0] + v[1] + v[2] < 0 ? v.map((x) => -x) : v));
  const phi = new Float64Array(stained.length);
  stained.forEach((i, k) => {
    const od = [OD[rgb[i]!]!, OD[rgb[i + 1]!]!, OD[rgb[i + 2]!]!];
    phi[k] = Math.atan2(dot3(od, v2!), dot3(od, v1!));
  });
  const minPhi = percentileInPlace(phi, MACENKO_ALPHA);
  const maxPhi = percentileInPlace(phi, 100 - MACENKO_ALPHA);
  const direction = (angle: number): number[] => [0, 1, 2].map((c) => v1![c]! * Math.cos(angle) + v2![c]! * Math.sin(angle));
  const vMin = direction(minPhi);
  const vMax = direction(maxPhi);
  // Haematoxylin absorbs more red than eosin does: it is the vector with the larger R component.
  const [h, e] = vMin[0]! > vMax[0]! ? [vMin, vMax] : [vMax, vMin];
  const stains: StainMatrix = [[h![0]!, e![0]!], [h![1]!, e![1]!], [h![2]!, e![2]!]];

  const inverse = pseudoInverse(stains);
  const ch = new Float64Array(pixels);
  const ce = new Float64Array(pixels);
  for (let p = 0; p < pixels; p++) {
    const od = [OD[rgb[3 * p]!]!, OD[rgb[3 * p + 1]!]!, OD[rgb[3 * p + 2]!]!];
    ch[p] = dot3(inverse[0], od);
    ce[p] = dot3(inverse[1], od);
  }
  return { method: 'macenko', stains, maxConcentrations: [percentileInPlace(ch, 99), percentileInPlace(ce, 99)] };
}

/** Recolour an image fitted as `source` with the stains of `target` (Macenko). */
export function applyMacenko(rgb: Uint8Array, source: MacenkoStains, target: MacenkoStains): Uint8Array {
  const inverse = pseudoInverse(source.stains);
  const scaleH = target.maxConcentrations[0] / source.maxConcentrations[0];
  const scaleE = target.maxConcentrations[1] / source.maxConcentrations[1];
  const t = target.stains;
  const out = new Uint8Array(rgb.length);
  for (let i = 0; i < rgb.length; i += 3) {
    const od = [OD[rgb[i]!]!, OD[rgb[i + 1]!]!, OD[rgb[i + 2]!]!];
    const h = dot3(inverse[0], od) * scaleH;
    const e = dot3(inverse[1], od) * scaleE;
    for (let c = 0; c < 3; c++) {
      const v = Math.round(MACENKO_IO * Math.exp(-(t[c]![0] * h + t[c]![1] * e)));
      out[i + c] = v > 255 ? 255 : v;
    }
  }
  return out;
}

/** Reinhard's statistics of an image, or null when fewer than 1% of its pixels are stained. */
export function fitReinhard(rgb: Uint8Array): LabStatistics | null {
  if (stainedFraction(rgb) < MIN_STAINED) return null;
  const pixels = rgb.length / 3;
  const lab = new Float64Array(3);
  const sum = [0, 0, 0];
  const sumSq = [0, 0, 0];
  for (let i = 0; i < rgb.length; i += 3) {
    rgbToLab(rgb[i]!, rgb[i + 1]!, rgb[i + 2]!, lab, 0);
    for (let c = 0; c < 3; c++) {
      sum[c]! += lab[c]!;
      sumSq[c]! += lab[c]! * lab[c]!;
    }
  }
  const mean = sum.map((s) => s / pixels) as [number, number, number];
  const std = sumSq.map((s, c) => Math.sqrt(Math.max(0, s / pixels - mean[c]! ** 2))) as [number, number, number];
  return { method: 'reinhard', mean, std };
}

/** Shift and scale each L*a*b* channel of an image fitted as `source` to the statistics of `target`. */
export function applyReinhard(rgb: Uint8Array, source: LabStatistics, target: LabStatistics): Uint8Array {
  // A constant channel has no spread to scale: it is only shifted.
  const gain = [0, 1, 2].map((c) => (source.std[c]! > 1e-9 ? target.std[c]! / source.std[c]! : 1));
  const out = new Uint8Array(rgb.length);
  const lab = new Float64Array(3);
  for (let i = 0; i < rgb.length; i += 3) {
    rgbToLab(rgb[i]!, rgb[i + 1]!, rgb[i + 2]!, lab, 0);
    labToRgb(
      (lab[0]! - source.mean[0]) * gain[0]! + target.mean[0],
      (lab[1]! - source.mean[1]) * gain[1]! + target.mean[1],
      (lab[2]! - source.mean[2]) * gain[2]! + target.mean[2],
      out, i,
    );
  }
  return out;
}

/** Fit `method` to an image (null: too few stained pixels to fit). */
export function fitStain(method: StainMethod, rgb: Uint8Array): StainFit | null {
  return method === 'macenko' ? fitMacenko(rgb) : fitReinhard(rgb);
}

/** Normalise an image fitted as `source` towards `target` (both of one method). */
export function applyStain(rgb: Uint8Array, source: StainFit, target: StainFit): Uint8Array {
  if (source.method === 'macenko' && target.method === 'macenko') return applyMacenko(rgb, source, target);
  if (source.method === 'reinhard' && target.method === 'reinhard') return applyReinhard(rgb, source, target);
  throw new RangeError(`applyStain: a ${source.method} fit cannot be normalised towards a ${target.method} target`);
}
