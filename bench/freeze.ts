// What freezing saves: the training step with parts frozen (no weight gradients for them, and no
// backward at all below the lowest trainable layer) against the full step, per network.
//   node --import tsx bench/freeze.ts [--nets resnet18,se_resnet50] [--batch 16] [--input 3x112x112] [--steps 5] [--threads 2]
import * as ort from 'onnxruntime-node';
import { resolveModel } from '../src/graph/model.ts';
import { buildTrainStep } from '../src/graph/train.ts';
import type { Freeze } from '../src/graph/freeze.ts';
import { encodeModel } from '../src/formats/protobuf.ts';
import { benchArgs, machine } from './common.ts';

const args = benchArgs({ batch: 16, steps: 5 });
const nets = process.argv.includes('--nets') ? args.nets : ['resnet18', 'se_resnet50'];
const input: [number, number, number] = process.argv.includes('--input') ? args.input : [3, 112, 112];
const variants: [string, Freeze][] = [
  ['full step', { parts: [], bn: false }],
  ['--freeze stem,layer1', { parts: ['stem', 'layer1'], bn: false }],
  ['--freeze stem,layer1,layer2,layer3', { parts: ['stem', 'layer1', 'layer2', 'layer3'], bn: false }],
  ['--freeze backbone --freeze-bn', { parts: ['stem', 'layer1', 'layer2', 'layer3', 'layer4'], bn: true }],
];

async function time(net: string, freeze: Freeze): Promise<{ nodes: number; ms: number }> {
  const config = resolveModel({ arch: net, input, classes: 8, batch: args.batch });
  const step = buildTrainStep(config, {}, undefined, freeze);
  const session = await ort.InferenceSession.create(encodeModel(step.graph, { stateAsInputs: true }), {
    intraOpNumThreads: args.threads, interOpNumThreads: 1, graphOptimizationLevel: 'all', enableMemPattern: false,
  });
  const feeds: Record<string, ort.Tensor> = {};
  for (const i of step.graph.initializers) if (i.kind !== 'constant') feeds[i.value.name] = new ort.Tensor('float32', i.tensor.data as Float32Array, [...i.tensor.dims]);
  feeds['images'] = new ort.Tensor('float32', Float32Array.from({ length: args.batch * input[0] * input[1] * input[2] }, (_, k) => Math.sin(k)), [args.batch, ...input]);
  feeds['labels'] = new ort.Tensor('int64', BigInt64Array.from({ length: args.batch }, (_, k) => BigInt(k % 8)), [args.batch]);
  for (const [name, v] of [['lr', 0.01], ['momentum', 0.9], ['weight_decay', 0.0001]] as const) feeds[name] = new ort.Tensor('float32', Float32Array.of(v), []);
  const times: number[] = [];
  for (let k = 0; k < args.warmup + args.steps; k++) {
    const start = performance.now();
    await session.run(feeds);
    if (k >= args.warmup) times.push(performance.now() - start);
  }
  await session.release();
  times.sort((a, b) => a - b);
  return { nodes: step.graph.nodes.length, ms: times[Math.floor(times.length / 2)]! };
}

console.log(`machine: ${machine()}; batch ${args.batch}, input ${input.join('x')}, ${args.threads} threads, median of ${args.steps} steps after ${args.warmup} warm-up`);
console.log('| network | step | nodes | ms / step | vs full |');
console.log('|---|---|---:|---:|---:|');
for (const net of nets) {
  let full = 0;
  for (const [name, freeze] of variants) {
    const r = await time(net, freeze);
    if (full === 0) full = r.ms;
    console.log(`| ${net} | ${name} | ${r.nodes} | ${r.ms.toFixed(0)} | ${(r.ms / full).toFixed(2)} |`);
  }
}
