/**
 * Tissue detection on a low-resolution thumbnail of a slide: a binary mask of where tissue is, and
 * each tile's share of it.
 *
 * The channel is HSV saturation, (max - min) / max of R, G, B. Glass and white background are
 * unsaturated, and so are the things the white rule wrongly keeps: black backgrounds, shadows and
 * folds seen as grey, and dark pixels in general, whose hue is noise (pixels with max(R, G, B)
 * below DARK are set to 0 first). Faint eosin is pale but still pink, so saturated: the white rule
 * drops it, saturation does not. Optical density, the other common choice, rates black background
 * and pen ink as the densest "tissue" of all.
 *
 * Otsu's threshold (the one that maximises the between-class variance of the histogram) separates
 * glass from stain where both are on the thumbnail. On a thumbnail that is all tissue it would
 * split the tissue in two instead (measured on the Kather 2016 tiles: thresholds of 0.36-0.51
 * there), and on one that is all glass it would split camera noise (0.04 on the EMPTY tiles), so
 * the threshold is kept within [OTSU_MIN, OTSU_MAX]: measured on CMU-1-Small-Region, glass lies
 * below 0.03 and tissue fills the range above 0.04 evenly up to the stain's own peak.
 *
 * The mask is then closed (small gaps filled) and opened (specks removed) with a disk, and
 * connected regions smaller than the minimum area are dropped.
 */

/** Pixels darker than this (max of R, G, B) have no reliable hue: saturation 0. */
export const DARK = 40;
/** Bounds of Otsu's threshold on saturation (0-1). */
export const OTSU_MIN = 0.04;
export const OTSU_MAX = 0.1;

/** A binary mask, row-major, 1 for tissue. */
export interface Mask {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

/** HSV saturation of packed RGB as bytes (0-255), dark pixels 0. */
export function saturation(rgb: Uint8Array): Uint8Array {
  const out = new Uint8Array(rgb.length / 3);
  for (let p = 0, i = 0; p < out.length; p++, i += 3) {
    const r = rgb[i]!;
    const g = rgb[i + 1]!;
    const b = rgb[i + 2]!;
    const max = r > g ? (r > b ? r : b) : g > b ? g : b;
    const min = r < g ? (r < b ? r : b) : g < b ? g : b;
    out[p] = max < DARK ? 0 : Math.round((255 * (max - min)) / max);
  }
  return out;
}

/**
 * Otsu's threshold of byte values: the t that maximises the between-class variance of {v <= t} and
 * {v > t}; the first such t on ties. A constant image gives its value.
 */
export function otsuThreshold(values: Uint8Array): number {
  const histogram = new Float64Array(256);
  for (const v of values) histogram[v]!++;
  const total = values.length;
  let sumAll = 0;
  for (let v = 0; v < 256; v++) sumAll += v * histogram[v]!;
  let weight = 0;
  let sum = 0;
  let best = -1;
  let threshold = values[0] ?? 0;
  for (let t = 0; t < 255; t++) {
    weight += histogram[t]!;
    sum += t * histogram[t]!;
    const rest = total - weight;
    if (weight === 0 || rest === 0) continue;
    const meanLow = sum / weight;
    const meanHigh = (sumAll - sum) / rest;
    const between = weight * rest * (meanLow - meanHigh) ** 2;
    if (between > best) {
      best = between;
      threshold = t;
    }
  }
  return threshold;
}

/** The offsets of a disk of `radius` pixels (Euclidean, the centre included). */
function disk(radius: number): [number, number][] {
  const out: [number, number][] = [];
  for (let dy = -radius; dy <= radius; dy++) for (let dx = -radius; dx <= radius; dx++) if (dx * dx + dy * dy <= radius * radius) out.push([dx, dy]);
  return out;
}

/** Dilation (`grow`) or erosion of a mask by a disk; pixels outside the mask are left out of the neighbourhood. */
function morph(mask: Mask, radius: number, grow: boolean): Mask {
  const { width, height, data } = mask;
  const offsets = disk(radius);
  const out = new Uint8Array(data.length);
  const hit = grow ? 1 : 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let v = 1 - hit;
      for (const [dx, dy] of offsets) {
        const xx = x + dx;
        const yy = y + dy;
        if (xx < 0 || yy < 0 || xx >= width || yy >= height) continue;
        if (data[yy * width + xx] === hit) {
          v = hit;
          break;
        }
      }
      out[y * width + x] = v;
    }
  }
  return { width, height, data: out };
}

