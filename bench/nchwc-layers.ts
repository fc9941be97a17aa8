// One convolution at a time: the ONNX Conv against its x64 lowering (ReorderInput, the weight
// reordered in the graph, the nchwc Conv, ReorderOutput), per layer kind of the networks at
// 3x150x150, batch 32, 2 threads; median of 7 calls. What src/graph/nchwc.ts's policy follows.
//   node --import tsx bench/nchwc-layers.ts [--batch 32] [--threads 2]
import * as ort from 'onnxruntime-node';
import { Builder } from '../src/graph/builder.ts';
import type { Graph } from '../src/graph/ir.ts';
import { lowerToNchwc } from '../src/graph/nchwc.ts';
import { encodeModel } from '../src/formats/protobuf.ts';
import { nchwcBlock } from '../src/train/kernels.ts';
import { benchArgs, machine, table } from './common.ts';

const args = benchArgs({ batch: 32, steps: 7 });
/** [in, out, kernel, stride, input size]: the ResNet-18/50 and ResNet-20 layers at 150x150. */
const LAYERS: [number, number, number, number, number][] = [
  [3, 64, 7, 2, 150], [64, 64, 3, 1, 38], [64, 128, 3, 2, 38], [128, 128, 3, 1, 19], [128, 256, 3, 2, 19],
  [256, 256, 3, 1, 10], [256, 512, 3, 2, 10], [512, 512, 3, 1, 5],
  [3, 16, 3, 1, 150], [16, 16, 3, 1, 150], [16, 32, 3, 2, 150], [32, 32, 3, 1, 75], [64, 64, 3, 1, 38],
  [64, 256, 1, 1, 38], [256, 64, 1, 1, 38], [128, 512, 1, 1, 19], [512, 128, 1, 1, 19], [64, 128, 1, 2, 38],
];

async function median(graph: Graph, feeds: Record<string, ort.Tensor>): Promise<number> {
  const s = await ort.InferenceSession.create(encodeModel(graph), { intraOpNumThreads: args.threads, interOpNumThreads: 1, enableMemPattern: false });
  for (let i = 0; i < args.warmup; i++) await s.run(feeds);
  const times: number[] = [];
  for (let i = 0; i < args.steps; i++) {
    const t0 = performance.now();
    await s.run(feeds);
    times.push(performance.now() - t0);
  }
  await s.release();
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
}

const block = await nchwcBlock();
if (block === null) throw new Error('no NCHWc kernels on this machine');
const n = args.batch;
const rows: Record<string, string | number>[] = [];
for (const [cin, cout, k, s, size] of LAYERS) {
  const p = (k - 1) >> 1;
  const b = new Builder();
  const x = b.input('x', 'float32', [n, cin, size, size]);
  const w = b.input('w', 'float32', [cout, cin, k, k]);
  b.output(b.op('Conv', [x, w], { kernel_shape: [k, k], strides: [s, s], pads: [p, p, p, p] }, { names: ['y'] }));
  const plain = b.graph('conv');
  const lowered = lowerToNchwc(plain, block, { minOutputSize: 1, pointwise: true, minInputGradSize: 1 });
  const feeds = {
    x: new ort.Tensor('float32', Float32Array.from({ length: n * cin * size * size }, (_, i) => Math.sin(i)), [n, cin, size, size]),
    w: new ort.Tensor('float32', Float32Array.from({ length: cout * cin * k * k }, (_, i) => Math.cos(i) * 0.1), [cout, cin, k, k]),
  };
  const [a, c] = [await median(plain, feeds), await median(lowered, feeds)];
  rows.push({ conv: `${cin}->${cout}, ${k}x${k}/${s}, ${size}x${size}`, 'ONNX Conv ms': a.toFixed(1), 'lowered ms': c.toFixed(1), speed: (a / c).toFixed(2) });
}
console.log(`one conv, batch ${n}, ${args.threads} threads, NCHWc block ${block}; ${machine()}; ${new Date().toISOString()}`);
console.log(table(rows));
