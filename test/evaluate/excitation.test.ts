import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ExcitationAccumulator, excitationByClass } from '../../src/evaluate/excitation.ts';

const close = (actual: readonly number[], expected: readonly number[]): void => {
  assert.equal(actual.length, expected.length);
  actual.forEach((a, i) => assert.ok(Math.abs(a - expected[i]!) < 1e-6, `[${i}] ${a} vs ${expected[i]}`));
};

describe('excitationByClass', () => {
  // Three tiles (two of class 0, one of class 1, none of class 2), one SE block of three channels.
  const analysis = excitationByClass(
    [0, 0, 1],
    [{ name: 'layer1.0.se', channels: 3, data: Float32Array.from([0.1, 0.5, 0.9, 0.3, 0.5, 0.7, 0.9, 0.5, 0.1]) }],
    ['tumor', 'stroma', 'empty'],
    'fold 1',
  );
  const block = analysis.blocks[0]!;

  it('averages each channel over the tiles of each class, and over all tiles', () => {
    assert.deepEqual(analysis.tiles, [2, 1, 0]);
    close(block.mean[0]!, [0.2, 0.5, 0.8]);
    close(block.mean[1]!, [0.9, 0.5, 0.1]);
    close(block.all, [1.3 / 3, 0.5, 1.7 / 3]);
  });

  it('gives a class without tiles no curve rather than zeros', () => {
    assert.equal(block.mean[2], null);
  });

  it('measures class spread as the mean over channels of the highest minus the lowest class mean', () => {
    assert.ok(Math.abs(block.spread - 1.4 / 3) < 1e-6);
    const same = excitationByClass([0, 1], [{ name: 'b', channels: 2, data: [0.3, 0.6, 0.3, 0.6] }], ['a', 'b'], 's');
    assert.equal(same.blocks[0]!.spread, 0);
  });

  it('checks labels and value counts', () => {
    assert.throws(() => excitationByClass([0, 3], [], ['a', 'b'], 's'), /expected class index from 0 to 1 for labels\[1\] but received 3/);
    assert.throws(() => excitationByClass([0, 1], [{ name: 'x.se', channels: 2, data: [1, 2, 3] }], ['a', 'b'], 's'), /expected 2 × 2 = 4 values for x.se excitation but received 3/);
  });

  it('gives the same means batch by batch as all at once', () => {
    const acc = new ExcitationAccumulator(['tumor', 'stroma', 'empty']);
    acc.add([0], [{ name: 'layer1.0.se', channels: 3, data: [0.1, 0.5, 0.9] }]);
    acc.add([0, 1], [{ name: 'layer1.0.se', channels: 3, data: [0.3, 0.5, 0.7, 0.9, 0.5, 0.1] }]);
    const batched = acc.result('fold 1');
    assert.deepEqual(batched.tiles, analysis.tiles);
    close(batched.blocks[0]!.mean[0]!, block.mean[0]!);
    close(batched.blocks[0]!.all, block.all);
    assert.throws(() => acc.add([0], [{ name: 'other', channels: 3, data: [0, 0, 0] }]), /blocks changed/);
  });
});
