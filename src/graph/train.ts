/**
 * The training step as one plain-ONNX graph: forward with batch statistics, the loss of
 * torch.nn.CrossEntropyLoss, the backward pass, torch.optim.SGD's update and BatchNorm's running
 * statistics. Every state tensor goes in as an input and comes out as `<name>.next`.
 */
import type { Builder } from './builder.ts';
import type { Graph, Initializer, Value } from './ir.ts';
import { gradients } from './autodiff.ts';
import type { GradContext } from './gradients.ts';
import { DEFAULT_CONV_GRAD } from './conv-grad.ts';
import type { ModelConfig } from './model.ts';
import { buildNetwork, modelDoc } from './model.ts';
import { filled } from './tensor.ts';
import { NEXT_SUFFIX } from './layers.ts';
import type { Freeze } from './freeze.ts';
import { NO_FREEZE, isFrozen } from './freeze.ts';
import { UserError, expected } from '../errors.ts';

export interface LossOptions {
  /** CrossEntropyLoss(label_smoothing=...), in [0, 1). */
  readonly labelSmoothing?: number;
  /** CrossEntropyLoss(weight=...), one positive weight per class. */
  readonly classWeights?: readonly number[];
}

export interface TrainStep {
  readonly graph: Graph;
  /** Trainable parameters, in state_dict order. */
  readonly parameters: readonly Initializer[];
  /** Momentum buffers, one per parameter, named `<param>.momentum`. */
  readonly momentum: readonly Initializer[];
  /** BatchNorm running_mean and running_var. */
  readonly runningStats: readonly Initializer[];
  /** Parameters of frozen parts: no gradient is computed for them and `<param>.next` is the parameter itself. */
  readonly frozen: readonly string[];
}

export const MOMENTUM_SUFFIX = '.momentum';
export { NEXT_SUFFIX };

export function checkLossOptions(options: LossOptions, classes: number): void {
  const s = options.labelSmoothing ?? 0;
  if (!(s >= 0 && s < 1)) throw expected('a number in [0, 1)', '--label-smoothing', s);
  const w = options.classWeights;
  if (w && (w.length !== classes || w.some((x) => !(x > 0) || !Number.isFinite(x)))) {
    throw expected(`${classes} positive numbers`, '--class-weights', w.join(','));
  }
}

/**
 * CrossEntropyLoss with mean reduction, as PyTorch defines it with weights w and smoothing e:
 * loss = sum_i sum_k w_k ((1-e) onehot_ik + e/K) (-log p_ik) / sum_i w_{y_i}.
 */
export function crossEntropy(b: Builder, logits: Value, labels: Value, classes: number, options: LossOptions): Value {
  return b.scope('loss', () => {
    const logp = b.op('LogSoftmax', [logits], { axis: 1 });
    let onehot = b.op('OneHot', [labels, b.constant(classes, 'int64'), b.constant([0, 1])], { axis: -1 });
    const smoothing = options.labelSmoothing ?? 0;
    let target = smoothing > 0 ? b.op('Add', [b.op('Mul', [onehot, b.constant(1 - smoothing)]), b.constant(smoothing / classes)]) : onehot;
    if (options.classWeights) {
      const w = b.constant(options.classWeights, 'float32', [classes]);
      target = b.op('Mul', [target, w]);
      onehot = b.op('Mul', [onehot, w]);
    }
    const total = b.reduceSum(b.op('Mul', [target, logp]), [0, 1], false);
    const weight = b.reduceSum(onehot, [0, 1], false);
    return b.op('Neg', [b.op('Div', [total, weight])], {}, { names: ['loss'], name: 'mean' });
  });
}

/**
 * torch.optim.SGD (dampening 0, no Nesterov): g += wd p; buf = momentum buf + g; p -= lr buf.
 * The products with the scalars run on flattened views: ORT multiplies by a scalar about 20 times
 * slower when the last dims are 1 (1x1 conv weights [M, C, 1, 1]) than the same numbers laid flat.
 */
function sgdUpdate(b: Builder, p: Value, grad: Value, buf: Value, hyper: { lr: Value; momentum: Value; weightDecay: Value }): [Value, Value] {
  return b.scope(p.name, () => {
    const shape = b.constant(p.shape as number[], 'int64');
    // Reshapes alias, so only the scalar products run on flat views.
    const scaled = (v: Value, by: Value): Value => b.reshape(b.op('Mul', [b.reshape(v, [-1]), by]), shape);
    const g = b.op('Add', [grad, scaled(p, hyper.weightDecay)], {}, { name: 'decay' });
    const bufNext = b.op('Add', [scaled(buf, hyper.momentum), g], {}, { names: [`${buf.name}${NEXT_SUFFIX}`], name: 'momentum' });
    const pNext = b.op('Sub', [p, scaled(bufNext, hyper.lr)], {}, { names: [`${p.name}${NEXT_SUFFIX}`], name: 'step' });
    return [pNext, bufNext];
  });
}

