import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assignGroups } from '../../src/data/assign.ts';
import { createRng } from '../../src/util/random.ts';

const share = (counts: number[][], bins: number[], bin: number, k: number): number =>
  counts.reduce((s, g, i) => s + (bins[i] === bin ? g[k]! : 0), 0) / counts.reduce((s, g) => s + g[k]!, 0);

describe('assignGroups', () => {
  it('meets each class\'s target share closely when there are many small groups', () => {
    const rng = createRng(1);
    const counts = Array.from({ length: 120 }, (_, g) => [g % 3 === 0 ? 0 : 1 + rng.int(5), g % 2 === 0 ? 0 : 1 + rng.int(5)]);
    const bins = assignGroups(counts, [0.2, 0.8], createRng(7));
    for (const k of [0, 1]) assert.ok(Math.abs(share(counts, bins, 0, k) - 0.2) < 0.02, `class ${k}: ${share(counts, bins, 0, k)}`);
  });

  it('puts a class on every side it can reach before balancing', () => {
    // Class 1 lives in two groups only; both sides must get one of them.
    const counts = [[10, 0], [10, 0], [10, 0], [10, 0], [5, 9], [5, 1]];
    const bins = assignGroups(counts, [0.2, 0.8], createRng(0));
    assert.notEqual(bins[4], bins[5]);
  });

  it('is deterministic for a seed', () => {
    const counts = Array.from({ length: 40 }, (_, g) => [g % 7, (g * 3) % 5, 1]);
    assert.deepEqual(assignGroups(counts, [0.25, 0.25, 0.25, 0.25], createRng(3)), assignGroups(counts, [0.25, 0.25, 0.25, 0.25], createRng(3)));
  });
});