/** The mask with `pad` pixels added on every side, each a copy of the nearest edge pixel. */
function padded(mask: Mask, pad: number): Mask {
  const width = mask.width + 2 * pad;
  const height = mask.height + 2 * pad;
  const data = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    const sy = Math.min(mask.height - 1, Math.max(0, y - pad));
    for (let x = 0; x < width; x++) data[y * width + x] = mask.data[sy * mask.width + Math.min(mask.width - 1, Math.max(0, x - pad))]!;
  }
  return { width, height, data };
}

/**
 * Closing then opening with a disk of `radius` pixels. The mask is first extended by copies of its
 * edges, as if the slide went on beyond the thumbnail, so that tissue cut by the border is neither
 * eaten nor grown there; four operations reach 4 radii in, so that is the margin.
 */
export function closeOpen(mask: Mask, radius: number): Mask {
  if (radius < 1) return mask;
  const pad = 4 * radius;
  const big = padded(mask, pad);
  const closed = morph(morph(big, radius, true), radius, false);
  const opened = morph(morph(closed, radius, false), radius, true);
  const data = new Uint8Array(mask.width * mask.height);
  for (let y = 0; y < mask.height; y++) data.set(opened.data.subarray((y + pad) * big.width + pad, (y + pad) * big.width + pad + mask.width), y * mask.width);
  return { width: mask.width, height: mask.height, data };
}

/** The mask without its 8-connected regions of fewer than `minPixels` pixels. */
export function dropSmallRegions(mask: Mask, minPixels: number): Mask {
  const { width, height } = mask;
  const data = Uint8Array.from(mask.data);
  if (minPixels <= 1) return { width, height, data };
  const seen = new Uint8Array(data.length);
  const stack: number[] = [];
  const region: number[] = [];
  for (let start = 0; start < data.length; start++) {
    if (data[start] !== 1 || seen[start]) continue;
    region.length = 0;
    stack.push(start);
    seen[start] = 1;
    while (stack.length > 0) {
      const p = stack.pop()!;
      region.push(p);
      const x = p % width;
      const y = (p - x) / width;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx;
          const yy = y + dy;
          if (xx < 0 || yy < 0 || xx >= width || yy >= height) continue;
          const q = yy * width + xx;
          if (data[q] === 1 && !seen[q]) {
            seen[q] = 1;
            stack.push(q);
          }
        }
      }
    }
    if (region.length < minPixels) for (const p of region) data[p] = 0;
  }
  return { width, height, data };
}

/** How a thumbnail is turned into a mask (sizes in thumbnail pixels). */
export interface MaskSettings {
  /** Radius of the closing and opening disk. */
  readonly radius: number;
  /** Smallest region kept. */
  readonly minPixels: number;
}

/** The tissue mask of an RGB thumbnail, and the saturation threshold Otsu's method gave (0-1, after bounds). */
export function tissueMask(rgb: Uint8Array, width: number, height: number, settings: MaskSettings): { mask: Mask; threshold: number } {
  const s = saturation(rgb);
  const otsu = otsuThreshold(s) / 255;
  const threshold = Math.min(OTSU_MAX, Math.max(OTSU_MIN, otsu));
  const cut = threshold * 255;
  const data = new Uint8Array(s.length);
  for (let p = 0; p < s.length; p++) data[p] = s[p]! > cut ? 1 : 0;
  const mask = dropSmallRegions(closeOpen({ width, height, data }, settings.radius), settings.minPixels);
  return { mask, threshold: Math.round(threshold * 10000) / 10000 };
}

/**
 * The share of a rectangle covered by tissue: the mask pixels whose centres fall inside it, the
 * rectangle given in mask pixels (fractional). A rectangle that holds no pixel centre takes the
 * pixel under its centre.
 */
export function maskCover(mask: Mask, left: number, top: number, width: number, height: number): number {
  const x0 = Math.max(0, Math.ceil(left - 0.5));
  const x1 = Math.min(mask.width, Math.ceil(left + width - 0.5));
  const y0 = Math.max(0, Math.ceil(top - 0.5));
  const y1 = Math.min(mask.height, Math.ceil(top + height - 0.5));
  if (x1 <= x0 || y1 <= y0) {
    const cx = Math.min(mask.width - 1, Math.max(0, Math.floor(left + width / 2)));
    const cy = Math.min(mask.height - 1, Math.max(0, Math.floor(top + height / 2)));
    return mask.data[cy * mask.width + cx]!;
  }
  let n = 0;
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) n += mask.data[y * mask.width + x]!;
  return n / ((x1 - x0) * (y1 - y0));
}
