/**
 * The report: one self-contained HTML file (inline CSS and SVG, no script, no network) that answers
 * "does the SE module help on this data?" and shows the evidence: configuration, data counts,
 * training curves, test metrics, the statistical comparison with its verdict, the SE excitation
 * analysis, and where the networks look (Grad-CAM maps of chosen test tiles). `renderReport` is
 * pure: it turns a `ReportData` object into a string; every string taken from data is escaped by
 * the builder in svg.ts.
 */
import type { ClassificationMetrics } from '../evaluate/metrics.ts';
import { meanStd } from '../evaluate/metrics.ts';
import type { RunComparison } from '../evaluate/verdict.ts';
import { METRIC_LABELS, verdictLine } from '../evaluate/verdict.ts';
import { groupsSentence } from './markdown.ts';
import { fixed, formatP, meanSd, signed } from '../util/format.ts';
import type { ExcitationAnalysis } from '../evaluate/excitation.ts';
import type { DataCounts, FoldCurve, GroupResults } from '../evaluate/scores.ts';
import { confusionMatrixPlot, excitationPlot, groupedBars, trainingCurves } from './plots.ts';
import { el, fragment, raw } from './svg.ts';
import type { LookKind } from '../evaluate/looks.ts';
import type { LooksReport } from './looks.ts';
import { kindTitle, looksFigures } from './looks.ts';
import type { Child, Markup } from './svg.ts';

/** A configuration value as shown in the table; arrays print comma-separated, null as "—". */
export type ConfigValue = string | number | boolean | null | readonly (string | number)[];


/** One trained network (one run directory) as the report shows it. */
export interface RunReport {
  /** Short display name, unique within the report: the architecture, e.g. "se_resnet18". */
  name: string;
  /** The run directory, shown for reference (never read while rendering). */
  runDir: string;
  /** Training configuration in display order: architecture, input, epochs, learning rate, seed, … */
  configuration: Readonly<Record<string, ConfigValue>>;
  data: DataCounts;
  /** Which checkpoint of each fold was evaluated, in words: "best validation loss" or "epoch 12". */
  checkpoint: string;
  /** Training history, one entry per fold, in fold order. */
  curves: FoldCurve[];
  /** Test-split metrics of each fold's model, in fold order (same length as curves, normally). */
  folds: ClassificationMetrics[];
  /** Test-split metrics of the fold ensemble (mean of the folds' probabilities). */
  ensemble: ClassificationMetrics;
  /** The same per group (patient, slide) where a group's test tiles share one class; null for runs evaluated before they existed. */
  groups: GroupResults | null;
  /** Whether the network has SE blocks. */
  se: boolean;
  /** The SE excitation analysis (one fold's model on the test split); null without SE blocks or when not measured. */
  excitation: ExcitationAnalysis | null;
}

/**
 * Everything the HTML report shows, as plain JSON-ready data.
 * One run: a report on that network. Two runs: A (normally the plain ResNet) and B (the SE-ResNet),
 * with `comparison` holding compareRuns(A, B) from src/runtime/stats.ts; differences are B − A.
 */
export interface ReportData {
  /** Page title and heading, e.g. "resnet18 vs se_resnet18 on kather2016". */
  title: string;
  /** When the report was made, ISO 8601. */
  generated: string;
  /** The tool and version that made it, e.g. "senet-ort 0.1.0". */
  tool: string;
  /** One or two runs: [A] or [A, B]. */
  runs: RunReport[];
  /** Present exactly when there are two runs. */
  comparison: RunComparison | null;
  /** "Where they look": Grad-CAM maps of chosen test tiles; absent or null when not made (report --no-gradcam). */
  looks?: LooksReport | null;
}

/** The plots of a report as standalone SVG documents, named for files: `curves-se_resnet18.svg`. */
export interface ReportPlots {
  curves: { run: string; svg: string }[];
  confusion: { run: string; svg: string }[];
  /** The fold ensembles' confusion matrices per group, for runs with group-level scores. */
  groupConfusion: { run: string; svg: string }[];
  perClassF1: string;
  excitation: { run: string; svg: string }[];
  /** "Where they look": one figure per kind of tile (both right, disagreeing; one run: right, wrong). */
  looks: { kind: LookKind; svg: string }[];
}

