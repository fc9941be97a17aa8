import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { svgToPng } from '../../src/report/png.ts';
import { excitationByClass } from '../../src/evaluate/excitation.ts';
import { PALETTE, blues, confusionMatrixPlot, excitationPlot, groupedBars, lineChart, niceDomain, niceTicks, seriesStyle, trainingCurves } from '../../src/report/plots.ts';
import type { FoldCurve } from '../../src/evaluate/scores.ts';
import { checkWellFormed } from './xml.ts';

const NASTY = 'A<&>"\'b';

/** Well-formed, titled, and rendered by librsvg (which rejects malformed XML) at twice its size. */
async function checkSvg(svg: string, title: string): Promise<void> {
  checkWellFormed(svg);
  assert.ok(svg.includes(`<title>${title}</title>`), `title ${title}`);
  const [, w, h] = /width="([\d.]+)" height="([\d.]+)"/.exec(svg)!;
  const meta = await sharp(await svgToPng(svg)).metadata();
  assert.deepEqual([meta.width, meta.height], [Math.round(Number(w) * 2), Math.round(Number(h) * 2)]);
}

function curve(fold: number, epochs: number): FoldCurve {
  return {
    fold,
    selectedEpoch: epochs,
    points: Array.from({ length: epochs }, (_, i) => ({ epoch: i + 1, trainLoss: 1 / (i + 1), valLoss: 1.2 / (i + 1), trainAccuracy: 0.5 + i / 40, valAccuracy: i === 1 ? null : 0.45 + i / 40 })),
  };
}

describe('ticks', () => {
  it('picks round steps and widens domains to them', () => {
    assert.deepEqual(niceTicks(0, 1, 5), [0, 0.2, 0.4, 0.6, 0.8, 1]);
    assert.deepEqual(niceTicks(1, 20, 5, true), [5, 10, 15, 20]);
    assert.deepEqual(niceTicks(1, 3, 8, true), [1, 2, 3]);
    assert.deepEqual(niceDomain(0.13, 0.87), [0, 1]);
    assert.deepEqual(niceDomain(0.5, 0.5), [0.45, 0.55]);
    assert.deepEqual(niceDomain(0, 2.13), [0, 2.5]);
  });
});

