/**
 * The layers the networks are made of, each a few builder calls named like its PyTorch module,
 * so parameters come out under state_dict names (`layer1.0.bn1.running_mean`).
 */
import type { Builder } from './builder.ts';
import type { Value } from './ir.ts';
import { float } from './ir.ts';
import { filled, kaimingNormalFanOut, uniformFanIn } from './tensor.ts';
import { batchNormTrainGrad } from './gradients.ts';
import type { Rng } from '../util/random.ts';

export const BN_EPS = 1e-5;
/** PyTorch's BatchNorm momentum: running = (1 - 0.1) * running + 0.1 * batch statistic. */
export const BN_MOMENTUM = 0.1;
/** A training step's state outputs are its inputs' names plus this: `bn1.running_mean.next`. */
export const NEXT_SUFFIX = '.next';

/** A BatchNorm's running statistics and, in training mode, their updated values. */
export interface RunningStats {
  readonly mean: Value;
  readonly var: Value;
  readonly meanNext?: Value;
  readonly varNext?: Value;
}

/** What building a network needs besides the builder: the seeded initialiser and the BN state it collects. */
export interface Net {
  readonly b: Builder;
  readonly rng: Rng;
  readonly runningStats: RunningStats[];
  /**
   * For gradient checks only: a smooth stand-in for ReLU (e.g. 'Sigmoid'). ReLU's kinks, met
   * everywhere after BatchNorm centres activations at zero, make finite differences unreliable.
   */
  readonly activation?: string;
  /**
   * In a training step, the BatchNorm layers (by parameter name, `layer1.0.bn1.weight`) that run
   * as in inference, on their running statistics, which then stay as they are (--freeze-bn).
   */
  readonly frozenBn?: (weightName: string) => boolean;
  /**
   * Where buildResNet records each module's output by name (`stem`, `layer2`, `layer2.0`): the
   * layers a Grad-CAM map can be taken at (gradcam.ts).
   */
  readonly taps?: Map<string, Value>;
}

function channels(x: Value): number {
  return x.shape[1] as number;
}

export interface ConvOptions {
  readonly out: number;
  readonly kernel: number;
  readonly stride?: number;
  readonly pad?: number;
  readonly bias?: boolean;
}

/** Conv2d, Kaiming-normal (fan_out) weights as torchvision; a bias, if any, keeps PyTorch's default. */
export function conv(net: Net, name: string, x: Value, o: ConvOptions): Value {
  const { b, rng } = net;
  return b.scope(name, () => {
    const cin = channels(x);
    const w = b.parameter('weight', kaimingNormalFanOut([o.out, cin, o.kernel, o.kernel], rng));
    const bias = o.bias ? b.parameter('bias', uniformFanIn([o.out], cin * o.kernel * o.kernel, rng)) : null;
    const s = o.stride ?? 1;
    const p = o.pad ?? 0;
    return b.op('Conv', bias ? [x, w, bias] : [x, w], {
      kernel_shape: [o.kernel, o.kernel], strides: [s, s], pads: [p, p, p, p], dilations: [1, 1], group: 1,
    }, { name: '' });
  });
}

/**
 * BatchNorm2d. Inference: the ONNX op with running statistics. Training: batch statistics from
 * primitive ops, because ORT's CUDA BatchNormalization refuses training mode and the fused op's
 * running variance is biased; means reduce over H*W first, then N, which keeps float32 accurate
 * on large maps.
 */
export function batchNorm(net: Net, name: string, x: Value): Value {
  const { b } = net;
  return b.scope(name, () => {
    const c = channels(x);
    const gamma = b.parameter('weight', filled([c], 1));
    const beta = b.parameter('bias', filled([c], 0));
    const mean = b.parameter('running_mean', filled([c], 0), 'buffer');
    const variance = b.parameter('running_var', filled([c], 1), 'buffer');
    if (b.mode === 'inference') {
      net.runningStats.push({ mean, var: variance });
      return b.op('BatchNormalization', [x, gamma, beta, mean, variance], { epsilon: float(BN_EPS) }, { name: '' });
    }
    if (net.frozenBn?.(gamma.name)) {
      net.runningStats.push({ mean, var: variance });
      return frozenBatchNorm(b, x, gamma, beta, mean, variance);
    }
    const since = b.mark();
    const batchMean = b.reduceMean(b.reduceMean(x, [2, 3]), [0]);
    const centred = b.op('Sub', [x, batchMean]);
    const perImage = (x.shape[2] as number) * (x.shape[3] as number);
    const batchVar = b.reduceMean(b.op('Mul', [b.reduceSumSquare(centred, [2, 3]), b.constant(1 / perImage)]), [0]);
    const invStd = b.op('Reciprocal', [b.op('Sqrt', [b.op('Add', [batchVar, b.constant(BN_EPS)])])]);
    const scale = b.op('Mul', [b.reshape(gamma, [c, 1, 1]), invStd]);
    // The normalisation itself is the inference-mode op fed with batch statistics: one fused
    // full-size pass where Mul and Add take two, and legal on every execution provider.
    const zeroMean = b.constant(new Array<number>(c).fill(0), 'float32', [c]);
    const y = b.op('BatchNormalization', [centred, gamma, beta, zeroMean, b.reshape(batchVar, [c])], { epsilon: float(BN_EPS) }, { name: 'normalise' });
    b.region(since, [x, gamma, beta], [y], (gb, [dy], needs) => batchNormTrainGrad(gb, { dy: dy!, centred, invStd, scale }, needs));
    net.runningStats.push({ mean, var: variance, ...runningUpdate(b, x, mean, variance, batchMean, batchVar) });
    return y;
  });
}

