import type { CAC, Command } from 'cac';
import { UserError, expected, either } from '../../errors.ts';
import { intFlag } from '../flags.ts';
import { STRUCTURE_ONLY, buildInferenceGraph, parameterCount, parseInputShape, resolveModel } from '../../graph/model.ts';
import type { ModelOptions } from '../../graph/model.ts';
import { modelNames } from '../../graph/registry.ts';
import { gradCamMetadata, inferenceMetadata } from '../../formats/metadata.ts';
import { buildExplainGraph, resolveCamLayer } from '../../graph/gradcam.ts';
import { encodeModel } from '../../formats/protobuf.ts';
import { buildArtifacts } from '../../formats/artifacts.ts';
import { writeArtifacts } from '../../formats/artifacts-file.ts';
import type { WeightLayout } from '../../formats/state-dict.ts';
import { importWeights, parseLayout } from '../../formats/state-dict.ts';
import { withWeights } from '../../graph/weights.ts';
import { parseFreeze } from '../../graph/freeze.ts';
import { parseSeWidth } from '../../train/init.ts';
import { writeFileAtomic } from '../../util/atomic.ts';
import type { Kernels } from '../../graph/flavours.ts';
import { PORTABLE, WEBGPU } from '../../graph/flavours.ts';
import { NCHWC_BLOCKS, isNchwcBlock } from '../../graph/nchwc.ts';
import { nchwcBlock } from '../../train/kernels.ts';

/** --kernels and --nchwc-block of the training step: portable unless asked, x64 for this CPU's block or the one given. */
async function trainKernels(flags: GenGraphFlags): Promise<Kernels> {
  const flavour = flags.kernels ?? 'portable';
  if (flavour !== 'portable' && flavour !== 'x64' && flavour !== 'webgpu') throw expected('portable, x64 or webgpu', '--kernels', flavour);
  if (flags.nchwcBlock !== undefined && flavour !== 'x64') throw new UserError('--nchwc-block applies to --kernels x64');
  if (flavour === 'portable') return PORTABLE;
  if (flavour === 'webgpu') return WEBGPU;
  if (flags.nchwcBlock !== undefined) {
    const block = Number(flags.nchwcBlock);
    if (!isNchwcBlock(block)) throw expected(either(NCHWC_BLOCKS), '--nchwc-block', flags.nchwcBlock);
    return { flavour: 'x64', block };
  }
  const block = await nchwcBlock();
  if (block === null) throw new UserError(`--kernels x64: ONNX Runtime has no NCHWc kernels on this machine (${process.arch}) to probe; give the target CPU's --nchwc-block (16 with AVX-512, 8 with AVX2)`);
  return { flavour: 'x64', block };
}

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
  seWidth?: string;
  weights?: string;
  initFormat?: string;
  freeze?: string;
  freezeBn?: boolean;
  kernels?: string;
  nchwcBlock?: string | number;
  explain?: boolean;
  layer?: string;
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
  set('seWidth', parseSeWidth(flags.seWidth));
  return options as unknown as ModelOptions;
}

function listModels(): string {
  const width = Math.max(...modelNames().map((name) => name.length));
  const rows = modelNames().map((name) => {
    const cfg = resolveModel({ arch: name });
    const graph = buildInferenceGraph(cfg, STRUCTURE_ONLY);
    return `${name.padEnd(width)} ${parameterCount(graph).toLocaleString('en-US').padStart(12)}  ${cfg.input.join('x')}, ${cfg.classes} classes`;
  });
  return [`${'network'.padEnd(width)} ${'parameters'.padStart(12)}  default input`, ...rows].join('\n') + '\n';
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
  const layout = flags.initFormat && flags.initFormat !== 'auto' ? parseLayout(String(flags.initFormat)) : undefined;
  if (layout && !flags.weights) throw new UserError('--init-format applies to --weights: give the weights file too');
  // --weights: the seeded network takes the file's tensors (a differing classifier stays seeded).
  const imported = flags.weights ? importWeights(String(flags.weights), buildInferenceGraph({ ...config, batch: 'N' }), layout as WeightLayout | undefined, config.arch) : undefined;
  for (const note of imported?.record.notes ?? []) process.stderr.write(`gen-graph: ${note}\n`);
  if (flags.freeze !== undefined && !flags.train) throw new UserError('--freeze applies to --train (the training step)');
  if ((flags.kernels !== undefined || flags.nchwcBlock !== undefined) && !flags.train) throw new UserError('--kernels applies to --train (the training step)');
  if (flags.layer !== undefined && !flags.explain) throw new UserError('--layer applies to --explain (the Grad-CAM layer)');
  if (flags.explain && flags.train) throw new UserError('--explain writes an inference model with Grad-CAM; it does not go with --train');
  const layer = flags.explain ? resolveCamLayer(config.spec, flags.layer === undefined ? undefined : String(flags.layer)) : undefined;
  if (flags.train) {
    if (!flags.outDir) throw new UserError('--train writes several files: give --out-dir DIR');
    const smoothing = flags.labelSmoothing === undefined ? undefined : Number(flags.labelSmoothing);
    const weights = flags.classWeights === undefined ? undefined : String(flags.classWeights).split(',').map(Number);
    const freeze = { parts: flags.freeze === undefined ? [] : parseFreeze(String(flags.freeze), config.spec), bn: flags.freezeBn ?? false };
    const setup = { freeze, kernels: await trainKernels(flags), ...(imported ? { weights: imported.tensors, init: imported.record } : {}) };
    const written = writeArtifacts(buildArtifacts(config, { labelSmoothing: smoothing, classWeights: weights }, undefined, setup), flags.outDir);
    process.stderr.write(`wrote ${written.join(', ')} to ${flags.outDir}\n`);
    return;
  }
  const seeded = layer === undefined ? buildInferenceGraph(config) : buildExplainGraph(config, layer);
  const graph = imported ? withWeights(seeded, imported.tensors, String(flags.weights)) : seeded;
  const extra: Record<string, string> = {
    ...(imported ? { weights: imported.record.file, weights_sha256: imported.record.sha256, weights_layout: imported.record.layout } : {}),
    ...(layer === undefined ? {} : gradCamMetadata(layer, 1)),
  };
  const bytes = encodeModel(graph, { metadata: inferenceMetadata(config, extra) });
  if (flags.o) writeFileAtomic(flags.o, bytes);
  else await writeStdout(bytes);
}

