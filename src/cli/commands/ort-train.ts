import type { CAC, Command } from 'cac';
import type { TrainResult } from '../../train/trainer.ts';
import { train } from '../../train/trainer.ts';
import { plural } from '../../train/progress.ts';
import type { TrainInput } from '../../train/options.ts';
import { projectTrainInput } from '../project.ts';
import { addTrainingOptions } from '../train-flags.ts';
import type { RawFlags } from '../train-flags.ts';

/**
 * `ort-train`: k-fold training on ONNX Runtime. Options come from defaults, then `--preset`, then
 * a JSON `--config` file or the project file, then the flags (read in ../train-flags.ts).
 */

export function formatTrainResult(result: TrainResult): string {
  const lines = [`run: ${result.run}`];
  for (const f of result.folds) {
    const best = f.best ? `best epoch ${f.best.epoch}${f.best.valLoss === null ? '' : ` (validation loss ${f.best.valLoss.toFixed(4)})`}` : 'no epoch';
    lines.push(`fold ${f.fold}: ${plural(f.epochsDone, 'epoch')}, ${best}`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Ctrl-C: every finished epoch is already on disk (atomically), so say how to continue, then stop
 * with the conventional status of a SIGINT (130).
 */
function onInterrupt(input: TrainInput): () => void {
  const out = input.out ?? (input.arch ? `artifacts/${input.arch}` : '<run>');
  const handler = (): void => {
    process.stderr.write(`\nort-train: interrupted; finished epochs are kept, continue with: ort-train --out ${out} --resume\n`);
    process.exit(130);
  };
  process.once('SIGINT', handler);
  return () => process.off('SIGINT', handler);
}

async function ortTrain(flags: RawFlags): Promise<void> {
  const input = projectTrainInput(flags);
  const release = onInterrupt(input);
  try {
    process.stdout.write(formatTrainResult(await train(input)));
  } finally {
    release();
  }
}

/** The options and action, shared by `senet-ort ort-train` and the `ort-train` bin. */
export function defineOrtTrain(command: Command): Command {
  command
    .option('--data <dir>', 'A data set prepared by `tile --split` (dataset.json, manifest.csv, splits.json)')
    .option('--arch <name>', 'Network, e.g. resnet20 or se_resnet20 (gen-graph --list shows them)')
    .option('--fold <k>', 'Train fold k only (1-based)')
    .option('--folds <all|k,k>', 'Folds to train (default all)')
    .option('--out <dir>', 'Run directory (default artifacts/<arch>)')
    .option('--resume', 'Continue a run stopped part-way, from its last finished epoch');
  return addTrainingOptions(command)
    .example('ort-train --data tiles/ --arch se_resnet20 --fold 2 --epochs 40')
    .example('ort-train --out artifacts/se_resnet20 --resume')
    .example('ort-train --data tiles/ --arch resnet18 --init resnet18.safetensors --freeze stem,layer1 --normalize imagenet --fold 1')
    .ignoreOptionDefaultValue()
    .action((flags: RawFlags) => ortTrain(flags));
}

export function register(cli: CAC): void {
  defineOrtTrain(cli.command('ort-train', 'Train a network on each fold of a prepared data set with ONNX Runtime (checkpoints, logs, resume)'));
}
