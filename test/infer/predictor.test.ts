import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Tensor } from '../../src/graph/ir.ts';
import { buildInferenceGraph, resolveModel } from '../../src/graph/model.ts';
import * as ort from 'onnxruntime-node';
import { Builder } from '../../src/graph/builder.ts';
import { encodeModel } from '../../src/formats/protobuf.ts';
import { collectPredictions, createPredictor, excitationValues, predictorOn, withExcitationOutputs } from '../../src/infer/predictor.ts';
import { withWeights } from '../../src/graph/weights.ts';
import { UserError } from '../../src/errors.ts';
import { createRng } from '../../src/util/random.ts';

const SETTINGS = { threads: 1, device: 'cpu' } as const;
const config = resolveModel({ arch: 'se_resnet20', classes: 3, input: [3, 16, 16], seed: 3 });

function initialState(): Map<string, Tensor> {
  const graph = buildInferenceGraph(config);
  return new Map(graph.initializers.filter((i) => i.kind !== 'constant').map((i) => [i.value.name, i.tensor]));
}

function images(n: number): Float32Array {
  const rng = createRng(5);
  return Float32Array.from({ length: n * 3 * 16 * 16 }, () => rng.normal());
}

describe('evaluation model (ONNX Runtime)', () => {
  it('finds every SE gate and adds them as outputs after logits and probabilities', () => {
    const graph = buildInferenceGraph(config);
    const gates = excitationValues(graph).map((v) => v.name);
    assert.equal(gates.length, 9);
    assert.deepEqual(gates.slice(0, 2), ['layer1.0.se/excitation', 'layer1.1.se/excitation']);
    assert.deepEqual(withExcitationOutputs(graph).outputs.map((v) => v.name), ['logits', 'probabilities', ...gates]);
    assert.deepEqual(excitationValues(buildInferenceGraph(resolveModel({ arch: 'resnet20', classes: 3, input: [3, 16, 16] }))), []);
  });

  it('returns probabilities and per-block gates; the extra outputs change nothing', async () => {
    const state = initialState();
    const plain = await createPredictor(config, state, 'init', SETTINGS);
    const probe = await createPredictor(config, state, 'init', SETTINGS, { excitation: true });
    try {
      const x = images(4);
      const a = await plain.predict(x, 4);
      const b = await probe.predict(x, 4);
      assert.deepEqual(a.excitations, []);
      assert.deepEqual([...b.probabilities], [...a.probabilities]);
      for (let i = 0; i < 4; i++) assert.ok(Math.abs(a.probabilities.subarray(i * 3, i * 3 + 3).reduce((s, v) => s + v, 0) - 1) < 1e-5);
      assert.deepEqual(b.excitations.map((e) => [e.name, e.channels, e.data.length]).slice(0, 4), [
        ['layer1.0.se', 16, 64], ['layer1.1.se', 16, 64], ['layer1.2.se', 16, 64], ['layer2.0.se', 32, 128],
      ]);
      assert.ok(b.excitations.every((e) => e.data.every((v) => v > 0 && v < 1)));
      assert.deepEqual(probe.blocks.map((blk) => blk.name).at(-1), 'layer3.2.se');
    } finally {
      await plain.release();
      await probe.release();
    }
  });

  it('refuses a webgpu predictor without the batch its graph is fixed to, before any session', async () => {
    await assert.rejects(createPredictor(config, initialState(), 'init', { threads: 1, device: 'webgpu' }), { message: 'createPredictor(init): a webgpu session needs settings.batch, the batch the graph is fixed to' });
  });

  it('uses the checkpoint weights: with fc2 zeroed, a gate is sigmoid(its bias) on every tile', async () => {
    const state = initialState();
    const w = state.get('layer2.1.se.fc2.weight')!;
    const bias = Float32Array.from({ length: 32 }, (_, k) => (k - 16) / 4);
    state.set('layer2.1.se.fc2.weight', { ...w, data: new Float32Array(w.data.length) });
    state.set('layer2.1.se.fc2.bias', { dtype: 'float32', dims: [32], data: bias });
    const p = await createPredictor(config, state, 'edited', SETTINGS, { excitation: true });
    try {
      const gate = (await p.predict(images(2), 2)).excitations.find((e) => e.name === 'layer2.1.se')!;
      for (let i = 0; i < 2; i++) {
        for (let k = 0; k < 32; k++) assert.ok(Math.abs(gate.data[i * 32 + k]! - 1 / (1 + Math.exp(-bias[k]!))) < 1e-6, `tile ${i} channel ${k}`);
      }
    } finally {
      await p.release();
    }
  });

  it('refuses a checkpoint with a missing or misshapen tensor', () => {
    const graph = buildInferenceGraph(config);
    const state = initialState();
    state.delete('fc.bias');
    assert.throws(() => withWeights(graph, state, 'epoch-3.safetensors'), (err) => err instanceof UserError && /epoch-3.safetensors: no tensor fc.bias/.test(err.message));
    const bad = initialState();
    bad.set('fc.bias', { dtype: 'float32', dims: [4], data: new Float32Array(4) });
    assert.throws(() => withWeights(graph, bad, 'x'), /x: tensor fc.bias is float32\[4\], expected float32\[3\]/);
  });
});