/** The report's plots, also used by `writeReport` to save each as SVG and PNG. */
export function reportPlots(data: ReportData): ReportPlots {
  checkReportData(data);
  const classes = data.runs[0]!.ensemble.classNames;
  return {
    curves: data.runs.map((r) => ({ run: r.name, svg: trainingCurves(r.curves, { title: `Training curves: ${r.name} (${r.curves.length} folds)` }) })),
    confusion: data.runs.map((r) => ({
      run: r.name,
      svg: confusionMatrixPlot(r.ensemble.confusionMatrix, r.ensemble.classNames, { title: `Confusion matrix: ${r.name}, fold ensemble, test split` }),
    })),
    groupConfusion: data.runs.flatMap((r) => (r.groups?.ensemble ? [{
      run: r.name,
      svg: confusionMatrixPlot(r.groups.ensemble.confusionMatrix, r.groups.ensemble.classNames, { title: `Confusion matrix per group: ${r.name}, fold ensemble, ${r.groups.qualifying} test groups` }),
    }] : [])),
    perClassF1: groupedBars({
      title: data.runs.length === 2 ? `Per-class F1 on the test split: ${data.runs[0]!.name} vs ${data.runs[1]!.name}` : `Per-class F1 on the test split: ${data.runs[0]!.name}`,
      categories: classes,
      groups: data.runs.map((r) => {
        const stats = classes.map((_, c) => meanStd(r.folds.map((f) => f.perClass[c]!.f1)));
        return { name: `${r.name} (mean over ${r.folds.length} folds)`, values: stats.map((s) => s.mean), errors: stats.map((s) => s.std) };
      }),
      yLabel: 'F1',
    }),
    excitation: data.runs.flatMap((r) => (r.excitation === null ? [] : [{ run: r.name, svg: excitationPlot(r.excitation, { title: `SE excitation by class: ${r.name}` }) }])),
    looks: data.looks ? looksFigures(data.looks) : [],
  };
}

/** The whole report as one HTML document. */
export function renderReport(data: ReportData): string {
  const plots = reportPlots(data);
  const body = el(
    'body',
    {},
    el(
      'main',
      {},
      header(data),
      nav(data),
      section('configuration', 'Configuration', configurationTable(data.runs)),
      section('data', 'Data', dataSection(data.runs)),
      section('curves', 'Training curves', plots.curves.map((p) => figure(p.svg, `${p.run}: loss and accuracy per epoch for every fold; solid lines are training, dashed lines validation.`))),
      section('metrics', 'Test metrics', metricsSection(data.runs, plots)),
      data.comparison === null ? null : section('comparison', 'Comparison', comparisonSection(data.runs, data.comparison)),
      section('excitation', 'SE excitation', excitationSection(data.runs, plots)),
      data.looks ? section('looks', 'Where they look', looksSection(data.looks, plots)) : null,
      conventionsFooter(data),
    ),
  );
  return (
    '<!DOCTYPE html>\n' +
    el(
      'html',
      { lang: 'en' },
      el(
        'head',
        {},
        el('meta', { charset: 'utf-8' }),
        // The report must stand alone: refuse every fetch, allow only the inline stylesheet and data: images.
        el('meta', { 'http-equiv': 'Content-Security-Policy', content: "default-src 'none'; style-src 'unsafe-inline'; img-src data:" }),
        el('meta', { name: 'viewport', content: 'width=device-width, initial-scale=1' }),
        el('meta', { name: 'generator', content: data.tool }),
        el('title', {}, data.title),
        el('style', {}, raw(STYLE)),
      ),
      body,
    ).text +
    '\n'
  );
}

