/**
 * The webgpu flavour of the training step: the portable step with the two things ONNX Runtime's
 * WebGPU provider (1.30) gets wrong or lacks written another way, in standard ops only.
 *
 * - A grouped Conv whose outputs per group M are at least 4 and not a multiple of 4 comes out
 *   wrong: the provider picks its vector width from the total output channels, not M. The step's
 *   grouped convs are conv-grad's one-hot "shift" convs, the same kernel for every channel, so
 *   each becomes a plain Conv of the channels folded into the batch: [N, C, H, W] -> [N*C, 1, H, W],
 *   Conv with one group's [M, 1, kh, kw], then [N*C, M, Ho, Wo] -> [N, C*M, Ho, Wo], which is the
 *   same channel order (c*M + i). Other grouped convs in that range are refused by name.
 * - MaxPool has no Indices output there, and the portable MaxPool backward scatters through it.
 *   Here each window's gradient goes to its first maximum, as PyTorch's (and ORT's CPU Indices)
 *   do, overlapping windows and ties included: the window's values as kh*kw channels (the same
 *   folded one-hot Conv), compared with the pooled Y, inside the image only; each hit scores
 *   kh*kw - position, so the window's highest score is its first hit; dY goes there, and a
 *   ConvTranspose with the same one-hot kernels adds every window's share back onto the input.
 *   In ceil_mode the end pads grow to hold the windows that hang over the edge.
 *   The one-hot Conv copies values exactly (one product by 1, the rest by 0), so the comparison
 *   is exact; only a NaN window (a diverged step, which the trainer discards) would match nowhere.
 */
import type { Dim, Graph, Node, Value } from './ir.ts';
import { withoutDeadNodes } from './ir.ts';
import type { Emitter } from './rewrite.ts';
import { constant, emit, emitterFor, int64, reshape, times } from './rewrite.ts';

/** Whether ORT 1.30's WebGPU Conv computes a grouped conv with `perGroup` outputs per group wrongly. */
export function hitsGroupedConvDefect(perGroup: number): boolean {
  return perGroup >= 4 && perGroup % 4 !== 0;
}

const attrList = (n: Node, key: string, fallback: number[]): number[] => (n.attrs[key] as number[] | undefined) ?? fallback;

/** The weight of a depthwise Conv when every group holds the same kernel, as one group's [M, 1, kh, kw] values; else null. */
function sharedKernel(graph: Graph, node: Node, groups: number): { values: number[]; dims: number[] } | null {
  const w = node.inputs[1];
  const init = graph.initializers.find((i) => i.value === w || i.value.name === w?.name);
  if (!init || init.kind !== 'constant' || init.tensor.dtype !== 'float32') return null;
  const [o, i, kh, kw] = init.tensor.dims as [number, number, number, number];
  if (i !== 1 || o % groups !== 0) return null;
  const per = (o / groups) * kh * kw;
  const data = init.tensor.data as Float32Array;
  for (let g = 1; g < groups; g++) for (let k = 0; k < per; k++) if (data[g * per + k] !== data[k]) return null;
  return { values: Array.from(data.subarray(0, per)), dims: [o / groups, 1, kh, kw] };
}

/** A grouped Conv the pass folds: one input channel per group, the same constant kernel in each, no bias. */
function foldable(graph: Graph, node: Node): { values: number[]; dims: number[] } | null {
  if (node.op !== 'Conv' || node.domain) return null;
  const groups = (node.attrs['group'] as number | undefined) ?? 1;
  const x = node.inputs[0];
  if (groups === 1 || !x || x.shape[1] !== groups || node.inputs[2]) return null;
  return sharedKernel(graph, node, groups);
}

function foldedConv(e: Emitter, node: Node, x: Value, kernel: { values: number[]; dims: number[] }): Value {
  const y = node.outputs[0]!;
  const [n, c, h, w] = x.shape as [Dim, number, number, number];
  const [, , ho, wo] = y.shape as [Dim, number, number, number];
  const m = kernel.dims[0]!;
  const xf = reshape(e, `${node.name}/fold`, x, [-1, 1, h, w], [times(n, c), 1, h, w]);
  const k = constant(e, `${node.name}/kernel`, kernel.values, 'float32', kernel.dims);
  const attrs = { ...node.attrs, group: 1 };
  const yf = emit(e, `${node.name}/folded`, 'Conv', [xf, k], [times(n, c), m, ho, wo], attrs);
  e.names.delete(y.name);
  return reshape(e, node.name, yf, [-1, c * m, ho, wo], y.shape, y.name);
}

