// Freezing: frozen parameters get no gradient (a smaller step) and come out bit-identical; the
// others update as in the full step; --freeze-bn keeps frozen BatchNorms' running statistics.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ModelConfig } from '../../src/graph/model.ts';
import { resolveModel } from '../../src/graph/model.ts';
import { buildTrainStep } from '../../src/graph/train.ts';
import { isFrozen, parseFreeze } from '../../src/graph/freeze.ts';
import { createRng } from '../../src/util/random.ts';
import { data, floats, int64s, session, stateFeeds } from '../helpers/ort.ts';
import type { Feeds } from '../helpers/ort.ts';

const config: ModelConfig = { ...resolveModel({ arch: 'se_resnet20', input: [3, 8, 8], classes: 3, reduction: 4, seed: 1 }), batch: 4 };
const rng = createRng(2);
const feeds = (step: ReturnType<typeof buildTrainStep>): Feeds => ({
  ...stateFeeds(step.graph),
  images: floats(Array.from({ length: 4 * 3 * 8 * 8 }, () => rng.normal()), [4, 3, 8, 8]),
  labels: int64s([0, 2, 1, 2], [4]),
  lr: floats([0.1], []), momentum: floats([0.9], []), weight_decay: floats([0.01], []),
});

describe('freezing parts of a network', () => {
  it('names parts as stem, layerN and backbone, and refuses others in one line', () => {
    assert.deepEqual(parseFreeze('layer1,stem', config.spec), ['stem', 'layer1']);
    assert.deepEqual(parseFreeze('backbone', config.spec), ['stem', 'layer1', 'layer2', 'layer3']);
    assert.throws(() => parseFreeze('stem,layer4', config.spec), /^UserError: expected a comma-separated list of stem, layer1, layer2, layer3, backbone for --freeze but received "stem,layer4"$/);
    assert.ok(isFrozen('bn1.running_mean', ['stem']) && isFrozen('layer1.2.se.fc1.bias', ['layer1']));
    assert.ok(!isFrozen('fc.weight', ['stem', 'layer1', 'layer2', 'layer3']) && !isFrozen('layer2.0.conv1.weight', ['layer1']));
  });

  it('computes no gradient for frozen parameters, which stay bit-identical while the rest update as in the full step', async () => {
    const full = buildTrainStep(config);
    const part = buildTrainStep(config, {}, undefined, { parts: ['stem', 'layer1'], bn: false });
    assert.ok(part.graph.nodes.length < full.graph.nodes.length - 50, `${part.graph.nodes.length} nodes, full ${full.graph.nodes.length}`);
    assert.ok(part.frozen.includes('conv1.weight') && part.frozen.includes('layer1.2.se.fc2.bias') && !part.frozen.includes('layer2.0.conv1.weight'));
    // The same state inputs and outputs: the contract holds.
    assert.deepEqual(part.graph.outputs.map((v) => v.name), full.graph.outputs.map((v) => v.name));
    const input = feeds(full);
    const [a, b] = await Promise.all([session(full.graph), session(part.graph)]);
    const [outFull, outPart] = await Promise.all([a.run(input), b.run(input)]);
    assert.equal(data(outPart['loss']!)[0], data(outFull['loss']!)[0]);
    for (const name of part.frozen) {
      assert.deepEqual(data(outPart[`${name}.next`]!), data(input[name]!), name);
      assert.ok(data(outPart[`${name}.momentum.next`]!).every((v) => v === 0), `${name}.momentum`);
    }
    for (const p of full.parameters.filter((p) => !part.frozen.includes(p.value.name))) {
      const x = data(outPart[`${p.value.name}.next`]!);
      const y = data(outFull[`${p.value.name}.next`]!);
      assert.ok(x.every((v, i) => Math.abs(v - y[i]!) <= 1e-5 * (1 + Math.abs(y[i]!))), p.value.name);
    }
    // Without --freeze-bn, frozen BatchNorms still track their running statistics.
    assert.notDeepEqual(data(outPart['bn1.running_mean.next']!), data(input['bn1.running_mean']!));
  });

  it('runs frozen BatchNorms on their running statistics with --freeze-bn, which then stay fixed', async () => {
    const step = buildTrainStep(config, {}, undefined, { parts: ['layer2'], bn: true });
    const input = feeds(step);
    // Made-up running statistics, so that inference mode differs visibly from batch statistics.
    for (const name of Object.keys(input).filter((n) => n.startsWith('layer2.') && n.endsWith('running_var'))) input[name] = floats(Array.from(data(input[name]!), (_, i) => 0.5 + i / 10), input[name]!.dims);
    const out = await (await session(step.graph)).run(input);
    for (const name of Object.keys(input).filter((n) => n.startsWith('layer2.') && /running_(mean|var)$/.test(n))) {
      assert.deepEqual(data(out[`${name}.next`]!), data(input[name]!), name);
    }
    assert.notDeepEqual(data(out['layer3.0.bn1.running_mean.next']!), data(input['layer3.0.bn1.running_mean']!));
    // layer1 sits before the frozen layer2 and still learns: the gradient passes through the frozen BNs.
    assert.notDeepEqual(data(out['layer1.0.conv1.weight.next']!), data(input['layer1.0.conv1.weight']!));
    assert.deepEqual(data(out['layer2.0.conv1.weight.next']!), data(input['layer2.0.conv1.weight']!));
    const bnFree = buildTrainStep(config, {}, undefined, { parts: ['layer2'], bn: false });
    const loss = data((await (await session(bnFree.graph)).run(input))['loss']!)[0]!;
    assert.notEqual(data(out['loss']!)[0], loss);
  });

  it('trains the classifier only with --freeze backbone', () => {
    const step = buildTrainStep(config, {}, undefined, { parts: parseFreeze('backbone', config.spec), bn: true });
    assert.deepEqual(step.parameters.map((p) => p.value.name).filter((n) => !step.frozen.includes(n)), ['fc.weight', 'fc.bias']);
    // No backward through the backbone at all: every Conv is a forward one.
    // 19 convs of the stem and blocks, 2 projections and 18 SE convs, and not one more.
    const convs = (g: typeof step.graph): number => g.nodes.filter((n) => n.op === 'Conv' || n.op === 'ConvTranspose').length;
    assert.equal(convs(step.graph), 19 + 2 + 18);
    assert.ok(convs(buildTrainStep(config).graph) > 39 * 2);
  });
});
