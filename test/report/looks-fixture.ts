// A "Where they look" fixture for the report's tests: a smooth tile (JPEG keeps it within a few
// levels), class names to escape and to cut, a tile both networks get right and one they disagree on.
import type { Looks } from '../../src/evaluate/looks.ts';
import { LOOK_SIDE } from '../../src/report/looks.ts';

export const tile = Uint8Array.from({ length: LOOK_SIDE * LOOK_SIDE * 3 }, (_, i) => 60 + Math.round(100 * Math.sin(Math.floor(i / 3) / 700) ** 2) + 20 * (i % 3));
export const map = [0, 1, 2, 3, 4, 5, 6, 7, 8];
export const looks: Looks = {
  classes: ['a<b>&"c"', 'a very long class name indeed'], layers: ['layer3', 'layer3'], seed: 1, perClass: 2, dataDir: 'data',
  tiles: [
    { file: 'x.png', label: 0, kind: 'agree', maps: [{ predicted: 0, probability: 0.9, map, height: 3, width: 3 }, { predicted: 0, probability: 0.8, map, height: 3, width: 3 }] },
    { file: 'y.png', label: 1, kind: 'disagree', maps: [{ predicted: 0, probability: 0.6, map, height: 3, width: 3 }, { predicted: 1, probability: 0.7, map: new Array<number>(9).fill(0), height: 3, width: 3 }] },
  ],
};
