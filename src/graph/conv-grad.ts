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
   * auto: flipped at stride 1 on maps of at least `flippedMinSize`, else transpose.
   */
  readonly dx: 'auto' | 'transpose' | 'flipped';
  /**
   * batched: per-image MatMul of the patch tensor with dY, then a sum over the batch;
   * sliced: the same products one kernel offset at a time, on strided Slices of the padded
   *   input, so no patch tensor (kh*kw times the input) is ever built;
   * gemm: one whole-batch Gemm over channel-major patches;
   * auto: sliced on output maps of at least `slicedMinSize`, else gemm.
   */
  readonly dw: 'auto' | 'batched' | 'sliced' | 'gemm';
  readonly flippedMinSize: number;
  readonly slicedMinSize: number;
}

/**
 * Crossovers measured on a 2-core CPU with ORT 1.30 (bench/train.ts, bench/RESULTS.md): the flipped
 * kernel beat ConvTranspose at stride 1 on every map size there, so auto uses it wherever it applies;
 * per-offset slices beat the patch formulations for dW down to 19x19, a whole-batch Gemm below.
 * Transposing dY for a correlation-style dW (batch as the reduction axis) lost everywhere.
 */
export const DEFAULT_CONV_GRAD: ConvGradPolicy = { dx: 'auto', dw: 'auto', flippedMinSize: 1, slicedMinSize: 19 };

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
  const useFlipped = policy.dx === 'flipped' || (policy.dx === 'auto' && g.out[0] >= policy.flippedMinSize);
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
  const pads = [g.k[0] - 1 - g.pads[0], g.k[1] - 1 - g.pads[1], g.k[0] - 1 - g.pads[2], g.k[1] - 1 - g.pads[3]];
  return b.op('Conv', [dy, w], { kernel_shape: g.k, strides: [1, 1], pads, group: 1 });
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
  const kk = kh * kw;
  const name = `patch_kernel.${g.cin}x${kh}x${kw}`;
  const kernel = b.shared(name, () => {
    const oneHot = new Array<number>(g.cin * kk * kk).fill(0);
    for (let c = 0; c < g.cin; c++) for (let i = 0; i < kk; i++) oneHot[(c * kk + i) * kk + i] = 1;
    return b.initializer(name, tensorFromNumbers(oneHot, 'float32', [g.cin * kk, 1, kh, kw]), 'constant');
  });
  return b.op('Conv', [g.x, kernel], { kernel_shape: g.k, strides: g.strides, pads: g.pads, group: g.cin });
}

export function convWeightGrad(b: Builder, node: Node, dy: Value, policy: ConvGradPolicy): Value {
  const g = geometry(node);
  if (g.group !== 1) throw new Error(`node ${node.name} (Conv): weight gradient supports group 1 only`);
  const ckk = g.cin * g.k[0] * g.k[1];
  const big = g.out[0] >= policy.slicedMinSize;
  if (policy.dw === 'sliced' || (policy.dw === 'auto' && big)) return slicedWeightGrad(b, g, dy);
  const p = patches(b, g);
  let dw: Value;
  if (policy.dw === 'batched') {
    // [N, CKK, L] x [N, L, M] -> [N, CKK, M], summed over the batch: dY's transpose is the small one.
    const p3 = b.reshape(p, [0, ckk, -1]);
    const dyT = b.op('Transpose', [b.reshape(dy, [0, g.cout, -1])], { perm: [0, 2, 1] });
    const perImage = b.op('MatMul', [p3, dyT]);
    dw = b.op('Transpose', [b.reduceSum(perImage, [0], false)], { perm: [1, 0] });
  } else {
    const channelMajor = (v: Value, c: number): Value => b.reshape(b.op('Transpose', [v], { perm: [1, 0, 2, 3] }), [c, -1]);
    dw = b.op('Gemm', [channelMajor(dy, g.cout), channelMajor(p, ckk)], { transB: 1 });
  }
  return b.reshape(dw, [g.cout, g.cin, g.k[0], g.k[1]]);
}

/**
 * dW[:, :, i, j] = sum over images of dY (M x L) times the input shifted to kernel offset (i, j)
 * (L x C): one Slice of the padded input and one batched MatMul per offset.
 *
 * At stride 1 the shifted input is a contiguous window of the padded input flattened per channel,
 * if dY is widened to the padded width with zero columns (which cancel the wrapped-around
 * pixels): each offset then copies whole rows instead of 150-pixel pieces.
 */
function slicedWeightGrad(b: Builder, g: ConvGeometry, dy: Value): Value {
  const [kh, kw] = g.k;
  const [sh, sw] = g.strides;
  const [ho, wo] = g.out;
  const [top, left, bottom, right] = g.pads;
  const w = g.x.shape[3] as number;
  const stride1 = sh === 1 && sw === 1;
  // Stride 1: one extra zero row at the bottom keeps the last window inside the flat tensor.
  const extraRow = stride1 && kw > 1 ? 1 : 0;
  const padded = top || left || bottom || right || extraRow
    ? b.op('Pad', [g.x, b.constant([0, 0, top, left, 0, 0, bottom + extraRow, right], 'int64')], { mode: 'constant' })
    : g.x;
  const wp = w + left + right;
  const flat = stride1 ? b.reshape(padded, [0, g.cin, -1]) : null;
  // [N, L, M]: dY transposed once, shared by every offset (widened to the padded width at stride 1).
  const wideDy = stride1 && wp > wo ? b.op('Pad', [dy, b.constant([0, 0, 0, 0, 0, 0, 0, wp - wo], 'int64')], { mode: 'constant' }) : dy;
  const dyT = b.op('Transpose', [b.reshape(wideDy, [0, g.cout, -1])], { perm: [0, 2, 1] });
  const window = stride1 ? ho * (wp > wo ? wp : wo) : 0;
  const perOffset: Value[] = [];
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      let shifted: Value;
      if (stride1) {
        const start = i * wp + j;
        shifted = kh * kw === 1 && window === (flat!.shape[2] as number) ? flat! : b.op('Slice', [flat!, b.constant([start], 'int64'), b.constant([start + window], 'int64'), b.constant([2], 'int64')]);
      } else {
        shifted = b.reshape(b.op('Slice', [
          padded,
          b.constant([i, j], 'int64'),
          b.constant([i + sh * (ho - 1) + 1, j + sw * (wo - 1) + 1], 'int64'),
          b.constant([2, 3], 'int64'),
          b.constant([sh, sw], 'int64'),
        ]), [0, g.cin, -1]);
      }
      const product = b.op('MatMul', [shifted, dyT]); // [N, C, M]
      perOffset.push(b.reshape(b.reduceSum(product, [0], false), [g.cin, g.cout, 1]));
    }
  }
  const stacked = perOffset.length === 1 ? perOffset[0]! : b.op('Concat', perOffset, { axis: 2 }); // [C, M, kh*kw]
  return b.reshape(b.op('Transpose', [stacked], { perm: [1, 0, 2] }), [g.cout, g.cin, kh, kw]);
}
