// How far the x64 step can get past the portable one: Amdahl's law with measured parts. The x64
// pass replaces some nodes of the portable step (the lowered convs and the dX weight flips they
// make dead) by its own (nchwc Convs, reorders, weight moves) and leaves the rest as it is. Both
// steps run under ONNX Runtime's profiler in one process, one step of each in turn, so that both
// meet the same machine; kernel time is summed per part. The share f of the replaced part in the
// portable step caps x64 / portable at 1 / (1 - f) even if the replacement took no time.
//   node --import tsx bench/nchwc-share.ts [--nets resnet20,...] [--input 3x150x150] [--batch 32] [--steps 3]
import { resolveModel } from '../src/graph/model.ts';
import { buildTrainStep } from '../src/graph/train.ts';
import type { Graph } from '../src/graph/ir.ts';
import { lowerToNchwc } from '../src/graph/nchwc.ts';
import { nchwcBlock } from '../src/train/kernels.ts';
import type { KernelEvent } from './common.ts';
import { benchArgs, machine, profiledStep, stepFeeds, table } from './common.ts';

const args = benchArgs({ batch: 32, steps: 3 });

const key = (name: string, op: string): string => `${name} ${op}`;
const keys = (g: Graph): Set<string> => new Set(g.nodes.map((n) => key(n.name, n.op)));

const block = await nchwcBlock();
if (block === null) throw new Error('no NCHWc kernels on this machine');
const rows: Record<string, string | number>[] = [];
for (const net of args.nets) {
  const step = buildTrainStep(resolveModel({ arch: net, input: args.input, classes: 8, batch: args.batch }));
  const portable = step.graph;
  const x64 = lowerToNchwc(portable, block);
  const [inPortable, inX64] = [keys(portable), keys(x64)];
  const feeds = stepFeeds([...step.parameters, ...step.momentum, ...step.runningStats], args.input, args.batch);
  const [p, x] = [await profiledStep(portable, args.threads), await profiledStep(x64, args.threads)];
  for (let i = 0; i < args.warmup + args.steps; i++) { await p.run(feeds); await x.run(feeds); }
  // Kernel ms per step of the events whose node is in `part` (graph nodes ORT fused away are in neither).
  const ms = (events: KernelEvent[], part: (k: string) => boolean): number =>
    events.filter((e) => part(key(e.name.replace(/_kernel_time$/, ''), e.args?.op_name ?? ''))).reduce((t, e) => t + e.dur, 0) / 1000 / args.steps;
  const [pe, xe] = [p.kernelEvents(args.steps), x.kernelEvents(args.steps)];
  const [pTotal, xTotal] = [ms(pe, () => true), ms(xe, () => true)];
  const replaced = ms(pe, (k) => inPortable.has(k) && !inX64.has(k));
  const replacement = ms(xe, (k) => inX64.has(k) && !inPortable.has(k));
  const f = replaced / pTotal;
  rows.push({
    network: net, 'portable ms': pTotal.toFixed(0), 'x64 ms': xTotal.toFixed(0), 'x64 / portable': (pTotal / xTotal).toFixed(2),
    'replaced ms': replaced.toFixed(0), 'share f': `${(f * 100).toFixed(1)}%`, 'replacement ms': replacement.toFixed(0), 'its speed-up': (replaced / replacement).toFixed(2),
    'rest ms, portable / x64': `${(pTotal - replaced).toFixed(0)} / ${(xTotal - replacement).toFixed(0)}`,
    'cap at 2x': (1 / (1 - f + f / 2)).toFixed(2), 'cap at no cost': (1 / (1 - f)).toFixed(2),
  });
}
console.log(`x64 against portable by ONNX Runtime kernel time, batch ${args.batch}, input ${args.input.join('x')}, ${args.threads} threads, ${args.steps} steps of each in turn after ${args.warmup} warm-up; NCHWc block ${block}; ${machine()}; ${new Date().toISOString()}`);
console.log(table(rows));
