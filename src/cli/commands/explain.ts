import type { CAC } from 'cac';
import { UserError } from '../../errors.ts';
import { deviceFlag, intFlag } from '../flags.ts';
import { explainImages } from '../../deploy/explain.ts';
import { requireDevice } from '../../infer/session.ts';

interface ExplainFlags {
  out?: string;
  class?: string;
  fold?: string | number;
  last?: boolean;
  layer?: string;
  threads?: string | number;
  batchSize?: string | number;
  device?: string;
}

async function explain(model: string, images: string[], flags: ExplainFlags): Promise<void> {
  if (flags.out === undefined || String(flags.out) === '') throw new UserError('give --out DIR for the pictures (<name>.gradcam.png) and explain.json');
  const fold = intFlag(flags.fold, '--fold', 1);
  const threads = intFlag(flags.threads, '--threads', 1);
  const batch = intFlag(flags.batchSize, '--batch-size', 1);
  const device = deviceFlag(flags.device) ?? 'cpu';
  // Before anything is written: a GPU that cannot run here is one line and exit 1.
  await requireDevice(device);
  const result = await explainImages({
    model, images, out: String(flags.out), device,
    ...(flags.class !== undefined ? { className: String(flags.class) } : {}),
    ...(fold !== undefined ? { fold } : {}),
    ...(flags.last ? { checkpoint: 'last' as const } : {}),
    ...(flags.layer !== undefined ? { layer: String(flags.layer) } : {}),
    ...(threads !== undefined ? { threads } : {}),
    ...(batch !== undefined ? { batch } : {}),
  });
  for (const n of result.notes) process.stderr.write(`explain: ${n}\n`);
  for (const r of result.results) process.stdout.write(`${r.file}\t${r.predicted}\t${r.probability.toFixed(4)}\tmap of ${r.explained}\t-> ${r.png}\n`);
  for (const f of result.failures) process.stderr.write(`explain: ${f}\n`);
  if (result.results.length > 0) process.stderr.write(`explain: ${result.model}, Grad-CAM of ${result.layer}; ${result.results.length} picture${result.results.length === 1 ? '' : 's'} and ${result.written.at(-1)}\n`);
  if (result.failures.length) process.exitCode = 1;
}

export function register(cli: CAC): void {
  cli.command('explain <run-or-model> [...images]', 'Show where a network looks on each image (Grad-CAM): the image with its map over it, per image, in --out')
    .option('--out <dir>', 'where <name>.gradcam.png and explain.json go')
    .option('--class <name>', 'the class to explain (default: each image\'s predicted class)')
    .option('--fold <k>', 'a run folder: one fold instead of the ensemble of its finished folds')
    .option('--last', 'a run folder: the last checkpoints instead of the best by validation loss')
    .option('--layer <name>', 'a run folder: stem, layerN (a stage) or layerN.B (a block); default the last stage')
    .option('--threads <n>', 'ONNX Runtime threads (default 2)')
    .option('--batch-size <n>', 'images per batch (default 16)')
    .option('--device <cpu|cuda|webgpu>', 'execution provider (default cpu)')
    .example('senet-ort explain artifacts/study/se_resnet20 tiles/01_TUMOR/*.png --out maps/')
    .example('senet-ort explain models/se_resnet20-explain.onnx tile.png --class 02_STROMA --out maps/')
    .ignoreOptionDefaultValue()
    .action((model: string, images: string[], flags: ExplainFlags) => explain(model, images, flags));
}
