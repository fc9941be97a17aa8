/**
 * The loss's class weights. `balanced` is scikit-learn's compute_class_weight('balanced'):
 * w_c = n / (K · n_c), from the class counts of every non-test tile (the folds' training and
 * validation tiles together). They are computed once per run, not per fold: the weights are
 * constants of the one training graph that every fold of a run shares.
 */
import { UserError } from '../errors.ts';
import type { PreparedDataset } from '../data/prepared.ts';

/** How a run's class weights were set: given as numbers, or balanced from the class counts. */
export type ClassWeighting = 'given' | 'balanced';

/** The weights `given` (numbers, `balanced` or none) stand for on this data set. */
export function resolveClassWeights(given: readonly number[] | 'balanced' | null | undefined, dataset: PreparedDataset): { classWeights: number[] | null; classWeighting: ClassWeighting | null } {
  if (given === undefined || given === null) return { classWeights: null, classWeighting: null };
  if (given !== 'balanced') return { classWeights: [...given], classWeighting: 'given' };
  const counts = nonTestCounts(dataset);
  const n = counts.reduce((s, c) => s + c, 0);
  const missing = counts.findIndex((c) => c === 0);
  if (missing >= 0) throw new UserError(`--class-weights balanced: class ${dataset.classes[missing]} has no tile outside the test split, so it has no weight; split the data set again`);
  return { classWeights: counts.map((c) => n / (counts.length * c)), classWeighting: 'balanced' };
}

/** Tiles per class outside the test split, each tile once. */
export function nonTestCounts(dataset: PreparedDataset): number[] {
  const test = new Set(dataset.splits.test);
  const seen = new Set<string>();
  const counts = new Array<number>(dataset.classes.length).fill(0);
  for (const fold of dataset.splits.folds) {
    for (const file of [...fold.train, ...fold.val]) {
      if (test.has(file) || seen.has(file)) continue;
      seen.add(file);
      counts[dataset.labels.get(file)!]! += 1;
    }
  }
  return counts;
}
