/**
 * The x64 flavour of the training step: the portable step with its convolutions lowered, where
 * they win, to ONNX Runtime's blocked-layout (NCHWc) CPU kernels. ORT applies those itself only
 * to convs whose weights are constant initializers; in a training step the weights are inputs,
 * so this pass does what its optimizer would, inside the graph: the activation goes through
 * ReorderInput, the weight through Reshape + Transpose into the blocked layout, the nchwc Conv
 * runs, and ReorderOutput brings the result back to NCHW for everything else.
 *
 * The kernels exist on x86-64 builds only, with a block of 8 channels (AVX2) or 16 (AVX-512F),
 * decided by the CPU at run time: a graph built for one block computes garbage with the other,
 * so the block is recorded with the artifacts and checked against a probe before a run.
 */
import type { Graph, Node, Value } from './ir.ts';
import { withoutDeadNodes } from './ir.ts';
import { DEFAULT_OPSET } from './builder.ts';
import type { Emitter } from './rewrite.ts';
import { emit, emitterFor, int64 } from './rewrite.ts';
import { flippedPads } from './conv-grad.ts';

export const NCHWC_DOMAIN = 'com.microsoft.nchwc';
export const NCHWC_BLOCKS = [8, 16] as const;
export type NchwcBlock = (typeof NCHWC_BLOCKS)[number];


/**
 * Which convs to lower, measured in whole steps with bench/kernels.ts (bench/RESULTS.md): with the
 * weight reorders made of single-axis moves, every 3x3 and 7x7 conv and stride-1 dX wins on maps
 * of any size (the 5x5 and 2x2 maps of layer4 included); lowering 1x1 convs gained nothing.
 */
export interface NchwcPolicy {
  /** Lower convs whose output maps are at least this large (rows). */
  readonly minOutputSize: number;
  /** Lower 1x1 convs too. */
  readonly pointwise: boolean;
  /**
   * Lower stride-1 dX convolutions (conv-grad's flipped-kernel Conv, or its ConvTranspose, which
   * becomes a flipped-kernel nchwc Conv) whose output maps are at least this large (rows).
   */
  readonly minInputGradSize: number;
}

export const DEFAULT_NCHWC: NchwcPolicy = { minOutputSize: 1, pointwise: false, minInputGradSize: 1 };

const roundUp = (n: number, block: number): number => Math.ceil(n / block) * block;

/** Whether a Conv node runs faster (and is allowed) as an nchwc Conv with this block. */
function lowerable(node: Node, block: number, policy: NchwcPolicy): boolean {
  if (node.op !== 'Conv' || node.domain) return false;
  const [x, w] = node.inputs;
  const y = node.outputs[0]!;
  if (!x || !w || x.shape.length !== 4 || w.shape.length !== 4) return false;
  if (((node.attrs['group'] as number | undefined) ?? 1) !== 1) return false;
  if (((node.attrs['dilations'] as number[] | undefined) ?? [1, 1]).some((d) => d !== 1)) return false;
  const cin = x.shape[1];
  if (typeof cin !== 'number' || !(cin < block || cin % block === 0)) return false;
  const pointwise = w.shape[2] === 1 && w.shape[3] === 1;
  if (pointwise && !policy.pointwise) return false;
  const rows = y.shape[2];
  const min = flippedSource(w) ? policy.minInputGradSize : policy.minOutputSize;
  return typeof rows === 'number' && rows >= min;
}

/**
 * Whether a ConvTranspose is a stride-1 dX (dY [N, O, H, W] with the forward weight [O, I, kh, kw])
 * that runs as a flipped-kernel nchwc Conv: conv-grad picks ConvTranspose where the portable step
 * cannot afford the flip, which the blocked reorder does almost for free.
 */
