import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderReport, reportPlots } from '../../src/report/html.ts';
import type { ReportData } from '../../src/report/html.ts';
import { syntheticLooks, syntheticReport } from './fixtures.ts';
import { checkWellFormed } from './xml.ts';

const NASTY = '<script>alert("pwned")</script>&amp;';

/** The synthetic report with a hostile string in every place a string comes from data. */
function hostile(): ReportData {
  const data = syntheticReport();
  const rename = (names: string[]): string[] => names.map((n, i) => (i === 1 ? `${n}${NASTY}` : n));
  for (const run of data.runs) {
    run.runDir = `runs/${NASTY}`;
    run.configuration = { ...run.configuration, note: NASTY };
    run.ensemble.classNames = rename(run.ensemble.classNames);
    run.ensemble.perClass[1]!.name += NASTY;
    run.data.classes = rename(run.data.classes);
    if (run.excitation) run.excitation.classNames = rename(run.excitation.classNames);
  }
  return { ...data, title: `Report ${NASTY}` };
}

describe('HTML report', () => {
  const data = syntheticReport();
  const html = renderReport(data);

  it('is one well-formed document with every section', () => {
    checkWellFormed(html, { allowDoctype: true });
    for (const id of ['configuration', 'data', 'curves', 'metrics', 'comparison', 'excitation']) assert.ok(html.includes(`<section id="${id}">`), id);
    for (const text of ['Training curves: resnet18', 'Training curves: se_resnet18', 'Confusion matrix: se_resnet18', 'Per-class F1 on the test split: resnet18 vs se_resnet18', 'SE excitation by class: se_resnet18', 'Test accuracy per fold', 'Wilcoxon signed-rank, exact', "McNemar's exact test", 'Bootstrap 95% interval', 'How the metrics are defined']) {
      assert.ok(html.includes(text), text);
    }
    // Curves and confusion matrices of both runs, the confusion matrices per slide, per-class F1, excitation.
    assert.equal((html.match(/<svg /g) ?? []).length, 2 + 2 + 2 + 1 + 1);
  });

  it('scores the slides whose tiles share one class, and says which were left out and why', () => {
    const g = data.runs[0]!.groups!;
    // Slides of 9 consecutive tiles over the classes' 63, 62, 62, ... test tiles (500): 56 slides; the class
    // boundaries at 125, 187, 250, 312, 375 and 437 fall inside one each (63 ends slide 7 exactly).
    assert.deepEqual([g.testGroups, g.qualifying, g.mixed.length], [56, 50, 6]);
    for (const text of ['Per group (patient, slide)', `Grouped by /CRC-Prim-HE-\\d+/ on file names: 50 of the 56 test groups have tiles of one class`, '6 are left out because their tiles have more than one class (slide-14: 8 tiles of 02_STROMA, 1 of 03_COMPLEX;', 'Confusion matrix per group: se_resnet18, fold ensemble, 50 test groups', "McNemar's exact test per group", 'corrected resampled t-test per group']) {
      assert.ok(html.replace(/&#39;/g, "'").includes(text), text);
    }
    const old = syntheticReport();
    old.runs[1]!.groups = null;
    assert.ok(renderReport(old).includes('se_resnet18 was evaluated before group-level scores existed; evaluate it again for them.'));
  });

  it('states the verdict plainly', () => {
    assert.equal(data.comparison!.verdict.decision, 'no-difference');
    assert.ok(html.includes('<strong>Verdict: no significant difference at alpha 0.05.</strong>'));
    assert.ok(html.includes(data.comparison!.verdict.summary.replace(/</g, '&lt;').replace(/>/g, '&gt;')));
  });

  it('shows mean ± sd over folds and the ensemble for every summary metric', () => {
    for (const label of ['accuracy (higher is better)', 'balanced accuracy', 'macro F1', 'macro ROC AUC (one-vs-rest)', 'log loss (lower is better)']) assert.ok(html.includes(label), label);
    // resnet18's fold accuracies, averaged and spread here rather than by the code under test.
    const acc = data.runs[0]!.folds.map((m) => m.accuracy);
    const mean = acc.reduce((s, x) => s + x, 0) / acc.length;
    const sd = Math.sqrt(acc.reduce((s, x) => s + (x - mean) ** 2, 0) / (acc.length - 1));
    assert.ok(html.includes(`<td class="num">${mean.toFixed(3)} ± ${sd.toFixed(3)}</td>`), `${mean} ± ${sd}`);
    assert.ok(html.includes('resnet18: mean ± sd over 5 folds'));
    assert.ok(html.includes('fold 1 validation'));
  });

  it('fetches nothing: no script, no external resource, a CSP that forbids both', async () => {
    const withLooks = renderReport({ ...data, looks: await syntheticLooks() });
    for (const page of [html, withLooks]) {
      assert.ok(!/<script|<link|<img|<iframe|\ssrc=|url\(|@import/i.test(page));
      // Links within the page, and the Grad-CAM pictures inside the document itself.
      for (const [, href] of page.matchAll(/href="([^"]*)"/g)) assert.ok(href!.startsWith('#') || href!.startsWith('data:image/jpeg;base64,'), href!.slice(0, 40));
    }
    assert.ok(html.includes('content="default-src &#39;none&#39;; style-src &#39;unsafe-inline&#39;; img-src data:"'));
  });

  it('shows where they look: a figure per kind of tile, each tile beside both networks\' maps, after the excitation', async () => {
    const looks = await syntheticLooks();
    const out = renderReport({ ...data, looks });
    checkWellFormed(out, { allowDoctype: true });
    assert.ok(out.indexOf('<section id="excitation">') < out.indexOf('<section id="looks">'));
    assert.ok(out.includes('<a href="#looks">Where they look</a>'));
    for (const text of ['Where they look: test tiles both fold ensembles classify correctly', 'Where they look: test tiles where the two fold ensembles disagree', 'taken at the output of layer4', 'with seed 7: per class, 2 that both ensembles classify correctly and up to 2 where they disagree']) {
      assert.ok(out.includes(text), text);
    }
    // 8 classes: 2 agreeing tiles and 1 disagreeing one each, every tile with its two maps.
    assert.equal((out.match(/<image /g) ?? []).length, 8 * 3 * 3);
    assert.equal((out.match(/<svg /g) ?? []).length, 8 + 2);
    assert.deepEqual(reportPlots({ ...data, looks }).looks.map((p) => p.kind), ['agree', 'disagree']);
    // Under a disagreeing tile's maps, each network's own call.
    const d = looks.tiles.find((t) => t.kind === 'disagree')!;
    assert.ok(out.includes(`>${d.maps[1]!.predicted} ${d.maps[1]!.probability.toFixed(2)}</text>`));
    const unavailable = renderReport({ ...data, looks: { ...looks, tiles: [], unavailable: 'tiles/01_TUMOR/a.png: cannot decode tile (missing)' } });
    assert.ok(unavailable.includes('No maps: tiles/01_TUMOR/a.png: cannot decode tile (missing).'));
    const single = renderReport({ ...syntheticReport({ runs: 1 }), looks: await syntheticLooks({ runs: 1 }) });
    assert.ok(single.includes('Where they look: test tiles the se_resnet18 fold ensemble gets wrong'));
    assert.ok(!renderReport(data).includes('id="looks"'), 'no section when the report was made without it');
  });

  it('escapes every string that comes from data', () => {
    const out = renderReport(hostile());
    checkWellFormed(out, { allowDoctype: true });
    assert.ok(!out.includes('<script'), 'no script element');
    assert.ok(!out.includes('&amp;</'), 'the & of &amp; in data is escaped again');
    assert.ok(out.includes('&lt;script&gt;alert("pwned")&lt;/script&gt;&amp;amp;') || out.includes('&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;&amp;amp;'));
    assert.ok(out.includes('<title>Report &lt;script&gt;'));
  });

  it('reports on a single run without a comparison section', () => {
    const single = renderReport(syntheticReport({ runs: 1 }));
    checkWellFormed(single, { allowDoctype: true });
    assert.ok(!single.includes('<section id="comparison">'));
    assert.ok(single.includes('Give a second run to compare.'));
    assert.ok(single.includes('SE excitation by class: se_resnet18'));
  });

  it('says so when a network has no SE blocks', () => {
    assert.ok(html.includes('resnet18 has no SE blocks'));
  });

  it('refuses inconsistent data', () => {
    const d = syntheticReport();
    assert.throws(() => reportPlots({ ...d, comparison: null }), /comparison exactly when it has two runs/);
    assert.throws(() => reportPlots({ ...d, runs: [d.runs[0]!, { ...d.runs[1]!, name: d.runs[0]!.name }] }), /both runs are named resnet18/);
  });
});
