// "Where they look" as figures: a row per class, every picture placed, text escaped.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { lookPictures } from '../../src/report/look-pictures.ts';
import { looksFigures } from '../../src/report/looks.ts';
import { looks, tile } from './looks-fixture.ts';
import { checkWellFormed } from './xml.ts';

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
