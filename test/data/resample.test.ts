// The browser app's resize against the CLI's (libvips' Lanczos-3 through sharp) on the sample's
// real tiles: within a level on average (measured: 0.58 at 150 -> 32 px, 0.19 at 150 -> 64 px; the
// largest single difference 10 and 5 levels), and exact where the answer is known.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { decodeTile } from '../../src/data/decode.ts';
import { resizeRgb } from '../../src/data/resample.ts';
import { ROOT } from '../helpers/cli.ts';

const SAMPLE = join(ROOT, 'data', 'kather2016-crc-texture-sample');

describe('resizeRgb', () => {
  it('agrees with the CLI\'s libvips resize within a level on average on real tiles', async () => {
    const files = readdirSync(SAMPLE).filter((d) => /^\d\d_/.test(d)).flatMap((c) => readdirSync(join(SAMPLE, c)).slice(0, 2).map((f) => join(SAMPLE, c, f)));
    for (const [size, meanBound, maxBound] of [[32, 0.7, 14], [64, 0.25, 8]] as const) {
      let sum = 0;
      let count = 0;
      let worst = 0;
      for (const file of files) {
        const mine = resizeRgb(await decodeTile(file, 150, 150), 150, 150, size, size);
        const cli = await decodeTile(file, size, size);
        for (let i = 0; i < mine.length; i++) {
          const d = Math.abs(mine[i]! - cli[i]!);
          sum += d;
          worst = Math.max(worst, d);
        }
        count += mine.length;
      }
      assert.ok(sum / count < meanBound, `150 -> ${size}: mean difference ${(sum / count).toFixed(3)} levels`);
      assert.ok(worst <= maxBound, `150 -> ${size}: largest difference ${worst} levels`);
    }
  });

  it('keeps a flat colour, returns the same pixels at the same size, and refuses a wrong length', () => {
    const flat = new Uint8Array(10 * 6 * 3).map((_, i) => [200, 30, 90][i % 3]!);
    const small = resizeRgb(flat, 10, 6, 3, 4);
    assert.deepEqual([...small], Array.from({ length: 3 * 4 }, () => [200, 30, 90]).flat());
    assert.equal(resizeRgb(flat, 10, 6, 10, 6), flat);
    assert.throws(() => resizeRgb(flat, 10, 7, 3, 3), /expected 210 bytes but received 180/);
  });

  it('halves a two-column pattern to its mean', () => {
    // Columns alternate 0 and 255. Away from the edges each output pixel's kernel is symmetric about
    // the boundary between an even and an odd column, so both get the same total weight: 127.5.
    const w = 32;
    const rgb = new Uint8Array(w * 2 * 3).map((_, i) => (Math.floor(i / 3) % 2 === 0 ? 0 : 255));
    const half = resizeRgb(rgb, w, 2, w / 2, 2);
    for (let y = 0; y < 2; y++) {
      for (let x = 3; x < w / 2 - 3; x++) for (let c = 0; c < 3; c++) assert.ok([127, 128].includes(half[(y * (w / 2) + x) * 3 + c]!), `pixel (${x}, ${y}): ${half[(y * (w / 2) + x) * 3 + c]}`);
    }
  });
});
