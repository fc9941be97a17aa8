import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UserError } from '../../src/errors.ts';
import { createRng } from '../../src/util/random.ts';

/**
 * splitmix32 written again with BigInt arithmetic modulo 2^32, straight from the published
 * recipe, so that a slip in the Math.imul / sign handling of the real one shows up as a mismatch.
 */
function referenceSplitmix32(seed: number, count: number): number[] {
  const mask = (1n << 32n) - 1n;
  let state = BigInt(seed);
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    state = (state + 0x9e3779b9n) & mask;
    let z = state ^ (state >> 16n);
    z = (z * 0x21f0aaadn) & mask;
    z ^= z >> 15n;
    z = (z * 0x735a2d97n) & mask;
    z ^= z >> 15n;
    out.push(Number(z) / 2 ** 32);
  }
  return out;
}

function meanAndVariance(xs: number[]): { mean: number; variance: number } {
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  const variance = xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length;
  return { mean, variance };
}

test('next() matches an independent BigInt implementation of splitmix32', () => {
  for (const seed of [0, 1, 42, 4294967295]) {
    const rng = createRng(seed);
    const got = Array.from({ length: 20 }, () => rng.next());
    assert.deepEqual(got, referenceSplitmix32(seed, 20), `seed ${seed}`);
  }
});

test('the same seed gives the same sequence, different seeds different ones', () => {
  const a = createRng(7);
  const b = createRng(7);
  const c = createRng(8);
  const seqA = Array.from({ length: 100 }, () => a.next());
  const seqB = Array.from({ length: 100 }, () => b.next());
  const seqC = Array.from({ length: 100 }, () => c.next());
  assert.deepEqual(seqA, seqB);
  assert.notDeepEqual(seqA, seqC);
});

test('next() stays in [0, 1) with mean about 1/2 and variance about 1/12', () => {
  const rng = createRng(123);
  const xs = Array.from({ length: 100_000 }, () => rng.next());
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  const { mean, variance } = meanAndVariance(xs);
  // Standard error of the mean: sqrt(1/12 / 1e5) = 0.0009, so 0.005 is over 5 standard errors.
  assert.ok(Math.abs(mean - 0.5) < 0.005, `mean ${mean}`);
  assert.ok(Math.abs(variance - 1 / 12) < 0.002, `variance ${variance}`);
});

test('int(n) covers 0..n-1 evenly and rejects a bad n', () => {
  const rng = createRng(99);
  const counts = new Array<number>(6).fill(0);
  for (let i = 0; i < 60_000; i++) {
    const k = rng.int(6);
    assert.ok(Number.isInteger(k) && k >= 0 && k < 6);
    counts[k]! += 1;
  }
  // Each count is Binomial(60000, 1/6): mean 10000, sd sqrt(60000 * 1/6 * 5/6) = 91; allow 500.
  for (const c of counts) assert.ok(Math.abs(c - 10_000) < 500, `counts ${counts.join(',')}`);
  assert.equal(rng.int(1), 0);
  assert.ok(rng.int(2 ** 32) < 2 ** 32);
  for (const bad of [0, -1, 1.5, 2 ** 32 + 1, Number.NaN]) {
    assert.throws(() => rng.int(bad), RangeError, `int(${bad})`);
  }
});

test('normal() has mean about 0, variance about 1 and a symmetric 95% range', () => {
  const rng = createRng(2024);
  const zs = Array.from({ length: 100_000 }, () => rng.normal());
  assert.ok(zs.every(Number.isFinite));
  const { mean, variance } = meanAndVariance(zs);
  // Standard errors: mean 1/sqrt(1e5) = 0.003, variance sqrt(2/1e5) = 0.0045.
  assert.ok(Math.abs(mean) < 0.02, `mean ${mean}`);
  assert.ok(Math.abs(variance - 1) < 0.03, `variance ${variance}`);
  // P(|Z| > 1.96) = 0.05 for a standard normal.
  const outside = zs.filter((z) => Math.abs(z) > 1.96).length / zs.length;
  assert.ok(Math.abs(outside - 0.05) < 0.005, `fraction outside ±1.96: ${outside}`);
});

test('a seed outside 0..2^32-1 is a one-line UserError', () => {
  for (const bad of [-1, 1.5, 2 ** 32, Number.NaN]) {
    assert.throws(() => createRng(bad), (err: unknown) => {
      assert.ok(err instanceof UserError);
      assert.match(err.message, /^expected integer from 0 to 4294967295 for seed but received /);
      assert.ok(!err.message.includes('\n'));
      return true;
    });
  }
});
