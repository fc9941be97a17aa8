import type { CAC } from 'cac';
import { UserError } from '../../errors.ts';
import { deviceFlag, intFlag } from '../flags.ts';
import type { EvaluateOptions } from '../../evaluate/evaluate.ts';
import type { CheckpointChoice, RunMetrics } from '../../evaluate/scores.ts';
import { fixed, meanSd } from '../../util/format.ts';
import { evaluateAndSummarise } from '../../report/summaries.ts';

interface EvaluateFlags {
  epoch?: string | number;
  best?: boolean;
  batchSize?: string | number;
  threads?: string | number;
  device?: string;
  workers?: string | number;
  excitation?: boolean;
}

/** Flags to options; --epoch and --best exclude each other. */
export function evaluateOptions(flags: EvaluateFlags): EvaluateOptions {
  if (flags.epoch !== undefined && flags.best) throw new UserError('--epoch and --best both given; use one');
  const epoch = intFlag(flags.epoch, '--epoch', 1);
  const checkpoint: CheckpointChoice = epoch !== undefined ? { epoch } : flags.best ? 'best' : 'last';
  return {
    checkpoint,
    batchSize: intFlag(flags.batchSize, '--batch-size', 1),
    threads: intFlag(flags.threads, '--threads', 1),
    device: deviceFlag(flags.device),
    workers: intFlag(flags.workers, '--workers', 1),
    excitation: flags.excitation !== false,
  };
}

/** What `evaluate` prints: one line per fold, mean ± sd, the ensemble. */
export function formatMetrics(m: RunMetrics): string {
  const lines = m.folds.map((f) => `fold ${f.fold} (epoch ${f.epoch}): accuracy ${fixed(f.metrics.accuracy)}, macro F1 ${fixed(f.metrics.macroF1)}`);
  const acc = m.summary.accuracy!;
  lines.push(`mean over ${m.folds.length} folds: accuracy ${meanSd(acc.mean, acc.std)}`);
  lines.push(`fold ensemble: accuracy ${fixed(m.ensemble.accuracy)}, macro F1 ${fixed(m.ensemble.macroF1)}, balanced accuracy ${fixed(m.ensemble.balancedAccuracy)}`);
  const g = m.groups;
  if (g?.ensemble && g.summary?.accuracy) {
    lines.push(`per group (${g.qualifying} of ${g.testGroups} test groups by ${g.grouping}, of one class each): accuracy ${meanSd(g.summary.accuracy.mean, g.summary.accuracy.std)} over folds; ` +
      `fold ensemble: accuracy ${fixed(g.ensemble.accuracy)}, balanced accuracy ${fixed(g.ensemble.balancedAccuracy)}, macro AUC ${fixed(g.ensemble.macroAuc)}`);
    if (g.mixed.length > 0) lines.push(`${g.mixed.length} test group${g.mixed.length === 1 ? ' has' : 's have'} tiles of more than one class: left out of the group-level scores`);
  } else if (g) {
    lines.push(`no group-level scores: ${g.unavailable}`);
  }
  for (const w of m.warnings) lines.push(`warning: ${w}`);
  return `${m.arch} on ${m.tiles} test tiles (${m.checkpoint} checkpoint):\n${lines.map((l) => `  ${l}`).join('\n')}\n`;
}

async function evaluate(run: string, flags: EvaluateFlags): Promise<void> {
  const result = await evaluateAndSummarise(run, { ...evaluateOptions(flags), log: (line) => process.stderr.write(`${line}\n`) });
  process.stdout.write(formatMetrics(result.metrics));
  process.stdout.write(`wrote ${result.written.filter((p) => !p.endsWith('.csv')).join(', ')} and the test predictions\n`);
}

export function register(cli: CAC): void {
  cli
    .command('evaluate <run-dir>', 'Score every fold model and the fold ensemble on the test split (metrics.json, metrics.md)')
    .option('--epoch <e>', 'Evaluate the checkpoint of epoch e (kept with ort-train --keep-all)')
    .option('--best', 'Evaluate each fold\'s checkpoint with the lowest validation loss (default: the last epoch)')
    .option('--batch-size <n>', 'Tiles per inference batch (default: the training batch size)')
    .option('--threads <n>', 'ONNX Runtime threads (default: the number of CPUs)')
    .option('--device <cpu|cuda|webgpu>', 'Execution provider (default: the run\'s); on webgpu each graph takes batches of exactly --batch-size, the last one padded')
    .option('--workers <n>', 'Data loader threads (default 1)')
    .option('--no-excitation', 'Skip the SE excitation analysis')
    .example('senet-ort evaluate artifacts/se_resnet20 --best')
    .ignoreOptionDefaultValue()
    .action((run: string, flags: EvaluateFlags) => evaluate(run, flags));
}
