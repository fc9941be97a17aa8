/**
 * The model zoo: a name-to-spec map. A variant is a row of data (a block kind and repeats per
 * stage); its registry name is what `gen-graph` takes and what its files are called.
 */
import type { ModelSpec, Stage } from './resnet.ts';
import { UserError } from '../errors.ts';

export const DEFAULT_REDUCTION = 16;

export interface ZooEntry {
  readonly name: string;
  readonly spec: ModelSpec;
  readonly defaultClasses: number;
  /** [C, H, W] */
  readonly defaultInput: readonly [number, number, number];
}

const registry = new Map<string, ZooEntry>();

export function registerModel(name: string, spec: ModelSpec): void {
  if (registry.has(name)) process.emitWarning(`model ${name} registered twice; the later one wins`);
  const cifar = spec.stem === 'cifar';
  registry.set(name, { name, spec, defaultClasses: cifar ? 10 : 1000, defaultInput: cifar ? [3, 32, 32] : [3, 224, 224] });
}

export function modelNames(): string[] {
  return [...registry.keys()];
}

export function createModel(name: string): ZooEntry {
  const entry = registry.get(name);
  if (!entry) throw new UserError(`unknown architecture "${name}"; known: ${modelNames().join(', ')}`);
  return entry;
}

const stages = (widths: readonly number[], blocks: readonly number[]): Stage[] =>
  widths.map((width, i) => ({ width, blocks: blocks[i]! }));

const IMAGENET_WIDTHS = [64, 128, 256, 512];
const CIFAR_WIDTHS = [16, 32, 64];

// ImageNet-style (torchvision): resnet18 is basic blocks, stages 64x2, 128x2, 256x2, 512x2.
const imagenet: [string, ModelSpec['block'], number[]][] = [
  ['resnet18', 'basic', [2, 2, 2, 2]],
  ['resnet34', 'basic', [3, 4, 6, 3]],
  ['resnet50', 'bottleneck', [3, 4, 6, 3]],
  ['resnet101', 'bottleneck', [3, 4, 23, 3]],
  ['resnet152', 'bottleneck', [3, 8, 36, 3]],
];
// CIFAR-style (He et al. 2016, sec. 4.2): 6n+2 layers, n basic blocks per stage of 16/32/64.
const cifar: [string, number][] = [['resnet20', 3], ['resnet32', 5], ['resnet56', 9], ['resnet110', 18]];

for (const [name, block, blocks] of imagenet) {
  const spec: ModelSpec = { block, stem: 'imagenet', stages: stages(IMAGENET_WIDTHS, blocks) };
  registerModel(name, spec);
  registerModel(`se_${name}`, { ...spec, se: { reduction: DEFAULT_REDUCTION } });
}
for (const [name, n] of cifar) {
  const spec: ModelSpec = { block: 'basic', stem: 'cifar', stages: stages(CIFAR_WIDTHS, [n, n, n]) };
  registerModel(name, spec);
  registerModel(`se_${name}`, { ...spec, se: { reduction: DEFAULT_REDUCTION } });
}
