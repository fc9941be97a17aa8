// Synthetic but plausible report data: Kather 2016's eight texture classes, five folds, a ResNet-18
// against an SE-ResNet-18, with seeded noise, so every test sees the same numbers.
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import type { ClassificationMetrics } from '../../src/evaluate/metrics.ts';
import { classificationMetrics, ensembleProbabilities, meanStd } from '../../src/evaluate/metrics.ts';
import { groupProbabilities, testGroups } from '../../src/evaluate/groups.ts';
import { compareRuns } from '../../src/evaluate/verdict.ts';
import { createRng } from '../../src/util/random.ts';
import type { Rng } from '../../src/util/random.ts';
import { excitationByClass } from '../../src/evaluate/excitation.ts';
import type { ExcitationAnalysis } from '../../src/evaluate/excitation.ts';
import type { FoldCurve, GroupResults } from '../../src/evaluate/scores.ts';
import { SUMMARY_KEYS } from '../../src/evaluate/scores.ts';
import type { ReportData, RunReport } from '../../src/report/html.ts';
import type { LookKind, LookTile, Looks } from '../../src/evaluate/looks.ts';
import { lookPictures } from '../../src/report/look-pictures.ts';
import type { LooksReport } from '../../src/report/looks.ts';
import { LOOK_SIDE } from '../../src/report/looks.ts';

export const TEST_OUTPUT: string = join(fileURLToPath(new URL('../..', import.meta.url)), 'test-output', 'report-test');

export const KATHER_CLASSES: string[] = ['01_TUMOR', '02_STROMA', '03_COMPLEX', '04_LYMPHO', '05_DEBRIS', '06_MUCOSA', '07_ADIPOSE', '08_EMPTY'];
const TEST_COUNTS = [63, 62, 62, 63, 62, 63, 62, 63];
const FOLDS = 5;
const EPOCHS = 20;
/** Classes that look alike: stroma and complex stroma, debris and mucosa. */
const CONFUSED: Record<number, number> = { 1: 2, 2: 1, 4: 5, 5: 4 };

function testLabels(): number[] {
  return TEST_COUNTS.flatMap((n, c) => new Array<number>(n).fill(c));
}

/**
 * Softmax probabilities for each tile: the true class gets `skill` extra logit, a look-alike some too.
 * `tileNoise` is shared by every fold (hard tiles are hard for all models), so the ensemble gains a
 * little over the folds, as real ensembles do, rather than averaging independent noise away.
 */
function foldProbabilities(labels: readonly number[], skill: number, tileNoise: readonly number[][], rng: Rng): number[][] {
  return labels.map((y, i) => {
    const logits = KATHER_CLASSES.map((_, c) => tileNoise[i]![c]! + rng.normal() * 0.45 + (c === y ? skill : 0) + (CONFUSED[y] === c ? skill * 0.55 : 0));
    const m = Math.max(...logits);
    const e = logits.map((l) => Math.exp(l - m));
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / s);
  });
}

function curves(skill: number, rng: Rng): FoldCurve[] {
  return Array.from({ length: FOLDS }, (_, f) => {
    const points = Array.from({ length: EPOCHS }, (_, i) => {
      const epoch = i + 1;
      const trainLoss = 2.1 * Math.exp(-epoch / (4 + skill)) + 0.05 + rng.next() * 0.03;
      const valLoss = 2.0 * Math.exp(-epoch / (4 + skill)) + 0.22 + 0.006 * Math.max(0, epoch - 12) ** 1.5 + rng.next() * 0.05;
      return {
        epoch,
        trainLoss,
        valLoss,
        trainAccuracy: Math.min(1, 1 - trainLoss / 2.4 + rng.next() * 0.01),
        valAccuracy: Math.min(1, 0.97 - valLoss / 2.6 + rng.next() * 0.02),
      };
    });
    const best = points.reduce((b, p) => (p.valLoss < b.valLoss ? p : b));
    return { fold: f + 1, points, selectedEpoch: best.epoch };
  });
}

const SE_BLOCKS: [string, number][] = [
  ['layer1.0.se', 64], ['layer1.1.se', 64], ['layer2.0.se', 128], ['layer2.1.se', 128],
  ['layer3.0.se', 256], ['layer3.1.se', 256], ['layer4.0.se', 512], ['layer4.1.se', 512],
];