/** The options and action, shared by `senet-ort gen-graph` and the `gen-graph` bin. */
export function defineGenGraph(command: Command): Command {
  return command
    .option('--classes <n>', 'number of classes (default 1000 ImageNet-style, 10 CIFAR-style)')
    .option('--input <CxHxW>', 'input shape (default 3x224x224 / 3x32x32)')
    .option('--reduction <r>', 'SE reduction ratio (default 16)')
    .option('--se-width <floor|timm>', 'SE hidden width: C // r, or timm\'s make_divisible(C / r, 8) (default floor)')
    .option('--weights <file.safetensors>', 'weights from a torchvision, timm, legacy SE-ResNet, senet.pytorch or senet-ort state_dict instead of the seeded initialisation')
    .option('--init-format <layout>', 'layout of --weights (default: detected from the names)')
    .option('--freeze <parts>', 'with --train: parts the step does not train (stem, layer1, ..., backbone)')
    .option('--freeze-bn', 'with --train and --freeze: frozen BatchNorms use their running statistics')
    .option('--explain', 'add Grad-CAM: an optional input class (int64 [N], -1 for the predicted class) and an output cam [N,h,w]')
    .option('--layer <name>', 'with --explain: the layer whose map cam is: stem, layerN (a stage) or layerN.B (a block); default the last stage')
    .option('--seed <n>', 'weight initialisation seed (default 0)')
    .option('--opset <n>', 'ONNX opset (default 17)')
    .option('--batch <n>', 'fixed batch size (default: symbolic N); with --train, of the training step only')
    .option('-o <file>', 'write the model to FILE instead of stdout')
    .option('--list', 'list the networks with their parameter counts')
    .option('--train', 'write the training artifacts (train_step, eval_step, model, init weights) to --out-dir')
    .option('--out-dir <dir>', 'directory for --train')
    .option('--kernels <portable|x64|webgpu>', 'with --train: plain ONNX (default); ONNX Runtime\'s NCHWc convolutions for x86-64 CPUs of one block size; or the step rewritten around two gaps of ORT\'s WebGPU provider (ort-train makes both itself from portable artifacts)')
    .option('--nchwc-block <8|16>', 'with --kernels x64: the target CPU\'s block (16 with AVX-512, 8 with AVX2; default: probed here)')
    .option('--label-smoothing <x>', 'with --train: CrossEntropyLoss label_smoothing (default 0)')
    .option('--class-weights <w,w,...>', 'with --train: CrossEntropyLoss class weights')
    .example('gen-graph se_resnet50 > se_resnet50.onnx')
    .example('gen-graph se_resnet50 --se-width timm --weights seresnet50.safetensors -o seresnet50.onnx')
    .example('gen-graph se_resnet20 --train --out-dir artifacts/se_resnet20 --input 3x150x150 --classes 8')
    .example('gen-graph se_resnet50 --explain --layer layer3 --weights seresnet50.safetensors --se-width timm -o explain.onnx')
    .action((arch: string | undefined, flags: GenGraphFlags) => genGraph(arch, flags));
}

export function register(cli: CAC): void {
  defineGenGraph(cli.command('gen-graph [arch]', 'Write a ResNet / SE-ResNet as an ONNX model'));
}
