/** Small numerical routines: the largest entry of a row, percentiles and a 3x3 symmetric eigensolver. */

/** Index (from `from`) of the largest of `count` values starting at `from`; the strict comparison keeps the lowest index on ties. */
export function argmax(values: ArrayLike<number>, from: number = 0, count: number = values.length - from): number {
  let best = 0;
  for (let c = 1; c < count; c++) if (values[from + c]! > values[from + best]!) best = c;
  return best;
}

/**
 * The p-th percentile (0-100) of `values`, interpolating linearly between the two nearest ranks:
 * NumPy's default (`method='linear'`), so results can be checked against it. Sorts `values` in place.
 */
export function percentileInPlace(values: Float64Array | Float32Array, p: number): number {
  if (values.length === 0) throw new RangeError('percentile of no values');
  values.sort();
  return sortedPercentile(values, p);
}

/** `percentileInPlace` on values already sorted ascending. */
export function sortedPercentile(sorted: ArrayLike<number>, p: number): number {
  const rank = ((sorted.length - 1) * p) / 100;
  const lo = Math.floor(rank);
  const hi = Math.min(sorted.length - 1, lo + 1);
  const a = sorted[lo]!;
  return a + (sorted[hi]! - a) * (rank - lo);
}

/**
 * Eigenvalues (ascending) and unit eigenvectors of a symmetric 3x3 matrix, by cyclic Jacobi
 * rotations (exact to rounding for such a small matrix, and branch-free of special cases).
 * `vectors[k]` belongs to `values[k]`.
 */
export function symmetricEigen3(m: readonly (readonly number[])[]): { values: [number, number, number]; vectors: [number, number, number][] } {
  const a = m.map((row) => [...row]);
  const v = [[1, 0, 0], [0, 1, 0], [0, 0, 1]];
  for (let sweep = 0; sweep < 64; sweep++) {
    const off = Math.abs(a[0]![1]!) + Math.abs(a[0]![2]!) + Math.abs(a[1]![2]!);
    if (off === 0 || off < 1e-300) break;
    for (const [p, q] of [[0, 1], [0, 2], [1, 2]] as const) {
      const apq = a[p]![q]!;
      if (apq === 0) continue;
      const theta = (a[q]![q]! - a[p]![p]!) / (2 * apq);
      const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
      const c = 1 / Math.sqrt(t * t + 1);
      const s = t * c;
      for (let k = 0; k < 3; k++) {
        const akp = a[k]![p]!;
        const akq = a[k]![q]!;
        a[k]![p] = c * akp - s * akq;
        a[k]![q] = s * akp + c * akq;
      }
      for (let k = 0; k < 3; k++) {
        const apk = a[p]![k]!;
        const aqk = a[q]![k]!;
        a[p]![k] = c * apk - s * aqk;
        a[q]![k] = s * apk + c * aqk;
      }
      for (let k = 0; k < 3; k++) {
        const vkp = v[k]![p]!;
        const vkq = v[k]![q]!;
        v[k]![p] = c * vkp - s * vkq;
        v[k]![q] = s * vkp + c * vkq;
      }
    }
  }
  const order = [0, 1, 2].sort((i, j) => a[i]![i]! - a[j]![j]!);
  return {
    values: order.map((i) => a[i]![i]!) as [number, number, number],
    vectors: order.map((i) => [v[0]![i]!, v[1]![i]!, v[2]![i]!] as [number, number, number]),
  };
}
