// Scoring a run's test predictions with no file I/O (evaluate writes the files; the browser app
// zips them): hand-computed accuracies of two folds and their ensemble, per tile and per patient.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { near } from '../helpers/assert.ts';
import type { ScoreInput } from '../../src/evaluate/scores.ts';
import { evaluationFiles, scoreRun } from '../../src/evaluate/scores.ts';
import type { Splits } from '../../src/data/grouped-split.ts';

// Six test tiles of three patients; p is each fold model's probability of class 1.
//   tile   patient  label  fold 1  fold 2  ensemble
//   a1     a        0      0.2     0.6     0.4   -> 0 right
//   a2     a        0      0.3     0.7     0.5   -> 0 right (a tie goes to the first class)
//   b1     b        1      0.9     0.4     0.65  -> 1 right
//   b2     b        1      0.4     0.2     0.3   -> 0 wrong
//   c1     c        1      0.8     0.8     0.8   -> 1 right
//   c2     c        0      0.1     0.9     0.5   -> 0 right
// Patient c has tiles of both classes, so it is left out of the group-level scores.
const test6 = ['a1', 'a2', 'b1', 'b2', 'c1', 'c2'];
const labels = Int32Array.from([0, 0, 1, 1, 1, 0]);
const fold1 = [0.2, 0.3, 0.9, 0.4, 0.8, 0.1];
const fold2 = [0.6, 0.7, 0.4, 0.2, 0.8, 0.9];
const flat = (p: readonly number[]): Float32Array => Float32Array.from(p.flatMap((x) => [1 - x, x]));
const splits = { test: test6, folds: [{ train: ['t1', 't2'], val: ['v1'] }, { train: ['t1', 'v1'], val: ['t2'] }], groupBy: { kind: 'source' } } as unknown as Splits;

function input(): ScoreInput {
  return {
    run: 'runs/resnet20', arch: 'resnet20', test: test6, labels, classes: ['benign', 'malignant'], checkpoint: 'last',
    folds: [1, 2], checkpoints: [[2, 'checkpoints/epoch-2.safetensors'], [2, 'checkpoints/epoch-2.safetensors']],
    groups: { groupOf: new Map(test6.map((f) => [f, f[0]!])), source: 'splits.json' },
    groupBy: { kind: 'regex', pattern: '^.', on: 'name' },
    dataset: { classes: ['benign', 'malignant'], labels: new Map([...test6.map((f, i) => [f, labels[i]!] as const), ['t1', 0], ['t2', 1], ['v1', 1]]), splits },
    warnings: [], se: false,
  };
}

test('scoreRun: per-fold, mean and ensemble accuracy, and patient-level scores, against hand-computed values', () => {
  const scores = scoreRun(input(), { probabilities: [flat(fold1), flat(fold2)], analyses: [] });
  const m = scores.metrics;
  // fold 1 predicts 0 0 1 0 1 0: right a1 a2 b1 c1 c2 -> 5/6; fold 2 predicts 1 1 0 0 1 1: right c1 -> 1/6.
  assert.deepEqual(m.folds.map((f) => f.metrics.accuracy), [5 / 6, 1 / 6]);
  near(m.summary.accuracy!.mean, 0.5, 1e-12);
  // Ensemble 0.4 0.5 0.65 0.3 0.8 0.5 predicts 0 0 1 0 1 0: 5/6.
  assert.equal(m.ensemble.accuracy, 5 / 6);
  assert.deepEqual(scores.evaluation.folds.map((f) => f.correct), [5, 1]);
  // Patients a (benign) and b (malignant) qualify; c has both classes. Fold 1: a 0.25 -> 0 right, b 0.65 -> 1 right.
  assert.equal(m.groups!.qualifying, 2);
  assert.deepEqual(m.groups!.mixed.map((g) => g.group), ['c']);
  assert.deepEqual(m.groups!.folds.map((f) => f.metrics.accuracy), [1, 0]);
  assert.deepEqual(m.data.splits.map((s) => [s.name, s.counts]), [['test', [3, 3]], ['fold 1 train', [1, 1]], ['fold 1 validation', [0, 1]], ['fold 2 train', [1, 1]], ['fold 2 validation', [0, 1]]]);
});

test('evaluationFiles: the run folder\'s files, relative with /, and the stale ones', () => {
  const scores = scoreRun(input(), { probabilities: [flat(fold1), flat(fold2)], analyses: [] });
  const { files, stale } = evaluationFiles(input(), scores);
  assert.deepEqual(files.map((f) => f.path), [
    'fold-1/test-predictions.csv', 'fold-2/test-predictions.csv', 'test-predictions.csv',
    'fold-1/test-group-predictions.csv', 'fold-2/test-group-predictions.csv', 'test-group-predictions.csv',
    'metrics.json', 'evaluation.json',
  ]);
  assert.deepEqual(stale, ['excitation.json']);
  assert.equal(files[2]!.text.split('\n')[4], 'b2,malignant,benign,0.7,0.3');
  const noGroups = { ...input(), groups: { unavailable: 'no groups here' } };
  assert.deepEqual(evaluationFiles(noGroups, scoreRun(noGroups, { probabilities: [flat(fold1), flat(fold2)], analyses: [] })).stale.slice(0, 1), ['test-group-predictions.csv']);
});
