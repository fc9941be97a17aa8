import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { UserError } from '../../src/errors.ts';
import { decodeTile } from '../../src/data/decode.ts';
import { splitDataset, tileDataset } from '../../src/data/index.ts';
import { IDENTITY_NORMALIZATION, writeSample } from '../../src/data/augment.ts';
import { TileLoader, planEpoch, planEvaluation, readPreparedDataset, splitFiles, streamSeed } from '../../src/data/loader.ts';
import { put, synthetic, tempDir } from './fixtures.ts';

const plan = { samples: 10, batchSize: 4, seed: 7, fold: 1, epoch: 3, augmentation: { flips: true, colorJitter: 0.1 }, square: true, normalization: IDENTITY_NORMALIZATION };
const tiles = [10, 11, 12, 13, 14, 15, 16, 17, 18, 19];

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

describe('epoch plans', () => {
  it('derive every draw from (seed, fold, epoch) alone', () => {
    assert.equal(streamSeed(7, 1, 3), streamSeed(7, 1, 3));
    const seeds = new Set([streamSeed(7, 1, 3), streamSeed(8, 1, 3), streamSeed(7, 2, 3), streamSeed(7, 1, 4), streamSeed(3, 1, 7)]);
    assert.equal(seeds.size, 5);
    assert.deepEqual(planEpoch({ ...plan, tiles }), planEpoch({ ...plan, tiles }));
    assert.notDeepEqual(planEpoch({ ...plan, tiles }).map((b) => [...b.indices]), planEpoch({ ...plan, tiles, epoch: 4 }).map((b) => [...b.indices]));
  });

  it('one pass visits every tile once, in batches with the last one shorter', () => {
    const batches = planEpoch({ ...plan, tiles });
    assert.deepEqual(batches.map((b) => b.indices.length), [4, 4, 2]);
    assert.deepEqual(batches.flatMap((b) => [...b.indices]).sort((a, b) => a - b), tiles);
    for (const b of batches) {
      assert.ok([...b.symmetries].every((s) => s < 8));
      assert.equal(b.jitter!.length, 3 * b.indices.length);
    }
  });

  it('more samples than tiles: successive permutations', () => {
    const order = planEpoch({ ...plan, tiles, samples: 25, batchSize: 5 }).flatMap((b) => [...b.indices]);
    assert.equal(order.length, 25);
    assert.deepEqual(order.slice(0, 10).sort((a, b) => a - b), tiles);
    assert.deepEqual(order.slice(10, 20).sort((a, b) => a - b), tiles);
  });

  it('evaluation batches keep the order and have no augmentation', () => {
    const batches = planEvaluation([5, 3, 9], 2, IDENTITY_NORMALIZATION);
    assert.deepEqual(batches.map((b) => [...b.indices]), [[5, 3], [9]]);
    assert.ok(batches.every((b) => b.jitter === null && b.symmetries.every((s) => s === 0)));
  });
});

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

describe('prepared data sets', () => {
  it('labels every split tile by its class index in dataset.json', async (t) => {
    const root = tempDir(t);
    for (const [c, colour] of [['a', [200, 40, 40]], ['b', [40, 200, 40]]] as const) {
      for (let i = 0; i < 4; i++) put(join(root, 'in', c, `s${i}.png`), await synthetic(16, 16, [colour[0], colour[1] + i, colour[2]]).png().toBuffer());
    }
    const data = join(root, 'tiles');
    await tileDataset({ input: join(root, 'in'), output: data, tile: 16 });
    splitDataset({ dir: data, folds: 2, testFraction: 0.25 });
    const dataset = readPreparedDataset(data);
    assert.deepEqual(dataset.classes, ['a', 'b']);
    assert.equal(dataset.tileSize, 16);
    const files = splitFiles(dataset);
    assert.equal(files.length, 8);
    for (const f of files) assert.equal(dataset.labels.get(f), f.startsWith('a') ? 0 : 1);
    assert.throws(() => readPreparedDataset(root), /dataset\.json: not found; prepare the data set first: senet-ort tile <images> .* --split$/);
  });
});
