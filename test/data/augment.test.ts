import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IDENTITY_NORMALIZATION, channelSums, drawAugmentation, jitterStain, normalizationFromSums, writeSample } from '../../src/data/augment.ts';
import { createRng } from '../../src/util/random.ts';
import { RGB_FROM_HED, invert3 } from '../../src/data/colour.ts';

/** A packed-RGB image whose red channel numbers the pixels 0, 1, 2, ... row by row. */
function numbered(width: number, height: number): Uint8Array {
  const rgb = new Uint8Array(width * height * 3);
  for (let p = 0; p < width * height; p++) rgb.set([p, 100 + p, 200], p * 3);
  return rgb;
}

/** The red plane of writeSample's output, back in pixel numbers. */
function redPlane(rgb: Uint8Array, width: number, height: number, symmetry: number): number[] {
  const out = new Float32Array(3 * width * height);
  writeSample(rgb, width, height, symmetry, null, IDENTITY_NORMALIZATION, out, 0);
  return Array.from(out.subarray(0, width * height), (v) => Math.round(v * 255));
}

describe('augmentation', () => {
  it('the 8 symmetries of a square are its flips and rotations, all different', () => {
    const rgb = numbered(3, 3);
    assert.deepEqual(redPlane(rgb, 3, 3, 0), [0, 1, 2, 3, 4, 5, 6, 7, 8]);
    assert.deepEqual(redPlane(rgb, 3, 3, 1), [2, 1, 0, 5, 4, 3, 8, 7, 6]); // horizontal flip
    assert.deepEqual(redPlane(rgb, 3, 3, 2), [6, 7, 8, 3, 4, 5, 0, 1, 2]); // vertical flip
    assert.deepEqual(redPlane(rgb, 3, 3, 3), [8, 7, 6, 5, 4, 3, 2, 1, 0]); // 180 degrees
    assert.deepEqual(redPlane(rgb, 3, 3, 4), [0, 3, 6, 1, 4, 7, 2, 5, 8]); // transpose
    assert.deepEqual(redPlane(rgb, 3, 3, 5), [2, 5, 8, 1, 4, 7, 0, 3, 6]); // 90 degrees counter-clockwise
    assert.deepEqual(redPlane(rgb, 3, 3, 6), [6, 3, 0, 7, 4, 1, 8, 5, 2]); // 90 degrees clockwise
    const all = new Set(Array.from({ length: 8 }, (_, s) => redPlane(rgb, 3, 3, s).join(',')));
    assert.equal(all.size, 8);
  });

  it('writes CHW planes, normalised per channel, at an offset', () => {
    const rgb = numbered(2, 2);
    const out = new Float32Array(2 + 12).fill(-9);
    writeSample(rgb, 2, 2, 0, null, { mean: [0, 0.5, 1], std: [1, 0.5, 2] }, out, 2);
    assert.deepEqual([out[0], out[1]], [-9, -9]);
    const expected = [0, 1, 2, 3].map((p) => p / 255).concat([0, 1, 2, 3].map((p) => ((100 + p) / 255 - 0.5) / 0.5), [0, 1, 2, 3].map(() => (200 / 255 - 1) / 2));
    expected.forEach((v, i) => assert.ok(Math.abs(out[2 + i]! - v) < 1e-6, `${i}: ${out[2 + i]} != ${v}`));
  });

  it('rectangles get only the symmetries that keep their shape', () => {
    assert.throws(() => writeSample(numbered(3, 2), 3, 2, 4, null, IDENTITY_NORMALIZATION, new Float32Array(18), 0), /square/);
    assert.deepEqual(redPlane(numbered(3, 2), 3, 2, 3), [5, 4, 3, 2, 1, 0]);
    const rng = createRng(1);
    for (let i = 0; i < 200; i++) assert.ok(drawAugmentation(rng, { flips: true, colorJitter: 0 }, false).symmetry < 4);
    const draws = new Set(Array.from({ length: 200 }, () => drawAugmentation(rng, { flips: true, colorJitter: 0 }, true).symmetry));
    assert.equal(draws.size, 8);
    assert.deepEqual(drawAugmentation(rng, { flips: false, colorJitter: 0 }, true), { symmetry: 0, jitter: null, stain: null });
  });

  it('colour jitter: factors in [1 - s, 1 + s]; neutral factors change nothing; results stay in [0, 1]', () => {
    const rng = createRng(2);
    for (let i = 0; i < 100; i++) {
      const { jitter } = drawAugmentation(rng, { flips: false, colorJitter: 0.2 }, true);
      for (const f of jitter!) assert.ok(f >= 0.8 && f <= 1.2);
    }
    const rgb = numbered(4, 4);
    const plain = new Float32Array(48);
    const neutral = new Float32Array(48);
    writeSample(rgb, 4, 4, 3, null, IDENTITY_NORMALIZATION, plain, 0);
    writeSample(rgb, 4, 4, 3, [1, 1, 1], IDENTITY_NORMALIZATION, neutral, 0);
    plain.forEach((v, i) => assert.ok(Math.abs(v - neutral[i]!) < 1e-6));
    const bright = new Float32Array(48);
    writeSample(rgb, 4, 4, 0, [3, 1, 1], IDENTITY_NORMALIZATION, bright, 0);
    assert.ok(bright.every((v) => v >= 0 && v <= 1));
    assert.equal(bright[32], 1); // blue 200/255 * 3 clamps to 1
    const gray = new Float32Array(48);
    writeSample(rgb, 4, 4, 0, [1, 1, 0], IDENTITY_NORMALIZATION, gray, 0);
    for (let p = 0; p < 16; p++) assert.ok(Math.abs(gray[p]! - gray[32 + p]!) < 1e-6); // saturation 0: R = B
  });

  it('stain jitter: seeded factors and offsets drawn after the colour jitter, the same stream without it as before', () => {
    const draw = drawAugmentation(createRng(7), { flips: true, colorJitter: 0.1, stainJitter: 0.05 }, true);
    // The stream by hand: symmetry, three colour factors, three stain factors, three stain offsets.
    const rng = createRng(7);
    const symmetry = rng.int(8);
    const colour = [0, 1, 2].map(() => 0.9 + 0.2 * rng.next());
    const factors = [0, 1, 2].map(() => 0.95 + 0.1 * rng.next());
    const offsets = [0, 1, 2].map(() => -0.05 + 0.1 * rng.next());
    assert.equal(draw.symmetry, symmetry);
    draw.jitter!.forEach((v, i) => assert.ok(Math.abs(v - colour[i]!) < 1e-12));
    draw.stain!.forEach((v, i) => assert.ok(Math.abs(v - [...factors, ...offsets][i]!) < 1e-12));
    for (const v of draw.stain!.slice(0, 3)) assert.ok(v >= 0.95 && v <= 1.05);
    for (const v of draw.stain!.slice(3)) assert.ok(v >= -0.05 && v <= 0.05);
    // Off, it draws nothing: a run without stain jitter sees the stream it saw before the option existed.
    const a = createRng(9);
    const b = createRng(9);
    drawAugmentation(a, { flips: true, colorJitter: 0.1, stainJitter: 0 }, true);
    drawAugmentation(b, { flips: true, colorJitter: 0.1 }, true);
    assert.equal(a.next(), b.next());
  });

  it('stain jitter: neutral numbers give back every byte; a factor on haematoxylin moves the colour along its OD vector', () => {
    const all = Uint8Array.from({ length: 256 * 3 }, (_, i) => (i * 7 + (i % 3) * 50) % 256);
    assert.deepEqual(jitterStain(all, [1, 1, 1, 0, 0, 0]), all);
    // One pixel by hand: OD = -log10((v + 1) / 256); scaling H by 1.5 adds 0.5 * h * (0.65, 0.70, 0.29).
    const pixel = new Uint8Array([120, 60, 150]);
    const od = [...pixel].map((v) => -Math.log10((v + 1) / 256));
    const hedFromRgb = invert3(RGB_FROM_HED);
    const h = od[0]! * hedFromRgb[0]![0]! + od[1]! * hedFromRgb[1]![0]! + od[2]! * hedFromRgb[2]![0]!;
    const expected = [0.65, 0.7, 0.29].map((m, c) => Math.round(256 * 10 ** -(od[c]! + 0.5 * h * m) - 1));
    assert.deepEqual([...jitterStain(pixel, [1.5, 1, 1, 0, 0, 0])], expected);
    assert.ok(expected.every((v, c) => v < pixel[c]!)); // more haematoxylin: darker in every channel
    // An offset on eosin tints white: OD 0 becomes 0.1 * (0.07, 0.99, 0.11).
    const white = jitterStain(new Uint8Array([255, 255, 255]), [1, 1, 1, 0, 0.1, 0]);
    assert.deepEqual([...white], [0.07, 0.99, 0.11].map((m) => Math.round(256 * 10 ** -(0.1 * m) - 1)));
  });

  it('the mean and std of a set of tiles from per-tile sums', () => {
    const a = new Uint8Array([0, 255, 10, 255, 255, 10]);
    const b = new Uint8Array([0, 0, 10, 255, 0, 10]);
    const sums = channelSums(a).map((v, i) => v + channelSums(b)[i]!);
    const n = normalizationFromSums(sums, 4);
    assert.deepEqual(n.mean.map((m) => Number(m.toFixed(6))), [0.5, 0.5, Number((10 / 255).toFixed(6))]);
    assert.deepEqual(n.std.map((s) => Number(s.toFixed(6))), [0.5, 0.5, 1]); // a constant channel keeps scale 1
  });
});
