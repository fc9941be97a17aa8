import { UserError } from '../errors.ts';
import type { ProbabilityRows } from './metrics.ts';

/**
 * Group-level predictions. A clinician asks about the slide or the patient, not the tile, and the
 * original study labels slides. Where every test tile of a group has one class, that class is the
 * group's, and the group's prediction is the mean of its tiles' probabilities (so a group is
 * scored exactly as a tile is). A group whose tiles have several classes (a patient with benign
 * and malignant patches) has no one true class and is left out; the results say how many and why.
 */

/** A test group left out of the group-level results: its tiles have more than one class. */
export interface MixedGroup {
  group: string;
  tiles: number;
  /** Test tiles per class, for the classes it has. */
  classes: Record<string, number>;
}

/** The test tiles gathered by group. */
export interface TestGroups {
  /** Groups in the test split. */
  testGroups: number;
  /** The groups whose tiles share one class, in the order their first tile appears in the test split. */
  groups: string[];
  /** Each of those groups' class. */
  labels: number[];
  /** Each of those groups' tiles, as indices into the test split. */
  members: number[][];
  /** The others, in the same order. */
  mixed: MixedGroup[];
}

/**
 * Gather the test tiles (`files`, with their class `labels`) by group. Every tile must have a
 * group in `groupOf` (the splits record one for each).
 */
export function testGroups(files: readonly string[], labels: ArrayLike<number>, groupOf: ReadonlyMap<string, string>, classes: readonly string[]): TestGroups {
  const members = new Map<string, number[]>();
  files.forEach((file, i) => {
    const group = groupOf.get(file);
    if (group === undefined) throw new UserError(`test tile ${file} has no group; split the data set again`);
    const list = members.get(group);
    if (list) list.push(i);
    else members.set(group, [i]);
  });
  const result: TestGroups = { testGroups: members.size, groups: [], labels: [], members: [], mixed: [] };
  for (const [group, tiles] of members) {
    const present = [...new Set(tiles.map((i) => labels[i]!))].sort((a, b) => a - b);
    if (present.length === 1) {
      result.groups.push(group);
      result.labels.push(present[0]!);
      result.members.push(tiles);
    } else {
      const counts = Object.fromEntries(present.map((c) => [classes[c]!, tiles.filter((i) => labels[i] === c).length]));
      result.mixed.push({ group, tiles: tiles.length, classes: counts });
    }
  }
  return result;
}

/** Each group's probabilities: the mean of its tiles' rows. */
export function groupProbabilities(rows: ProbabilityRows, members: readonly (readonly number[])[]): number[][] {
  return members.map((tiles) => {
    const width = rows[tiles[0]!]!.length;
    const sum = new Array<number>(width).fill(0);
    for (const i of tiles) for (let c = 0; c < width; c++) sum[c]! += rows[i]![c]!;
    return sum.map((s) => s / tiles.length);
  });
}