function checkReportData(data: ReportData): void {
  if (data.runs.length < 1 || data.runs.length > 2) throw new Error(`a report shows 1 or 2 runs, not ${data.runs.length}`);
  if ((data.comparison !== null) !== (data.runs.length === 2)) throw new Error('a report has a comparison exactly when it has two runs');
  const classes = data.runs[0]!.ensemble.classNames.join('\n');
  for (const r of data.runs) {
    if (r.ensemble.classNames.join('\n') !== classes) throw new Error(`run ${r.name} has other classes than run ${data.runs[0]!.name}`);
    if (r.folds.length === 0) throw new Error(`run ${r.name} has no fold metrics`);
  }
  if (data.runs.length === 2 && data.runs[0]!.name === data.runs[1]!.name) throw new Error(`both runs are named ${data.runs[0]!.name}`);
}

// ---------------------------------------------------------------------------------------------
// Sections

function header(data: ReportData): Markup {
  const names = data.runs.map((r) => r.name).join(' vs ');
  const c = data.comparison;
  const answer =
    c === null
      ? el('p', { class: 'answer neutral' }, el('strong', {}, `${data.runs[0]!.name}: `), `test accuracy ${formatMeanStd(data.runs[0]!.folds.map((f) => f.accuracy))} over ${data.runs[0]!.folds.length} folds, `, `fold ensemble ${fixed(data.runs[0]!.ensemble.accuracy)}. Give a second run to compare.`)
      : el(
          'p',
          { class: `answer ${c.verdict.decision}` },
          el('strong', {}, `Verdict: ${verdictLine(c)}.`),
          ' ',
          `Test ${METRIC_LABELS[c.metric]} over ${c.folds.folds} folds: ${data.runs.map((r) => `${r.name} ${formatMeanStd(r.folds.map(metricOf(c)))}`).join(', ')}; `,
          `difference ${signed(c.folds.meanDifference)}. Primary test: ${c.verdict.primaryTest}, ${formatP(c.verdict.primaryPValue)}.`,
        );
  return el(
    'header',
    {},
    el('h1', {}, data.title),
    el('p', { class: 'meta' }, `${names} · generated ${data.generated} by ${data.tool}`),
    answer,
  );
}

function nav(data: ReportData): Markup {
  const entries: [string, string][] = [
    ['configuration', 'Configuration'],
    ['data', 'Data'],
    ['curves', 'Training curves'],
    ['metrics', 'Test metrics'],
    ...(data.comparison === null ? [] : [['comparison', 'Comparison'] as [string, string]]),
    ['excitation', 'SE excitation'],
    ...(data.looks ? [['looks', 'Where they look'] as [string, string]] : []),
  ];
  return el('nav', {}, el('ul', {}, entries.map(([id, label]) => el('li', {}, el('a', { href: `#${id}` }, label)))));
}

function section(id: string, title: string, ...children: Child[]): Markup {
  return el('section', { id }, el('h2', {}, title), children);
}

function figure(svg: string, caption: string): Markup {
  // The SVG comes from plots.ts, which builds it with the escaping builder: it is markup already.
  return el('figure', {}, raw(svg), el('figcaption', {}, caption));
}

function configurationTable(runs: readonly RunReport[]): Markup {
  const keys = [...new Set(runs.flatMap((r) => Object.keys(r.configuration)))];
  const rows = keys.map((key) => {
    const shown = runs.map((r) => (key in r.configuration ? formatConfig(r.configuration[key]!) : '—'));
    const differs = runs.length === 2 && shown[0] !== shown[1];
    return el('tr', { class: differs ? 'differs' : null }, el('th', { scope: 'row' }, key), shown.map((v) => el('td', {}, v)));
  });
  return fragment(
    table(['setting', ...runs.map((r) => r.name)], [
      el('tr', {}, el('th', { scope: 'row' }, 'run directory'), runs.map((r) => el('td', {}, el('code', {}, r.runDir)))),
      el('tr', {}, el('th', { scope: 'row' }, 'evaluated checkpoint'), runs.map((r) => el('td', {}, r.checkpoint))),
      rows,
    ]),
    runs.length === 2 ? el('p', { class: 'note' }, 'Highlighted rows differ between the two runs.') : null,
  );
}

