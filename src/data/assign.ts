import type { Rng } from '../util/random.ts';

/**
 * Stratified group assignment: put whole groups (slides, patients) into bins with target shares so
 * that every class gets close to its share in every bin. A group never straddles two bins.
 *
 * Cost of an assignment, summed over classes k and bins b:
 *   (n[b][k] / total[k] − target[b])²  +  PRESENCE when a class is missing from a bin with a target.
 * Missing classes cost more than any imbalance, so the search first puts every class on every side
 * it can reach, then balances. Search: greedy placement (largest groups first, ties in seeded random
 * order) followed by single-group moves and, for few groups, pairwise swaps while they lower the
 * cost; repeated from several seeded shuffles, keeping the cheapest.
 */

const PRESENCE = 4;

interface State {
  /** n[b][k]: tiles of class k in bin b. */
  n: number[][];
  bin: number[];
}

export function assignGroups(counts: readonly (readonly number[])[], targets: readonly number[], rng: Rng): number[] {
  const groups = counts.length;
  if (groups === 0) return [];
  const classes = counts[0]!.length;
  const bins = targets.length;
  const total = Array.from({ length: classes }, (_, k) => counts.reduce((s, g) => s + g[k]!, 0));
  const classesOf = counts.map((g) => g.flatMap((c, k) => (c > 0 ? [k] : [])));
  const size = counts.map((g) => g.reduce((a, b) => a + b, 0));

  const classCost = (s: State, k: number): number => {
    let cost = 0;
    for (let b = 0; b < bins; b++) {
      const share = s.n[b]![k]! / total[k]!;
      cost += (share - targets[b]!) ** 2;
      if (s.n[b]![k] === 0 && targets[b]! > 0) cost += PRESENCE;
    }
    return cost;
  };
  const place = (s: State, g: number, b: number, sign: 1 | -1): void => {
    for (const k of classesOf[g]!) s.n[b]![k]! += sign * counts[g]![k]!;
  };
  /** Cost change of moving group g to bin `to` (and group h to g's bin, for a swap). */
  const delta = (s: State, g: number, to: number, h?: number): number => {
    const from = s.bin[g]!;
    const touched = new Set(h === undefined ? classesOf[g] : [...classesOf[g]!, ...classesOf[h]!]);
    let before = 0;
    for (const k of touched) before += classCost(s, k);
    place(s, g, from, -1); place(s, g, to, 1);
    if (h !== undefined) { place(s, h, to, -1); place(s, h, from, 1); }
    let after = 0;
    for (const k of touched) after += classCost(s, k);
    if (h !== undefined) { place(s, h, from, -1); place(s, h, to, 1); }
    place(s, g, to, -1); place(s, g, from, 1);
    return after - before;
  };
  const totalCost = (s: State): number => {
    let c = 0;
    for (let k = 0; k < classes; k++) if (total[k]! > 0) c += classCost(s, k);
    return c;
  };

  const shuffled = (): number[] => {
    const order = Array.from({ length: groups }, (_, g) => g);
    for (let i = order.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    return order;
  };

  const solve = (): State => {
    const s: State = { n: Array.from({ length: bins }, () => new Array<number>(classes).fill(0)), bin: new Array<number>(groups).fill(-1) };
    const order = shuffled().sort((a, b) => size[b]! - size[a]!);
    for (const g of order) {
      let best = 0;
      let bestCost = Infinity;
      for (let b = 0; b < bins; b++) {
        let before = 0;
        for (const k of classesOf[g]!) before += classCost(s, k);
        place(s, g, b, 1);
        let after = 0;
        for (const k of classesOf[g]!) after += classCost(s, k);
        place(s, g, b, -1);
        if (after - before < bestCost - 1e-12) [best, bestCost] = [b, after - before];
      }
      s.bin[g] = best;
      place(s, g, best, 1);
    }
    for (let pass = 0, improved = true; improved && pass < 100; pass++) {
      improved = false;
      for (const g of shuffled()) {
        for (let b = 0; b < bins; b++) {
          if (b === s.bin[g] || delta(s, g, b) >= -1e-12) continue;
          place(s, g, s.bin[g]!, -1); place(s, g, b, 1);
          s.bin[g] = b;
          improved = true;
        }
      }
      if (!improved && groups <= 300) {
        for (let g = 0; g < groups; g++) {
          for (let h = g + 1; h < groups; h++) {
            const [bg, bh] = [s.bin[g]!, s.bin[h]!];
            if (bg === bh || delta(s, g, bh, h) >= -1e-12) continue;
            place(s, g, bg, -1); place(s, g, bh, 1); place(s, h, bh, -1); place(s, h, bg, 1);
            [s.bin[g], s.bin[h]] = [bh, bg];
            improved = true;
          }
        }
      }
    }
    return s;
  };

  const restarts = groups <= 30 ? 100 : groups <= 300 ? 20 : 4;
  let best: State | undefined;
  let bestCost = Infinity;
  for (let r = 0; r < restarts; r++) {
    const s = solve();
    const cost = totalCost(s);
    if (cost < bestCost - 1e-12) [best, bestCost] = [s, cost];
  }
  return best!.bin;
}