/** One-hot kernels [kh*kw, 1, kh, kw]: output channel i is the input moved to window position i. */
function windowKernel(e: Emitter, name: string, kh: number, kw: number): Value {
  const kk = kh * kw;
  const values = new Array<number>(kk * kk).fill(0);
  for (let i = 0; i < kk; i++) values[i * kk + i] = 1;
  return constant(e, name, values, 'float32', [kk, 1, kh, kw]);
}

interface Pool {
  readonly x: Value;
  readonly y: Value;
  readonly node: Node;
}

/**
 * dX of MaxPool (x -> y) for dY given flat ([N*C*Ho*Wo], as the portable backward's ScatterElements
 * takes it), flat like that scatter's result; `outName` is the scatter's output name.
 */
function firstMaximumGrad(e: Emitter, pool: Pool, dyFlat: Value, name: string, outName: string): Value {
  const { x, y, node } = pool;
  const [n, c, h, w] = x.shape as [Dim, number, number, number];
  const [, , ho, wo] = y.shape as [Dim, number, number, number];
  const [kh, kw] = attrList(node, 'kernel_shape', []) as [number, number];
  const strides = attrList(node, 'strides', [1, 1]);
  if (attrList(node, 'dilations', [1, 1]).some((d) => d !== 1) || (node.attrs['auto_pad'] ?? 'NOTSET') !== 'NOTSET') {
    throw new Error(`node ${node.name} (MaxPool): the webgpu backward supports explicit pads and dilation 1 only`);
  }
  const pads = windowPads(node, [h, w], [ho, wo], [kh, kw], strides);
  const kk = kh * kw;
  const nc = times(n, c);
  const kernel = windowKernel(e, `${name}/window_kernel`, kh, kw);
  const xf = reshape(e, `${name}/x`, x, [-1, 1, h, w], [nc, 1, h, w]);
  const windows = emit(e, `${name}/windows`, 'Conv', [xf, kernel], [nc, kk, ho, wo], { kernel_shape: [kh, kw], strides, pads });
  const yf = reshape(e, `${name}/y`, y, [-1, 1, ho, wo], [nc, 1, ho, wo]);
  const hit = emit(e, `${name}/hit`, 'Equal', [windows, yf], [nc, kk, ho, wo], {}, undefined, undefined, 'bool');
  // Score kk - i at window position i where it lies inside the image, 0 on padding.
  const scores: number[] = [];
  for (let i = 0; i < kk; i++) {
    for (let r = 0; r < ho; r++) {
      for (let q = 0; q < wo; q++) {
        const row = r * strides[0]! - pads[0]! + Math.floor(i / kw);
        const col = q * strides[1]! - pads[1]! + (i % kw);
        scores.push(row >= 0 && row < h && col >= 0 && col < w ? kk - i : 0);
      }
    }
  }
  const rank = constant(e, `${name}/rank`, scores, 'float32', [1, kk, ho, wo]);
  const score = emit(e, `${name}/score`, 'Where', [hit, rank, constant(e, `${name}/zero`, [0], 'float32', [])], [nc, kk, ho, wo]);
  const best = e.opset >= 18
    ? emit(e, `${name}/best`, 'ReduceMax', [score, int64(e, `${name}/axes`, [1])], [nc, 1, ho, wo], { keepdims: 1 })
    : emit(e, `${name}/best`, 'ReduceMax', [score], [nc, 1, ho, wo], { axes: [1], keepdims: 1 });
  const first = emit(e, `${name}/first`, 'Equal', [score, best], [nc, kk, ho, wo], {}, undefined, undefined, 'bool');
  const dy = reshape(e, `${name}/dy`, dyFlat, [-1, 1, ho, wo], [nc, 1, ho, wo]);
  const routed = emit(e, `${name}/routed`, 'Where', [first, dy, constant(e, `${name}/zero_dy`, [0], 'float32', [])], [nc, kk, ho, wo]);
  const outputPadding = [0, 1].map((a) => [h, w][a]! - ((([ho, wo][a] as number) - 1) * strides[a]! - pads[a]! - pads[a + 2]! + [kh, kw][a]!));
  const dx = emit(e, `${name}/scatter`, 'ConvTranspose', [routed, kernel], [nc, 1, h, w], { kernel_shape: [kh, kw], strides, pads, output_padding: outputPadding });
  e.names.delete(outName);
  return reshape(e, name, dx, [-1], [typeof n === 'number' ? n * c * h * w : `${n}*${c * h * w}`], outName);
}