function dataSection(runs: readonly RunReport[]): Markup {
  const same = runs.length === 2 && JSON.stringify(runs[0]!.data) === JSON.stringify(runs[1]!.data);
  const shown = same ? [runs[0]!] : runs;
  return fragment(
    el('p', { class: 'note' }, same ? 'Both runs use the same splits: tiles per class in each split.' : 'Tiles per class in each split.'),
    shown.map((r) => {
      const { classes, splits } = r.data;
      const total = (counts: readonly number[]): number => counts.reduce((s, v) => s + v, 0);
      return fragment(
        same || runs.length === 1 ? null : el('h3', {}, r.name),
        table(
          ['split', ...classes, 'total'],
          splits.map((s) => el('tr', {}, el('th', { scope: 'row' }, s.name), s.counts.map((n) => el('td', { class: 'num' }, String(n))), el('td', { class: 'num total' }, String(total(s.counts))))),
        ),
      );
    }),
  );
}

const SUMMARY_METRICS: { label: string; get: (m: ClassificationMetrics) => number | null; better: 'higher' | 'lower' }[] = [
  { label: 'accuracy', get: (m) => m.accuracy, better: 'higher' },
  { label: 'balanced accuracy', get: (m) => m.balancedAccuracy, better: 'higher' },
  { label: 'macro F1', get: (m) => m.macroF1, better: 'higher' },
  { label: 'macro ROC AUC (one-vs-rest)', get: (m) => m.macroAuc, better: 'higher' },
  { label: 'log loss', get: (m) => m.logLoss, better: 'lower' },
];

function metricsSection(runs: readonly RunReport[], plots: ReportPlots): Markup {
  const summary = table(
    ['metric', ...runs.flatMap((r) => [`${r.name}: mean ± sd over ${r.folds.length} folds`, `${r.name}: fold ensemble`])],
    SUMMARY_METRICS.map((m) =>
      el(
        'tr',
        {},
        el('th', { scope: 'row' }, `${m.label} (${m.better} is better)`),
        runs.map((r) => {
          const values = r.folds.map(m.get);
          return [
            el('td', { class: 'num' }, values.some((v) => v === null) ? 'n/a' : formatMeanStd(values as number[])),
            el('td', { class: 'num' }, fixed(m.get(r.ensemble))),
          ];
        }),
      ),
    ),
  );
  return fragment(
    el('p', { class: 'note' }, 'Each fold’s model is scored on the same held-out test split; the fold ensemble averages the folds’ probabilities. Standard deviations are sample standard deviations (n − 1).'),
    summary,
    runs.map((r) => fragment(el('h3', {}, `${r.name}: per fold`), foldTable(r))),
    figure(plots.perClassF1, 'Per-class F1 on the test split, mean over folds; whiskers show ± 1 standard deviation over folds.'),
    runs.map((r) => fragment(el('h3', {}, `${r.name}: per class (fold ensemble)`), perClassTable(r))),
    el('div', { class: 'side-by-side' }, plots.confusion.map((p) => figure(p.svg, `${p.run}: rows are true classes, columns predicted; the shade is the share of the row.`))),
    el('h3', { id: 'groups' }, 'Per group (patient, slide)'),
    groupsSection(runs, plots),
  );
}

/** Group-level scores: which groups count and why the others do not, the summary table, the confusion matrices. */
function groupsSection(runs: readonly RunReport[], plots: ReportPlots): Markup {
  const sentences = [...new Set(runs.map((r) => (r.groups === null ? `${r.name} was evaluated before group-level scores existed; evaluate it again for them.` : groupsSentence(r.groups))))];
  const scored = runs.filter((r): r is RunReport & { groups: GroupResults & { ensemble: ClassificationMetrics } } => (r.groups?.ensemble ?? null) !== null);
  const summary = scored.length === 0 ? null : table(
    ['metric', ...scored.flatMap((r) => [`${r.name}: mean ± sd over ${r.groups.folds.length} folds`, `${r.name}: fold ensemble`])],
    SUMMARY_METRICS.map((m) => el('tr', {},
      el('th', { scope: 'row' }, `${m.label} (${m.better} is better)`),
      scored.map((r) => {
        const values = r.groups.folds.map((f) => m.get(f.metrics));
        return [
          el('td', { class: 'num' }, values.some((v) => v === null) ? 'n/a' : formatMeanStd(values as number[])),
          el('td', { class: 'num' }, fixed(m.get(r.groups.ensemble))),
        ];
      }))),
  );
  return fragment(
    sentences.map((s) => el('p', { class: 'note' }, s)),
    summary,
    el('div', { class: 'side-by-side' }, plots.groupConfusion.map((p) => figure(p.svg, `${p.run}: one count per test group; rows are true classes, columns predicted.`))),
  );
}

