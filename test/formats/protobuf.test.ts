// Export: every network loads and runs in onnxruntime-node with optimisations on and off, bytes
// are deterministic, and the metadata Netron shows is there.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { buildInferenceGraph, resolveModel } from '../../src/graph/model.ts';
import { modelNames } from '../../src/graph/registry.ts';
import { buildTrainStep } from '../../src/graph/train.ts';
import { decodeModel, encodeModel, withFixedBatch, withRequiredInput } from '../../src/formats/protobuf.ts';
import { Builder } from '../../src/graph/builder.ts';
import { tensorFromNumbers } from '../../src/graph/tensor.ts';
import { inferenceMetadata } from '../../src/formats/metadata.ts';
import { toText } from '../../src/formats/text.ts';
import { data, floats, int64s, session, stateFeeds } from '../helpers/ort.ts';

describe('ONNX export', () => {
  // The legacy layouts at one depth per block kind (18, 50): 101 and 152 only repeat their blocks,
  // and would add 20 s of weight drawing; resnet.test.ts counts every one of them.
  it('every network runs a batch in onnxruntime-node, optimised and not (the legacy layouts at 18 and 50)', async () => {
    for (const arch of modelNames().filter((a) => !/^legacy_.*(101|152)$/.test(a))) {
      const imagenet = /resnet(18|34|50|101|152)$/.test(arch);
      const config = resolveModel({ arch, input: imagenet ? [3, 64, 64] : undefined, classes: 5 });
      const bytes = encodeModel(buildInferenceGraph(config));
      const [, h, w] = config.input;
      const images = floats(Array.from({ length: 2 * 3 * h * w }, (_, i) => Math.sin(i)), [2, 3, h, w]);
      const results: Float32Array[] = [];
      for (const level of ['all', 'disabled'] as const) {
        const s = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: level });
        const out = await s.run({ images });
        const p = data(out['probabilities']!);
        assert.deepEqual(out['logits']!.dims, [2, 5], arch);
        assert.ok(data(out['logits']!).every(Number.isFinite), `${arch}: finite logits`);
        for (let r = 0; r < 2; r++) assert.ok(Math.abs(p.slice(r * 5, r * 5 + 5).reduce((a, v) => a + v, 0) - 1) < 1e-5, `${arch}: probabilities sum to 1`);
        results.push(p);
        await s.release();
      }
      for (let i = 0; i < results[0]!.length; i++) assert.ok(Math.abs(results[0]![i]! - results[1]![i]!) < 1e-4, `${arch}: optimised and plain agree`);
    }
  });

  it('writes the same bytes for the same graph, with metadata, doc string and value_info', () => {
    const config = resolveModel({ arch: 'se_resnet20', seed: 7, batch: 3 });
    const a = encodeModel(buildInferenceGraph(config), { metadata: inferenceMetadata(config) });
    const b = encodeModel(buildInferenceGraph(config), { metadata: inferenceMetadata(config) });
    assert.deepEqual(a, b);
    const model = decodeModel(a);
    assert.equal(Number(model.irVersion), 8);
    assert.equal(Number(model.opsetImport[0]!.version), 17);
    const meta = Object.fromEntries(model.metadataProps.map((p) => [p.key, p.value]));
    assert.equal(meta['architecture'], 'se_resnet20');
    assert.equal(meta['se_reduction'], '16');
    assert.equal(meta['classes'], '10');
    assert.equal(meta['input_shape'], '3x3x32x32');
    assert.equal(meta['seed'], '7');
    assert.equal(meta['producer'], 'senet-ort');
    assert.match(model.docString, /se_resnet20: SE-ResNet \(reduction 16\)/);
    assert.ok((model.graph!.valueInfo ?? []).some((v) => v.name === 'layer1.0.se/excitation'));
    assert.deepEqual((model.graph!.input ?? []).map((v) => v.name), ['images']);
    assert.deepEqual((model.graph!.output ?? []).map((v) => v.name), ['logits', 'probabilities']);
  });

  it('prints a readable listing', () => {
    const text = toText(buildInferenceGraph(resolveModel({ arch: 'resnet20' })));
    assert.match(text, /^graph resnet20 \(opset 17\)\n  input  images: float32\[N,3,32,32\]/);
    assert.match(text, /layer1\.0\.conv1: float32\[N,16,32,32\] = Conv<dilations=\[1,1\], group=1, kernel_shape=\[3,3\], pads=\[1,1,1,1\], strides=\[1,1\]>\(Relu, layer1\.0\.conv1\.weight\)/);
  });

  it('writes an input with a default as input and initializer; withRequiredInput drops the default, which onnxruntime-node cannot override; withFixedBatch repeats it', async () => {
    const b = new Builder();
    const c = b.inputWithDefault('class', ['N'], tensorFromNumbers([-1], 'int64', [1]));
    b.output(b.op('Identity', [c], {}, { names: ['chosen'], name: 'chosen' }));
    const bytes = encodeModel(b.graph('g'));
    const model = decodeModel(bytes);
    assert.deepEqual([model.graph!.input!.map((v) => v.name), model.graph!.initializer!.map((t) => t.name)], [['class'], ['class']]);
    const fed = { class: int64s([2, 0], [2]) };
    // The binding feeds only the inputs its session lists, and it lists none with an initializer.
    const withDefault = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
    assert.deepEqual([...(await withDefault.run(fed))['chosen']!.data as BigInt64Array], [-1n]);
    const required = await ort.InferenceSession.create(withRequiredInput(bytes, 'class'), { logSeverityLevel: 3 });
    assert.deepEqual(required.inputNames, ['class']);
    assert.deepEqual([...(await required.run(fed))['chosen']!.data as BigInt64Array], [2n, 0n]);
    assert.equal(withRequiredInput(bytes, 'other'), bytes, 'unchanged where the input has no default');
    // A fixed batch (WebGPU sessions) repeats the one-row default over it: ONNX Runtime wants the declared shape.
    const fixed = await ort.InferenceSession.create(withFixedBatch(bytes, 3), { logSeverityLevel: 3 });
    const out = (await fixed.run({}))['chosen']!;
    assert.deepEqual([out.dims, [...out.data as BigInt64Array]], [[3], [-1n, -1n, -1n]]);
  });

  for (const opset of [18, 21]) {
    it(`trains at opset ${opset}, where ReduceMean takes its axes as an input`, async () => {
      const config = { ...resolveModel({ arch: 'se_resnet20', input: [3, 8, 8], classes: 2, opset }), batch: 2 };
      const step = buildTrainStep(config);
      const out = await (await session(step.graph)).run({
        ...stateFeeds(step.graph), images: floats(Array.from({ length: 2 * 3 * 64 }, (_, i) => Math.cos(i)), [2, 3, 8, 8]), labels: int64s([0, 1], [2]),
        lr: floats([0.1], []), momentum: floats([0.9], []), weight_decay: floats([0], []),
      });
      assert.ok(Number.isFinite(data(out['loss']!)[0]!));
    });
  }
});
