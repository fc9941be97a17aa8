/**
 * From user options to a checked model configuration, and from that to the inference graph:
 * `images` [N,C,H,W] -> `logits` [N,classes] and `probabilities` (softmax).
 */
import { Builder, DEFAULT_OPSET, MAX_OPSET, MIN_OPSET } from './builder.ts';
import type { Mode } from './builder.ts';
import type { Dim, Graph, Value } from './ir.ts';
import type { Net } from './layers.ts';
import type { ModelSpec, SeWidth } from './resnet.ts';
import { SE_WIDTHS, buildResNet, downsampling, seChannels } from './resnet.ts';
import { DEFAULT_REDUCTION, createModel, seTwin } from './registry.ts';
import { UserError, expected, either } from '../errors.ts';
import { createRng } from '../util/random.ts';
import type { Rng } from '../util/random.ts';

export interface ModelOptions {
  readonly arch: string;
  readonly classes?: number;
  /** [C, H, W] */
  readonly input?: readonly [number, number, number];
  readonly reduction?: number;
  /** How the SE hidden width is rounded (default floor); ignored by plain ResNets. */
  readonly seWidth?: SeWidth;
  readonly seed?: number;
  readonly opset?: number;
  /** A fixed batch size, or undefined for a symbolic batch dimension 'N'. */
  readonly batch?: number;
}

export interface ModelConfig {
  readonly arch: string;
  readonly spec: ModelSpec;
  readonly classes: number;
  readonly input: readonly [number, number, number];
  /** The SE reduction ratio, or null for a plain ResNet. */
  readonly reduction: number | null;
  /** The SE hidden width's rounding (the spec holds it too), null for a plain ResNet; absent means floor. */
  readonly seWidth?: SeWidth | null;
  readonly seed: number;
  readonly opset: number;
  readonly batch: Dim;
}

export const BATCH_SYMBOL = 'N';

function positiveInt(value: number, param: string): number {
  if (!Number.isInteger(value) || value < 1) throw expected('positive integer', param, value);
  return value;
}

export function parseInputShape(text: string): [number, number, number] {
  const parts = text.trim().toLowerCase().split('x');
  const dims = parts.map(Number);
  if (parts.length !== 3 || dims.some((d) => !Number.isInteger(d) || d < 1)) throw expected('CxHxW such as 3x224x224', '--input', text);
  return dims as [number, number, number];
}

/** Validates options against the architecture: every check that can fail is a one-line UserError. */
export function resolveModel(options: ModelOptions): ModelConfig {
  const entry = createModel(options.arch);
  const classes = options.classes ?? entry.defaultClasses;
  if (!Number.isInteger(classes) || classes < 2) throw expected('an integer of at least 2', '--classes', classes);
  const input = options.input ?? entry.defaultInput;
  input.forEach((d) => positiveInt(d, '--input'));
  const factor = downsampling(entry.spec);
  if (input[1] < factor || input[2] < factor) {
    throw new UserError(`input ${input.join('x')} is too small for ${options.arch}: the smallest that works is ${input[0]}x${factor}x${factor} (the network downsamples ${factor} times)`);
  }
  let spec = entry.spec;
  let reduction: number | null = null;
  let seWidth: SeWidth | null = null;
  if (options.seWidth !== undefined && !SE_WIDTHS.includes(options.seWidth)) throw expected(either(SE_WIDTHS), '--se-width', options.seWidth);
  if (spec.se) {
    reduction = options.reduction ?? spec.se.reduction ?? DEFAULT_REDUCTION;
    const smallest = Math.min(...seChannels(spec));
    if (!Number.isInteger(reduction) || reduction < 1 || reduction > smallest) {
      throw expected(`an integer from 1 to ${smallest} (the fewest channels of an SE block in ${options.arch})`, '--reduction', reduction);
    }
    seWidth = options.seWidth ?? 'floor';
    spec = { ...spec, se: { reduction, width: seWidth } };
  } else if (options.reduction !== undefined) {
    const twin = seTwin(options.arch);
    throw new UserError(`--reduction applies to SE networks only; ${options.arch} has no SE blocks${twin ? ` (try ${twin})` : ''}`);
  }
  const seed = options.seed ?? 0;
  if (!Number.isInteger(seed) || seed < 0) throw expected('non-negative integer', '--seed', seed);
  const opset = options.opset ?? DEFAULT_OPSET;
  if (!Number.isInteger(opset) || opset < MIN_OPSET || opset > MAX_OPSET) throw expected(`an opset from ${MIN_OPSET} to ${MAX_OPSET}`, '--opset', opset);
  const batch = options.batch === undefined ? BATCH_SYMBOL : positiveInt(options.batch, '--batch');
  return { arch: options.arch, spec, classes, input, reduction, seWidth, seed, opset, batch };
}

/**
 * A builder holding the network on a fresh `images` input, initialised from the config's seed;
 * `taps` receives each module's output (layers.ts's Net.taps).
 */
export function buildNetwork(config: ModelConfig, mode: Mode, activation?: string, rng: Rng = createRng(config.seed), frozenBn?: (weightName: string) => boolean, taps?: Map<string, Value>): { net: Net; images: Value; logits: Value } {
  const b = new Builder({ opset: config.opset, mode });
  const net: Net = { b, rng, runningStats: [], ...(activation ? { activation } : {}), ...(frozenBn ? { frozenBn } : {}), ...(taps ? { taps } : {}) };
  const images = b.input('images', 'float32', [config.batch, ...config.input]);
  const logits = buildResNet(net, config.spec, images, config.classes);
  return { net, images, logits };
}

export function modelDoc(config: ModelConfig): string {
  const width = config.seWidth === 'timm' ? ', timm SE widths' : '';
  const se = config.reduction === null ? 'ResNet' : `SE-ResNet (reduction ${config.reduction}${width})`;
  return `${config.arch}: ${se}, ${config.classes} classes, input ${config.input.join('x')}, seed ${config.seed}`;
}

/** The inference graph, with weights as initializers: what `gen-graph` writes. */
export function buildInferenceGraph(config: ModelConfig, rng?: Rng): Graph {
  const { net, logits } = buildNetwork(config, 'inference', undefined, rng);
  const { b } = net;
  b.output(b.op('Identity', [logits], {}, { names: ['logits'], name: 'logits' }));
  b.output(b.op('Softmax', [logits], { axis: 1 }, { names: ['probabilities'], name: 'probabilities' }));
  return b.graph(config.arch, modelDoc(config));
}

/** Draws nothing: for building a graph only to look at its structure (parameter counts). */
export const STRUCTURE_ONLY: Rng = { next: () => 0, int: () => 0, normal: () => 0 };

/** Trainable parameter count, as PyTorch's sum(p.numel() for p in model.parameters()). */
export function parameterCount(graph: Graph): number {
  return graph.initializers.filter((i) => i.kind === 'parameter').reduce((n, i) => n + i.tensor.data.length, 0);
}

/** Suffix of an SE block's sigmoid output: `layer2.0.se/excitation` belongs to the block `layer2.0.se`. */
export const EXCITATION_SUFFIX = '/excitation';

/** The SE gates of a graph, shallow to deep; none for a plain ResNet. */
export function excitationValues(graph: Graph): Value[] {
  return graph.nodes.flatMap((n) => n.outputs).filter((v) => v.name.endsWith(EXCITATION_SUFFIX));
}

/** The same graph with every SE gate as an extra output, after `logits` and `probabilities`. */
export function withExcitationOutputs(graph: Graph): Graph {
  return { ...graph, outputs: [...graph.outputs, ...excitationValues(graph)] };
}