/** A fold's score in the comparison's metric. */
function metricOf(c: RunComparison): (m: ClassificationMetrics) => number {
  return c.metric === 'balanced-accuracy' ? (m) => m.balancedAccuracy : (m) => m.accuracy;
}

function foldTable(r: RunReport): Markup {
  const header = ['fold', 'tiles', ...SUMMARY_METRICS.map((m) => m.label)];
  const row = (label: string, m: ClassificationMetrics, cls?: string): Markup =>
    el('tr', { class: cls }, el('th', { scope: 'row' }, label), el('td', { class: 'num' }, String(m.samples)), SUMMARY_METRICS.map((s) => el('td', { class: 'num' }, fixed(s.get(m)))));
  const stats = el(
    'tr',
    { class: 'summary' },
    el('th', { scope: 'row' }, 'mean ± sd'),
    el('td', {}, ''),
    SUMMARY_METRICS.map((s) => {
      const values = r.folds.map(s.get);
      return el('td', { class: 'num' }, values.some((v) => v === null) ? 'n/a' : formatMeanStd(values as number[]));
    }),
  );
  return table(header, [r.folds.map((m, i) => row(`fold ${r.curves[i]?.fold ?? i + 1}`, m)), stats, row('ensemble', r.ensemble, 'summary')]);
}

function perClassTable(r: RunReport): Markup {
  return table(
    ['class', 'test tiles', 'predicted', 'precision', 'recall', 'F1', 'ROC AUC', `F1 mean ± sd over folds`],
    r.ensemble.perClass.map((m, c) =>
      el(
        'tr',
        { class: m.predicted === 0 ? 'warn' : null },
        el('th', { scope: 'row' }, m.name),
        el('td', { class: 'num' }, String(m.support)),
        el('td', { class: 'num' }, m.predicted === 0 ? '0 (never predicted)' : String(m.predicted)),
        el('td', { class: 'num' }, fixed(m.precision)),
        el('td', { class: 'num' }, fixed(m.recall)),
        el('td', { class: 'num' }, fixed(m.f1)),
        el('td', { class: 'num' }, fixed(m.auc)),
        el('td', { class: 'num' }, formatMeanStd(r.folds.map((f) => f.perClass[c]!.f1))),
      ),
    ),
  );
}

