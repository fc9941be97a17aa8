// The browser app's training step in onnxruntime-web (its WebAssembly build, here under Node) against
// onnxruntime-node's on the same batch as raw tensors: equal within what float rounding alone moves
// onnxruntime-node's own step by (measured: 3e-6 to 4e-6 relative for resnet20 and se_resnet20,
// where rounding moves it by 5e-6). The page runs the same code in Chromium (test/web/page/).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as ortWeb from 'onnxruntime-web';
import { IDENTITY, writeSample } from '../../src/data/augment.ts';
import { planEpoch } from '../../src/data/plan.ts';
import { batchImages, firstStep, foldNormalization } from '../../src/web/trainer.ts';
import { trainOptions, DEMO_SETTINGS } from '../../src/web/study.ts';
import { nodeStep, roundingError, stepRequest, worstError } from './first-step.ts';

describe('the browser app\'s training step', () => {
  for (const arch of ['resnet20', 'se_resnet20']) {
    it(`${arch}: the first step equals onnxruntime-node's within float rounding`, async (t) => {
      ortWeb.env.wasm.numThreads = 1;
      const request = stepRequest(arch, [3, 16, 16]);
      const want = await nodeStep(request);
      const got = await firstStep(ortWeb, 'wasm', request);
      const rounding = await roundingError(request, want);
      const worst = worstError(got, want);
      t.diagnostic(`${arch}: worst relative error ${worst.error.toExponential(2)} (${worst.where}); rounding alone ${rounding.toExponential(2)}`);
      assert.ok(worst.error <= 10 * rounding, `${worst.where}: ${worst.error} against rounding ${rounding}`);
      assert.equal(got.next.size, want.next.size);
    });
  }
});

describe('the browser app\'s batches and normalisation', () => {
  it('build each sample as the CLI\'s loader does: the plan\'s symmetry on the fold\'s normalisation', () => {
    const rgb = [Uint8Array.from({ length: 8 * 8 * 3 }, (_, i) => (i * 37) % 256), Uint8Array.from({ length: 8 * 8 * 3 }, (_, i) => (i * 11) % 256)];
    const tiles = { index: new Map([['a', 0], ['b', 1]]), rgb, labels: Int32Array.of(0, 1) };
    const options = trainOptions({ ...DEMO_SETTINGS, input: [3, 8, 8] }, 'resnet20', 2, 2, { backend: 'wasm', threads: 1 });
    const norm = foldNormalization(options, tiles, [0, 1]);
    // Mean of channel 0 by hand: every third byte of both tiles.
    const channel0 = [...rgb[0]!, ...rgb[1]!].filter((_, i) => i % 3 === 0);
    assert.ok(Math.abs(norm.mean[0] - channel0.reduce((s, v) => s + v, 0) / channel0.length / 255) < 1e-12);
    const [batch] = planEpoch({ tiles: [0, 1], samples: 2, batchSize: 2, seed: 0, fold: 1, epoch: 1, augmentation: { flips: true, colorJitter: 0, stainJitter: 0 }, square: true, normalization: norm });
    const images = batchImages(tiles, batch!, 8, 8);
    const expected = new Float32Array(images.length);
    batch!.indices.forEach((t, i) => writeSample(rgb[t]!, 8, 8, batch!.symmetries[i]!, null, norm, expected, i * 3 * 64));
    assert.deepEqual(images, expected);
    assert.notDeepEqual([...batch!.symmetries], [IDENTITY, IDENTITY], 'the plan flips or rotates');
  });
});
