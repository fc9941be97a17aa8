// The deployable model: BN folded into convs, normalisation inside, ensembles; it must predict what
// the evaluation graph predicts on normalised input.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildDeployGraph, foldBatchNorm } from '../../src/graph/deploy.ts';
import { buildInferenceGraph, resolveModel } from '../../src/graph/model.ts';
import type { Graph, Tensor } from '../../src/graph/ir.ts';
import { buildExplainGraph, classRequired } from '../../src/graph/gradcam.ts';
import { withWeights } from '../../src/graph/weights.ts';
import { createRng } from '../../src/util/random.ts';
import { data, floats, int64s, session, stateFeeds } from '../helpers/ort.ts';
import { trainedLike } from '../helpers/trained.ts';

const config = { ...resolveModel({ arch: 'se_resnet20', input: [3, 16, 16], classes: 4, reduction: 4, seed: 2 }), batch: 2 };

/** Weights as after training: the initial ones with random BN statistics and affine terms. */
const trainedWeights = (seed: number): Map<string, Tensor> => trainedLike(buildInferenceGraph({ ...config, seed }), seed);

const pixels = Array.from({ length: 2 * 3 * 256 }, (_, i) => 128 + 100 * Math.sin(i * 0.37));
const [mean, std] = [[0.6, 0.5, 0.7], [0.2, 0.25, 0.15]];
const normalise = (values: readonly number[]): number[] => values.map((p, i) => (p / 255 - mean[Math.floor(i / 256) % 3]!) / std[Math.floor(i / 256) % 3]!);
const normalised = normalise(pixels);
// Grad-CAM's maps jump where a ReLU's input is within rounding of 0 (the sine pattern above puts
// one there in layer 1): random pixels keep the comparisons of differently rounded graphs fair.
const noise = createRng(9);
const camPixels = Array.from({ length: 2 * 3 * 256 }, () => 255 * noise.next());
const camNormalised = normalise(camPixels);

async function evalProbabilities(weights: Map<string, Tensor>): Promise<Float32Array> {
  const graph = buildInferenceGraph(config);
  const s = await session(graph, { stateAsInputs: true });
  const feeds = stateFeeds(graph);
  for (const [name, t] of weights) feeds[name] = floats(t.data as Float32Array, t.dims);
  return data((await s.run({ ...feeds, images: floats(normalised, [2, 3, 16, 16]) }))['probabilities']!);
}

