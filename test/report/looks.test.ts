// "Where they look" as figures: a row per class, every picture placed, text escaped.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Looks } from '../../src/evaluate/looks.ts';
import { lookPictures } from '../../src/report/look-pictures.ts';
import { LOOK_SIDE, looksFigures } from '../../src/report/looks.ts';
import { checkWellFormed } from './xml.ts';

// A smooth tile; class names to escape and to cut.
const tile = Uint8Array.from({ length: LOOK_SIDE * LOOK_SIDE * 3 }, (_, i) => 60 + Math.round(100 * Math.sin(Math.floor(i / 3) / 700) ** 2) + 20 * (i % 3));
const map = [0, 1, 2, 3, 4, 5, 6, 7, 8];
const looks: Looks = {
  classes: ['a<b>&"c"', 'a very long class name indeed'], layers: ['layer3', 'layer3'], seed: 1, perClass: 2, dataDir: 'data',
  tiles: [
    { file: 'x.png', label: 0, kind: 'agree', maps: [{ predicted: 0, probability: 0.9, map, height: 3, width: 3 }, { predicted: 0, probability: 0.8, map, height: 3, width: 3 }] },
    { file: 'y.png', label: 1, kind: 'disagree', maps: [{ predicted: 0, probability: 0.6, map, height: 3, width: 3 }, { predicted: 1, probability: 0.7, map: new Array<number>(9).fill(0), height: 3, width: 3 }] },
  ],
};

describe('"Where they look" figures', () => {
  it('draws a figure per kind, a row per class, every picture placed, class names escaped and cut to fit', async () => {
    const figures = looksFigures(await lookPictures(looks, ['plain', 'se'], async () => tile));
    assert.deepEqual(figures.map((f) => f.kind), ['agree', 'disagree']);
    for (const f of figures) {
      checkWellFormed(f.svg);
      assert.equal((f.svg.match(/<image /g) ?? []).length, 3);
      assert.ok(!f.svg.includes('<b>'));
    }
    assert.ok(figures[0]!.svg.includes('a&lt;b&gt;&amp;"c"') || figures[0]!.svg.includes('a&lt;b&gt;&amp;&quot;c&quot;'));
    assert.ok(figures[1]!.svg.includes('>a very long cla…</text>'), 'a long class name is cut with an ellipsis');
    assert.ok(figures[0]!.svg.includes('>p 0.90</text>'), 'agreeing tiles: the probability');
    assert.ok(figures[1]!.svg.includes('>a very lon… 0.70</text>'), 'disagreeing tiles: each network\'s call, the probability kept');
  });
});
