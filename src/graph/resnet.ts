/**
 * ResNet (He et al. 2016) and SE-ResNet (Hu et al. 2018) as data: a variant is a block kind, a
 * stem and a list of stages; one builder makes them all. Layouts follow torchvision (ImageNet
 * style) and the paper's CIFAR networks, with state_dict names; three flags give the SENet
 * authors' Caffe layout instead (registry.ts's legacy_* networks), in which their weights were trained.
 */
import type { Builder } from './builder.ts';
import type { Value } from './ir.ts';
import type { Net } from './layers.ts';
import { batchNorm, conv, linear, relu, squeezeExcitation } from './layers.ts';

export type BlockKind = 'basic' | 'bottleneck';
export type StemKind = 'imagenet' | 'cifar';

export interface Stage {
  readonly width: number;
  readonly blocks: number;
}

export interface ModelSpec {
  readonly block: BlockKind;
  readonly stem: StemKind;
  readonly stages: readonly Stage[];
  /** Squeeze-and-Excitation in every block, with reduction ratio r and how its hidden width is rounded. */
  readonly se?: { readonly reduction: number; readonly width?: SeWidth };
  /** The ImageNet stem's 3x3/2 max pool (default padded). */
  readonly stemPool?: StemPool;
  /** The bottleneck conv that carries a block's stride (default conv2, the 3x3). */
  readonly bottleneckStride?: 'conv1' | 'conv2';
  /** A BasicBlock's branch ends in a ReLU as well, before the SE block (default false). */
  readonly basicBranchRelu?: boolean;
}

/**
 * padded: pads 1 and rounds the output size down (torchvision); ceil: no padding, the output size
 * rounded up, so the last window may hang over the edge (Caffe's pooling).
 */
export type StemPool = 'padded' | 'ceil';

/**
 * How an SE block's hidden width follows from C and r. floor: C // r (at least 1), the paper's,
 * senet.pytorch's and Cadene's; timm: make_divisible(C / r, 8) as timm's SEModule rounds it (to
 * the nearest multiple of 8, at least 8), so timm's seresnet weights load without loss.
 */
export type SeWidth = 'floor' | 'timm';
export const SE_WIDTHS: readonly SeWidth[] = ['floor', 'timm'];

export function seHidden(channels: number, reduction: number, width: SeWidth = 'floor'): number {
  if (width === 'floor') return Math.max(1, Math.floor(channels / reduction));
  const divisor = 8;
  return Math.max(divisor, Math.floor((channels / reduction + divisor / 2) / divisor) * divisor);
}

const EXPANSION: Record<BlockKind, number> = { basic: 1, bottleneck: 4 };
const STEM_WIDTH: Record<StemKind, number> = { imagenet: 64, cifar: 16 };

/** How much a stem shrinks the image, and the first stage's stride after it. */
const STEM_STRIDE: Record<StemKind, number> = { imagenet: 4, cifar: 1 };

export function blockStride(stageIndex: number, blockIndex: number): number {
  return stageIndex > 0 && blockIndex === 0 ? 2 : 1;
}

/** Total downsampling: the smallest input side at which the last stage still sees real pixels. */
export function downsampling(spec: ModelSpec): number {
  return STEM_STRIDE[spec.stem] * 2 ** (spec.stages.length - 1);
}

export function finalChannels(spec: ModelSpec): number {
  return spec.stages[spec.stages.length - 1]!.width * EXPANSION[spec.block];
}

/** The channel count each SE block sees; the reduction ratio may not exceed the smallest. */
export function seChannels(spec: ModelSpec): number[] {
  return spec.stages.map((s) => s.width * EXPANSION[spec.block]);
}

function stem(net: Net, spec: ModelSpec, x: Value): Value {
  const width = STEM_WIDTH[spec.stem];
  if (spec.stem === 'cifar') return relu(net, batchNorm(net, 'bn1', conv(net, 'conv1', x, { out: width, kernel: 3, pad: 1 })));
  const y = relu(net, batchNorm(net, 'bn1', conv(net, 'conv1', x, { out: width, kernel: 7, stride: 2, pad: 3 })));
  const window = spec.stemPool === 'ceil' ? { pads: [0, 0, 0, 0], ceil_mode: 1 } : { pads: [1, 1, 1, 1] };
  // Training keeps MaxPool's argmax Indices: its backward scatters through them.
  const outputs = net.b.mode === 'train' ? 2 : 1;
  return net.b.opN('MaxPool', [y], { kernel_shape: [3, 3], strides: [2, 2], ...window }, { name: 'maxpool', outputs })[0]!;
}

/** Residual branch of a BasicBlock: 3x3 (stride here) -> BN -> ReLU -> 3x3 -> BN (-> ReLU in the Caffe layout). */
function basicBranch(net: Net, spec: ModelSpec, x: Value, width: number, stride: number): Value {
  const h = relu(net, batchNorm(net, 'bn1', conv(net, 'conv1', x, { out: width, kernel: 3, stride, pad: 1 })));
  const y = batchNorm(net, 'bn2', conv(net, 'conv2', h, { out: width, kernel: 3, pad: 1 }));
  return spec.basicBranchRelu ? relu(net, y) : y;
}

/** Residual branch of a Bottleneck: 1x1 -> 3x3 -> 1x1 (x4), BN after each; the stride on the 3x3 (torchvision) or the first 1x1 (Caffe). */
function bottleneckBranch(net: Net, spec: ModelSpec, x: Value, width: number, stride: number): Value {
  const [s1, s2] = spec.bottleneckStride === 'conv1' ? [stride, 1] : [1, stride];
  let h = relu(net, batchNorm(net, 'bn1', conv(net, 'conv1', x, { out: width, kernel: 1, stride: s1 })));
  h = relu(net, batchNorm(net, 'bn2', conv(net, 'conv2', h, { out: width, kernel: 3, stride: s2, pad: 1 })));
  return batchNorm(net, 'bn3', conv(net, 'conv3', h, { out: width * 4, kernel: 1 }));
}

function block(net: Net, spec: ModelSpec, x: Value, width: number, stride: number): Value {
  const out = width * EXPANSION[spec.block];
  let branch = (spec.block === 'basic' ? basicBranch : bottleneckBranch)(net, spec, x, width, stride);
  if (spec.se) branch = squeezeExcitation(net, 'se', branch, seHidden(out, spec.se.reduction, spec.se.width));
  const needsProjection = stride !== 1 || x.shape[1] !== out;
  const shortcut = needsProjection
    ? net.b.scope('downsample', () => batchNorm(net, '1', conv(net, '0', x, { out, kernel: 1, stride })))
    : x;
  return relu(net, net.b.op('Add', [branch, shortcut], {}, { name: 'residual' }));
}

/** Builds a whole network on `images` [N,C,H,W] and returns its logits [N,classes]. */
export function buildResNet(net: Net, spec: ModelSpec, images: Value, classes: number): Value {
  const b: Builder = net.b;
  let x = stem(net, spec, images);
  net.taps?.set('stem', x);
  spec.stages.forEach((stage, i) => {
    b.scope(`layer${i + 1}`, () => {
      for (let j = 0; j < stage.blocks; j++) {
        x = b.scope(j, () => block(net, spec, x, stage.width, blockStride(i, j)));
        net.taps?.set(`layer${i + 1}.${j}`, x);
      }
    });
    net.taps?.set(`layer${i + 1}`, x);
  });
  const pooled = b.op('Flatten', [b.op('GlobalAveragePool', [x], {}, { name: 'avgpool' })], { axis: 1 }, { name: 'flatten' });
  return linear(net, 'fc', pooled, classes);
}