function comparisonSection(runs: readonly RunReport[], c: RunComparison): Markup {
  const [a, b] = [runs[0]!, runs[1]!];
  const { folds, testSplit, verdict } = c;
  const { mcnemar, bootstrap } = testSplit;
  const label = METRIC_LABELS[c.metric];
  const score = metricOf(c);
  const foldRows = folds.differences.map((d, i) =>
    el(
      'tr',
      {},
      el('th', { scope: 'row' }, `fold ${a.curves[i]?.fold ?? i + 1}`),
      el('td', { class: 'num' }, fixed(a.folds[i] ? score(a.folds[i]) : null)),
      el('td', { class: 'num' }, fixed(b.folds[i] ? score(b.folds[i]) : null)),
      el('td', { class: 'num' }, signed(d)),
    ),
  );
  const g = c.groupLevel;
  const groupRows = g === null ? [] : [
    testRow(`corrected resampled t-test per group`, `${g.folds.folds} fold differences of group ${label}, ${g.groups} groups`, statOrNa(g.folds.correctedT.statistic, `t(${g.folds.correctedT.df})`), g.folds.correctedT.pValue, g.folds.correctedT.note),
    testRow("McNemar's exact test per group", `${g.groups} test groups, ensembles`, `${g.mcnemar.onlyACorrect} vs ${g.mcnemar.onlyBCorrect} discordant`, g.mcnemar.pValue, null),
  ];
  const tests = table(
    ['test', 'on', 'statistic', 'p-value', 'note'],
    [
      testRow(`corrected resampled t-test (primary; test/train ratio ${folds.correctedT.testTrainRatio.toFixed(3)})`, `${folds.folds} fold differences`, statOrNa(folds.correctedT.statistic, `t(${folds.correctedT.df})`), folds.correctedT.pValue, folds.correctedT.note),
      testRow('paired t-test', `${folds.folds} fold differences`, statOrNa(folds.pairedT.statistic, `t(${folds.pairedT.df})`), folds.pairedT.pValue, folds.pairedT.note ?? 'optimistic: folds share training data'),
      testRow('Wilcoxon signed-rank, exact', `${folds.wilcoxon.nonZero} non-zero fold differences`, `W+ = ${folds.wilcoxon.statistic}`, folds.wilcoxon.pValue, folds.wilcoxon.note),
      testRow("McNemar's exact test", `${mcnemar.tiles} test tiles, ensembles`, `${mcnemar.onlyACorrect} vs ${mcnemar.onlyBCorrect} discordant`, mcnemar.pValue, null),
      groupRows,
    ],
  );
  const contingency = table(
    ['', `${b.name} right`, `${b.name} wrong`],
    [
      el('tr', {}, el('th', { scope: 'row' }, `${a.name} right`), el('td', { class: 'num' }, String(mcnemar.bothCorrect)), el('td', { class: 'num' }, String(mcnemar.onlyACorrect))),
      el('tr', {}, el('th', { scope: 'row' }, `${a.name} wrong`), el('td', { class: 'num' }, String(mcnemar.onlyBCorrect)), el('td', { class: 'num' }, String(mcnemar.bothWrong))),
    ],
  );
  return fragment(
    el('p', { class: `answer ${verdict.decision}` }, el('strong', {}, `${verdictLine(c)}.`)),
    el('p', {}, verdict.summary, '.'),
    el('p', { class: 'note' }, `Differences are ${b.name} − ${a.name}: positive means ${b.name} scored higher. Decision rule: ${verdict.primaryTest} at alpha ${verdict.alpha}.`,
      c.metricReason === null ? '' : ` Primary metric ${label}, since ${c.metricReason}.`),
    el('div', { class: 'side-by-side' },
      el('div', {}, el('h3', {}, `Test ${label} per fold`), table(['fold', a.name, b.name, 'difference'], [
        foldRows,
        el('tr', { class: 'summary' }, el('th', { scope: 'row' }, 'mean ± sd'), el('td', { class: 'num' }, formatMeanStd(a.folds.map(score))), el('td', { class: 'num' }, formatMeanStd(b.folds.map(score))), el('td', { class: 'num' }, `${signed(folds.meanDifference)} ± ${fixed(folds.stdDifference)}`)),
      ])),
      el('div', {}, el('h3', {}, 'Ensembles tile by tile'), contingency,
        el('p', {}, `Bootstrap ${Math.round(bootstrap.confidence * 100)}% interval of ${label}(${b.name}) − ${label}(${a.name}) on the test split: `,
          el('strong', {}, `${signed(bootstrap.estimate)} [${signed(bootstrap.lower)}, ${signed(bootstrap.upper)}]`),
          ` (${bootstrap.resamples} paired resamples, seed ${bootstrap.seed}; ${bootstrap.containsZero ? 'contains 0' : 'excludes 0'}).`)),
    ),
    el('h3', {}, 'Tests'),
    tests,
    el('p', { class: 'note' }, g === null
      ? `Per group: no group-level tests; ${c.groupLevelUnavailable ?? 'no group-level scores'}.`
      : `Per group (${g.grouping}): the ${g.groups} test groups whose tiles share one class, each predicted by the mean of its tiles' probabilities; mean fold difference of group ${label} ${signed(g.folds.meanDifference)} ± ${fixed(g.folds.stdDifference)} (sd).`),
    verdict.caveats.length === 0 ? null : fragment(el('h3', {}, 'Caveats'), el('ul', { class: 'caveats' }, verdict.caveats.map((t) => el('li', {}, t)))),
  );
}