/**
 * The pads for the window Conv and its ConvTranspose: the pool's own, except in ceil_mode, where
 * the last windows may hang over the end (the legacy stem's 3x3/2 without padding on an even
 * size): there the end pads are what makes a floor-mode Conv start the pool's Ho x Wo windows.
 * The positions they add lie outside the image, which the scores leave out.
 */
function windowPads(node: Node, size: readonly number[], out: readonly number[], kernel: readonly number[], strides: readonly number[]): number[] {
  const pads = attrList(node, 'pads', [0, 0, 0, 0]);
  if (node.attrs['ceil_mode'] !== 1) return pads;
  const end = [0, 1].map((a) => Math.max(0, (out[a]! - 1) * strides[a]! + kernel[a]! - size[a]! - pads[a]!));
  return [pads[0]!, pads[1]!, end[0]!, end[1]!];
}

/** The Indices output of a MaxPool, with its pool, for a value that is one (through a Reshape). */
function poolOfIndices(v: Value | null | undefined, pools: ReadonlyMap<Value, Pool>): Pool | null {
  if (!v) return null;
  const direct = pools.get(v);
  if (direct) return direct;
  const p = v.producer;
  return p && p.op === 'Reshape' && !p.domain ? pools.get(p.inputs[0]!) ?? null : null;
}

/** The pass: fold the grouped shift convs, and route MaxPool's backward through first maxima. */
export function lowerForWebgpu(graph: Graph): Graph {
  const e = emitterFor(graph);
  const replaced = new Map<Value, Value>();
  const pools = new Map<Value, Pool>();
  const current = (v: Value | null): Value | null => (v ? replaced.get(v) ?? v : null);
  for (const node of graph.nodes) {
    const inputs = node.inputs.map(current);
    const kernel = foldable(graph, node);
    if (kernel) {
      replaced.set(node.outputs[0]!, foldedConv(e, node, inputs[0]!, kernel));
      continue;
    }
    if (node.op === 'Conv' && !node.domain) {
      const groups = (node.attrs['group'] as number | undefined) ?? 1;
      const perGroup = (node.outputs[0]!.shape[1] as number) / groups;
      if (groups > 1 && hitsGroupedConvDefect(perGroup)) {
        throw new Error(`node ${node.name} (Conv): a grouped conv with ${perGroup} outputs per group, which ONNX Runtime's WebGPU Conv computes wrongly, and not one the webgpu pass can fold`);
      }
    }
    if (node.op === 'MaxPool' && !node.domain && node.outputs.length === 2) {
      const y = node.outputs[0]!;
      pools.set(node.outputs[1]!, { x: inputs[0]!, y, node });
      e.nodes.push({ ...node, inputs, outputs: [y] });
      continue;
    }
    const pool = node.op === 'ScatterElements' ? poolOfIndices(node.inputs[1], pools) : null;
    if (pool) {
      replaced.set(node.outputs[0]!, firstMaximumGrad(e, pool, inputs[2]!, node.name, node.outputs[0]!.name));
      continue;
    }
    e.nodes.push({ ...node, inputs });
  }
  const lowered = withoutDeadNodes({ ...graph, nodes: e.nodes, outputs: graph.outputs.map((v) => current(v)!), initializers: e.initializers });
  for (const n of lowered.nodes) {
    const read = n.inputs.find((v) => v && pools.has(v));
    if (read) throw new Error(`node ${n.name} (${n.op}) reads MaxPool indices ${read.name}, which ONNX Runtime's WebGPU provider does not compute`);
  }
  const output = lowered.outputs.find((v) => pools.has(v));
  if (output) throw new Error(`graph output ${output.name} is MaxPool indices, which ONNX Runtime's WebGPU provider does not compute`);
  return lowered;
}