/**
 * Forward in training mode, the loss and the gradient of every parameter that is not frozen, in
 * one builder. Frozen parameters are no targets of the autodiff, which builds only what its
 * targets need: a frozen stem costs no weight gradient, a frozen prefix no backward at all.
 */
function lossAndGradients(config: ModelConfig, loss: LossOptions, ctx: GradContext, activation?: string, freeze: Freeze = NO_FREEZE) {
  checkLossOptions(loss, config.classes);
  const frozenBn = freeze.bn && freeze.parts.length ? (name: string) => isFrozen(name, freeze.parts) : undefined;
  const { net, logits } = buildNetwork(config, 'train', activation, undefined, frozenBn);
  const { b } = net;
  const labels = b.input('labels', 'int64', [config.batch]);
  const lossValue = crossEntropy(b, logits, labels, config.classes, loss);
  const all = b.initializers().filter((i) => i.kind === 'parameter');
  const parameters = all.filter((p) => !isFrozen(p.value.name, freeze.parts));
  const frozen = all.filter((p) => isFrozen(p.value.name, freeze.parts));
  if (parameters.length === 0) throw new UserError(`${config.arch}: --freeze ${freeze.parts.join(',')} leaves nothing to train`);
  const grads = gradients(b, lossValue, parameters.map((p) => p.value), ctx);
  return { net, b, logits, lossValue, parameters, frozen, all, grads };
}

/**
 * The loss and the raw gradients as outputs (`loss`, `<param>.grad`), without the update: for
 * checking gradients against finite differences and for anyone who wants their own optimiser.
 */
export function buildGradientGraph(config: ModelConfig, loss: LossOptions = {}, ctx: GradContext = { conv: DEFAULT_CONV_GRAD }, activation?: string): Graph {
  const { b, lossValue, parameters, grads } = lossAndGradients(config, loss, ctx, activation);
  b.output(lossValue);
  parameters.forEach((p, i) => b.output(b.op('Identity', [grads[i]!], {}, { names: [`${p.value.name}.grad`], name: `${p.value.name}.grad` })));
  return b.graph(`${config.arch}.gradients`);
}

/** `activation` replaces ReLU, for tests only (see Net.activation). */
export function buildTrainStep(config: ModelConfig, loss: LossOptions = {}, ctx: GradContext = { conv: DEFAULT_CONV_GRAD }, freeze: Freeze = NO_FREEZE, activation?: string): TrainStep {
  const { net, b, logits, lossValue, parameters: trainable, frozen, all: parameters, grads: trainableGrads } = lossAndGradients(config, loss, ctx, activation, freeze);
  const gradOf = new Map(trainable.map((p, i) => [p.value.name, trainableGrads[i]]));
  const hyper = {
    lr: b.input('lr', 'float32', []),
    momentum: b.input('momentum', 'float32', []),
    weightDecay: b.input('weight_decay', 'float32', []),
  };
  const momentum = parameters.map((p): Initializer => {
    const tensor = filled(p.tensor.dims, 0);
    return { value: b.initializer(`${p.value.name}${MOMENTUM_SUFFIX}`, tensor, 'buffer'), tensor, kind: 'buffer' };
  });
  b.output(lossValue);
  b.output(b.op('Identity', [logits], {}, { names: ['logits'], name: 'logits' }));
  // A frozen parameter and its (zero) momentum buffer pass through unchanged, bit for bit, so the
  // state contract (every input has its `.next`) holds whatever is frozen.
  const keep = (v: Value): Value => b.op('Identity', [v], {}, { names: [`${v.name}${NEXT_SUFFIX}`], name: `${v.name}/frozen` });
  const updates = parameters.map((p, i): [Value, Value] => {
    if (!gradOf.has(p.value.name)) return [keep(p.value), keep(momentum[i]!.value)];
    const grad = gradOf.get(p.value.name);
    if (!grad) throw new UserError(`${config.arch}: parameter ${p.value.name} does not affect the loss`);
    return sgdUpdate(b, p.value, grad, momentum[i]!.value, hyper);
  });
  for (const [pNext] of updates) b.output(pNext);
  for (const [, bufNext] of updates) b.output(bufNext);
  const runningStats: Initializer[] = [];
  const byName = new Map(b.initializers().map((i) => [i.value.name, i]));
  for (const s of net.runningStats) {
    b.output(s.meanNext ?? keep(s.mean));
    b.output(s.varNext ?? keep(s.var));
    runningStats.push(byName.get(s.mean.name)!, byName.get(s.var.name)!);
  }
  const graph = b.graph(`${config.arch}.train_step`, `training step of ${modelDoc(config)}`);
  return { graph, parameters, momentum, runningStats, frozen: frozen.map((p) => p.value.name) };
}
