// Which test tiles "Where they look" shows: per class, two both ensembles get right and up to two
// where they disagree (one ensemble: right and wrong), drawn with a seed.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chooseLookTiles } from '../../src/evaluate/looks.ts';

// 12 test tiles of 3 classes. Class 0: tiles 0-4, of which A and B both get 0, 1, 2 right and
// disagree on 3 (A right) and 4 (B right). Class 1: tiles 5-8, both right on 5 only, both wrong
// alike on 6 (no disagreement), disagree on 7 and 8. Class 2: tiles 9-11, both wrong alike.
const labels = [0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2];
const a = [0, 0, 0, 0, 2, 1, 0, 1, 2, 0, 0, 1];
const b = [0, 0, 0, 1, 0, 1, 0, 2, 0, 0, 0, 1];

describe('choosing the tiles to explain', () => {
  it('takes two both get right and up to two where they disagree, per class, in class order', () => {
    const chosen = chooseLookTiles(labels, [a, b], 3, 7);
    const kinds = chosen.map((c) => `${labels[c.index]}:${c.kind}`);
    assert.deepEqual(kinds, ['0:agree', '0:agree', '0:disagree', '0:disagree', '1:agree', '1:disagree', '1:disagree']);
    for (const c of chosen) {
      if (c.kind === 'agree') assert.ok(a[c.index] === labels[c.index] && b[c.index] === labels[c.index], String(c.index));
      else assert.notEqual(a[c.index], b[c.index], String(c.index));
    }
    assert.deepEqual(chosen.filter((c) => labels[c.index] === 0 && c.kind === 'disagree').map((c) => c.index).sort(), [3, 4]);
    assert.equal(new Set(chosen.map((c) => c.index)).size, chosen.length, 'no tile twice');
  });

  it('draws from the candidates with the seed: the same seed the same tiles, other seeds others', () => {
    const agreeing = (seed: number): number[] => chooseLookTiles(labels, [a, b], 3, seed).filter((c) => labels[c.index] === 0 && c.kind === 'agree').map((c) => c.index);
    assert.deepEqual(agreeing(7), agreeing(7));
    const seen = new Set(Array.from({ length: 20 }, (_, s) => agreeing(s).sort().join(',')));
    assert.deepEqual([...seen].sort(), ['0,1', '0,2', '1,2'], 'every pair of the three candidates turns up');
  });

  it('for one ensemble, takes tiles it gets right and wrong', () => {
    const chosen = chooseLookTiles(labels, [a], 3, 1);
    assert.deepEqual(chosen.map((c) => `${labels[c.index]}:${c.kind}`), ['0:right', '0:right', '0:wrong', '1:right', '1:right', '1:wrong', '1:wrong', '2:wrong', '2:wrong']);
    for (const c of chosen) assert.equal(a[c.index] === labels[c.index], c.kind === 'right');
  });
});
