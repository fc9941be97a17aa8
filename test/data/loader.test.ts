import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { UserError } from '../../src/errors.ts';
import { decodeTile } from '../../src/data/decode.ts';
import { IDENTITY_NORMALIZATION, jitterStain, writeSample } from '../../src/data/augment.ts';
import { TileLoader } from '../../src/data/loader.ts';
import { planEpoch, planEvaluation } from '../../src/data/plan.ts';
import { put, synthetic, tempDir } from './fixtures.ts';

const plan = { samples: 10, batchSize: 4, seed: 7, fold: 1, epoch: 3, augmentation: { flips: true, colorJitter: 0.1 }, square: true, normalization: IDENTITY_NORMALIZATION };


/** `count` 24x24 PNG tiles of distinct colour patterns in `dir`. */
async function makeTiles(dir: string, count: number): Promise<string[]> {
  const files: string[] = [];
  for (let i = 0; i < count; i++) {
    const file = `t${i}.png`;
    put(join(dir, file), await synthetic(24, 24, (x, y) => [(x * 10 + i * 30) % 256, (y * 10) % 256, (i * 50 + x * y) % 256]).png().toBuffer());
    files.push(file);
  }
  return files;
}

describe('TileLoader', () => {
  it('builds the batches the tiles and the plan describe, cached or not, on any number of workers', async (t) => {
    const dir = tempDir(t);
    const files = await makeTiles(dir, 6);
    const norm = { mean: [0.2, 0.3, 0.4], std: [0.5, 0.6, 0.7] } as const;
    const requests = planEpoch({ ...plan, tiles: [0, 1, 2, 3, 4, 5], samples: 6, batchSize: 4, normalization: norm, augmentation: { flips: true, colorJitter: 0 } });
    // The reference: decode each tile (resized 24 -> 16) and write it by hand.
    const expected = await Promise.all(requests.map(async (r) => {
      const out = new Float32Array(r.indices.length * 3 * 16 * 16);
      for (let i = 0; i < r.indices.length; i++) {
        writeSample(await decodeTile(join(dir, files[r.indices[i]!]!), 16, 16), 16, 16, r.symmetries[i]!, null, norm, out, i * 768);
      }
      return out;
    }));
    for (const options of [{ workers: 1 }, { workers: 2 }, { workers: 1, cacheBytes: 3 * 768 }, { workers: 2, cacheBytes: 0 }]) {
      const loader = new TileLoader({ dir, files, width: 16, height: 16 }, options);
      try {
        for (let pass = 0; pass < 2; pass++) {
          const got: Float32Array[] = [];
          for await (const images of loader.stream(requests, 2)) got.push(images);
          assert.deepEqual(got, expected, JSON.stringify(options));
        }
      } finally {
        await loader.close();
      }
    }
  });

  it('applies each sample\'s stain jitter before its colour jitter and symmetry', async (t) => {
    const dir = tempDir(t);
    const files = await makeTiles(dir, 4);
    const requests = planEpoch({ ...plan, tiles: [0, 1, 2, 3], samples: 4, augmentation: { flips: true, colorJitter: 0.1, stainJitter: 0.2 } });
    const r = requests[0]!;
    assert.ok(r.stain && r.stain.length === 4 * 6);
    const expected = new Float32Array(4 * 768);
    const plain = new Float32Array(4 * 768);
    for (let i = 0; i < 4; i++) {
      const rgb = await decodeTile(join(dir, files[r.indices[i]!]!), 16, 16);
      const jitter = [...r.jitter!.subarray(i * 3, i * 3 + 3)] as [number, number, number];
      writeSample(jitterStain(rgb, r.stain.subarray(i * 6, i * 6 + 6)), 16, 16, r.symmetries[i]!, jitter, IDENTITY_NORMALIZATION, expected, i * 768);
      writeSample(rgb, 16, 16, r.symmetries[i]!, jitter, IDENTITY_NORMALIZATION, plain, i * 768);
    }
    const loader = new TileLoader({ dir, files, width: 16, height: 16 }, { workers: 1 });
    try {
      const got = await loader.batch(r);
      assert.deepEqual(got, expected);
      assert.notDeepEqual(got, plain);
    } finally {
      await loader.close();
    }
  });

  it('computes the per-channel mean and std of tiles at input size', async (t) => {
    const dir = tempDir(t);
    const files = await makeTiles(dir, 3);
    const loader = new TileLoader({ dir, files, width: 16, height: 16 }, { workers: 2 });
    try {
      const norm = await loader.normalization([0, 2]);
      const pixels = [...(await decodeTile(join(dir, files[0]!), 16, 16)), ...(await decodeTile(join(dir, files[2]!), 16, 16))];
      for (let c = 0; c < 3; c++) {
        const values = pixels.filter((_, i) => i % 3 === c).map((v) => v / 255);
        const mean = values.reduce((a, b) => a + b, 0) / values.length;
        const std = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length);
        assert.ok(Math.abs(norm.mean[c]! - mean) < 1e-9 && Math.abs(norm.std[c]! - std) < 1e-9, `channel ${c}`);
      }
    } finally {
      await loader.close();
    }
  });

  it('reports an unreadable tile by its path', async (t) => {
    const dir = tempDir(t);
    const files = await makeTiles(dir, 1);
    writeFileSync(join(dir, 'broken.png'), 'not a png');
    const loader = new TileLoader({ dir, files: [...files, 'broken.png'], width: 16, height: 16 }, { workers: 1 });
    try {
      await assert.rejects(loader.batch(planEvaluation([0, 1], 2, IDENTITY_NORMALIZATION)[0]!), (err: Error) => err instanceof UserError && err.message.startsWith(`${join(dir, 'broken.png')}: cannot decode tile`));
    } finally {
      await loader.close();
    }
  });
});