describe('deployable model', () => {
  it('folds every BatchNorm into its convolution', () => {
    const graph = buildDeployGraph(config, [{ weights: trainedWeights(1), source: 'fold.safetensors', scale: 255, mean, std }]);
    assert.equal(graph.nodes.filter((n) => n.op === 'BatchNormalization').length, 0);
    assert.ok(!graph.initializers.some((i) => /running_/.test(i.value.name)));
    assert.equal(foldBatchNorm(buildInferenceGraph(config)).nodes.filter((n) => n.op === 'BatchNormalization').length, 0);
  });

  it('predicts on 0-255 pixels what eval_step predicts on normalised ones', async () => {
    const weights = trainedWeights(1);
    const graph = buildDeployGraph(config, [{ weights, source: 'fold.safetensors', scale: 255, mean, std }]);
    const out = await (await session(graph, { stateAsInputs: false })).run({ images: floats(pixels, [2, 3, 16, 16]) });
    const expected = await evalProbabilities(weights);
    data(out['probabilities']!).forEach((p, i) => assert.ok(Math.abs(p - expected[i]!) < 1e-5, `${p} vs ${expected[i]}`));
  });

  it('averages the folds\' probabilities in an ensemble', async () => {
    const [w1, w2] = [trainedWeights(1), trainedWeights(3)];
    const graph = buildDeployGraph(config, [{ weights: w1, source: 'fold.safetensors', scale: 255, mean, std }, { weights: w2, source: 'fold.safetensors', scale: 255, mean, std }]);
    const out = await (await session(graph, { stateAsInputs: false })).run({ images: floats(pixels, [2, 3, 16, 16]) });
    const [p1, p2] = [await evalProbabilities(w1), await evalProbabilities(w2)];
    data(out['probabilities']!).forEach((p, i) => assert.ok(Math.abs(p - (p1[i]! + p2[i]!) / 2) < 1e-5));
    data(out['logits']!).forEach((l, i) => assert.ok(Math.abs(Math.exp(l) - (p1[i]! + p2[i]!) / 2) < 1e-5));
  });

  it('adds Grad-CAM through the folded convolutions: the unfolded network\'s map, each weight held once', async () => {
    const weights = trainedWeights(1);
    const member = { weights, source: 'fold.safetensors', scale: 255, mean, std };
    const graph = buildDeployGraph(config, [member], 'layer2');
    assert.equal(graph.nodes.filter((n) => n.op === 'BatchNormalization').length, 0);
    const stored = (g: Graph): number => g.initializers.filter((i) => i.kind !== 'constant').reduce((n, i) => n + i.tensor.data.length, 0);
    assert.equal(stored(graph), stored(buildDeployGraph(config, [member])), 'no unfolded copy of a weight for the backward pass');
    const out = await (await session(graph, { stateAsInputs: false })).run({ images: floats(camPixels, [2, 3, 16, 16]) });
    const explain = withWeights(buildExplainGraph(config, 'layer2'), weights, 'fold.safetensors');
    const want = await (await session(explain, { stateAsInputs: false })).run({ images: floats(camNormalised, [2, 3, 16, 16]) });
    const [got, expected] = [data(out['cam']!), data(want['cam']!)];
    assert.deepEqual(out['cam']!.dims, [2, 8, 8]);
    const scale = Math.max(...expected);
    assert.ok(scale > 0);
    got.forEach((v, i) => assert.ok(Math.abs(v - expected[i]!) <= 1e-4 * scale, `cam[${i}] ${v} vs ${expected[i]}`));
  });

  it('averages the folds\' maps, each taken for the ensemble\'s class', async () => {
    const members = [trainedWeights(1), trainedWeights(3)].map((weights) => ({ weights, source: 'fold.safetensors', scale: 255, mean, std }));
    const graph = buildDeployGraph(config, members, 'layer1');
    const out = await (await session(graph, { stateAsInputs: false })).run({ images: floats(camPixels, [2, 3, 16, 16]) });
    const p = data(out['probabilities']!);
    const chosen = [0, 1].map((i) => [0, 1, 2, 3].reduce((best, c) => (p[i * 4 + c]! > p[i * 4 + best]! ? c : best), 0));
    const maps = await Promise.all(members.map(async (m) => {
      const explain = classRequired(withWeights(buildExplainGraph(config, 'layer1'), m.weights, 'fold.safetensors'));
      const r = await (await session(explain, { stateAsInputs: false })).run({ images: floats(camNormalised, [2, 3, 16, 16]), class: int64s(chosen, [2]) });
      return data(r['cam']!);
    }));
    const got = data(out['cam']!);
    const scale = Math.max(...got);
    assert.ok(scale > 0);
    got.forEach((v, i) => assert.ok(Math.abs(v - (maps[0]![i]! + maps[1]![i]!) / 2) <= 1e-4 * scale, `cam[${i}] ${v} vs ${(maps[0]![i]! + maps[1]![i]!) / 2}`));
  });

  it('names a missing or misshapen tensor', () => {
    const weights = trainedWeights(1);
    weights.delete('layer2.0.se.fc1.weight');
    assert.throws(() => buildDeployGraph(config, [{ weights, source: 'fold.safetensors', scale: 255, mean, std }]), /: fold\.safetensors: no tensor layer2\.0\.se\.fc1\.weight; the checkpoint does not belong to this se_resnet20 model$/);
  });
});
