import type { CAC } from 'cac';
import { UserError } from '../../errors.ts';
import { deviceFlag, intFlag } from '../flags.ts';
import { exportRun } from '../../deploy/export.ts';
import { requireDevice } from '../../infer/session.ts';

interface ExportFlags {
  fold?: string | number;
  ensemble?: boolean;
  last?: boolean;
  o?: string;
  device?: string;
  threads?: string | number;
  explain?: boolean;
  layer?: string;
}

async function exportCommand(run: string, flags: ExportFlags): Promise<void> {
  if (flags.fold !== undefined && flags.ensemble) throw new UserError('give --fold k or --ensemble, not both');
  const fold = intFlag(flags.fold, '--fold', 1) ?? 'ensemble';
  const threads = intFlag(flags.threads, '--threads', 1);
  const device = deviceFlag(flags.device) ?? 'cpu';
  // Before anything is written: a GPU that cannot run the check here is one line and exit 1.
  await requireDevice(device);
  if (flags.layer !== undefined && !flags.explain) throw new UserError('--layer applies to --explain (the Grad-CAM layer)');
  const result = await exportRun({
    run, fold, checkpoint: flags.last ? 'last' : 'best', device, ...(threads ? { threads } : {}), ...(flags.o ? { out: flags.o } : {}),
    ...(flags.explain ? { explain: flags.layer === undefined ? '' : String(flags.layer) } : {}),
  });
  const what = result.folds.length > 1 ? `ensemble of folds ${result.folds.join(', ')}` : `fold ${result.folds[0]}`;
  const where = device === 'cpu' ? '' : ` on ${device}`;
  const cam = result.explain ? `; Grad-CAM of ${result.explain.layer} as output cam [N,${result.explain.height},${result.explain.width}]` : '';
  process.stdout.write(`${result.path}: ${what}; matches eval_step.onnx on ${result.checkedTiles} test tiles${where} (max probability difference ${result.maxDifference.toExponential(1)})${cam}\n`);
}

export function register(cli: CAC): void {
  cli.command('export <run-dir>', 'Write a trained run as one inference model: BN folded, normalisation inside, 0-255 RGB in')
    .option('--fold <k>', 'export one fold')
    .option('--ensemble', 'average every finished fold (the default)')
    .option('--last', 'use the last checkpoint instead of the best by validation loss')
    .option('-o <file>', 'output file (default models/<arch>-ensemble.onnx or -fold<k>.onnx)')
    .option('--explain', 'add Grad-CAM: an optional input class (int64 [N], -1 for the predicted class) and an output cam [N,h,w]; an ensemble averages its folds\' maps for the ensemble\'s class')
    .option('--layer <name>', 'with --explain: stem, layerN (a stage) or layerN.B (a block); default the last stage')
    .option('--device <cpu|cuda|webgpu>', 'where the check against eval_step.onnx runs (default cpu); the written model is the same')
    .option('--threads <n>', 'ONNX Runtime threads of the check (default: the number of CPUs)')
    .example('senet-ort export artifacts/study/se_resnet20 -o models/se_resnet20.onnx')
    .example('senet-ort export artifacts/study/se_resnet20 --explain --layer layer2 -o models/se_resnet20-explain.onnx')
    .action((run: string, flags: ExportFlags) => exportCommand(run, flags));
}
