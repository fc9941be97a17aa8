/**
 * metrics.md and comparison.md: what evaluate and compare computed, as Markdown for people. Every
 * number goes through src/util/format.ts, so it reads as in the terminal and the HTML report.
 */
import type { ComparisonFile } from '../evaluate/compare.ts';
import type { ClassificationMetrics, MeanStd } from '../evaluate/metrics.ts';
import type { GroupResults, RunMetrics, SummaryKey } from '../evaluate/scores.ts';
import { SUMMARY_KEYS } from '../evaluate/scores.ts';
import { METRIC_LABELS, verdictLine } from '../evaluate/verdict.ts';
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

/** Groups left out that a sentence names before "and N more". */
const MIXED_SHOWN = 3;

/**
 * Which test groups the group-level scores cover and why the others are left out, in one or two
 * sentences (metrics.md and the HTML report say it alike).
 */
export function groupsSentence(g: GroupResults): string {
  const mixed = g.mixed.length === 0 ? '' : ` ${g.mixed.length} ${g.mixed.length === 1 ? 'is' : 'are'} left out because ${g.mixed.length === 1 ? 'its' : 'their'} tiles have more than one class (${
    g.mixed.slice(0, MIXED_SHOWN).map((x) => `${x.group}: ${Object.entries(x.classes).map(([c, n], i) => `${n}${i === 0 ? ` tile${n === 1 ? '' : 's'}` : ''} of ${c}`).join(', ')}`).join('; ')
  }${g.mixed.length > MIXED_SHOWN ? `; and ${g.mixed.length - MIXED_SHOWN} more, listed in metrics.json` : ''}).`;
  const resolved = g.source === 'resolved again' ? ' The splits were made before they recorded each tile\'s group, so the groups were resolved again as the split did.' : '';
  if (g.unavailable !== null) return `No group-level scores (grouped by ${g.grouping}): ${g.unavailable}.${mixed}${resolved}`;
  return `Grouped by ${g.grouping}: ${g.qualifying} of the ${g.testGroups} test groups have tiles of one class, and are scored as one sample each (${g.tiles} tiles), predicted by the mean of their tiles' probabilities.${mixed}${resolved}`;
}

/** The fold table: one row per fold, mean ± sd, the ensemble. */
function foldTable(folds: readonly { label: string; epoch: string; metrics: ClassificationMetrics }[], stats: Record<SummaryKey, MeanStd | null>, ensemble: ClassificationMetrics): string {
  return markdownTable(
    ['', 'epoch', ...SUMMARY_KEYS.map((k) => SUMMARY_LABELS[k])],
    [
      ...folds.map((f) => [f.label, f.epoch, ...SUMMARY_KEYS.map((k) => fixed(f.metrics[k]))]),
      ['mean ± sd', '', ...SUMMARY_KEYS.map((k) => summary(stats[k]))],
      ['ensemble', '', ...SUMMARY_KEYS.map((k) => fixed(ensemble[k]))],
    ],
    ['l', 'r', ...SUMMARY_KEYS.map((): Align => 'r')],
  );
}

function confusionTable(matrix: readonly (readonly number[])[], classes: readonly string[]): string {
  return markdownTable(['true \\ predicted', ...classes], matrix.map((row, t) => [classes[t]!, ...row.map(String)]), ['l', ...classes.map((): Align => 'r')]);
}

/** metrics.md's group-level part: what is covered, the fold table and the confusion matrix per group. */
function groupsMarkdown(m: RunMetrics): string[] {
  const g = m.groups;
  if (!g) return [];
  const lines = ['', '## Per group (patient, slide)', '', groupsSentence(g)];
  if (g.ensemble === null || g.summary === null) return lines;
  const epochs = new Map(m.folds.map((f) => [f.fold, String(f.epoch)]));
  return [
    ...lines,
    '',
    foldTable(g.folds.map((f) => ({ label: `fold ${f.fold}`, epoch: epochs.get(f.fold) ?? '', metrics: f.metrics })), g.summary, g.ensemble),
    '',
    '### Confusion matrix per group (fold ensemble; rows true, columns predicted)',
    '',
    confusionTable(g.ensemble.confusionMatrix, m.classes),
  ];
}

/** metrics.md: the fold table with mean ± sd and the ensemble, per-class scores, the confusion matrix, the same per group. */
export function metricsMarkdown(m: RunMetrics): string {
  const e = m.ensemble;
  const lines = [
    `# ${m.arch}: test-split metrics`,
    '',
    `${m.tiles} test tiles, ${m.folds.length} folds, ${m.checkpoint} checkpoint of each fold. Run: \`${m.run}\`.`,
    '',
    foldTable(m.folds.map((f) => ({ label: `fold ${f.fold}`, epoch: String(f.epoch), metrics: f.metrics })), m.summary, e),
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
    confusionTable(e.confusionMatrix, m.classes),
    ...groupsMarkdown(m),
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
  const label = METRIC_LABELS[c.metric];
  const key = c.metric === 'accuracy' ? 'accuracy' : 'balancedAccuracy';
  const g = c.groupLevel;
  const groupTests = g === null ? [] : [
    [`corrected resampled t-test per group (${g.groups} groups)`, t(g.folds.correctedT), pValue(g.folds.correctedT.pValue)],
    [`McNemar's exact test per group, ensembles (${g.groups} groups)`, `${g.mcnemar.onlyACorrect} only ${a} right, ${g.mcnemar.onlyBCorrect} only ${b} right`, pValue(g.mcnemar.pValue)],
  ];
  const lines = [
    `# ${a} vs ${b}`,
    '',
    `**Verdict: ${verdictLine(c)}.**`,
    '',
    `${c.verdict.summary}.`,
    '',
    `Differences are ${b} − ${a} (positive: ${b} scored higher). Checkpoints: ${a} ${file.checkpoints.a}, ${b} ${file.checkpoints.b}.`,
    ...(c.metricReason === null ? [] : ['', `Primary metric: ${label}, since ${c.metricReason}.`]),
    '',
    `## Test ${label} per fold`,
    '',
    markdownTable(
      ['fold', a, b, 'difference'],
      [
        ...folds.differences.map((d, k) => [`fold ${ma.folds[k]!.fold}`, fixed(ma.folds[k]!.metrics[key]), fixed(mb.folds[k]!.metrics[key]), signed(d)]),
        ['mean', fixed(ma.summary[key]?.mean ?? NaN), fixed(mb.summary[key]?.mean ?? NaN), `${signed(folds.meanDifference)} ± ${fixed(folds.stdDifference)} (sd)`],
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
        ...groupTests,
      ],
      ['l', 'r', 'r'],
    ),
    '',
    `Bootstrap ${Math.round(boot.confidence * 100)}% interval of ${label}(${b}) − ${label}(${a}) on the test split: ${signed(boot.estimate)} [${signed(boot.lower)}, ${signed(boot.upper)}] (${boot.resamples} paired resamples, seed ${boot.seed}).`,
    '',
    g === null
      ? `Per group: no group-level tests; ${c.groupLevelUnavailable ?? 'no group-level scores'}.`
      : `Per group (${g.grouping}): the ${g.groups} test groups whose tiles share one class, each predicted by the mean of its tiles' probabilities; the fold tests use each fold model's group ${label}. Mean fold difference ${signed(g.folds.meanDifference)} ± ${fixed(g.folds.stdDifference)} (sd).`,
  ];
  if (c.verdict.caveats.length > 0) lines.push('', '## Caveats', '', ...c.verdict.caveats.map((text) => `- ${text}`));
  return `${lines.join('\n')}\n`;
}