function lowerableTranspose(node: Node, block: number, policy: NchwcPolicy): boolean {
  if (node.op !== 'ConvTranspose' || node.domain) return false;
  const [dy, w, bias] = node.inputs;
  const y = node.outputs[0]!;
  if (!dy || !w || bias || dy.shape.length !== 4 || w.shape.length !== 4) return false;
  const a = node.attrs;
  const ones = (key: string): boolean => ((a[key] as number[] | undefined) ?? [1, 1]).every((v) => v === 1);
  const zeros = (key: string): boolean => ((a[key] as number[] | undefined) ?? [0]).every((v) => v === 0);
  if (((a['group'] as number | undefined) ?? 1) !== 1 || !ones('strides') || !ones('dilations') || !zeros('output_padding')) return false;
  if (a['output_shape'] !== undefined || (a['auto_pad'] !== undefined && a['auto_pad'] !== 'NOTSET')) return false;
  const [o, i, kh, kw] = w.shape;
  const pads = (a['pads'] as number[] | undefined) ?? [0, 0, 0, 0];
  if (typeof kh !== 'number' || typeof kw !== 'number' || pads[0]! >= kh || pads[2]! >= kh || pads[1]! >= kw || pads[3]! >= kw) return false;
  if (typeof o !== 'number' || typeof i !== 'number' || o % block !== 0 || i % block !== 0) return false;
  if (kh === 1 && kw === 1 && !policy.pointwise) return false;
  const rows = y.shape[2];
  return typeof rows === 'number' && rows >= policy.minInputGradSize;
}

/**
 * The weight [O, I, kh, kw] in the layout the nchwc Conv reads, output channels padded to a
 * multiple of the block: [O/B][I/B][kh][kw][Bi][Bo] when the input is blocked, [O/B][I][kh][kw][Bo]
 * when it stays NCHW (fewer input channels than a block: the stem).
 */
function blockedWeight(e: Emitter, w: Value, block: number, name: string): Value {
  const [o, i, kh, kw] = w.shape as number[] as [number, number, number, number];
  const op = roundUp(o, block);
  const k = kh * kw;
  let padded = w;
  if (op !== o) padded = emit(e, `${name}/pad`, 'Pad', [w, int64(e, `${name}/pads`, [0, 0, 0, 0, op - o, 0, 0, 0])], [op, i, kh, kw], { mode: 'constant' });
  // Bo to the end: [O/B][Bo][I*k] -> [O/B][I*k][Bo], which is already the stem's layout.
  let blocked = move(e, padded, [op / block, block, i * k], `${name}/out_inner`);
  if (i >= block) blocked = move(e, blocked, [(op / block) * (i / block), block, k, block], `${name}/offset_out`, [0, 2, 1, 3]);
  return emit(e, `${name}/blocked`, 'Reshape', [blocked, int64(e, `${name}/blocked_shape`, [op, i, kh, kw])], [op, i, kh, kw]);
}

/**
 * A Transpose of `v` viewed as `shape` that moves one axis (by default the middle one of three to
 * the end). ORT runs such moves as batched 2-D transposes or block copies, 2-3.6x faster than a
 * 6-D permutation that moves single floats (bench/weight-reorder.ts): the reorders are made of them.
 */
function move(e: Emitter, v: Value, shape: readonly number[], name: string, perm: readonly number[] = [0, 2, 1]): Value {
  const viewed = emit(e, `${name}/view`, 'Reshape', [v, int64(e, `${name}/view_shape`, shape)], shape);
  return emit(e, `${name}/transpose`, 'Transpose', [viewed], perm.map((p) => shape[p]!), { perm: [...perm] });
}

/**
 * conv-grad's dX weight at stride 1, W transposed (in and out swapped) and flipped in space by a
 * Gather per spatial axis: the W it came from, or null for any other weight.
 */