/** logits = images * scale (a graph input, like eval_step's state) over 3 classes, with a batch fixed to `batch` or free. */
async function scaleModel(batch: number | string): Promise<ort.InferenceSession> {
  const b = new Builder();
  const x = b.input('images', 'float32', [batch, 3, 1, 1]);
  const scale = b.input('scale', 'float32', [1]);
  const logits = b.op('Flatten', [b.op('Mul', [x, scale])], { axis: 1 }, { names: ['logits'], name: 'logits' });
  b.output(logits);
  b.output(b.op('Softmax', [logits], { axis: 1 }, { names: ['probabilities'], name: 'probabilities' }));
  return ort.InferenceSession.create(encodeModel(b.graph('scale')));
}

describe('the prediction loop', () => {
  const rows = [[1, 3, 2], [5, 0, 5], [0, 0, 1], [2, 1, 0], [-1, -2, -3]];
  const batches = [{ images: Float32Array.from(rows.slice(0, 2).flat()), labels: Int32Array.of(1, 0) }, { images: Float32Array.from(rows.slice(2).flat()), labels: Int32Array.of(2, 0, 1) }];
  const weights = new Map([['scale', new ort.Tensor('float32', Float32Array.of(2), [1])]]);

  it('feeds the graph\'s other inputs, hands back labels, predicts the first most probable class', async () => {
    const p = predictorOn(await scaleModel('N'), { classes: 3, input: [3, 1, 1] });
    try {
      assert.deepEqual([p.fixedBatch, p.weightNames], [null, ['scale']]);
      const all = await collectPredictions(p.predictions(batches, weights), 3);
      assert.equal(all.count, 5);
      assert.deepEqual([...all.logits!], rows.flat().map((v) => v * 2));
      assert.deepEqual([...all.predicted], [1, 0, 2, 0, 0]);
      assert.deepEqual([...all.labels!], [1, 0, 2, 0, 1]);
      await assert.rejects(p.predict(batches[0]!.images, 2), /no tensor for the graph input scale/);
    } finally {
      await p.release();
    }
  });

  it('pads the last batch for a graph with a fixed batch, and cuts the outputs to the batch', async () => {
    const p = predictorOn(await scaleModel(3), { classes: 3, input: [3, 1, 1] });
    try {
      assert.equal(p.fixedBatch, 3);
      const last = await p.predict(Float32Array.from(rows[4]!), 1, weights);
      assert.deepEqual([last.count, [...last.logits!], last.probabilities.length, [...last.predicted]], [1, [-2, -4, -6], 3, [0]]);
    } finally {
      await p.release();
    }
  });
});
