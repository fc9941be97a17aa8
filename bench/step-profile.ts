// Where a training step's time goes: one step under ONNX Runtime's profiler (after warm-up
// steps), kernel time summed by op type, split into forward and backward (nodes under
// `<module>.grad`), and the slowest nodes.
//   node --import tsx bench/step-profile.ts [--nets resnet18] [--input 3x150x150] [--batch 32] [--kernels portable|x64] [--top 15]
import { resolveModel } from '../src/graph/model.ts';
import { buildTrainStep } from '../src/graph/train.ts';
import { trainStepKernels } from '../src/graph/flavours.ts';
import { benchArgs, machine, profiledStep, stepFeeds, table } from './common.ts';

const args = benchArgs({ batch: 32, steps: 1 }, { kernels: { type: 'string' }, block: { type: 'string' }, top: { type: 'string' } });

for (const net of args.nets) {
  const config = resolveModel({ arch: net, input: args.input, classes: 8, batch: args.batch });
  const step = buildTrainStep(config);
  const kernels = args.extra['kernels'] === 'x64' ? { flavour: 'x64' as const, block: Number(args.extra['block'] ?? 16) as 8 | 16 } : { flavour: 'portable' as const };
  const graph = trainStepKernels(step.graph, kernels);
  const domainOf = new Map(graph.nodes.map((n) => [n.name, n.domain ? `${n.domain.split('.').at(-1)}.` : '']));
  const session = await profiledStep(graph, args.threads);
  const n = args.batch;
  const feeds = stepFeeds([...step.parameters, ...step.momentum, ...step.runningStats], args.input, n);
  for (let i = 0; i < args.warmup + args.steps; i++) await session.run(feeds);
  const events = session.kernelEvents(args.steps);
  const byOp = new Map<string, { forward: number; backward: number; count: number }>();
  let total = 0;
  for (const e of events) {
    const node = e.name.replace(/_kernel_time$/, '');
    const op = `${domainOf.get(node) ?? ''}${e.args?.op_name ?? '?'}`;
    const row = byOp.get(op) ?? { forward: 0, backward: 0, count: 0 };
    if (/\.grad[/.]|\.grad$/.test(node)) row.backward += e.dur; else row.forward += e.dur;
    row.count++;
    total += e.dur;
    byOp.set(op, row);
  }
  const ms = (us: number): string => (us / 1000 / args.steps).toFixed(1);
  console.log(`${net}, ${kernels.flavour}, batch ${n}, input ${args.input.join('x')}, ${args.threads} threads; ${machine()}; ${new Date().toISOString()}`);
  console.log(`kernel time per step: ${ms(total)} ms over ${events.length / args.steps} nodes`);
  const rows = [...byOp].sort((a, b) => b[1].forward + b[1].backward - a[1].forward - a[1].backward)
    .map(([op, r]) => ({ op, 'forward ms': ms(r.forward), 'backward ms': ms(r.backward), share: `${(((r.forward + r.backward) / total) * 100).toFixed(1)}%`, nodes: r.count / args.steps }));
  console.log(table(rows));
  const top = Number(args.extra['top'] ?? 15);
  const slowest = new Map<string, number>();
  for (const e of events) { const k = `${e.name.replace(/_kernel_time$/, '')} (${e.args?.op_name})`; slowest.set(k, (slowest.get(k) ?? 0) + e.dur); }
  console.log(table([...slowest].sort((a, b) => b[1] - a[1]).slice(0, top).map(([node, d]) => ({ node, ms: ms(d) }))));
}