function flippedSource(w: Value): Value | null {
  const gw = w.producer;
  const gh = gw?.inputs[0]?.producer;
  const t = gh?.inputs[0]?.producer;
  const reversed = (n: Node | null | undefined, axis: number): boolean => {
    if (!n || n.op !== 'Gather' || n.domain || n.attrs['axis'] !== axis) return false;
    const idx = n.inputs[1]?.contents;
    const k = n.inputs[0]!.shape[axis];
    return !!idx && idx.length === k && idx.every((v, i) => v === (k as number) - 1 - i);
  };
  if (!reversed(gw, 3) || !reversed(gh, 2) || !t || t.op !== 'Transpose' || t.domain) return null;
  const perm = t.attrs['perm'] as number[] | undefined;
  return perm && perm.join(',') === '1,0,2,3' ? t.inputs[0]! : null;
}

/**
 * The dX weight of a stride-1 conv with weight W [O, I, kh, kw], in the blocked layout of a conv
 * from O to I channels: [I/B][O/B][kh][kw][Bo][Bi] with the kernel flipped. The flip comes last, as
 * a Gather of whole B x B tiles over the kh*kw kernel offsets, which is a memory copy; flipping W
 * first means gathering single floats along its last axes, 5% of a ResNet-18 step.
 */
function blockedFlippedWeight(e: Emitter, w: Value, block: number, name: string): Value {
  const [o, i, kh, kw] = w.shape as number[] as [number, number, number, number];
  const [k, ob, ib] = [kh * kw, o / block, i / block];
  const outInner = move(e, w, [ob, block, i * k], `${name}/out_inner`); // [O/B][I/B][Bi][k][Bo]
  const inInner = move(e, outInner, [ob * ib, block, k * block], `${name}/in_inner`); // [O/B][I/B][k][Bo][Bi]
  const swapped = move(e, inInner, [ob, ib, k * block * block], `${name}/swap_blocks`, [1, 0, 2]); // [I/B][O/B][k][Bo][Bi]
  const tiles = emit(e, `${name}/tiles`, 'Reshape', [swapped, int64(e, `${name}/tiles_shape`, [ib, ob, k, block * block])], [ib, ob, k, block * block]);
  const flipped = emit(e, `${name}/flip`, 'Gather', [tiles, int64(e, `${name}/reversed`, [...Array(k).keys()].reverse())], [ib, ob, k, block * block], { axis: 2 });
  return emit(e, `${name}/blocked`, 'Reshape', [flipped, int64(e, `${name}/blocked_shape`, [i, o, kh, kw])], [i, o, kh, kw]);
}

/**
 * ReorderInput -> nchwc Conv -> ReorderOutput in place of `node`, whose output keeps its name;
 * `wb` is the weight in the blocked layout, output channels padded to the block.
 */
function nchwcConv(e: Emitter, node: Node, x: Value, wb: Value, bias: Value | null, attrs: Node['attrs'], block: number): Value {
  const y = node.outputs[0]!;
  const [n, cin, h, wd] = x.shape;
  const cout = y.shape[1] as number;
  const coutPadded = roundUp(cout, block);
  const xb = (cin as number) < block ? x : emit(e, `${node.name}/reorder_input`, 'ReorderInput', [x], [n!, cin!, h!, wd!], { channels_last: 0 }, NCHWC_DOMAIN);
  let bb: Value | null = null;
  if (bias) {
    bb = coutPadded === cout ? bias : emit(e, `${node.name}/bias_pad`, 'Pad', [bias, int64(e, `${node.name}/bias_pads`, [0, coutPadded - cout])], [coutPadded], { mode: 'constant' });
  }
  const [, , ho, wo] = y.shape;
  const yb = emit(e, `${node.name}/nchwc`, 'Conv', bb ? [xb, wb, bb] : [xb, wb], [n!, coutPadded, ho!, wo!], attrs, NCHWC_DOMAIN);
  e.names.delete(y.name);
  return emit(e, node.name, 'ReorderOutput', [yb], y.shape, { channels: cout, channels_last: 0 }, NCHWC_DOMAIN, y.name);
}

