// The weight reorders of the x64 step (src/graph/nchwc.ts) in ONNX Runtime's Transpose: one 6-D
// (forward) or 5-D (dX) permutation that moves single floats, against the single-axis moves the
// pass now composes them of (batched 2-D transposes and block copies). Each pair is checked equal.
//   node --import tsx bench/weight-reorder.ts [--block 16] [--steps 11]
import * as ort from 'onnxruntime-node';
import { Builder } from '../src/graph/builder.ts';
import type { Value } from '../src/graph/ir.ts';
import { encodeModel } from '../src/formats/protobuf.ts';
import { benchArgs, machine, table } from './common.ts';

const args = benchArgs({ batch: 1, steps: 11 }, { block: { type: 'string' } });
const B = Number(args.extra['block'] ?? 16);
const WEIGHTS: [number, number][] = [[64, 64], [128, 128], [256, 256], [512, 256], [512, 512]];

const view = (b: Builder, v: Value, shape: number[], perm: number[]): Value => b.op('Transpose', [b.reshape(v, shape)], { perm });
const reversed = (b: Builder, k: number): Value => b.constant([...Array(k).keys()].reverse(), 'int64');

/** [O, I, 3, 3] -> forward layout [O/B][I/B][k][Bi][Bo], or the flipped dX layout [I/B][O/B][k][Bo][Bi]. */
function reorders(o: number, i: number): Record<string, (b: Builder, w: Value) => Value> {
  const k = 9;
  const [ob, ib] = [o / B, i / B];
  return {
    'forward, one permutation': (b, w) => view(b, w, [ob, B, ib, B, k], [0, 2, 4, 3, 1]),
    'forward, moves': (b, w) => view(b, view(b, w, [ob, B, i * k], [0, 2, 1]), [ob * ib, B, k, B], [0, 2, 1, 3]),
    'dX, one permutation': (b, w) => b.op('Gather', [view(b, w, [ob, B, ib, B, k], [2, 0, 4, 1, 3]), reversed(b, k)], { axis: 2 }),
    'dX, moves': (b, w) => {
      const outInner = view(b, w, [ob, B, i * k], [0, 2, 1]);
      const inInner = view(b, outInner, [ob * ib, B, k * B], [0, 2, 1]);
      const swapped = view(b, inInner, [ob, ib, k * B * B], [1, 0, 2]);
      return b.op('Gather', [b.reshape(swapped, [ib, ob, k, B * B]), reversed(b, k)], { axis: 2 });
    },
  };
}

const rows: Record<string, string>[] = [];
for (const [o, i] of WEIGHTS) {
  const feeds = { w: new ort.Tensor('float32', Float32Array.from({ length: o * i * 9 }, (_, j) => j), [o, i, 3, 3]) };
  const sessions = new Map<string, ort.InferenceSession>();
  const results = new Map<string, Float32Array>();
  for (const [name, reorder] of Object.entries(reorders(o, i))) {
    const graph = (summed: boolean) => {
      const b = new Builder();
      const y = reorder(b, b.input('w', 'float32', [o, i, 3, 3]));
      // Timed summed to one number, so that copying the result into JavaScript does not dilute the
      // reorder; with ORT's graph optimizer off, which would drop a Transpose feeding a full ReduceSum.
      b.output(summed ? b.op('ReduceSum', [y], { keepdims: 0 }, { names: ['y'] }) : b.op('Identity', [y], {}, { names: ['y'] }));
      return encodeModel(b.graph('reorder'));
    };
    const options = { intraOpNumThreads: args.threads, interOpNumThreads: 1, graphOptimizationLevel: 'disabled' as const };
    const whole = await ort.InferenceSession.create(graph(false), options);
    results.set(name, (await whole.run(feeds))['y']!.data as Float32Array);
    await whole.release();
    sessions.set(name, await ort.InferenceSession.create(graph(true), options));
  }
  const same = (a: string, c: string): boolean => results.get(a)!.every((v, j) => v === results.get(c)![j]);
  if (!same('forward, one permutation', 'forward, moves') || !same('dX, one permutation', 'dX, moves')) throw new Error(`${o}x${i}: the moves give another layout`);
  const times = new Map<string, number[]>();
  for (let r = 0; r < args.steps; r++) {
    for (const [name, s] of sessions) {
      const t0 = performance.now();
      await s.run(feeds);
      times.set(name, [...(times.get(name) ?? []), performance.now() - t0]);
    }
  }
  const median = (name: string): number => times.get(name)!.sort((a, c) => a - c)[Math.floor(args.steps / 2)]!;
  rows.push({
    weight: `${o}x${i}x3x3`,
    ...Object.fromEntries([...sessions.keys()].map((name) => [`${name} ms`, median(name).toFixed(2)])),
  });
}
console.log(`weight reorders, block ${B}, ${args.threads} threads, median of ${args.steps} interleaved runs (each ends in a ReduceSum of the blocked weight, graph optimizer off); ${machine()}; ${new Date().toISOString()}`);
console.log(table(rows));
