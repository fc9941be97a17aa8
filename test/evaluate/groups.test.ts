import assert from 'node:assert/strict';
import { test } from 'node:test';
import { near, throwsOneLine } from '../helpers/assert.ts';
import { groupProbabilities, testGroups } from '../../src/evaluate/groups.ts';
import { classificationMetrics } from '../../src/evaluate/metrics.ts';

// Twelve test tiles of two classes in six patients; p is the probability of class 1 (malignant).
//   p1 benign     tiles 0.2, 0.4       -> mean 0.3 -> benign     right
//   p2 benign     tiles 0.7, 0.5, 0.6  -> mean 0.6 -> malignant  wrong
//   p3 malignant  tile  0.9            -> mean 0.9 -> malignant  right
//   p4 malignant  tiles 0.3, 0.5       -> mean 0.4 -> benign     wrong
//   p5 malignant  tiles 0.8, 0.6       -> mean 0.7 -> malignant  right
//   p6 one benign tile (0.1) and one malignant (0.9): no one class, left out
// The tiles are interleaved, as a test split lists them.
const TILES: [file: string, patient: string, label: number, p: number][] = [
  ['p1-a.png', 'p1', 0, 0.2], ['p2-a.png', 'p2', 0, 0.7], ['p3-a.png', 'p3', 1, 0.9], ['p6-a.png', 'p6', 0, 0.1],
  ['p4-a.png', 'p4', 1, 0.3], ['p1-b.png', 'p1', 0, 0.4], ['p5-a.png', 'p5', 1, 0.8], ['p2-b.png', 'p2', 0, 0.5],
  ['p6-b.png', 'p6', 1, 0.9], ['p4-b.png', 'p4', 1, 0.5], ['p2-c.png', 'p2', 0, 0.6], ['p5-b.png', 'p5', 1, 0.6],
];
const CLASSES = ['benign', 'malignant'];
const files = TILES.map((t) => t[0]);
const labels = TILES.map((t) => t[2]);
const rows = TILES.map((t) => [1 - t[3], t[3]]);
const groupOf = new Map(TILES.map((t) => [t[0], t[1]]));

test('testGroups: gathers test tiles by group and leaves out the groups with tiles of two classes', () => {
  const g = testGroups(files, labels, groupOf, CLASSES);
  assert.equal(g.testGroups, 6);
  assert.deepEqual(g.groups, ['p1', 'p2', 'p3', 'p4', 'p5']);
  assert.deepEqual(g.labels, [0, 0, 1, 1, 1]);
  assert.deepEqual(g.members, [[0, 5], [1, 7, 10], [2], [4, 9], [6, 11]]);
  assert.deepEqual(g.mixed, [{ group: 'p6', tiles: 2, classes: { benign: 1, malignant: 1 } }]);
  throwsOneLine(() => testGroups([...files, 'stray.png'], [...labels, 0], groupOf, CLASSES), /^test tile stray\.png has no group; split the data set again$/);
});

test('group-level scores: the mean of the tiles\' probabilities, scored per group, against hand-computed values', () => {
  const g = testGroups(files, labels, groupOf, CLASSES);
  const probs = groupProbabilities(rows, g.members);
  const p1 = probs.map((r) => r[1]!);
  [0.3, 0.6, 0.9, 0.4, 0.7].forEach((p, i) => near(p1[i]!, p, 1e-12));
  probs.forEach((r) => near(r[0]! + r[1]!, 1, 1e-12));
  const m = classificationMetrics(g.labels, probs, CLASSES);
  assert.equal(m.samples, 5);
  // Predicted benign, malignant, malignant, benign, malignant against benign, benign, malignant x3.
  assert.deepEqual(m.confusionMatrix, [[1, 1], [1, 2]]);
  near(m.accuracy, 3 / 5);
  near(m.balancedAccuracy, (1 / 2 + 2 / 3) / 2);
  // Malignant scores 0.9, 0.4, 0.7 against benign 0.3, 0.6: 5 of the 6 pairs are ordered right.
  near(m.perClass[1]!.auc, 5 / 6);
  near(m.macroAuc, 5 / 6);
  // Tile by tile, 8 of 12 are right: benign 0.2, 0.1, 0.4 and 0.5 (a tie goes to the lower class), malignant
  // 0.9, 0.8, 0.9, 0.6; wrong are benign 0.7, 0.6 and malignant 0.3, 0.5.
  near(classificationMetrics(labels, rows, CLASSES).accuracy, 8 / 12);
});
