/**
 * Colour spaces of stained tissue, on packed 8-bit RGB (R G B per pixel): CIE L*a*b* (for Reinhard
 * normalisation) and the haematoxylin-eosin-DAB space of colour deconvolution (for stain
 * augmentation). Pure arithmetic, no image library: each conversion is a few lines of published
 * formulas, and per-pixel calls through a colour library would cost more than the formulas.
 */

// ---- CIE L*a*b*, from sRGB under D65 (IEC 61966-2-1 and CIE 15) ----

/** sRGB (D65) linear RGB to XYZ, and back: the IEC 61966-2-1 matrices. */
const RGB_TO_XYZ = [
  [0.4124564, 0.3575761, 0.1804375],
  [0.2126729, 0.7151522, 0.072175],
  [0.0193339, 0.119192, 0.9503041],
] as const;
const XYZ_TO_RGB = [
  [3.2404542, -1.5371385, -0.4985314],
  [-0.969266, 1.8760108, 0.041556],
  [0.0556434, -0.2040259, 1.0572252],
] as const;
/** The D65 white point, the rows of RGB_TO_XYZ summed: sRGB white has a* = b* = 0. */
const WHITE = [0.95047, 1, 1.08883] as const;
const EPSILON = (6 / 29) ** 3;
const KAPPA = 3 * (6 / 29) ** 2;

/** sRGB byte to linear light, as a 256-entry table. */
const LINEAR = Float64Array.from({ length: 256 }, (_, v) => {
  const c = v / 255;
  return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
});

const f = (t: number): number => (t > EPSILON ? Math.cbrt(t) : t / KAPPA + 4 / 29);
const fInverse = (t: number): number => (t > 6 / 29 ? t * t * t : KAPPA * (t - 4 / 29));
const gamma = (c: number): number => (c <= 0.0031308 ? 12.92 * c : 1.055 * c ** (1 / 2.4) - 0.055);
const toByte = (v: number): number => (v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v));

/** L*, a*, b* of one sRGB pixel, written to `out` at `at`. */
export function rgbToLab(r: number, g: number, b: number, out: Float64Array, at: number): void {
  const lr = LINEAR[r]!;
  const lg = LINEAR[g]!;
  const lb = LINEAR[b]!;
  const fx = f((RGB_TO_XYZ[0][0] * lr + RGB_TO_XYZ[0][1] * lg + RGB_TO_XYZ[0][2] * lb) / WHITE[0]);
  const fy = f((RGB_TO_XYZ[1][0] * lr + RGB_TO_XYZ[1][1] * lg + RGB_TO_XYZ[1][2] * lb) / WHITE[1]);
  const fz = f((RGB_TO_XYZ[2][0] * lr + RGB_TO_XYZ[2][1] * lg + RGB_TO_XYZ[2][2] * lb) / WHITE[2]);
  out[at] = 116 * fy - 16;
  out[at + 1] = 500 * (fx - fy);
  out[at + 2] = 200 * (fy - fz);
}

/** The sRGB bytes of L*, a*, b* (out-of-gamut colours clipped per channel), written to `out` at `at`. */
export function labToRgb(l: number, a: number, b: number, out: Uint8Array, at: number): void {
  const fy = (l + 16) / 116;
  const x = WHITE[0] * fInverse(fy + a / 500);
  const y = WHITE[1] * fInverse(fy);
  const z = WHITE[2] * fInverse(fy - b / 200);
  for (let c = 0; c < 3; c++) {
    const row = XYZ_TO_RGB[c]!;
    out[at + c] = toByte(255 * gamma(row[0] * x + row[1] * y + row[2] * z));
  }
}

// ---- Optical density and colour deconvolution (Ruifrok and Johnston, Anal Quant Cytol Histol 2001) ----

/**
 * The stains' optical density vectors in RGB, one row each: haematoxylin, eosin, DAB, as published by
 * Ruifrok and Johnston (and used by scikit-image's rgb2hed).
 */
export const RGB_FROM_HED: readonly (readonly [number, number, number])[] = [
  [0.65, 0.7, 0.29],
  [0.07, 0.99, 0.11],
  [0.27, 0.57, 0.78],
];

/** The inverse of a 3x3 matrix (rows), by cofactors. */
export function invert3(m: readonly (readonly number[])[]): [number, number, number][] {
  const [a, b, c] = m[0]!;
  const [d, e, g] = m[1]!;
  const [h, i, k] = m[2]!;
  const det = a! * (e! * k! - g! * i!) - b! * (d! * k! - g! * h!) + c! * (d! * i! - e! * h!);
  if (Math.abs(det) < 1e-12) throw new RangeError('invert3: singular matrix');
  return [
    [(e! * k! - g! * i!) / det, (c! * i! - b! * k!) / det, (b! * g! - c! * e!) / det],
    [(g! * h! - d! * k!) / det, (a! * k! - c! * h!) / det, (c! * d! - a! * g!) / det],
    [(d! * i! - e! * h!) / det, (b! * h! - a! * i!) / det, (a! * e! - b! * d!) / det],
  ];
}

export const HED_FROM_RGB: readonly (readonly number[])[] = invert3(RGB_FROM_HED);

/**
 * Optical density of a byte in the decimal units of colour deconvolution, -log10((v + 1) / 256):
 * the +1 keeps black finite, and makes `densityToByte` its exact inverse on every byte.
 */
export const DENSITY: Float64Array = Float64Array.from({ length: 256 }, (_, v) => -Math.log10((v + 1) / 256));

/** The byte of an optical density (rounded, clipped to 0-255). */
export function densityToByte(od: number): number {
  return toByte(256 * 10 ** -od - 1);
}
