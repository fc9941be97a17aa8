import { expected } from '../errors.ts';

/**
 * A seeded source of pseudo-random numbers: the same seed always gives the same sequence,
 * so bootstrap intervals, weight initialisation and shuffles can be reproduced from a run's seed.
 * Not for cryptography.
 */
export interface Rng {
  /** Uniform in [0, 1), with 32 random bits of resolution. */
  next(): number;
  /** Uniform integer in [0, n) for an integer 1 <= n <= 2^32, without modulo bias. */
  int(n: number): number;
  /** Standard normal (mean 0, variance 1), by the Box–Muller transform. */
  normal(): number;
}

const TWO_POW_32 = 4294967296;

/**
 * Create a generator from a seed, an integer from 0 to 2^32 − 1 (every seed gives its own stream).
 *
 * The generator is splitmix32: a Weyl sequence (add the golden-ratio constant 0x9e3779b9 each step)
 * passed through an invertible integer hash (constants from Chris Wellons' hash-prospector).
 * Because the hash is a bijection of a full-period counter, the period is 2^32 and each 32-bit
 * value appears exactly once per period; that is plenty for bootstraps and weight initialisation,
 * and the whole state is one 32-bit integer, so it is easy to reason about.
 */
export function createRng(seed: number): Rng {
  if (!Number.isInteger(seed) || seed < 0 || seed >= TWO_POW_32) {
    throw expected('integer from 0 to 4294967295', 'seed', seed);
  }
  let state = seed | 0;
  // Box–Muller makes normals in pairs; the second one waits here for the next call.
  let spareNormal: number | null = null;

  function nextUint32(): number {
    state = (state + 0x9e3779b9) | 0;
    let z = state ^ (state >>> 16);
    z = Math.imul(z, 0x21f0aaad);
    z ^= z >>> 15;
    z = Math.imul(z, 0x735a2d97);
    z ^= z >>> 15;
    return z >>> 0;
  }

  function next(): number {
    return nextUint32() / TWO_POW_32;
  }

  function int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > TWO_POW_32) {
      throw new RangeError(`Rng.int: expected an integer from 1 to 2^32 but received ${n}`);
    }
    // Rejection sampling: drop the top partial block of 2^32 % n values so each residue is equally likely.
    const limit = TWO_POW_32 - (TWO_POW_32 % n);
    let u = nextUint32();
    while (u >= limit) u = nextUint32();
    return u % n;
  }

  function normal(): number {
    if (spareNormal !== null) {
      const z = spareNormal;
      spareNormal = null;
      return z;
    }
    const u1 = 1 - next(); // in (0, 1], so the logarithm stays finite
    const u2 = next();
    const radius = Math.sqrt(-2 * Math.log(u1));
    const angle = 2 * Math.PI * u2;
    spareNormal = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  }

  return { next, int, normal };
}