/** Gates that agree across classes in early blocks and part in deep ones, as the paper found. */
function excitation(labels: readonly number[], rng: Rng): ExcitationAnalysis {
  const blocks = SE_BLOCKS.map(([name, channels], depth) => {
    const base = Array.from({ length: channels }, () => Math.min(0.95, Math.max(0.05, 0.5 + rng.normal() * (0.08 + 0.03 * depth))));
    const classShift = KATHER_CLASSES.map(() => Array.from({ length: channels }, () => rng.normal() * 0.018 * depth));
    const data = new Float32Array(labels.length * channels);
    labels.forEach((y, i) => {
      for (let k = 0; k < channels; k++) {
        const v = base[k]! + classShift[y]![k]! + rng.normal() * 0.05;
        data[i * channels + k] = Math.min(1, Math.max(0, v));
      }
    });
    return { name, channels, data };
  });
  return excitationByClass(labels, blocks, KATHER_CLASSES, 'fold 1 model (best checkpoint) on the test split');
}

/**
 * Slides of nine consecutive test tiles: most hold one class, and the few that straddle two classes
 * are left out, as a slide with two tissue types would be.
 */
function slides(labels: readonly number[], foldProbs: readonly number[][][], ensembleProbs: readonly number[][]): { groups: GroupResults; correct: boolean[] } {
  const files = labels.map((_, i) => `tile-${i}.png`);
  const g = testGroups(files, labels, new Map(files.map((f, i) => [f, `slide-${Math.floor(i / 9) + 1}`])), KATHER_CLASSES);
  const folds = foldProbs.map((p, f) => ({ fold: f + 1, metrics: classificationMetrics(g.labels, groupProbabilities(p, g.members), KATHER_CLASSES) }));
  const ensemble = groupProbabilities(ensembleProbs, g.members);
  const summary = Object.fromEntries(SUMMARY_KEYS.map((k) => [k, meanStd(folds.map((f) => f.metrics[k] ?? NaN))])) as GroupResults['summary'];
  return {
    groups: {
      grouping: '/CRC-Prim-HE-\\d+/ on file names', source: 'splits.json', unavailable: null,
      testGroups: g.testGroups, qualifying: g.groups.length, tiles: g.members.reduce((n, m) => n + m.length, 0), mixed: g.mixed,
      folds, summary, ensemble: classificationMetrics(g.labels, ensemble, KATHER_CLASSES),
    },
    correct: ensemble.map((row, i) => row.indexOf(Math.max(...row)) === g.labels[i]),
  };
}

function run(name: string, skill: number, seed: number, se: boolean): { run: RunReport; correct: boolean[]; groupCorrect: boolean[] } {
  const rng = createRng(seed);
  const labels = testLabels();
  const tileNoise = labels.map(() => KATHER_CLASSES.map(() => rng.normal() * 1.0));
  const foldProbs = Array.from({ length: FOLDS }, () => foldProbabilities(labels, skill + rng.normal() * 0.15, tileNoise, rng));
  const folds: ClassificationMetrics[] = foldProbs.map((p) => classificationMetrics(labels, p, KATHER_CLASSES));
  const ensembleProbs = ensembleProbabilities(foldProbs);
  const ensemble = classificationMetrics(labels, ensembleProbs, KATHER_CLASSES);
  const correct = ensembleProbs.map((row, i) => row.indexOf(Math.max(...row)) === labels[i]);
  const groups = slides(labels, foldProbs, ensembleProbs);
  const trainPerClass = [500, 498, 497, 500, 499, 501, 499, 500];
  const splits = [
    { name: 'test', counts: [...TEST_COUNTS] },
    ...Array.from({ length: FOLDS }, (_, f) => [
      { name: `fold ${f + 1} train`, counts: trainPerClass.map((n, c) => Math.round((n * 4) / 5) + ((f + c) % 3) - 1) },
      { name: `fold ${f + 1} validation`, counts: trainPerClass.map((n, c) => Math.round(n / 5) - ((f + c) % 3) + 1) },
    ]).flat(),
  ];
  return {
    correct,
    groupCorrect: groups.correct,
    run: {
      name,
      runDir: `runs/kather-2024-05-01/${name}`,
      configuration: {
        architecture: name,
        'SE reduction': se ? 16 : null,
        input: '3x150x150',
        classes: KATHER_CLASSES.length,
        folds: FOLDS,
        epochs: EPOCHS,
        'batch size': 32,
        optimizer: 'SGD, momentum 0.9, weight decay 1e-4',
        'learning rate': 0.05,
        'label smoothing': 0,
        augmentation: ['flip', 'rotate90'],
        seed: 7,
        'onnxruntime-node': '1.30.0',
      },
      data: { classes: [...KATHER_CLASSES], splits },
      checkpoint: 'best validation loss',
      curves: curves(skill, rng),
      folds,
      ensemble,
      groups: groups.groups,
      se,
      excitation: se ? excitation(labels, rng) : null,
    },
  };
}