describe('plots', () => {
  it('draws training curves: loss and accuracy panels, a colour per fold, validation dashed, checkpoints ringed', async () => {
    const svg = trainingCurves([curve(1, 12), curve(2, 12)], { title: `curves ${NASTY}` });
    await checkSvg(svg, 'curves A&lt;&amp;&gt;"\'b');
    for (const text of ['>Loss<', '>Accuracy<', '>epoch<', '>fold 1<', '>fold 2<', '>validation<', 'evaluated checkpoint']) assert.ok(svg.includes(text), text);
    assert.ok(svg.includes(`stroke="${PALETTE[0]}"`) && svg.includes(`stroke="${PALETTE[1]}"`));
    assert.ok(svg.includes('stroke-dasharray="6 4"'));
    // The missing validation accuracy at epoch 2 breaks that line into two pieces.
    assert.match(svg, /<title>fold 1 validation<\/title><path d="M[^"]*M/);
  });

  it('draws a one-epoch run as points (a line of one point is invisible)', async () => {
    const svg = trainingCurves([curve(1, 1)]);
    await checkSvg(svg, 'Training curves');
    assert.ok((svg.match(/<circle /g) ?? []).length >= 4);
  });

  it('draws a confusion matrix with counts, shares of the row and escaped class names', async () => {
    const names = ['tumor', NASTY, 'never predicted'];
    const svg = confusionMatrixPlot([[5, 1, 0], [2, 2, 0], [0, 0, 0]], names, { title: 'cm' });
    await checkSvg(svg, 'cm');
    assert.ok(svg.includes('>A&lt;&amp;&gt;"\'b<'));
    assert.ok(svg.includes('true A&lt;&amp;&gt;"\'b, predicted tumor: 2 of 4 (50.0%)'));
    for (const text of ['>true class<', '>predicted class<', '>83%<', '>share of true class<']) assert.ok(svg.includes(text), text);
    assert.throws(() => confusionMatrixPlot([[1, 2]], names), /3x3/);
  });

  it('shades with ColorBrewer Blues, lighter for smaller shares', () => {
    assert.equal(blues(0), '#f7fbff');
    assert.equal(blues(1), '#08306b');
    const lightness = (hex: string): number => [1, 3, 5].reduce((s, k) => s + parseInt(hex.slice(k, k + 2), 16), 0);
    const ramp = [0, 0.1, 0.3, 0.5, 0.7, 0.9, 1].map((t) => lightness(blues(t)));
    assert.deepEqual([...ramp].sort((a, b) => b - a), ramp);
  });

  it('draws per-class F1 of two networks side by side with ± sd whiskers', async () => {
    const svg = groupedBars({
      title: 'F1',
      categories: ['a', 'b', NASTY],
      groups: [
        { name: 'resnet18', values: [0.9, 0.5, 0], errors: [0.05, null, 0] },
        { name: 'se_resnet18', values: [0.95, 0.6, 0.1] },
      ],
      yLabel: 'F1',
    });
    await checkSvg(svg, 'F1');
    assert.equal((svg.match(/<rect x="[\d.]+" y="[\d.]+" width="[\d.]+" height="[\d.]+" fill="#/g) ?? []).length, 6 + 2 + 1); // bars, legend boxes, background
    assert.ok(svg.includes('<title>a, resnet18: 0.900 ± 0.050</title>'));
    assert.ok(svg.includes('whiskers: ± 1 sd over folds'));
    assert.throws(() => groupedBars({ title: 'x', categories: ['a'], groups: [{ name: 'g', values: [1, 2] }], yLabel: 'y' }), /2 values for 1 categories/);
  });

  it('draws the excitation analysis: a panel per SE block, a line per class, none for a class without tiles', async () => {
    const analysis = excitationByClass(
      [0, 0, 1],
      [
        { name: 'layer1.0.se', channels: 3, data: [0.1, 0.5, 0.9, 0.3, 0.5, 0.7, 0.9, 0.5, 0.1] },
        { name: 'layer2.0.se', channels: 2, data: [0.2, 0.8, 0.4, 0.6, 0.5, 0.5] },
      ],
      ['tumor', 'stroma', 'empty'],
      'fold 1 model on the test split',
    );
    for (const order of ['sorted', 'index'] as const) {
      const svg = excitationPlot(analysis, { title: 'exc', order });
      await checkSvg(svg, 'exc');
      for (const text of ['>layer1.0.se<', '>layer2.0.se<', 'tumor (2 tiles)', 'stroma (1 tiles)', 'all test tiles', 'fold 1 model on the test split']) assert.ok(svg.includes(text), text);
      assert.ok(!svg.includes('empty'), 'the class without tiles has no line and no legend entry');
      assert.equal((svg.match(/<title>tumor<\/title>/g) ?? []).length, 2);
    }
  });

  it('gives each of 16 series its own look: 8 distinct colours, repeated with a dash beyond them', () => {
    assert.equal(new Set(PALETTE.map((c) => c.toLowerCase())).size, PALETTE.length);
    for (const c of PALETTE) assert.match(c, /^#[0-9a-f]{6}$/i);
    const looks = Array.from({ length: 2 * PALETTE.length }, (_, i) => seriesStyle(i));
    assert.equal(new Set(looks.map((l) => `${l.color} ${l.dash}`)).size, looks.length);
    assert.equal(looks[0]!.dash, undefined, 'the first series are solid');
    assert.equal(looks[PALETTE.length + 1]!.color, looks[1]!.color);
    assert.notEqual(looks[PALETTE.length + 1]!.dash, undefined);
  });

  it('draws a generic line chart with its legend', async () => {
    const svg = lineChart({ title: 'lc', xLabel: 'x', yLabel: 'y', series: [{ name: NASTY, points: [[0, 1], [1, 2]], color: PALETTE[0]! }] });
    await checkSvg(svg, 'lc');
    assert.ok(svg.includes('>A&lt;&amp;&gt;"\'b<'));
  });
});