/**
 * Inference-mode BatchNorm inside a training step, from primitive ops so that a gradient can pass
 * through it to earlier layers: y = x * scale + (beta - mean * scale), scale = gamma / sqrt(var + eps).
 */
function frozenBatchNorm(b: Builder, x: Value, gamma: Value, beta: Value, mean: Value, variance: Value): Value {
  const c = channels(x);
  const scale = b.op('Mul', [gamma, b.op('Reciprocal', [b.op('Sqrt', [b.op('Add', [variance, b.constant(BN_EPS)])])])]);
  const shift = b.op('Sub', [beta, b.op('Mul', [mean, scale])]);
  return b.op('Add', [b.op('Mul', [x, b.reshape(scale, [c, 1, 1])]), b.reshape(shift, [c, 1, 1])], {}, { name: 'frozen' });
}

/** running = 0.9 running + 0.1 batch, with the unbiased batch variance (times m / (m - 1)). */
function runningUpdate(b: Builder, x: Value, mean: Value, variance: Value, batchMean: Value, batchVar: Value): { meanNext: Value; varNext: Value } {
  const c = channels(x);
  const keep = b.constant(1 - BN_MOMENTUM);
  const take = b.constant(BN_MOMENTUM);
  const perImage = (x.shape[2] as number) * (x.shape[3] as number);
  // m = N*H*W; N may be symbolic, so read it from the batch at run time.
  const n = b.op('Cast', [b.op('Gather', [b.op('Shape', [x]), b.constant(0, 'int64')], { axis: 0 })], { to: 1 });
  const m = b.op('Mul', [n, b.constant(perImage)]);
  const unbias = b.op('Div', [m, b.op('Sub', [m, b.constant(1)])]);
  const meanNext = b.op('Add', [b.op('Mul', [mean, keep]), b.op('Mul', [b.reshape(batchMean, [c]), take])], {}, { name: 'running_mean_update', names: [`${mean.name}${NEXT_SUFFIX}`] });
  const unbiasedVar = b.op('Mul', [b.reshape(batchVar, [c]), unbias]);
  const varNext = b.op('Add', [b.op('Mul', [variance, keep]), b.op('Mul', [unbiasedVar, take])], {}, { name: 'running_var_update', names: [`${variance.name}${NEXT_SUFFIX}`] });
  return { meanNext, varNext };
}

export function relu(net: Net, x: Value): Value {
  return net.b.op(net.activation ?? 'Relu', [x]);
}

/**
 * Squeeze-and-Excitation (Hu et al. 2018, fig. 3): squeeze by global average pooling, excite
 * through a bottleneck of two 1x1 convs (C -> C/r -> C) with ReLU and sigmoid, then scale the
 * channels. Built from ops that already have gradients, so it needs no rule of its own. `width`
 * is the bottleneck's width (resnet.ts's seHidden: C // r, or timm's rounding).
 */
export function squeezeExcitation(net: Net, name: string, x: Value, width: number): Value {
  const { b } = net;
  return b.scope(name, () => {
    const c = channels(x);
    const squeezed = b.op('GlobalAveragePool', [x], {}, { name: 'squeeze' });
    const hidden = relu(net, conv(net, 'fc1', squeezed, { out: width, kernel: 1, bias: true }));
    const excitation = b.op('Sigmoid', [conv(net, 'fc2', hidden, { out: c, kernel: 1, bias: true })], {}, { name: 'excitation' });
    return b.op('Mul', [x, excitation], {}, { name: 'scale' });
  });
}

/** nn.Linear on flattened features: Gemm with the weight stored [out, in] as PyTorch does. */
export function linear(net: Net, name: string, x: Value, out: number): Value {
  const { b, rng } = net;
  return b.scope(name, () => {
    const fanIn = x.shape[1] as number;
    const w = b.parameter('weight', uniformFanIn([out, fanIn], fanIn, rng));
    const bias = b.parameter('bias', uniformFanIn([out], fanIn, rng));
    return b.op('Gemm', [x, w, bias], { transB: 1 }, { name: '' });
  });
}
