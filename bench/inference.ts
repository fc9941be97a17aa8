// Inference throughput of the generated models: images/s at 3x150x150, batch 64, 2 threads.
//   node --import tsx bench/inference.ts [--nets a,b] [--batch 64] [--input 3x150x150] [--steps 5]
import * as ort from 'onnxruntime-node';
import { buildInferenceGraph, resolveModel } from '../src/graph/model.ts';
import { encodeModel } from '../src/formats/protobuf.ts';
import { benchArgs, inChild, machine, peakRssMiB, table } from './common.ts';

const args = benchArgs({ batch: 64, steps: 5 });

async function measure(net: string): Promise<Record<string, number | string>> {
  const config = resolveModel({ arch: net, input: args.input, classes: 8 });
  const session = await ort.InferenceSession.create(encodeModel(buildInferenceGraph(config)), {
    intraOpNumThreads: args.threads, interOpNumThreads: 1, graphOptimizationLevel: 'all',
  });
  const [c, h, w] = args.input;
  const images = new ort.Tensor('float32', Float32Array.from({ length: args.batch * c * h * w }, (_, i) => Math.sin(i)), [args.batch, c, h, w]);
  for (let i = 0; i < args.warmup; i++) await session.run({ images });
  const t0 = performance.now();
  for (let i = 0; i < args.steps; i++) await session.run({ images });
  const seconds = (performance.now() - t0) / 1000;
  return { network: net, 'img/s': Math.round((args.steps * args.batch) / seconds * 10) / 10, 'ms/batch': Math.round((seconds / args.steps) * 1000), 'peak RSS MiB': peakRssMiB() };
}

if (args.child) {
  console.log(JSON.stringify(await measure(args.child)));
} else {
  console.log(`inference, batch ${args.batch}, input ${args.input.join('x')}, ${args.threads} threads; ${machine()}; ${new Date().toISOString()}`);
  const rows = args.nets.map((net) => inChild(new URL(import.meta.url).pathname, net, process.argv.slice(2)));
  console.log(table(rows));
}