/** A report of resnet18 (A) against se_resnet18 (B), or of se_resnet18 alone. */
export function syntheticReport(options: { runs?: 1 | 2 } = {}): ReportData {
  const a = run('resnet18', 3.0, 11, false);
  const b = run('se_resnet18', 3.25, 12, true);
  const generated = '2024-05-01T12:00:00.000Z';
  if (options.runs === 1) {
    return { title: 'se_resnet18 on Kather 2016 colorectal texture', generated, tool: 'senet-ort 0.1.0', runs: [b.run], comparison: null };
  }
  const comparison = compareRuns({
    nameA: a.run.name,
    nameB: b.run.name,
    foldScoresA: a.run.folds.map((m) => m.accuracy),
    foldScoresB: b.run.folds.map((m) => m.accuracy),
    correctA: a.correct,
    correctB: b.correct,
    seed: 7,
    resamples: 2000,
    groupLevel: {
      grouping: a.run.groups!.grouping,
      foldScoresA: a.run.groups!.folds.map((f) => f.metrics.accuracy),
      foldScoresB: b.run.groups!.folds.map((f) => f.metrics.accuracy),
      correctA: a.groupCorrect,
      correctB: b.groupCorrect,
    },
  });
  return { title: 'resnet18 vs se_resnet18 on Kather 2016 colorectal texture', generated, tool: 'senet-ort 0.1.0', runs: [a.run, b.run], comparison };
}

/** A 7x7 map with a blob at (cy, cx), as a last stage's Grad-CAM looks. */
function blob(cy: number, cx: number, height: number): number[] {
  return Array.from({ length: 49 }, (_, i) => height * Math.exp(-(((Math.floor(i / 7) - cy) ** 2) + ((i % 7) - cx) ** 2) / 4));
}

/**
 * "Where they look" for the synthetic report: per class two tiles both networks get right and
 * one where they disagree (resnet18 right for even classes), with blobs for maps and pink noise
 * for tiles; or, with one run, tiles it gets right and wrong.
 */
export async function syntheticLooks(options: { runs?: 1 | 2 } = {}): Promise<LooksReport> {
  const rng = createRng(5);
  const runs = options.runs === 1 ? ['se_resnet18'] : ['resnet18', 'se_resnet18'];
  const kinds: [LookKind, LookKind] = runs.length === 2 ? ['agree', 'disagree'] : ['right', 'wrong'];
  const map = (predicted: number): LookTile['maps'][number] => ({ predicted, probability: 0.4 + 0.6 * rng.next(), map: blob(rng.int(7), rng.int(7), 0.01 + rng.next()), height: 7, width: 7 });
  const tiles: LookTile[] = KATHER_CLASSES.flatMap((_, c) => [
    ...[0, 1].map((k) => ({ file: `${KATHER_CLASSES[c]}/tile-${c}-${k}.png`, label: c, kind: kinds[0], maps: runs.map(() => map(c)) })),
    { file: `${KATHER_CLASSES[c]}/tile-${c}-2.png`, label: c, kind: kinds[1], maps: runs.map((_, r) => map((c + (r === c % 2 ? 0 : 1)) % KATHER_CLASSES.length)) },
  ]);
  const looks: Looks = { classes: KATHER_CLASSES, layers: runs.map(() => 'layer4'), seed: 7, perClass: 2, tiles, dataDir: 'data' };
  const pink = async (): Promise<Uint8Array> => Uint8Array.from({ length: LOOK_SIDE * LOOK_SIDE * 3 }, (_, i) => [230, 150, 200][i % 3]! - rng.int(60));
  return lookPictures(looks, runs, pink);
}
