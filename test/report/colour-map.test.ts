// The colour map of every map drawn: viridis from dark purple to yellow, luminance rising.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { hexColour, viridis } from '../../src/report/colour-map.ts';

describe('viridis', () => {
  it('runs from dark purple to yellow, clamped, with luminance rising monotonically (it reads in print and in grey)', () => {
    assert.deepEqual(viridis(0), [0x44, 0x01, 0x54]);
    assert.deepEqual(viridis(1), [0xfd, 0xe7, 0x25]);
    assert.deepEqual(viridis(-3), viridis(0));
    assert.equal(hexColour(viridis(1)), '#fde725');
    const lum = (c: number[]): number => 0.2126 * c[0]! + 0.7152 * c[1]! + 0.0722 * c[2]!;
    for (let v = 0; v < 1; v += 0.05) assert.ok(lum(viridis(v + 0.05)) > lum(viridis(v)), String(v));
  });
});
