// Training-step throughput: images/s of train_step.onnx at 3x150x150, batch 32, 2 threads, with
// the process's peak memory. The conv backward formulation can be forced to compare them:
//   node --import tsx bench/train.ts [--nets a,b] [--batch 32] [--steps 5] [--dx auto|transpose|flipped] [--dw auto|shifted|batched|gemm]
//     [--flipped-min 1] [--flipped-pixels 2048] [--shifted-min 38] [--batched-min 19] (map sizes where auto switches) [--no-arena] [--mem-pattern]
//     [--symbolic] (a free batch dimension instead of the fixed one ort-train uses) [--override] [--no-spin]
// Session settings default to ort-train's: fixed batch, memory arena on, memory patterns off.
import * as ort from 'onnxruntime-node';
import { resolveModel } from '../src/graph/model.ts';
import { buildTrainStep } from '../src/graph/train.ts';
import { DEFAULT_CONV_GRAD } from '../src/graph/conv-grad.ts';
import type { ConvGradPolicy } from '../src/graph/conv-grad.ts';
import { encodeModel } from '../src/formats/protobuf.ts';
import { DEFAULT_NCHWC, lowerToNchwc, loweredConvs } from '../src/graph/nchwc.ts';
import { benchArgs, inChild, machine, peakRssMiB, stepFeeds, table } from './common.ts';

const args = benchArgs({ batch: 32, steps: 5 }, { dx: { type: 'string' }, dw: { type: 'string' }, 'flipped-min': { type: 'string' }, 'flipped-pixels': { type: 'string' }, 'shifted-min': { type: 'string' }, 'batched-min': { type: 'string' }, 'no-arena': { type: 'boolean' }, symbolic: { type: 'boolean' }, 'mem-pattern': { type: 'boolean' }, 'no-spin': { type: 'boolean' }, override: { type: 'boolean' }, kernels: { type: 'string' }, block: { type: 'string' }, 'nchwc-min': { type: 'string' }, 'nchwc-pointwise': { type: 'string' }, 'nchwc-dx-min': { type: 'string' } });

async function measure(net: string): Promise<Record<string, number | string>> {
  const config = resolveModel({ arch: net, input: args.input, classes: 8, ...(args.extra['symbolic'] ? {} : { batch: args.batch }) });
  const conv: ConvGradPolicy = {
    ...DEFAULT_CONV_GRAD,
    ...(args.extra['dx'] ? { dx: args.extra['dx'] as ConvGradPolicy['dx'] } : {}),
    ...(args.extra['dw'] ? { dw: args.extra['dw'] as ConvGradPolicy['dw'] } : {}),
    ...(args.extra['flipped-min'] ? { flippedMinSize: Number(args.extra['flipped-min']) } : {}),
    ...(args.extra['flipped-pixels'] ? { flippedMinPixels: Number(args.extra['flipped-pixels']) } : {}),
    ...(args.extra['shifted-min'] ? { shiftedMinSize: Number(args.extra['shifted-min']) } : {}),
    ...(args.extra['batched-min'] ? { batchedMinSize: Number(args.extra['batched-min']) } : {}),
  };
  const step = buildTrainStep(config, {}, { conv });
  const x64 = args.extra['kernels'] === 'x64';
  const policy = {
    ...DEFAULT_NCHWC,
    ...(args.extra['nchwc-min'] ? { minOutputSize: Number(args.extra['nchwc-min']) } : {}),
    ...(args.extra['nchwc-pointwise'] ? { pointwise: args.extra['nchwc-pointwise'] === 'on' } : {}),
    ...(args.extra['nchwc-dx-min'] ? { minInputGradSize: Number(args.extra['nchwc-dx-min']) } : {}),
  };
  const graph = x64 ? lowerToNchwc(step.graph, Number(args.extra['block'] ?? 16) as 8 | 16, policy) : step.graph;
  const session = await ort.InferenceSession.create(encodeModel(graph, { stateAsInputs: true }), {
    intraOpNumThreads: args.threads, interOpNumThreads: 1, graphOptimizationLevel: 'all', enableCpuMemArena: !args.extra['no-arena'], enableMemPattern: Boolean(args.extra['mem-pattern']),
    ...(args.extra['override'] ? { freeDimensionOverrides: { N: args.batch } } : {}),
    ...(args.extra['no-spin'] ? { extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } } } : {}),
  });
  const n = args.batch;
  let feeds = stepFeeds([...step.parameters, ...step.momentum, ...step.runningStats], args.input, n);
  const next = async (): Promise<void> => {
    const out = await session.run(feeds);
    const fed: Record<string, ort.Tensor> = { ...feeds };
    for (const name of Object.keys(feeds)) if (out[`${name}.next`]) fed[name] = out[`${name}.next`]!;
    feeds = fed;
  };
  for (let i = 0; i < args.warmup; i++) await next();
  const t0 = performance.now();
  for (let i = 0; i < args.steps; i++) await next();
  const seconds = (performance.now() - t0) / 1000;
  return {
    network: net, 'img/s': Math.round((args.steps * n) / seconds * 10) / 10, 'ms/step': Math.round((seconds / args.steps) * 1000),
    'peak RSS MiB': peakRssMiB(), nodes: graph.nodes.length, kernels: x64 ? `x64 (${loweredConvs(graph)} nchwc convs)` : 'portable',
  };
}

if (args.child) {
  console.log(JSON.stringify(await measure(args.child)));
} else {
  console.log(`train step, batch ${args.batch}, input ${args.input.join('x')}, ${args.threads} threads, dx=${args.extra['dx'] ?? 'auto'} dw=${args.extra['dw'] ?? 'auto'}; ${machine()}; ${new Date().toISOString()}`);
  const rows = args.nets.map((net) => inChild(new URL(import.meta.url).pathname, net, process.argv.slice(2)));
  console.log(table(rows));
}
