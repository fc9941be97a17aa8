import type { CAC, Command } from 'cac';
import { UserError } from '../../errors.ts';
import { intFlag } from '../flags.ts';
import { STRUCTURE_ONLY, buildInferenceGraph, parameterCount, parseInputShape, resolveModel } from '../../graph/model.ts';
import type { ModelOptions } from '../../graph/model.ts';
import { modelNames } from '../../graph/registry.ts';
import { inferenceMetadata } from '../../formats/metadata.ts';
import { encodeModel } from '../../formats/protobuf.ts';
import { writeTrainingArtifacts } from '../../formats/artifacts.ts';
import { writeFileAtomic } from '../../util/atomic.ts';

interface GenGraphFlags {
  classes?: string | number;
  input?: string;
  reduction?: string | number;
  seed?: string | number;
  opset?: string | number;
  batch?: string | number;
  o?: string;
  list?: boolean;
  train?: boolean;
  outDir?: string;
  labelSmoothing?: string | number;
  classWeights?: string;
}

export function modelOptions(arch: string, flags: GenGraphFlags): ModelOptions {
  const options: Record<string, unknown> = { arch };
  const set = (key: string, v: unknown): void => { if (v !== undefined) options[key] = v; };
  set('classes', intFlag(flags.classes, '--classes'));
  set('input', flags.input === undefined ? undefined : parseInputShape(String(flags.input)));
  set('reduction', intFlag(flags.reduction, '--reduction'));
  set('seed', intFlag(flags.seed, '--seed'));
  set('opset', intFlag(flags.opset, '--opset'));
  set('batch', intFlag(flags.batch, '--batch'));
  return options as unknown as ModelOptions;
}

function listModels(): string {
  const rows = modelNames().map((name) => {
    const cfg = resolveModel({ arch: name });
    const graph = buildInferenceGraph(cfg, STRUCTURE_ONLY);
    return `${name.padEnd(14)} ${parameterCount(graph).toLocaleString('en-US').padStart(12)}  ${cfg.input.join('x')}, ${cfg.classes} classes`;
  });
  return [`${'network'.padEnd(14)} ${'parameters'.padStart(12)}  default input`, ...rows].join('\n') + '\n';
}

async function writeStdout(bytes: Uint8Array): Promise<void> {
  if (process.stdout.isTTY) {
    throw new UserError('refusing to write a binary ONNX model to a terminal; redirect it (gen-graph se_resnet50 > model.onnx) or use -o FILE');
  }
  await new Promise<void>((resolve, reject) => process.stdout.write(bytes, (err) => (err ? reject(err) : resolve())));
}

async function genGraph(arch: string | undefined, flags: GenGraphFlags): Promise<void> {
  if (flags.list) {
    process.stdout.write(listModels());
    return;
  }
  if (!arch) throw new UserError(`missing architecture; known: ${modelNames().join(', ')}`);
  const options = modelOptions(arch, flags);
  const config = resolveModel(options);
  if (flags.train) {
    if (!flags.outDir) throw new UserError('--train writes several files: give --out-dir DIR');
    const smoothing = flags.labelSmoothing === undefined ? undefined : Number(flags.labelSmoothing);
    const weights = flags.classWeights === undefined ? undefined : String(flags.classWeights).split(',').map(Number);
    const written = writeTrainingArtifacts(config, flags.outDir, { labelSmoothing: smoothing, classWeights: weights });
    process.stderr.write(`wrote ${written.join(', ')} to ${flags.outDir}\n`);
    return;
  }
  const bytes = encodeModel(buildInferenceGraph(config), { metadata: inferenceMetadata(config) });
  if (flags.o) writeFileAtomic(flags.o, bytes);
  else await writeStdout(bytes);
}

/** The options and action, shared by `senet-ort gen-graph` and the `gen-graph` bin. */
export function defineGenGraph(command: Command): Command {
  return command
    .option('--classes <n>', 'number of classes (default 1000 ImageNet-style, 10 CIFAR-style)')
    .option('--input <CxHxW>', 'input shape (default 3x224x224 / 3x32x32)')
    .option('--reduction <r>', 'SE reduction ratio (default 16)')
    .option('--seed <n>', 'weight initialisation seed (default 0)')
    .option('--opset <n>', 'ONNX opset (default 17)')
    .option('--batch <n>', 'fixed batch size (default: symbolic N); with --train, of the training step only')
    .option('-o <file>', 'write the model to FILE instead of stdout')
    .option('--list', 'list the networks with their parameter counts')
    .option('--train', 'write the training artifacts (train_step, eval_step, model, init weights) to --out-dir')
    .option('--out-dir <dir>', 'directory for --train')
    .option('--label-smoothing <x>', 'with --train: CrossEntropyLoss label_smoothing (default 0)')
    .option('--class-weights <w,w,...>', 'with --train: CrossEntropyLoss class weights')
    .example('gen-graph se_resnet50 > se_resnet50.onnx')
    .example('gen-graph se_resnet20 --train --out-dir artifacts/se_resnet20 --input 3x150x150 --classes 8')
    .action((arch: string | undefined, flags: GenGraphFlags) => genGraph(arch, flags));
}

export function register(cli: CAC): void {
  defineGenGraph(cli.command('gen-graph [arch]', 'Write a ResNet / SE-ResNet as an ONNX model'));
}
