/**
 * The evaluate and compare steps as commands run them: compute and write the numbers (src/evaluate),
 * then write the same for people beside them (metrics.md, comparison.md).
 */
import { join } from 'node:path';
import type { CompareOptions, CompareResult } from '../evaluate/compare.ts';
import { compareRunDirs } from '../evaluate/compare.ts';
import type { EvaluateOptions, EvaluateResult } from '../evaluate/evaluate.ts';
import { evaluateRun } from '../evaluate/evaluate.ts';
import { METRICS_FILE } from '../evaluate/scores.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import { comparisonMarkdown, metricsMarkdown } from './markdown.ts';

export const METRICS_MARKDOWN = 'metrics.md';
export const COMPARISON_MARKDOWN = 'comparison.md';

/** Evaluate a run, then write its metrics.md; `written` lists both. */
export async function evaluateAndSummarise(run: string, options: EvaluateOptions = {}): Promise<EvaluateResult> {
  const result = await evaluateRun(run, options);
  const path = join(run, METRICS_MARKDOWN);
  writeFileAtomic(path, metricsMarkdown(result.metrics));
  // Listed beside metrics.json, as the command prints it.
  const at = result.written.indexOf(join(run, METRICS_FILE)) + 1;
  return { ...result, written: [...result.written.slice(0, at), path, ...result.written.slice(at)] };
}

/** Compare two evaluated runs, then write comparison.md beside comparison.json. */
export function compareAndSummarise(runA: string, runB: string, options: CompareOptions = {}): CompareResult {
  const result = compareRunDirs(runA, runB, options);
  const path = join(result.out, COMPARISON_MARKDOWN);
  writeFileAtomic(path, comparisonMarkdown(result.file, result.metrics.a, result.metrics.b));
  return { ...result, written: [...result.written, path] };
}
