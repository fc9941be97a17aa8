// Running a model with Grad-CAM: the class fed (the model's own default dropped, which
// onnxruntime-node could not override), -1 for the predicted class, a fixed batch padded, and a
// model without Grad-CAM refused in one line.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Explainer } from '../../src/infer/explainer.ts';
import { buildExplainGraph, classRequired } from '../../src/graph/gradcam.ts';
import { buildInferenceGraph, resolveModel } from '../../src/graph/model.ts';
import { encodeModel } from '../../src/formats/protobuf.ts';
import { UserError } from '../../src/errors.ts';
import { data, floats, int64s, session } from '../helpers/ort.ts';

const config = resolveModel({ arch: 'se_resnet20', classes: 3, input: [3, 16, 16], seed: 4 });
const images = Float32Array.from({ length: 2 * 3 * 256 }, (_, i) => 128 + 120 * Math.sin(i * 1.7));
const settings = { threads: 1, device: 'cpu' } as const;

describe('Explainer', () => {
  it('explains the classes asked for, -1 the predicted one, with the graph\'s own maps', async () => {
    const graph = buildExplainGraph(config, 'layer2');
    const explainer = await Explainer.open(encodeModel(graph), settings);
    const reference = await session(classRequired(graph), { stateAsInputs: false });
    try {
      const predicted = await explainer.explain(images, 2);
      const p = predicted.probabilities;
      assert.deepEqual([...predicted.classes], [0, 1].map((i) => [0, 1, 2].reduce((b, c) => (p[i * 3 + c]! > p[i * 3 + b]! ? c : b), 0)));
      const asked = await explainer.explain(images, 2, [2, -1]);
      assert.deepEqual([...asked.classes], [2, predicted.classes[1]]);
      assert.deepEqual([asked.height, asked.width, asked.maps.length], [8, 8, 2 * 64]);
      const want = await reference.run({ images: floats(images, [2, 3, 16, 16]), class: int64s([2, -1], [2]) });
      assert.deepEqual([...asked.maps], [...data(want['cam']!)]);
      assert.deepEqual([...asked.maps.slice(64)], [...predicted.maps.slice(64)], '-1 is the predicted class');
      assert.notDeepEqual([...asked.maps.slice(0, 64)], [...predicted.maps.slice(0, 64)]);
    } finally {
      await explainer.release();
      await reference.release();
    }
  });

  it('pads a short batch for a model of fixed batch', async () => {
    const free = await Explainer.open(encodeModel(buildExplainGraph(config, 'layer3')), settings);
    const fixed = await Explainer.open(encodeModel(buildExplainGraph({ ...config, batch: 4 }, 'layer3')), settings);
    const [a, b] = [await free.explain(images, 2, [1, 0]), await fixed.explain(images, 2, [1, 0])];
    assert.deepEqual([...b.maps], [...a.maps]);
    assert.equal(b.probabilities.length, 2 * 3);
    await Promise.all([free.release(), fixed.release()]);
  });

  it('refuses a model without Grad-CAM, naming --explain', async () => {
    await assert.rejects(Explainer.open(encodeModel(buildInferenceGraph(config)), settings, 'plain.onnx'),
      (err: Error) => err instanceof UserError && /^plain\.onnx: no Grad-CAM in this model .*export --explain or gen-graph --explain$/.test(err.message));
  });
});
