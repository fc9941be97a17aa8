import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IDENTITY_NORMALIZATION } from '../../src/data/augment.ts';
import { planEpoch, planEvaluation, streamSeed } from '../../src/data/plan.ts';

const plan = { samples: 10, batchSize: 4, seed: 7, fold: 1, epoch: 3, augmentation: { flips: true, colorJitter: 0.1 }, square: true, normalization: IDENTITY_NORMALIZATION };
const tiles = [10, 11, 12, 13, 14, 15, 16, 17, 18, 19];

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