function testRow(name: string, on: string, statistic: string, p: number | null, note: string | null): Markup {
  return el('tr', {}, el('th', { scope: 'row' }, name), el('td', {}, on), el('td', { class: 'num' }, statistic), el('td', { class: 'num' }, formatP(p)), el('td', { class: 'small' }, note ?? ''));
}

function excitationSection(runs: readonly RunReport[], plots: ReportPlots): Markup {
  const plain = runs.filter((r) => !r.se).map((r) => r.name);
  const unmeasured = runs.filter((r) => r.se && r.excitation === null).map((r) => r.name);
  const list = (names: readonly string[]): string => names.join(' and ');
  return fragment(
    el('p', { class: 'note' },
      'As in section 7.2 of the SENet paper (Hu et al.): for each SE block, the mean excitation of every channel over the test tiles of each class. ',
      'Where the class lines part, the block re-weights channels differently by class; where they lie on top of each other, it acts much the same on every tile. ',
      'Early blocks are usually class-agnostic and the deepest ones class-specific.'),
    plots.excitation.map((p) => figure(p.svg, `${p.run}: one panel per SE block, one line per class; the wide grey line is the mean over all test tiles. Channels are sorted by that mean, so each class line reads as a departure from it.`)),
    plain.length === 0 ? null : el('p', { class: 'note' }, `${list(plain)} ${plain.length === 1 ? 'has' : 'have'} no SE blocks, so there is nothing to show for ${plain.length === 1 ? 'it' : 'them'}.`),
    unmeasured.length === 0 ? null : el('p', { class: 'note' }, `${list(unmeasured)} ${unmeasured.length === 1 ? 'was' : 'were'} evaluated without the excitation analysis (evaluate --no-excitation).`),
  );
}

