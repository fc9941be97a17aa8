/**
 * `sweep report`: one HTML page across the grid, and sweep.csv with every task's numbers.
 *
 *   <sweep>/report/
 *     report.html       per grid point and network: test accuracy mean, sd and fold ensemble; accuracy
 *                       against each numeric grid axis (every fold a dot); SE vs plain per point with
 *                       compare's paired tests, the primary p-value Holm-corrected over the grid points
 *     sweep.csv         one row per task: its grid values, network, fold, epochs, test scores, validation scores
 *     plots/<axis>.svg  the accuracy plots
 *
 * Each finished run is evaluated on the test split first (evaluate's metrics.json, skipped when it
 * is newer than the run's folds), and each pair is compared as `compare` does (comparison.json in
 * runs/<point>/<plain>-vs-<se>/).
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.ts';
import { seTwin } from '../graph/registry.ts';
import type { RunMetrics } from '../evaluate/scores.ts';
import { readRunMetrics } from '../evaluate/evaluate.ts';
import { holm } from '../evaluate/stats.ts';
import { toCsv } from '../formats/csv.ts';
import { readEpochLog, readFoldState, statePath } from '../formats/rundir.ts';
import { compareAndSummarise, evaluateAndSummarise } from '../report/summaries.ts';
import type { PointComparison, SweepCell, SweepLayout } from '../report/sweep.ts';
import { axisPlot, pointVerdict, renderSweepReport } from '../report/sweep.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import { fixed } from '../util/format.ts';
import { readSweepPlan } from './sweep.ts';

export interface SweepReportOptions {
  readonly threads?: number;
  /** Significance level of the Holm-corrected tests (default 0.05). */
  readonly alpha?: number;
  readonly log?: (line: string) => void;
}

export interface SweepReportResult {
  readonly html: string;
  readonly csv: string;
  readonly cells: readonly SweepCell[];
  readonly comparisons: readonly PointComparison[];
}

function finished(run: string, folds: readonly number[]): boolean {
  return folds.every((f) => readFoldState(run, f)?.finished === true);
}

/** metrics.json when it is newer than every fold's state.json, else a fresh evaluation. */
async function metricsOf(run: string, folds: readonly number[], o: SweepReportOptions): Promise<RunMetrics> {
  const metrics = join(run, 'metrics.json');
  if (existsSync(metrics)) {
    const t = statSync(metrics).mtimeMs;
    if (folds.every((f) => statSync(statePath(run, f)).mtimeMs <= t)) return readRunMetrics(run);
  }
  o.log?.(`evaluating ${run} on the test split`);
  return (await evaluateAndSummarise(run, { ...(o.threads !== undefined ? { threads: o.threads } : {}) })).metrics;
}

/** A CSV cell: three decimals, empty where there is no number. */
const cell3 = (x: number | null | undefined): string => (x === null || x === undefined ? '' : fixed(x));

/** Evaluate, compare and write report/report.html and report/sweep.csv. */
export async function writeSweepReport(dir: string, o: SweepReportOptions = {}): Promise<SweepReportResult> {
  const plan = readSweepPlan(dir);
  const alpha = o.alpha ?? 0.05;
  const cells: SweepCell[] = [];
  for (const point of plan.points) {
    for (const arch of plan.archs) {
      const run = join(dir, 'runs', point.id, arch);
      const metrics = finished(run, plan.folds) ? await metricsOf(run, plan.folds, o) : null;
      cells.push({ point: point.index, arch, run, metrics });
    }
  }
  if (cells.every((c) => c.metrics === null)) throw new UserError(`${dir}: no run has finished every fold yet; see senet-ort sweep status ${dir}`);

  // SE against plain at each point, every pair (x, se_x) of the sweep's networks (legacy_x, legacy_se_x too).
  const pairs = plan.archs.flatMap((a) => {
    const se = seTwin(a);
    return se && plan.archs.includes(se) ? [[a, se] as const] : [];
  });
  const raw0 = plan.points.flatMap((point) => pairs.map(([plain, se]) => {
    const a = cells.find((c) => c.point === point.index && c.arch === plain)!;
    const b = cells.find((c) => c.point === point.index && c.arch === se)!;
    if (!a.metrics || !b.metrics) return { point: point.index, plain, se, comparison: null, missing: 'not every fold finished' };
    try {
      return { point: point.index, plain, se, comparison: compareAndSummarise(a.run, b.run, { alpha }).file.comparison, missing: null };
    } catch (err) {
      if (err instanceof UserError) return { point: point.index, plain, se, comparison: null, missing: err.message };
      throw err;
    }
  }));
  const adjusted = holm(raw0.map((r) => r.comparison?.verdict.primaryPValue ?? null));
  const compared = adjusted.filter((p) => p !== null).length;
  const comparisons: PointComparison[] = raw0.map((r, i) => {
    const withHolm = { ...r, holm: adjusted[i] ?? null };
    return { ...withHolm, verdict: pointVerdict(withHolm, alpha, compared) };
  });

  // sweep.csv: one row per task.
  const axes = plan.grid.map((a) => a.key);
  const csvRows = plan.tasks.map((t) => {
    const cell = cells.find((c) => c.point === t.point && c.arch === t.arch)!;
    const state = readFoldState(cell.run, t.fold);
    const log = existsSync(cell.run) ? readEpochLog(cell.run, t.fold) : [];
    const last = log.at(-1);
    const fm = cell.metrics?.folds.find((f) => f.fold === t.fold)?.metrics;
    const seconds = log.reduce((s, r) => s + r.seconds, 0);
    return [t.index, plan.points[t.point]!.id, ...axes.map((k) => plan.points[t.point]!.values[k]!), t.arch, t.fold,
      state ? `${state.epochsDone}/${state.epochs}` : '0', state?.finished ? 'done' : 'unfinished',
      cell3(fm?.accuracy), cell3(fm?.macroF1), cell3(last?.valLoss), cell3(last?.valAccuracy), seconds.toFixed(1)];
  });
  const csv = join(dir, 'report', 'sweep.csv');
  writeFileAtomic(csv, toCsv(['task', 'point', ...axes, 'arch', 'fold', 'epochs', 'status', 'test_accuracy', 'test_macro_f1', 'val_loss', 'val_accuracy', 'train_seconds'], csvRows));

  // The page.
  const layout: SweepLayout = {
    dir, data: plan.data, tasks: plan.tasks.length, archs: plan.archs, folds: plan.folds, options: plan.options,
    grid: plan.grid.map((g) => ({ key: g.key, labels: g.values.map((v) => v.label) })), points: plan.points,
  };
  const plots = axes.map((axis) => [axis, axisPlot(layout, cells, axis)] as const).filter((p): p is readonly [string, string] => p[1] !== null);
  for (const [axis, svg] of plots) writeFileAtomic(join(dir, 'report', 'plots', `${axis}.svg`), svg);
  const html = join(dir, 'report', 'report.html');
  writeFileAtomic(html, renderSweepReport(layout, cells, comparisons, plots, alpha));
  return { html, csv, cells, comparisons };
}
