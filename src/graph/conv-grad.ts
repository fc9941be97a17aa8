/**
 * Conv backward, the bulk of a training step. Each gradient has several exact formulations whose
 * speed depends on map size and stride; the policy picks one per layer. Results are the same up
 * to float rounding; the tests check every formulation against finite differences.
 */
import type { Builder } from './builder.ts';
import type { Node, Value } from './ir.ts';
import { tensorFromNumbers } from './tensor.ts';

export interface ConvGradPolicy {
  /**
   * transpose: ConvTranspose of dY with the forward's strides, pads and group;
   * flipped: (stride 1) a Conv of dY with the flipped, transposed kernel and pads k-1-p;
   * auto: flipped at stride 1 on maps of at least `flippedMinSize` where the batch holds at least
   *   `flippedMinPixels` output pixels (N*Ho*Wo; a symbolic batch counts as enough), else transpose.
   */
  readonly dx: 'auto' | 'transpose' | 'flipped';
  /**
   * shifted: (stride 1) one batched MatMul of kw column-shifted copies of the input by kh
   *   row-shifted copies of dY, which together hold every kernel offset;
   * batched: per-image MatMul of the patch tensor (kh*kw shifted copies) with dY, summed over the batch;
   * gemm: one whole-batch Gemm over channel-major patches;
   * auto: shifted at stride 1 on output maps of at least `shiftedMinSize` where its copies are
   *   smaller than the patch tensor, else batched on maps of at least `batchedMinSize`, else gemm.
   *   Where shifted does not apply (strided), batched.
   */
  readonly dw: 'auto' | 'shifted' | 'batched' | 'gemm';
  readonly flippedMinSize: number;
  readonly flippedMinPixels: number;
  readonly shiftedMinSize: number;
  readonly batchedMinSize: number;
}

/**
 * Crossovers measured on a 2-core CPU with ORT 1.30 (bench/train.ts, bench/kernels.ts, bench/RESULTS.md):
 * at stride 1 the flipped kernel beats ConvTranspose, except where the batch has few pixels: the
 * flip is a pass over the weight (ORT gathers it float by float) whose cost does not shrink with
 * the maps, so below 2048 output pixels a batch (ResNet-18's layer2 to layer4 at 64x64, batch 16,
 * where flips took a quarter of the step) ConvTranspose, which reads W as it is, wins;
 * for dW, shifted copies win on maps of 75x75 and up (at stride 1), the patch tensor with a per-image
 * MatMul from 19x19 (and on strided layers, where nine strided Slices cost four times as much), a
 * whole-batch Gemm below, where per-image products are too small to keep the cores busy.
 * Transposing dY for a correlation-style dW (batch as the reduction axis) lost everywhere.
 */
export const DEFAULT_CONV_GRAD: ConvGradPolicy = { dx: 'auto', dw: 'auto', flippedMinSize: 1, flippedMinPixels: 2048, shiftedMinSize: 75, batchedMinSize: 19 };

interface ConvGeometry {
  readonly x: Value;
  readonly w: Value;
  readonly cin: number;
  readonly cout: number;
  readonly k: [number, number];
  readonly strides: [number, number];
  readonly pads: [number, number, number, number];
  readonly group: number;
  /** Output spatial size. */
  readonly out: [number, number];
}

function geometry(node: Node): ConvGeometry {
  const [x, w] = [node.inputs[0]!, node.inputs[1]!];
  const y = node.outputs[0]!;
  const a = node.attrs;
  const dil = (a['dilations'] as number[] | undefined) ?? [1, 1];
  if (dil.some((d) => d !== 1)) throw new Error(`node ${node.name} (Conv): gradient supports dilation 1 only`);
  return {
    x, w,
    cin: x.shape[1] as number,
    cout: w.shape[0] as number,
    k: [w.shape[2] as number, w.shape[3] as number],
    strides: ((a['strides'] as number[] | undefined) ?? [1, 1]) as [number, number],
    pads: ((a['pads'] as number[] | undefined) ?? [0, 0, 0, 0]) as [number, number, number, number],
    group: (a['group'] as number | undefined) ?? 1,
    out: [y.shape[2] as number, y.shape[3] as number],
  };
}

