import type { CAC } from 'cac';
import { UserError } from '../../errors.ts';
import { deviceFlag, intFlag } from '../flags.ts';
import { predictFiles } from '../../infer/predict.ts';
import { heavyNodesWarning } from '../../infer/placement.ts';
import { requireDevice } from '../../infer/session.ts';

interface PredictFlags {
  json?: boolean;
  threads?: string | number;
  batchSize?: string | number;
  device?: string;
}

async function predict(model: string, images: string[], flags: PredictFlags): Promise<void> {
  if (images.length === 0) throw new UserError('give one or more image files after the model');
  const threads = intFlag(flags.threads, '--threads', 1);
  const batch = intFlag(flags.batchSize, '--batch-size', 1);
  const device = deviceFlag(flags.device) ?? 'cpu';
  // Before any output: a GPU that cannot run here is one line and exit 1.
  await requireDevice(device);
  const { info, predictions, failures } = await predictFiles(model, images, {
    ...(threads ? { threads } : {}),
    ...(batch ? { batch } : {}),
    device,
    loaded: (p) => {
      const warning = heavyNodesWarning(p.hostNodes, model);
      if (warning) process.stderr.write(`predict: ${warning}\n`);
    },
  });
  if (!info.rawPixels) process.stderr.write(`predict: ${model} was not made by \`export\`; feeding 0-255 RGB as exported models expect\n`);
  if (flags.json) {
    process.stdout.write(JSON.stringify({ classes: info.classNames, predictions }, null, 2) + '\n');
  } else {
    for (const p of predictions) process.stdout.write(`${p.file}\t${p.label}\t${p.probability.toFixed(4)}\n`);
  }
  for (const f of failures) process.stderr.write(`predict: ${f}\n`);
  if (failures.length) process.exitCode = 1;
}

export function register(cli: CAC): void {
  cli.command('predict <model> [...images]', 'Classify images with an exported model: file, class, probability')
    .option('--json', 'print every class probability as JSON')
    .option('--threads <n>', 'ONNX Runtime threads (default 2)')
    .option('--batch-size <n>', 'images per inference batch (default 16)')
    .option('--device <cpu|cuda|webgpu>', 'execution provider (default cpu); on webgpu the model runs with a fixed batch of --batch-size, the last one padded')
    .example('senet-ort predict models/se_resnet20.onnx slide1/*.png')
    .example('senet-ort predict models/se_resnet20.onnx slide1/*.png --device webgpu --batch-size 32')
    .ignoreOptionDefaultValue()
    .action((model: string, images: string[], flags: PredictFlags) => predict(model, images, flags));
}
