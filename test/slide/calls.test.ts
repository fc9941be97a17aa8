import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { callsOf, cellOf, classAreas, classColour } from '../../src/slide/calls.ts';
import type { SlidePrediction } from '../../src/slide/predict-slide.ts';

/** Three tiles of 100 px read at twice the level-0 pixel size (factor 2), stride 50, 0.25 µm per level-0 pixel. */
const p = {
  tile: 100, stride: 50, plan: { factorX: 2, factorY: 2 }, resolution: { x: 0.25, y: 0.25, from: 'aperio' },
  xs: Int32Array.from([0, 100, 200]), ys: Int32Array.from([0, 0, 0]),
} as unknown as SlidePrediction;

describe('calls', () => {
  it('the class of each tile is its highest probability, the first on a tie', () => {
    assert.deepEqual([...callsOf(Float32Array.from([0.2, 0.8, 0.5, 0.5, 0.9, 0.1]), 2)], [1, 0, 0]);
  });

  it('overlapping tiles stand for their stride-sized centre cell; areas count cells', () => {
    // A 100 px tile spans 200 level-0 px; its 50 px stride cell, 100 level-0 px, sits 50 in.
    assert.deepEqual(cellOf(p, 1), { x: 150, y: 50, w: 100, h: 100 });
    const areas = classAreas(p, Int32Array.from([1, 1, 0]), ['a', 'b']);
    // One cell: 100 x 100 level-0 px at 0.25 µm = 625 µm² = 0.000625 mm².
    assert.deepEqual(areas.map((a) => [a.name, a.tiles, +a.fraction.toFixed(4), a.areaMm2]), [['a', 1, 0.3333, 0.000625], ['b', 2, 0.6667, 0.00125]]);
    const unknown = classAreas({ ...p, resolution: null } as SlidePrediction, Int32Array.from([0]), ['a']);
    assert.equal(unknown[0]!.areaMm2, null);
  });

  it('colours: the report\'s palette for classes', () => {
    assert.deepEqual(classColour(0), [0, 114, 178]);
  });
});
