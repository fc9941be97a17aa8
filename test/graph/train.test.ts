// The training step's semantics against hand computations: PyTorch's SGD, CrossEntropyLoss and
// BatchNorm2d running statistics; and a loss that falls over a few steps.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ModelConfig } from '../../src/graph/model.ts';
import { resolveModel } from '../../src/graph/model.ts';
import { buildGradientGraph, buildTrainStep } from '../../src/graph/train.ts';
import type { LossOptions } from '../../src/graph/train.ts';
import { createRng } from '../../src/util/random.ts';
import { data, floats, int64s, session, stateFeeds } from '../helpers/ort.ts';
import type { Feeds } from '../helpers/ort.ts';

const config: ModelConfig = { ...resolveModel({ arch: 'se_resnet20', input: [3, 8, 8], classes: 3, reduction: 4, seed: 1 }), batch: 4 };
const rng = createRng(2);
const images = Array.from({ length: 4 * 3 * 8 * 8 }, () => rng.normal());
const labels = [0, 2, 1, 2];
const hyper = (lr: number, momentum: number, wd: number): Feeds => ({ lr: floats([lr], []), momentum: floats([momentum], []), weight_decay: floats([wd], []) });
const batch = (): Feeds => ({ images: floats(images, [4, 3, 8, 8]), labels: int64s(labels, [4]) });

function close(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    assert.ok(Math.abs(actual[i]! - expected[i]!) <= tol * (1 + Math.abs(expected[i]!)), `${what}[${i}]: ${actual[i]} != ${expected[i]}`);
  }
}

describe('training step semantics', () => {
  it('updates like torch.optim.SGD(momentum, weight_decay): two steps', async () => {
    const step = buildTrainStep(config);
    const grads = buildGradientGraph(config);
    const [train, grad] = await Promise.all([session(step.graph), session(grads)]);
    const [lr, m, wd] = [0.05, 0.9, 0.01];
    let feeds: Feeds = { ...stateFeeds(step.graph), ...batch(), ...hyper(lr, m, wd) };
    const buf = new Map(step.parameters.map((p) => [p.value.name, new Float32Array(p.tensor.data.length)]));
    for (let k = 0; k < 2; k++) {
      const g = await grad.run({ ...batch(), ...Object.fromEntries(step.parameters.concat(step.runningStats).map((p) => [p.value.name, feeds[p.value.name]!])) });
      const out = await train.run(feeds);
      for (const p of step.parameters) {
        const name = p.value.name;
        const w = data(feeds[name]!);
        const gk = data(g[`${name}.grad`]!);
        // g' = g + wd p; buf = m buf + g'; p = p - lr buf
        const b = buf.get(name)!.map((bv, i) => m * bv + gk[i]! + wd * w[i]!);
        buf.set(name, b);
        close(data(out[`${name}.momentum.next`]!), b, 1e-4, `${name}.momentum step ${k}`);
        close(data(out[`${name}.next`]!), w.map((wv, i) => wv - lr * b[i]!), 1e-5, `${name} step ${k}`);
      }
      const next: Feeds = { ...feeds };
      for (const name of step.graph.inputs.map((v) => v.name).concat([...step.parameters, ...step.momentum, ...step.runningStats].map((p) => p.value.name))) {
        if (out[`${name}.next`]) next[name] = out[`${name}.next`]!;
      }
      feeds = next;
    }
  });

  it('keeps BatchNorm running statistics like BatchNorm2d (momentum 0.1, unbiased variance)', async () => {
    const step = buildTrainStep(config);
    const s = await session(step.graph);
    const out = await s.run({ ...stateFeeds(step.graph), ...batch(), ...hyper(0, 0, 0) });
    // bn1 normalises conv1(images): compute conv1 (3x3, pad 1, no bias) directly here.
    const w = step.parameters.find((p) => p.value.name === 'conv1.weight')!.tensor.data as Float32Array;
    const [n, cin, h, wd, cout] = [4, 3, 8, 8, 16];
    for (let o = 0; o < cout; o++) {
      const vals: number[] = [];
      for (let b = 0; b < n; b++) for (let y = 0; y < h; y++) for (let x = 0; x < wd; x++) {
        let acc = 0;
        for (let c = 0; c < cin; c++) for (let ky = 0; ky < 3; ky++) for (let kx = 0; kx < 3; kx++) {
          const [iy, ix] = [y + ky - 1, x + kx - 1];
          if (iy >= 0 && iy < h && ix >= 0 && ix < wd) acc += images[((b * cin + c) * h + iy) * wd + ix]! * w[((o * cin + c) * 3 + ky) * 3 + kx]!;
        }
        vals.push(acc);
      }
      const mean = vals.reduce((a, v) => a + v, 0) / vals.length;
      const unbiased = vals.reduce((a, v) => a + (v - mean) ** 2, 0) / (vals.length - 1);
      close([data(out['bn1.running_mean.next']!)[o]!], [0.9 * 0 + 0.1 * mean], 1e-4, `running_mean[${o}]`);
      close([data(out['bn1.running_var.next']!)[o]!], [0.9 * 1 + 0.1 * unbiased], 1e-4, `running_var[${o}]`);
    }
  });

  for (const loss of [{}, { labelSmoothing: 0.1 }, { classWeights: [1, 2, 0.5] }, { labelSmoothing: 0.2, classWeights: [3, 1, 1] }] as LossOptions[]) {
    it(`computes CrossEntropyLoss(${JSON.stringify(loss)}) from the logits`, async () => {
      const step = buildTrainStep(config, loss);
      const out = await (await session(step.graph)).run({ ...stateFeeds(step.graph), ...batch(), ...hyper(0, 0, 0) });
      const logits = data(out['logits']!);
      const [k, e] = [3, loss.labelSmoothing ?? 0];
      const wk = loss.classWeights ?? [1, 1, 1];
      let total = 0;
      let norm = 0;
      labels.forEach((y, i) => {
        const row = [...logits.slice(i * k, i * k + k)];
        const lse = Math.log(row.reduce((a, v) => a + Math.exp(v), 0));
        // PyTorch: (1-e) w_y (-log p_y) + (e/K) sum_c w_c (-log p_c), divided by sum_i w_{y_i}
        total += (1 - e) * wk[y]! * (lse - row[y]!) + (e / k) * row.reduce((a, v, c) => a + wk[c]! * (lse - v), 0);
        norm += wk[y]!;
      });
      close(data(out['loss']!), [total / norm], 1e-5, 'loss');
    });
  }

  it('lowers the loss on a fixed batch over a few steps', async () => {
    const step = buildTrainStep(config);
    const s = await session(step.graph);
    let feeds: Feeds = { ...stateFeeds(step.graph), ...batch(), ...hyper(0.05, 0.9, 0) };
    const losses: number[] = [];
    for (let k = 0; k < 12; k++) {
      const out = await s.run(feeds);
      losses.push(data(out['loss']!)[0]!);
      const next: Feeds = { ...feeds };
      for (const name of Object.keys(feeds)) if (out[`${name}.next`]) next[name] = out[`${name}.next`]!;
      feeds = next;
    }
    assert.ok(losses.at(-1)! < 0.5 * losses[0]!, `loss went ${losses.map((l) => l.toFixed(3)).join(' -> ')}`);
  });

  it('refuses bad loss options with one line', () => {
    assert.throws(() => buildTrainStep(config, { labelSmoothing: 1 }), /expected a number in \[0, 1\) for --label-smoothing but received 1/);
    assert.throws(() => buildTrainStep(config, { classWeights: [1, 2] }), /expected 3 positive numbers for --class-weights but received "1,2"/);
  });
});
