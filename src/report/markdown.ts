/**
 * metrics.md and comparison.md: what evaluate and compare computed, as Markdown for people. Every
 * number goes through src/util/format.ts, so it reads as in the terminal and the HTML report.
 */
import type { ComparisonFile } from '../evaluate/compare.ts';
import type { MeanStd } from '../evaluate/metrics.ts';
import type { RunMetrics, SummaryKey } from '../evaluate/evaluate.ts';
import { SUMMARY_KEYS } from '../evaluate/evaluate.ts';
import { verdictLine } from '../evaluate/verdict.ts';
import { fixed, meanSd, pValue, signed } from '../util/format.ts';
import type { Align } from '../util/table.ts';
import { markdownTable } from '../util/table.ts';

export const SUMMARY_LABELS: Readonly<Record<SummaryKey, string>> = {
  accuracy: 'accuracy',
  balancedAccuracy: 'balanced accuracy',
  macroF1: 'macro F1',
  macroAuc: 'macro AUC',
  logLoss: 'log loss',
};

const summary = (s: MeanStd | null): string => (s === null ? 'n/a' : meanSd(s.mean, s.std));

/** metrics.md: the fold table with mean ± sd and the ensemble, per-class scores, the confusion matrix. */
export function metricsMarkdown(m: RunMetrics): string {
  const e = m.ensemble;
  const foldRows = m.folds.map((f) => [`fold ${f.fold}`, String(f.epoch), ...SUMMARY_KEYS.map((k) => fixed(f.metrics[k]))]);
  const lines = [
    `# ${m.arch}: test-split metrics`,
    '',
    `${m.tiles} test tiles, ${m.folds.length} folds, ${m.checkpoint} checkpoint of each fold. Run: \`${m.run}\`.`,
    '',
    markdownTable(
      ['', 'epoch', ...SUMMARY_KEYS.map((k) => SUMMARY_LABELS[k])],
      [...foldRows, ['mean ± sd', '', ...SUMMARY_KEYS.map((k) => summary(m.summary[k]))], ['ensemble', '', ...SUMMARY_KEYS.map((k) => fixed(e[k]))]],
      ['l', 'r', ...SUMMARY_KEYS.map((): Align => 'r')],
    ),
    '',
    '## Per class (fold ensemble)',
    '',
    markdownTable(
      ['class', 'tiles', 'predicted', 'precision', 'recall', 'F1', 'AUC'],
      e.perClass.map((p) => [p.name, String(p.support), String(p.predicted), fixed(p.precision), fixed(p.recall), fixed(p.f1), fixed(p.auc)]),
      ['l', 'r', 'r', 'r', 'r', 'r', 'r'],
    ),
    '',
    '## Confusion matrix (fold ensemble; rows true, columns predicted)',
    '',
    markdownTable(['true \\ predicted', ...m.classes], e.confusionMatrix.map((row, t) => [m.classes[t]!, ...row.map(String)]), ['l', ...m.classes.map((): Align => 'r')]),
    '',
    'Standard deviations are sample standard deviations (n − 1) over folds. The ensemble averages the folds\' probabilities.',
  ];
  if (m.warnings.length > 0) lines.push('', ...m.warnings.map((w) => `Warning: ${w}.`));
  return `${lines.join('\n')}\n`;
}

/** comparison.md: the verdict, the fold table, the tests, the caveats. */
export function comparisonMarkdown(file: ComparisonFile, ma: RunMetrics, mb: RunMetrics): string {
  const c = file.comparison;
  const { a, b } = c.networks;
  const { folds, testSplit } = c;
  const t = (r: { statistic: number | null; df: number }): string => (r.statistic === null ? 'undefined' : `t(${r.df}) = ${fixed(r.statistic)}`);
  const boot = testSplit.bootstrap;
  const lines = [
    `# ${a} vs ${b}`,
    '',
    `**Verdict: ${verdictLine(c)}.**`,
    '',
    `${c.verdict.summary}.`,
    '',
    `Differences are ${b} − ${a} (positive: ${b} scored higher). Checkpoints: ${a} ${file.checkpoints.a}, ${b} ${file.checkpoints.b}.`,
    '',
    '## Test accuracy per fold',
    '',
    markdownTable(
      ['fold', a, b, 'difference'],
      [
        ...folds.differences.map((d, k) => [`fold ${ma.folds[k]!.fold}`, fixed(ma.folds[k]!.metrics.accuracy), fixed(mb.folds[k]!.metrics.accuracy), signed(d)]),
        ['mean', fixed(ma.summary.accuracy?.mean ?? NaN), fixed(mb.summary.accuracy?.mean ?? NaN), `${signed(folds.meanDifference)} ± ${fixed(folds.stdDifference)} (sd)`],
      ],
      ['l', 'r', 'r', 'r'],
    ),
    '',
    '## Tests',
    '',
    markdownTable(
      ['test', 'statistic', 'p-value'],
      [
        [`corrected resampled t-test (primary; test/train ratio ${folds.correctedT.testTrainRatio.toFixed(3)})`, t(folds.correctedT), pValue(folds.correctedT.pValue)],
        ['paired t-test', t(folds.pairedT), pValue(folds.pairedT.pValue)],
        ['Wilcoxon signed-rank, exact', `W+ = ${folds.wilcoxon.statistic} (${folds.wilcoxon.nonZero} non-zero)`, pValue(folds.wilcoxon.pValue)],
        [`McNemar's exact test, ensembles (${testSplit.mcnemar.tiles} tiles)`, `${testSplit.mcnemar.onlyACorrect} only ${a} right, ${testSplit.mcnemar.onlyBCorrect} only ${b} right`, pValue(testSplit.mcnemar.pValue)],
      ],
      ['l', 'r', 'r'],
    ),
    '',
    `Bootstrap ${Math.round(boot.confidence * 100)}% interval of accuracy(${b}) − accuracy(${a}) on the test split: ${signed(boot.estimate)} [${signed(boot.lower)}, ${signed(boot.upper)}] (${boot.resamples} paired resamples, seed ${boot.seed}).`,
  ];
  if (c.verdict.caveats.length > 0) lines.push('', '## Caveats', '', ...c.verdict.caveats.map((text) => `- ${text}`));
  return `${lines.join('\n')}\n`;
}