/**
 * The pass: every lowerable Conv, and every stride-1 dX ConvTranspose, becomes ReorderInput ->
 * nchwc Conv -> ReorderOutput; the rest is kept.
 */
export function lowerToNchwc(graph: Graph, block: NchwcBlock, policy: NchwcPolicy = DEFAULT_NCHWC): Graph {
  const e = emitterFor(graph);
  const replaced = new Map<Value, Value>();
  // By the W they come from: a weight's forward layout, and its flipped dX layout.
  const blockedWeights = new Map<Value, Value>();
  const flippedWeights = new Map<Value, Value>();
  const flipped = (w: Value, name: string): Value => {
    const wb = flippedWeights.get(w) ?? blockedFlippedWeight(e, w, block, name);
    flippedWeights.set(w, wb);
    return wb;
  };
  const current = (v: Value | null): Value | null => (v ? replaced.get(v) ?? v : null);
  for (const node of graph.nodes) {
    const inputs = node.inputs.map(current);
    if (lowerableTranspose(node, block, policy)) {
      const [dy, w] = inputs as [Value, Value];
      const k: [number, number] = [w.shape[2] as number, w.shape[3] as number];
      const wb = flipped(w, `${node.name}/weight`);
      const attrs = { kernel_shape: k, strides: [1, 1], pads: flippedPads(k, (node.attrs['pads'] as number[] | undefined) ?? [0, 0, 0, 0]) };
      replaced.set(node.outputs[0]!, nchwcConv(e, node, dy, wb, null, attrs, block));
      continue;
    }
    if (!lowerable(node, block, policy)) {
      e.nodes.push({ ...node, inputs });
      continue;
    }
    const [x, w, bias] = inputs as [Value, Value, Value | null | undefined];
    const cin = x.shape[1] as number;
    const cout = w.shape[0] as number;
    const source = flippedSource(w);
    let wb: Value;
    if (source && cout % block === 0 && cin % block === 0) wb = flipped(current(source)!, `${node.name}/weight`);
    else {
      wb = blockedWeights.get(w) ?? blockedWeight(e, w, block, `${node.name}/weight`);
      blockedWeights.set(w, wb);
    }
    const attrs = Object.fromEntries(Object.entries(node.attrs).filter(([k]) => ['pads', 'strides', 'dilations', 'group', 'kernel_shape'].includes(k)));
    replaced.set(node.outputs[0]!, nchwcConv(e, node, x, wb, bias ?? null, attrs, block));
  }
  const outputs = graph.outputs.map((v) => current(v)!);
  // The flip a dX weight no longer needs is left unread.
  return withoutDeadNodes({ ...graph, nodes: e.nodes, outputs, initializers: e.initializers });
}

/** How many convs the pass lowered, for the artifact's record and the tests. */
export function loweredConvs(graph: Graph): number {
  return graph.nodes.filter((n) => n.domain === NCHWC_DOMAIN && n.op === 'Conv').length;
}

/**
 * The probe: ReorderInput of a [1, 4, 1, 1] tensor pads the channels to one block, so the
 * output's channel count is the CPU's block size (where the kernels exist at all).
 */
export function probeGraph(): Graph {
  const x: Value = { name: 'x', dtype: 'float32', shape: [1, 4, 1, 1], producer: null };
  const node: { -readonly [K in keyof Node]: Node[K] } = { name: 'probe', op: 'ReorderInput', domain: NCHWC_DOMAIN, inputs: [x], outputs: [], attrs: { channels_last: 0 } };
  const y: Value = { name: 'y', dtype: 'float32', shape: [1, 'B', 1, 1], producer: node };
  node.outputs = [y];
  return { name: 'nchwc_probe', opset: DEFAULT_OPSET, nodes: [node], inputs: [x], outputs: [y], initializers: [] };
}

export function isNchwcBlock(n: number): n is NchwcBlock {
  return (NCHWC_BLOCKS as readonly number[]).includes(n);
}
