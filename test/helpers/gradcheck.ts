// Gradient checking: autodiff's gradient against central finite differences of the same forward
// graph, both run in onnxruntime-node. Directional derivatives along random directions test every
// entry of a gradient at once: a wrong entry shows unless the error is orthogonal to all of them.
import assert from 'node:assert/strict';
import { Builder } from '../../src/graph/builder.ts';
import type { Value } from '../../src/graph/ir.ts';
import { numel } from '../../src/graph/ir.ts';
import { gradients } from '../../src/graph/autodiff.ts';
import { GRADIENTS } from '../../src/graph/gradients.ts';
import type { GradContext } from '../../src/graph/gradients.ts';
import { DEFAULT_CONV_GRAD } from '../../src/graph/conv-grad.ts';
import { tensorFromNumbers } from '../../src/graph/tensor.ts';
import { createRng } from '../../src/util/random.ts';
import type { Rng } from '../../src/util/random.ts';
import { data, floats, session, stateFeeds } from './ort.ts';
import type { Feeds } from './ort.ts';

export interface GradInput {
  readonly name: string;
  readonly dims: readonly number[];
  /** Draws each entry; default N(0, 1). */
  readonly draw?: (rng: Rng) => number;
}

export interface GradCheckOptions {
  readonly ctx?: GradContext;
  readonly directions?: number;
  readonly step?: number;
  readonly seed?: number;
  readonly rtol?: number;
  readonly atol?: number;
}

export async function checkGradients(
  inputs: readonly GradInput[],
  build: (b: Builder, xs: Value[]) => Value,
  options: GradCheckOptions = {},
): Promise<void> {
  const rng = createRng(options.seed ?? 1);
  const b = new Builder({ mode: 'train' });
  const values = inputs.map((i) => {
    const draw = i.draw ?? ((r: Rng) => r.normal());
    return b.initializer(i.name, tensorFromNumbers(Array.from({ length: numel(i.dims) }, () => draw(rng)), 'float32', i.dims), 'parameter');
  });
  const y = build(b, values);
  // L = sum(y * R) with a fixed random R, so every output entry carries a different weight.
  const dims = y.shape as number[];
  const r = b.constant(Array.from({ length: numel(dims) }, () => rng.normal()), 'float32', dims);
  const loss = b.reduceSum(b.op('Mul', [y, r]), dims.map((_, i) => i), false);
  const grads = gradients(b, loss, values, options.ctx ?? { conv: DEFAULT_CONV_GRAD });
  b.output(b.op('Identity', [loss], {}, { names: ['L'], name: 'L' }));
  grads.forEach((g, i) => {
    assert.ok(g, `no gradient for ${inputs[i]!.name}`);
    b.output(b.op('Identity', [g], {}, { names: [`grad.${inputs[i]!.name}`], name: `grad.${inputs[i]!.name}` }));
  });
  const graph = b.graph('gradcheck');
  const s = await session(graph);
  const base: Feeds = stateFeeds(graph);
  const init = new Map(graph.initializers.map((i) => [i.value.name, i.tensor.data as Float32Array]));
  for (const i of inputs) base[i.name] = floats(init.get(i.name)!, i.dims);
  const out = await s.run(base);
  const h = options.step ?? 1e-2;
  const [rtol, atol] = [options.rtol ?? 2e-2, options.atol ?? 2e-3];
  for (const input of inputs) {
    const g = data(out[`grad.${input.name}`]!);
    const x0 = init.get(input.name)!;
    for (let d = 0; d < (options.directions ?? 3); d++) {
      const v = Float32Array.from(x0, () => rng.normal());
      const shifted = async (sign: number): Promise<number> => {
        const feeds = { ...base, [input.name]: floats(x0.map((x, k) => x + sign * h * v[k]!), input.dims) };
        return data((await s.run(feeds, ['L']))['L']!)[0]!;
      };
      const fd = ((await shifted(1)) - (await shifted(-1))) / (2 * h);
      const analytic = g.reduce((sum, gk, k) => sum + gk * v[k]!, 0);
      assert.ok(
        Math.abs(fd - analytic) <= atol + rtol * Math.abs(fd),
        `${input.name}: directional derivative ${analytic} from autodiff, ${fd} from finite differences`,
      );
    }
  }
  await s.release();
}

/**
 * The ops whose gradient rules `body` invokes: each rule in the table is wrapped while it runs
 * (and restored after), so a check can show that it reached the rule it is named after.
 */
export async function rulesUsed(body: () => unknown): Promise<Set<string>> {
  const used = new Set<string>();
  const saved = { ...GRADIENTS };
  for (const [op, rule] of Object.entries(saved)) {
    GRADIENTS[op] = (...args) => { used.add(op); return rule(...args); };
  }
  try {
    await body();
  } finally {
    Object.assign(GRADIENTS, saved);
  }
  return used;
}
