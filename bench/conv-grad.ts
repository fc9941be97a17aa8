// One conv layer's weight gradient alone, in each formulation, against the forward conv of the
// same layer: ms per call (median), 3x3 stride-1 convs, C channels in and out, batch 32, 2 threads.
//   node --import tsx bench/conv-grad.ts [--maps 16x150,32x75,64x38,128x19,256x10,512x5]
//     [--forms shifted,batched,gemm] [--batch 32] [--threads 2] [--runs 7]
// The whole-step benchmark (bench/train.ts) decides the defaults; this one shows why.
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { Builder } from '../src/graph/builder.ts';
import { encodeModel } from '../src/formats/protobuf.ts';
import { DEFAULT_CONV_GRAD, convWeightGrad } from '../src/graph/conv-grad.ts';
import type { ConvGradPolicy } from '../src/graph/conv-grad.ts';
import type { Node, Value } from '../src/graph/ir.ts';
import { machine, table } from './common.ts';

const { values } = parseArgs({ options: { maps: { type: 'string' }, forms: { type: 'string' }, batch: { type: 'string' }, threads: { type: 'string' }, runs: { type: 'string' } } });
const maps = (values.maps ?? '16x150,32x75,64x38,128x19,256x10,512x5').split(',').map((m) => m.split('x').map(Number) as [number, number]);
const forms = (values.forms ?? 'shifted,batched,gemm').split(',') as ConvGradPolicy['dw'][];
const n = Number(values.batch ?? 32);
const threads = Number(values.threads ?? 2);
const runs = Number(values.runs ?? 7);

/** Median ms of a graph with inputs x, w, dy whose outputs are small (no large copy back). */
async function time(build: (b: Builder, x: Value, w: Value, dy: Value) => Value, c: number, size: number): Promise<number> {
  const b = new Builder({ mode: 'train' });
  const dims = { x: [n, c, size, size], w: [c, c, 3, 3], dy: [n, c, size, size] };
  const [x, w, dy] = (['x', 'w', 'dy'] as const).map((k) => b.input(k, 'float32', dims[k]));
  b.output(build(b, x!, w!, dy!));
  const session = await ort.InferenceSession.create(encodeModel(b.graph('bench')), { intraOpNumThreads: threads, interOpNumThreads: 1, enableMemPattern: false });
  const feeds = Object.fromEntries(Object.entries(dims).map(([k, d]) =>
    [k, new ort.Tensor('float32', Float32Array.from({ length: d.reduce((p, q) => p * q) }, (_, i) => Math.sin(i * 0.37)), d)]));
  const ms: number[] = [];
  for (let i = 0; i <= runs; i++) {
    const t0 = performance.now();
    await session.run(feeds);
    if (i > 0) ms.push(performance.now() - t0);
  }
  await session.release();
  return ms.sort((p, q) => p - q)[Math.floor(ms.length / 2)]!;
}

const conv = (b: Builder, x: Value, w: Value): Value => b.op('Conv', [x, w], { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [1, 1] });
console.log(`conv weight gradient alone, batch ${n}, ${threads} threads, median of ${runs}; ${machine()}; ${new Date().toISOString()}`);
const rows: Record<string, string | number>[] = [];
for (const [c, size] of maps) {
  const row: Record<string, string | number> = { maps: `${c} ch, ${size}x${size}` };
  // The forward conv, reduced to one number per image so that its output is not copied back.
  row['forward conv'] = (await time((b, x, w) => b.reduceSum(conv(b, x, w), [1, 2, 3], false), c, size)).toFixed(1);
  for (const dw of forms) {
    row[dw] = (await time((b, x, w, dy) => {
      // The forward node is described, not added: ORT would run it even though nothing reads it.
      const forward: Node = { name: 'conv', op: 'Conv', inputs: [x, w], outputs: [dy], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [1, 1] } };
      return convWeightGrad(b, forward, dy, { ...DEFAULT_CONV_GRAD, dw });
    }, c, size)).toFixed(1);
  }
  rows.push(row);
}
console.log(table(rows));