function looksSection(looks: LooksReport, plots: ReportPlots): Markup {
  const layers = [...new Set(looks.layers)];
  const where = layers.length === 1 ? `the output of ${layers[0]}` : looks.runs.map((r, i) => `${r}'s ${looks.layers[i]}`).join(' and ');
  const two = looks.runs.length === 2;
  return fragment(
    el('p', { class: 'note' },
      'Grad-CAM (Selvaraju et al., ICCV 2017) shows which parts of a tile raise the logit of a class: the activations of a layer, weighted by the mean gradient of that logit with respect to each channel, summed and clipped at zero. ',
      `Here each fold ensemble's map (the mean of its folds' maps) is taken at ${where}, for the class the ensemble predicts, upsampled to the tile and coloured on viridis from 0 to its own maximum (map values are not comparable between networks), over the tile at half opacity. `,
      `The tiles are drawn from the test split with seed ${looks.seed}: per class, ${looks.perClass} that ${two ? 'both ensembles classify' : 'the ensemble classifies'} correctly and up to ${looks.perClass} ${two ? 'where they disagree' : 'it gets wrong'}. `,
      'Hover over a picture for its class, probability and map maximum.'),
    looks.unavailable === null ? null : el('p', { class: 'note' }, `No maps: ${looks.unavailable}.`),
    plots.looks.map((p) => figure(p.svg, `${kindTitle(p.kind, looks.runs)[0]!.toUpperCase()}${kindTitle(p.kind, looks.runs).slice(1)}: each tile, then ${two ? `the ${looks.runs[0]} and the ${looks.runs[1]} ensemble's map` : 'the ensemble\'s map'}; under each map ${p.kind === 'agree' || p.kind === 'right' ? 'the probability of the (correct) class' : 'the class the ensemble predicts and its probability, which the map explains'}.`)),
    looks.unavailable === null && plots.looks.length === 0 ? el('p', { class: 'note' }, 'The test split has no tile of the kinds shown here.') : null,
  );
}

function conventionsFooter(data: ReportData): Markup {
  const conventions = data.runs[0]!.ensemble.conventions;
  return el(
    'footer',
    {},
    el('details', {}, el('summary', {}, 'How the metrics are defined'), el('dl', {}, Object.entries(conventions).map(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]))),
    el('p', { class: 'meta' }, `${data.tool}; this file is self-contained and makes no network requests.`),
  );
}

// ---------------------------------------------------------------------------------------------
// Formatting

function table(header: readonly string[], rows: Child): Markup {
  return el('div', { class: 'table-wrap' }, el('table', {}, el('thead', {}, el('tr', {}, header.map((h) => el('th', { scope: 'col' }, h)))), el('tbody', {}, rows)));
}

function formatMeanStd(values: readonly number[]): string {
  const s = meanStd(values);
  return s.std === null ? `${fixed(s.mean)} (1 fold)` : meanSd(s.mean, s.std);
}

function statOrNa(x: number | null, label: string): string {
  return x === null ? `${label} undefined` : `${label} = ${x.toFixed(3)}`;
}

function formatConfig(v: ConfigValue): string {
  if (v === null) return '—';
  if (Array.isArray(v)) return v.join(', ');
  return String(v);
}

const STYLE = `
:root { --ink: #1d1d1f; --muted: #5f6368; --rule: #d9dce1; --band: #f5f7fa; --accent: #0072b2; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #ffffff; font: 15px/1.5 'DejaVu Sans', 'Liberation Sans', system-ui, -apple-system, 'Segoe UI', Arial, sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 26px; margin: 8px 0 4px; }
h2 { font-size: 20px; margin: 36px 0 12px; padding-bottom: 4px; border-bottom: 2px solid var(--rule); }
h3 { font-size: 16px; margin: 22px 0 8px; }
p { margin: 8px 0; }
.meta { color: var(--muted); font-size: 13px; }
.note { color: var(--muted); font-size: 14px; }
.answer { padding: 12px 16px; border-left: 6px solid var(--muted); background: var(--band); font-size: 16px; }
.answer.b-better, .answer.a-better { border-color: #009e73; background: #eef8f4; }
.answer.no-difference { border-color: #0072b2; background: #eef5fb; }
.answer.undetermined { border-color: #e69f00; background: #fdf6e9; }
nav ul { list-style: none; display: flex; flex-wrap: wrap; gap: 6px 18px; padding: 0; margin: 14px 0 0; font-size: 14px; }
nav a { color: var(--accent); text-decoration: none; }
nav a:hover { text-decoration: underline; }
.table-wrap { overflow-x: auto; margin: 8px 0 16px; }
table { border-collapse: collapse; font-size: 13.5px; }
th, td { padding: 5px 10px; border-bottom: 1px solid var(--rule); text-align: left; vertical-align: top; }
thead th { background: var(--band); border-bottom: 2px solid var(--rule); font-weight: 600; }
tbody th { font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.total { font-weight: 600; }
td.small { font-size: 12.5px; color: var(--muted); max-width: 420px; }
tr.summary th, tr.summary td { background: var(--band); font-weight: 600; }
tr.differs th, tr.differs td { background: #fdf6e9; }
tr.warn td, tr.warn th { color: #a04000; }
code { font: 12.5px 'DejaVu Sans Mono', 'Liberation Mono', monospace; background: var(--band); padding: 1px 4px; border-radius: 3px; }
figure { margin: 12px 0 24px; }
figure svg { display: block; max-width: 100%; height: auto; border: 1px solid var(--rule); border-radius: 4px; }
figcaption { color: var(--muted); font-size: 13px; margin-top: 6px; }
.side-by-side { display: flex; flex-wrap: wrap; gap: 8px 32px; align-items: flex-start; }
.side-by-side > * { flex: 1 1 420px; min-width: 0; }
.caveats li { margin: 4px 0; }
footer { margin-top: 40px; border-top: 1px solid var(--rule); padding-top: 12px; }
dt { font-weight: 600; margin-top: 6px; }
dd { margin: 0 0 0 16px; color: var(--muted); font-size: 14px; }
`;
