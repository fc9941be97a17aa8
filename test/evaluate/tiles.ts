/** correctA / correctB for a test split with the given counts of each (A, B) outcome. */
export function tiles(counts: { both: number; onlyA: number; onlyB: number; neither: number }): [boolean[], boolean[]] {
  const a: boolean[] = [];
  const b: boolean[] = [];
  const add = (n: number, x: boolean, y: boolean): void => {
    for (let i = 0; i < n; i++) {
      a.push(x);
      b.push(y);
    }
  };
  add(counts.both, true, true);
  add(counts.onlyA, true, false);
  add(counts.onlyB, false, true);
  add(counts.neither, false, false);
  return [a, b];
}
