/**
 * Resizing packed 8-bit RGB with a Lanczos-3 filter, antialiased (the kernel widened by the
 * reduction factor, as Pillow and libvips do when shrinking), in two separable passes with float
 * accumulation, rounded and clamped to bytes. The browser app resizes its tiles here, the same
 * way in every browser (a canvas resamples as its engine likes); the CLI resizes with libvips'
 * Lanczos-3 (decode.ts), and the two agree within rounding (test/data/resample.test.ts measures it).
 */

/** How the browser app's run folders record their resize (config.json, normalization.json). */
export const LANCZOS3_RESIZE = 'senet-ort lanczos3 (antialiased, separable, float)';

function lanczos3(x: number): number {
  if (x === 0) return 1;
  if (x <= -3 || x >= 3) return 0;
  const px = Math.PI * x;
  return (3 * Math.sin(px) * Math.sin(px / 3)) / (px * px);
}

/** For each output position along one axis: the first input index and the normalised weights. */
function weights(inSize: number, outSize: number): { first: Int32Array; taps: number; w: Float64Array } {
  const scale = inSize / outSize;
  const support = 3 * Math.max(1, scale);
  const filterScale = Math.max(1, scale);
  const taps = Math.ceil(support) * 2 + 1;
  const first = new Int32Array(outSize);
  const w = new Float64Array(outSize * taps);
  for (let o = 0; o < outSize; o++) {
    const center = (o + 0.5) * scale;
    const lo = Math.max(0, Math.floor(center - support));
    const hi = Math.min(inSize, Math.ceil(center + support));
    first[o] = lo;
    let sum = 0;
    for (let i = lo; i < hi && i - lo < taps; i++) {
      const v = lanczos3((i + 0.5 - center) / filterScale);
      w[o * taps + (i - lo)] = v;
      sum += v;
    }
    if (sum !== 0) for (let k = 0; k < taps; k++) w[o * taps + k]! /= sum;
  }
  return { first, taps, w };
}

/** Resize `rgb` (`width` x `height`, packed RGB) to `outWidth` x `outHeight`; the same array when the sizes agree. */
export function resizeRgb(rgb: Uint8Array, width: number, height: number, outWidth: number, outHeight: number): Uint8Array {
  if (rgb.length !== width * height * 3) throw new RangeError(`resizeRgb: expected ${width * height * 3} bytes but received ${rgb.length}`);
  if (width === outWidth && height === outHeight) return rgb;
  const h = weights(width, outWidth);
  const v = weights(height, outHeight);
  // Horizontal pass into floats, then vertical into bytes.
  const mid = new Float64Array(outWidth * height * 3);
  for (let y = 0; y < height; y++) {
    for (let o = 0; o < outWidth; o++) {
      const lo = h.first[o]!;
      let r = 0;
      let g = 0;
      let b = 0;
      for (let k = 0; k < h.taps && lo + k < width; k++) {
        const wk = h.w[o * h.taps + k]!;
        if (wk === 0) continue;
        const p = (y * width + lo + k) * 3;
        r += wk * rgb[p]!;
        g += wk * rgb[p + 1]!;
        b += wk * rgb[p + 2]!;
      }
      const q = (y * outWidth + o) * 3;
      mid[q] = r;
      mid[q + 1] = g;
      mid[q + 2] = b;
    }
  }
  const out = new Uint8Array(outWidth * outHeight * 3);
  const byte = (x: number): number => (x <= 0 ? 0 : x >= 255 ? 255 : Math.round(x));
  for (let o = 0; o < outHeight; o++) {
    const lo = v.first[o]!;
    for (let x = 0; x < outWidth; x++) {
      let r = 0;
      let g = 0;
      let b = 0;
      for (let k = 0; k < v.taps && lo + k < height; k++) {
        const wk = v.w[o * v.taps + k]!;
        if (wk === 0) continue;
        const p = ((lo + k) * outWidth + x) * 3;
        r += wk * mid[p]!;
        g += wk * mid[p + 1]!;
        b += wk * mid[p + 2]!;
      }
      const q = (o * outWidth + x) * 3;
      out[q] = byte(r);
      out[q + 1] = byte(g);
      out[q + 2] = byte(b);
    }
  }
  return out;
}
