/**
 * The model zoo: a name-to-spec map. A variant is a row of data (a block kind and repeats per
 * stage); its registry name is what `gen-graph` takes and what its files are called. Names are
 * `[legacy_][se_]<base>`: `se_` adds SE blocks, `legacy_` the SENet authors' Caffe layout.
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

/** The network with SE blocks that pairs with the plain network `name` (se_resnet50, legacy_se_resnet50), or null. */
export function seTwin(name: string): string | null {
  const p = partsOf(name);
  return p.se ? null : registered({ ...p, se: true });
}

/** The plain network of the SE network `name`, or null. */
export function plainTwin(name: string): string | null {
  const p = partsOf(name);
  return p.se ? registered({ ...p, se: false }) : null;
}

/** The same network in the other layout (legacy_se_resnet50 for se_resnet50, and back), or null where there is none. */
export function layoutTwin(name: string): string | null {
  const p = partsOf(name);
  return registered({ ...p, legacy: !p.legacy });
}

/** Whether `name` is one of the legacy_* networks, in the SENet authors' Caffe layout. */
export function isLegacy(name: string): boolean {
  return partsOf(name).legacy && registry.has(name);
}

interface NameParts {
  readonly legacy: boolean;
  readonly se: boolean;
  readonly base: string;
}

function partsOf(name: string): NameParts {
  const m = /^(legacy_)?(se_)?(.*)$/.exec(name)!;
  return { legacy: m[1] !== undefined, se: m[2] !== undefined, base: m[3]! };
}

function registered(p: NameParts): string | null {
  const name = `${p.legacy ? 'legacy_' : ''}${p.se ? 'se_' : ''}${p.base}`;
  return registry.has(name) ? name : null;
}

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

/**
 * The SENet authors' Caffe networks, as Cadene's se_resnet* and timm's legacy_seresnet* port
 * them with the authors' weights (50/101/152; timm's own for 18/34): the stem pools with
 * ceil_mode and no padding, bottlenecks stride their first 1x1 conv, and timm's SEResNetBlock
 * ends its branch in a ReLU. Same parameters, other features: weights trained in one layout give
 * other logits in the other. The plain twins pair with them in a study.
 */
export const CAFFE_LAYOUT: Pick<ModelSpec, 'stemPool' | 'bottleneckStride' | 'basicBranchRelu'> = { stemPool: 'ceil', bottleneckStride: 'conv1', basicBranchRelu: true };

for (const [name, block, blocks] of imagenet) {
  const spec: ModelSpec = { block, stem: 'imagenet', stages: stages(IMAGENET_WIDTHS, blocks), ...CAFFE_LAYOUT };
  registerModel(`legacy_${name}`, spec);
  registerModel(`legacy_se_${name}`, { ...spec, se: { reduction: DEFAULT_REDUCTION } });
}
