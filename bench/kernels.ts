// The x64 step against the portable one, interleaved in one process so that both meet the same
// machine (a shared 2-core VM drifts by 10-20% within minutes): for each network, one session
// per variant, warm-up, then rounds of one step of each variant in turn; the median step time of
// each and the median of the per-round ratios to the first variant. Peak memory: bench/train.ts,
// one flavour per process.
//   node --import tsx bench/kernels.ts [--nets resnet20,...] [--input 3x150x150] [--batch 32] [--steps 5 (rounds)]
//     [--variants portable,x64,x64:min=1:pointwise] (x64 options: min=<rows>: lower maps from this size; pointwise: 1x1 convs too;
//     either flavour: flipmin=<rows>, flippx=<pixels>: conv-grad's flippedMinSize and flippedMinPixels, where dX turns from
//     ConvTranspose to a flipped-kernel Conv; flippx=0 is the policy before flippedMinPixels)
import * as ort from 'onnxruntime-node';
import { resolveModel } from '../src/graph/model.ts';
import { buildTrainStep } from '../src/graph/train.ts';
import type { ConvGradPolicy } from '../src/graph/conv-grad.ts';
import { DEFAULT_CONV_GRAD } from '../src/graph/conv-grad.ts';
import { encodeModel } from '../src/formats/protobuf.ts';
import type { NchwcPolicy } from '../src/graph/nchwc.ts';
import { DEFAULT_NCHWC, lowerToNchwc, loweredConvs } from '../src/graph/nchwc.ts';
import { nchwcBlock } from '../src/train/kernels.ts';
import { benchArgs, inChild, machine, stepFeeds, table } from './common.ts';

const args = benchArgs({ batch: 32, steps: 5 }, { variants: { type: 'string' } });
const variants = String(args.extra['variants'] ?? 'portable,x64').split(',');

function policyOf(variant: string): { nchwc: NchwcPolicy | null; conv: ConvGradPolicy } {
  const [flavour, ...opts] = variant.split(':');
  if (flavour !== 'portable' && flavour !== 'x64') throw new Error(`unknown variant ${variant}`);
  let nchwc: NchwcPolicy = DEFAULT_NCHWC;
  let conv: ConvGradPolicy = DEFAULT_CONV_GRAD;
  for (const o of opts) {
    if (o.startsWith('min=')) nchwc = { ...nchwc, minOutputSize: Number(o.slice(4)) };
    else if (o.startsWith('dxmin=')) nchwc = { ...nchwc, minInputGradSize: Number(o.slice(6)) };
    else if (o === 'pointwise') nchwc = { ...nchwc, pointwise: true };
    else if (o.startsWith('flipmin=')) conv = { ...conv, flippedMinSize: Number(o.slice(8)) };
    else if (o.startsWith('flippx=')) conv = { ...conv, flippedMinPixels: Number(o.slice(7)) };
    else throw new Error(`unknown option ${o} in ${variant}`);
  }
  return { nchwc: flavour === 'x64' ? nchwc : null, conv };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function measure(net: string): Promise<Record<string, number | string>> {
  const block = await nchwcBlock();
  if (block === null) throw new Error('no NCHWc kernels on this machine');
  const config = resolveModel({ arch: net, input: args.input, classes: 8, batch: args.batch });
  const step = buildTrainStep(config);
  const n = args.batch;
  const initial = stepFeeds([...step.parameters, ...step.momentum, ...step.runningStats], args.input, n);
  const runs = await Promise.all(variants.map(async (variant) => {
    const policy = policyOf(variant);
    const own = policy.conv === DEFAULT_CONV_GRAD ? step : buildTrainStep(config, {}, { conv: policy.conv });
    const graph = policy.nchwc ? lowerToNchwc(own.graph, block, policy.nchwc) : own.graph;
    const session = await ort.InferenceSession.create(encodeModel(graph, { stateAsInputs: true }), {
      intraOpNumThreads: args.threads, interOpNumThreads: 1, graphOptimizationLevel: 'all', enableMemPattern: false,
    });
    let feeds = initial;
    const times: number[] = [];
    const next = async (): Promise<number> => {
      const t0 = performance.now();
      const out = await session.run(feeds);
      const ms = performance.now() - t0;
      const fed: Record<string, ort.Tensor> = { ...feeds };
      for (const name of Object.keys(feeds)) if (out[`${name}.next`]) fed[name] = out[`${name}.next`]!;
      feeds = fed;
      return ms;
    };
    return { variant, convs: loweredConvs(graph), next, times };
  }));
  for (let i = 0; i < args.warmup; i++) for (const r of runs) await r.next();
  for (let i = 0; i < args.steps; i++) for (const r of runs) r.times.push(await r.next());
  const row: Record<string, number | string> = { network: net };
  for (const r of runs) {
    const ms = median(r.times);
    row[`${r.variant} img/s`] = Math.round((n / ms) * 10000) / 10;
    if (r !== runs[0]) row[`${r.variant} / ${runs[0]!.variant}`] = Math.round(median(r.times.map((t, i) => runs[0]!.times[i]! / t)) * 100) / 100;
    if (r.convs) row[`${r.variant} nchwc convs`] = r.convs;
  }
  return row;
}

if (args.child) {
  console.log(JSON.stringify(await measure(args.child)));
} else {
  console.log(`train step variants, batch ${args.batch}, input ${args.input.join('x')}, ${args.threads} threads, ${args.steps} rounds after ${args.warmup} warm-up; NCHWc block ${await nchwcBlock()}; ${machine()}; ${new Date().toISOString()}`);
  const rows = args.nets.map((net) => inChild(new URL(import.meta.url).pathname, net, process.argv.slice(2)));
  console.log(table(rows));
}
