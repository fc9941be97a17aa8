/**
 * Grad-CAM maps as pictures, for `explain`'s files and the report's "Where they look": a map at its
 * layer's resolution (graph/gradcam.ts's `cam`) is upsampled bilinearly to the image, scaled by
 * its own maximum (Grad-CAM's values have no fixed range, and differ between networks), coloured
 * on viridis and laid over the image at half opacity.
 */
import { composePng, encodePng } from '../data/image.ts';
import { viridis, viridisGradient } from './colour-map.ts';
import { FONT_FAMILY, el } from './svg.ts';
import type { Child } from './svg.ts';

export const OVERLAY_OPACITY = 0.5;

/**
 * An h x w map resampled to height x width bilinearly, with pixel centres aligned as PyTorch's
 * interpolate(align_corners=False) and OpenCV's resize do: sample (y + 0.5) h / height - 0.5,
 * clamped to the map's edge.
 */
export function upsampleBilinear(map: ArrayLike<number>, h: number, w: number, height: number, width: number): Float32Array {
  if (map.length !== h * w) throw new Error(`upsampleBilinear: ${map.length} values for a ${h}x${w} map`);
  const axis = (size: number, to: number): { i0: Int32Array; i1: Int32Array; f: Float32Array } => {
    const i0 = new Int32Array(to);
    const i1 = new Int32Array(to);
    const f = new Float32Array(to);
    for (let o = 0; o < to; o++) {
      const s = Math.min(size - 1, Math.max(0, ((o + 0.5) * size) / to - 0.5));
      i0[o] = Math.floor(s);
      i1[o] = Math.min(size - 1, i0[o]! + 1);
      f[o] = s - i0[o]!;
    }
    return { i0, i1, f };
  };
  const ys = axis(h, height);
  const xs = axis(w, width);
  const out = new Float32Array(height * width);
  for (let y = 0; y < height; y++) {
    const [r0, r1, fy] = [ys.i0[y]! * w, ys.i1[y]! * w, ys.f[y]!];
    for (let x = 0; x < width; x++) {
      const [c0, c1, fx] = [xs.i0[x]!, xs.i1[x]!, xs.f[x]!];
      const top = map[r0 + c0]! + (map[r0 + c1]! - map[r0 + c0]!) * fx;
      const bottom = map[r1 + c0]! + (map[r1 + c1]! - map[r1 + c0]!) * fx;
      out[y * width + x] = top + (bottom - top) * fy;
    }
  }
  return out;
}

export function mapMaximum(map: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < map.length; i++) max = Math.max(max, map[i]!);
  return max;
}

/**
 * Packed RGB of the image with the map over it: each pixel (1 - a) image + a viridis(v / max),
 * the map upsampled to the image. An all-zero map (nothing for the class) colours it all at viridis(0).
 */
export function camOverlay(rgb: Uint8Array, width: number, height: number, map: ArrayLike<number>, h: number, w: number): Uint8Array {
  const up = upsampleBilinear(map, h, w, height, width);
  const max = mapMaximum(map);
  const out = new Uint8Array(rgb.length);
  for (let p = 0; p < width * height; p++) {
    const c = viridis(max > 0 ? up[p]! / max : 0);
    for (let k = 0; k < 3; k++) out[p * 3 + k] = Math.round((1 - OVERLAY_OPACITY) * rgb[p * 3 + k]! + OVERLAY_OPACITY * c[k]!);
  }
  return out;
}

/** camOverlay as a PNG. */
export function camOverlayPng(rgb: Uint8Array, width: number, height: number, map: ArrayLike<number>, h: number, w: number): Promise<Buffer> {
  return encodePng(camOverlay(rgb, width, height, map, h, w), width, height);
}

/** A vertical viridis colour bar from 0 (bottom) to `max` (top), labelled, as SVG children at (x, y). */
export function colourBar(x: number, y: number, height: number, max: number, id = 'viridis'): Child[] {
  return [
    viridisGradient(id),
    el('rect', { x, y, width: 16, height, fill: `url(#${id})`, stroke: '#444444' }),
    el('text', { x: x + 22, y: y + 10 }, formatValue(max)),
    el('text', { x: x + 22, y: y + height }, '0'),
  ];
}

/** A map value as a label: three significant digits. */
export function formatValue(v: number): string {
  return v === 0 ? '0' : Number(v.toPrecision(3)).toString();
}

const MARGIN = 12;
const LINE = 18;
const BAR = 110;
const FONT_SIZE = 13;

/** What `explain` draws for one image. */
export interface CamPanel {
  /** The image as shown, packed RGB. */
  readonly rgb: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly map: ArrayLike<number>;
  readonly mapHeight: number;
  readonly mapWidth: number;
  /** Lines of text above the pictures, the first in bold (the call); each cut to the width with an ellipsis in its middle. */
  readonly lines: readonly string[];
}

/** `text` cut in the middle to about `chars` characters, so a long file name keeps its start and its end. */
export function cutMiddle(text: string, chars: number): string {
  const all = [...text];
  if (all.length <= chars) return text;
  const keep = Math.max(2, chars - 1);
  return `${all.slice(0, Math.ceil(keep / 2)).join('')}…${all.slice(all.length - Math.floor(keep / 2)).join('')}`;
}

/** The image, the image with its map over it, and a colour bar from 0 to the map's maximum, under lines of text. */
export function camPanelPng(p: CamPanel): Promise<Buffer> {
  const width = MARGIN + p.width + MARGIN + p.width + MARGIN + BAR;
  const top = MARGIN + p.lines.length * LINE;
  const height = top + p.height + MARGIN;
  const barHeight = Math.min(p.height, 240);
  // DejaVu Sans runs about 0.6 em a character, bold a little wider.
  const chars = Math.floor((width - 2 * MARGIN) / (FONT_SIZE * 0.66));
  const text = el('svg', { xmlns: 'http://www.w3.org/2000/svg', width, height, 'font-family': FONT_FAMILY, 'font-size': FONT_SIZE },
    p.lines.map((line, i) => el('text', { x: MARGIN, y: MARGIN + 4 + i * LINE, 'font-weight': i === 0 ? 'bold' : 'normal' }, cutMiddle(line, chars))),
    colourBar(MARGIN + 2 * (p.width + MARGIN), top + (p.height - barHeight) / 2, barHeight, mapMaximum(p.map)),
  );
  return composePng(width, height, [
    { input: p.rgb, raw: { width: p.width, height: p.height, channels: 3 }, left: MARGIN, top },
    { input: camOverlay(p.rgb, p.width, p.height, p.map, p.mapHeight, p.mapWidth), raw: { width: p.width, height: p.height, channels: 3 }, left: 2 * MARGIN + p.width, top },
    { input: Buffer.from(text.text), left: 0, top: 0 },
  ], '#ffffff');
}