export function convInputGrad(b: Builder, node: Node, dy: Value, policy: ConvGradPolicy): Value {
  const g = geometry(node);
  const stride1 = g.strides[0] === 1 && g.strides[1] === 1;
  const batch = dy.shape[0];
  const pixels = typeof batch === 'number' ? batch * g.out[0] * g.out[1] : Infinity;
  const useFlipped = policy.dx === 'flipped' || (policy.dx === 'auto' && g.out[0] >= policy.flippedMinSize && pixels >= policy.flippedMinPixels);
  if (useFlipped && stride1 && g.group === 1) return flippedConvInputGrad(b, g, dy);
  return transposedConvInputGrad(b, g, dy);
}

/** dX = ConvTranspose(dY, W); output_padding recovers the rows a strided forward skipped. */
function transposedConvInputGrad(b: Builder, g: ConvGeometry, dy: Value): Value {
  const size = [g.x.shape[2] as number, g.x.shape[3] as number];
  const outputPadding = [0, 1].map((i) => size[i]! - ((g.out[i]! - 1) * g.strides[i]! - g.pads[i]! - g.pads[i + 2]! + g.k[i]!));
  return b.op('ConvTranspose', [dy, g.w], {
    kernel_shape: g.k, strides: g.strides, pads: g.pads, group: g.group, output_padding: outputPadding,
  });
}

/** At stride 1, dX is a plain convolution of dY with the kernel flipped in space, in and out swapped. */
function flippedConvInputGrad(b: Builder, g: ConvGeometry, dy: Value): Value {
  let w = b.op('Transpose', [g.w], { perm: [1, 0, 2, 3] });
  for (const axis of [2, 3]) {
    const k = g.k[axis - 2]!;
    if (k > 1) w = b.op('Gather', [w, b.constant([...Array(k).keys()].reverse(), 'int64')], { axis });
  }
  return b.op('Conv', [dy, w], { kernel_shape: g.k, strides: [1, 1], pads: flippedPads(g.k, g.pads), group: 1 });
}

/** The pads of the flipped-kernel dX conv: k-1-p on each side, for a stride-1 conv with pads p. */
export function flippedPads(k: readonly [number, number], pads: readonly number[]): number[] {
  return [k[0] - 1 - pads[0]!, k[1] - 1 - pads[1]!, k[0] - 1 - pads[2]!, k[1] - 1 - pads[3]!];
}

/**
 * The patch tensor [N, C*kh*kw, Ho, Wo] that the forward conv multiplies with W: for a 1x1 conv
 * the (strided) input itself, otherwise a depthwise Conv with one-hot kernels, whose channel
 * c*kh*kw + i is input channel c shifted to kernel position i.
 */
function patches(b: Builder, g: ConvGeometry): Value {
  const [kh, kw] = g.k;
  const [sh, sw] = g.strides;
  if (kh === 1 && kw === 1 && g.pads.every((p) => p === 0)) {
    if (sh === 1 && sw === 1) return g.x;
    const [h, w] = [g.x.shape[2] as number, g.x.shape[3] as number];
    return b.op('Slice', [g.x, b.constant([0, 0], 'int64'), b.constant([h, w], 'int64'), b.constant([2, 3], 'int64'), b.constant([sh, sw], 'int64')]);
  }
  return b.op('Conv', [g.x, shiftKernel(b, g.cin, kh, kw)], { kernel_shape: g.k, strides: g.strides, pads: g.pads, group: g.cin });
}

/**
 * Depthwise one-hot kernels [C*kh*kw, 1, kh, kw]: output channel c*kh*kw + i is input channel c
 * moved to kernel position i, so a grouped Conv with them writes every shifted copy at once.
 */
function shiftKernel(b: Builder, channels: number, kh: number, kw: number): Value {
  const kk = kh * kw;
  const name = `shift_kernel.${channels}x${kh}x${kw}`;
  return b.shared(name, () => {
    const oneHot = new Array<number>(channels * kk * kk).fill(0);
    for (let c = 0; c < channels; c++) for (let i = 0; i < kk; i++) oneHot[(c * kk + i) * kk + i] = 1;
    return b.initializer(name, tensorFromNumbers(oneHot, 'float32', [channels * kk, 1, kh, kw]), 'constant');
  });
}

export function convWeightGrad(b: Builder, node: Node, dy: Value, policy: ConvGradPolicy): Value {
  const g = geometry(node);
  if (g.group !== 1) throw new Error(`node ${node.name} (Conv): weight gradient supports group 1 only`);
  const stride1 = g.strides[0] === 1 && g.strides[1] === 1;
  const size = g.out[0];
  // Shifted copies hold C*kw + M*kh values per pixel, the patch tensor C*kh*kw: a stem with
  // 3 input channels is cheaper to expand whole.
  const fewerCopies = g.cin * g.k[1] + g.cout * g.k[0] < g.cin * g.k[0] * g.k[1];
  const form = policy.dw !== 'auto' ? policy.dw
    : stride1 && fewerCopies && size >= policy.shiftedMinSize ? 'shifted'
      : size >= policy.batchedMinSize ? 'batched' : 'gemm';
  if (form === 'shifted' && stride1) return shiftedWeightGrad(b, g, dy);
  const ckk = g.cin * g.k[0] * g.k[1];
  const p = patches(b, g);
  let dw: Value;
  if (form === 'gemm') {
    const channelMajor = (v: Value, c: number): Value => b.reshape(b.op('Transpose', [v], { perm: [1, 0, 2, 3] }), [c, -1]);
    dw = b.op('Gemm', [channelMajor(dy, g.cout), channelMajor(p, ckk)], { transB: 1 });
  } else {
    // [N, CKK, L] x [N, L, M] -> [N, CKK, M], summed over the batch: dY's transpose is the small one.
    const p3 = b.reshape(p, [0, ckk, -1]);
    const dyT = b.op('Transpose', [b.reshape(dy, [0, g.cout, -1])], { perm: [0, 2, 1] });
    dw = b.op('Transpose', [b.reduceSum(b.op('MatMul', [p3, dyT]), [0], false)], { perm: [1, 0] });
  }
  return b.reshape(dw, [g.cout, g.cin, g.k[0], g.k[1]]);
}

/**
 * Stride 1: dW[:, :, i, j] sums, over images and pixels, the input shifted to kernel offset (i, j)
 * times dY. The two shifts are split between the operands, so kh + kw copies serve all kh*kw
 * offsets (6 instead of 9 for 3x3) and one batched MatMul of [C*kw, L] by [L, M*kh] computes them
 * all. On a common grid the size of the padded input, the input moved left by j columns (one
 * depthwise Conv with one-hot 1 x kw kernels) meets dY moved down by i rows (a Pad, then one
 * Gather of rows that points outside dY at a zero row). Grid columns past dY's width are zero,
 * so nothing wraps from one row into the next.
 */
function shiftedWeightGrad(b: Builder, g: ConvGeometry, dy: Value): Value {
  const [kh, kw] = g.k;
  const [top, left, bottom, right] = g.pads;
  const ho = g.out[0];
  const dyGrid = kh > 1 || kw > 1
    ? b.op('Pad', [dy, b.constant([0, 0, 0, 0, 0, 0, kh - 1, kw - 1], 'int64')], { mode: 'constant' })
    : dy;
  const rows: number[] = [];
  for (let i = 0; i < kh; i++) for (let r = 0; r < ho + kh - 1; r++) rows.push(r >= i && r - i < ho ? r - i : ho);
  const dyAll = kh > 1 ? b.op('Gather', [dyGrid, b.constant(rows, 'int64')], { axis: 2 }) : dyGrid; // [N, M, kh*rows, cols]
  const dyT = b.op('Transpose', [b.reshape(dyAll, [0, g.cout * kh, -1])], { perm: [0, 2, 1] }); // [N, L, M*kh]
  const xAll = b.op('Conv', [g.x, shiftKernel(b, g.cin, 1, kw)], { kernel_shape: [1, kw], pads: [top, left, bottom, right + kw - 1], group: g.cin }); // [N, C*kw, rows, cols]
  const summed = b.reduceSum(b.op('MatMul', [b.reshape(xAll, [0, g.cin * kw, -1]), dyT]), [0], false); // [C*kw, M*kh]
  return b.op('Transpose', [b.reshape(summed, [g.cin, kw, g.cout, kh])], { perm: [2, 0, 3, 1] });
}
