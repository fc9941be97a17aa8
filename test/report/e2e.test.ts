// evaluate, compare and report on real run directories: a tiny resnet20 / se_resnet20 pair trained here.
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { UserError } from '../../src/errors.ts';
import { parseCsv } from '../../src/formats/csv.ts';
import { compareRunDirs, comparisonDir } from '../../src/evaluate/compare.ts';
import { compareAndSummarise, evaluateAndSummarise } from '../../src/report/summaries.ts';
import type { ComparisonFile } from '../../src/evaluate/compare.ts';
import { evaluateRun, readRunMetrics } from '../../src/evaluate/evaluate.ts';
import { ENSEMBLE_GROUP_PREDICTIONS, ENSEMBLE_PREDICTIONS } from '../../src/evaluate/scores.ts';
import type { ExcitationFile } from '../../src/evaluate/scores.ts';
import { evaluateCompareReport, writeReport } from '../../src/report/report.ts';
import { reportPlots } from '../../src/report/html.ts';
import { classificationMetrics } from '../../src/evaluate/metrics.ts';
import { evaluationPath, groupPredictionsPath, predictionsPath, readFoldState } from '../../src/formats/rundir.ts';
import { near } from '../helpers/assert.ts';
import { trainedPair, withFoldAccuracies } from './runs.ts';
import { checkWellFormed } from './xml.ts';

describe('evaluate, compare and report on trained runs', () => {
  let root = '';
  let a = '';
  let b = '';
  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'senet-ort-report-'));
    ({ a, b } = await trainedPair(root));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('evaluates every fold and the ensemble on the test split, and writes the files', async () => {
    const { metrics, excitation, written } = await evaluateAndSummarise(a, { threads: 1 });
    assert.equal(excitation, null, 'resnet20 has no SE blocks');
    assert.equal(metrics.tiles, 9);
    assert.deepEqual(metrics.classes, ['blue', 'green', 'red']);
    assert.deepEqual(metrics.folds.map((f) => [f.fold, f.epoch, f.checkpoint]), [[1, 2, 'checkpoints/epoch-2.safetensors'], [2, 2, 'checkpoints/epoch-2.safetensors']]);
    assert.equal(metrics.summary.accuracy!.n, 2);
    assert.deepEqual(metrics.data.splits[0], { name: 'test', counts: [3, 3, 3] });
    assert.equal(metrics.data.splits.length, 1 + 2 * 2);
    for (const file of ['metrics.json', 'metrics.md', 'evaluation.json', ENSEMBLE_PREDICTIONS]) assert.ok(written.includes(join(a, file)), file);
    // The fold's predictions file reproduces its metrics.
    const [header, ...rows] = parseCsv(readFileSync(predictionsPath(a, 1), 'utf8'));
    assert.deepEqual(header, ['file', 'label', 'predicted', 'blue', 'green', 'red']);
    const labels = rows.map((r) => metrics.classes.indexOf(r[1]!));
    const again = classificationMetrics(labels, rows.map((r) => r.slice(3).map(Number)), metrics.classes);
    assert.equal(again.accuracy, metrics.folds[0]!.metrics.accuracy);
    assert.deepEqual(again.confusionMatrix, metrics.folds[0]!.metrics.confusionMatrix);
    // evaluation.json: the study's per-fold accuracy.
    const evaluation = JSON.parse(readFileSync(evaluationPath(a), 'utf8'));
    assert.deepEqual(evaluation.folds.map((f: { accuracy: number }) => f.accuracy), metrics.folds.map((f) => f.metrics.accuracy));
    assert.match(readFileSync(join(a, 'metrics.md'), 'utf8'), /^# resnet20: test-split metrics\n[\s\S]*\| mean ± sd \|[\s\S]*\| ensemble \|/);
  });

  it('measures the SE excitation per class for every fold model of an SE network', async () => {
    const { excitation } = await evaluateRun(b, { threads: 1, checkpoint: 'best' });
    const file = JSON.parse(readFileSync(join(b, 'excitation.json'), 'utf8')) as ExcitationFile;
    assert.deepEqual(file, JSON.parse(JSON.stringify(excitation)));
    assert.deepEqual(file.folds.map((f) => f.fold), [1, 2]);
    const fold1 = file.folds[0]!;
    assert.deepEqual(fold1.tiles, [3, 3, 3]);
    assert.deepEqual(fold1.blocks.map((blk) => blk.name), ['layer1.0.se', 'layer1.1.se', 'layer1.2.se', 'layer2.0.se', 'layer2.1.se', 'layer2.2.se', 'layer3.0.se', 'layer3.1.se', 'layer3.2.se']);
    assert.deepEqual(fold1.blocks.map((blk) => blk.channels), [16, 16, 16, 32, 32, 32, 64, 64, 64]);
    for (const blk of fold1.blocks) {
      for (const row of blk.mean) assert.ok(row!.every((v) => v > 0 && v < 1));
      blk.all.forEach((v, k) => assert.ok(Math.abs(v - (blk.mean[0]![k]! + blk.mean[1]![k]! + blk.mean[2]![k]!) / 3) < 1e-9), 'equal classes: all = mean of the class means');
    }
    assert.equal(readRunMetrics(b).checkpoint, 'best');
  });

  it('picks checkpoints by epoch, and says which epochs a fold kept', async () => {
    const state = readFoldState(a, 1)!;
    const kept = state.best!.epoch === 2 ? 1 : null;
    if (kept !== null) {
      await assert.rejects(evaluateRun(a, { checkpoint: { epoch: 1 }, threads: 1 }), (err) => err instanceof UserError && /epoch-1.safetensors: not kept .*--keep-all/.test(err.message));
    }
    await assert.rejects(evaluateRun(a, { checkpoint: { epoch: 3 }, threads: 1 }), /--epoch 3 but the fold finished 2 epochs/);
    const { metrics } = await evaluateRun(a, { checkpoint: { epoch: 2 }, threads: 1 });
    assert.equal(metrics.checkpoint, 'epoch 2');
  });

  it('compares the runs fold by fold and tile by tile, and states the verdict', () => {
    const { file, out, written } = compareAndSummarise(a, b, { resamples: 500 });
    assert.equal(out, comparisonDir(a, b));
    assert.equal(out, join(root, 'runs', 'resnet20-vs-se_resnet20'));
    assert.deepEqual(written.map((p) => p.slice(out.length + 1)), ['comparison.json', 'comparison.md']);
    const c = file.comparison;
    assert.deepEqual(c.networks, { a: 'resnet20', b: 'se_resnet20' });
    const ma = readRunMetrics(a);
    const mb = readRunMetrics(b);
    assert.deepEqual(c.folds.differences, ma.folds.map((f, k) => Math.round((mb.folds[k]!.metrics.accuracy - f.metrics.accuracy) * 1e12) / 1e12));
    assert.equal(c.testSplit.mcnemar.tiles, 9);
    assert.equal(c.testSplit.bootstrap.resamples, 500);
    const saved = JSON.parse(readFileSync(join(out, 'comparison.json'), 'utf8')) as ComparisonFile;
    assert.deepEqual(saved.comparison, JSON.parse(JSON.stringify(c)));
    const headline = { 'b-better': 'se_resnet20 is significantly better than resnet20', 'a-better': 'resnet20 is significantly better than se_resnet20', 'no-difference': 'no significant difference', undetermined: 'undetermined' }[c.verdict.decision];
    assert.ok(readFileSync(join(out, 'comparison.md'), 'utf8').startsWith(`# resnet20 vs se_resnet20\n\n**Verdict: ${headline} at alpha 0.05.**\n`));
  });

  it('gives the known verdict when every fold of B gains 0.3 over A, and the same tests as comparison.md says', () => {
    const worse = withFoldAccuracies(a, join(root, 'runs', 'worse'), [0.3, 0.35]);
    const better = withFoldAccuracies(b, join(root, 'runs', 'better'), [0.6, 0.66]);
    const { file, out } = compareAndSummarise(worse, better, { resamples: 200 });
    const c = file.comparison;
    assert.equal(c.verdict.decision, 'b-better');
    // d = [0.30, 0.31]: s = 0.00707, corrected se = s · sqrt(1/2 + 1) = 0.00866, t = 35.22 on 1 df;
    // p = 2 · (1/2 − atan(t)/π) for Student's t with one degree of freedom (the Cauchy distribution).
    const t = 0.305 / ((0.01 / Math.SQRT2) * Math.sqrt(1.5));
    near(c.folds.correctedT.statistic!, t, 1e-9);
    near(c.folds.correctedT.pValue!, 1 - (2 * Math.atan(t)) / Math.PI, 1e-9);
    const md = readFileSync(join(out, 'comparison.md'), 'utf8');
    assert.ok(md.startsWith('# resnet20 vs se_resnet20\n\n**Verdict: se_resnet20 is significantly better than resnet20 at alpha 0.05.**\n'), md);
    assert.match(md, /\| fold 1 \| 0\.300 \| 0\.600 \| \+0\.300 \|/);
    assert.match(md, /\| corrected resampled t-test \(primary; test\/train ratio 1\.000\) \| t\(1\) = 35\.218 \| 0\.0181 \|/);
  });

  it('refuses runs whose splits or tiles differ', () => {
    const c = join(root, 'runs', 'copy');
    cpSync(b, c, { recursive: true });
    const splits = JSON.parse(readFileSync(join(c, 'splits.json'), 'utf8'));
    splits.test = splits.test.slice(1);
    writeFileSync(join(c, 'splits.json'), JSON.stringify(splits));
    assert.throws(() => compareRunDirs(a, c), (err) => err instanceof UserError && /copy: another test split \(8 tiles against 9, or other tiles\) than .*resnet20; compare runs trained on the same splits/.test(err.message));
    cpSync(join(b, 'splits.json'), join(c, 'splits.json'));
    const config = JSON.parse(readFileSync(join(c, 'config.json'), 'utf8'));
    config.dataset.checksum = 'different';
    writeFileSync(join(c, 'config.json'), JSON.stringify(config));
    assert.throws(() => compareRunDirs(a, c), /other tiles \(the data set checksum differs\)/);
    assert.throws(() => compareRunDirs(a, a), /the same run twice/);
  });

  it('scores the test groups whose tiles share one class, compares them, and says which groups were left out', async () => {
    // Copies of both runs whose splits put the 9 test tiles (3 per colour) into patients by hand:
    // <colour>-x holds two tiles of its colour, blue-y the third blue one, and "mixed" a green and a red tile.
    const runs = [a, b].map((run, i) => {
      const copy = join(root, 'runs', ['grouped-a', 'grouped-b'][i]!);
      cpSync(run, copy, { recursive: true });
      const splits = JSON.parse(readFileSync(join(copy, 'splits.json'), 'utf8'));
      const seen = new Map<string, number>();
      const test = splits.test as string[];
      for (const file of test) {
        const colour = file.split('__')[0]!;
        const n = seen.get(colour) ?? 0;
        seen.set(colour, n + 1);
        splits.tileGroups[file] = n < 2 ? `${colour}-x` : colour === 'blue' ? 'blue-y' : 'mixed';
      }
      writeFileSync(join(copy, 'splits.json'), JSON.stringify(splits));
      return copy;
    });
    const [ga, gb] = runs as [string, string];
    const { metrics } = await evaluateAndSummarise(ga, { threads: 1, excitation: false });
    await evaluateAndSummarise(gb, { threads: 1, excitation: false });
    const g = metrics.groups!;
    assert.deepEqual([g.unavailable, g.source, g.grouping, g.testGroups, g.qualifying, g.tiles], [null, 'splits.json', 'source image', 5, 4, 7]);
    assert.deepEqual(g.mixed, [{ group: 'mixed', tiles: 2, classes: { green: 1, red: 1 } }]);
    // Each fold's group scores are its tiles' predictions averaged per group, as written in the predictions files.
    const splits = JSON.parse(readFileSync(join(ga, 'splits.json'), 'utf8')) as { tileGroups: Record<string, string> };
    for (const [k, fold] of metrics.folds.entries()) {
      const [, ...tileRows] = parseCsv(readFileSync(predictionsPath(ga, fold.fold), 'utf8'));
      const byGroup = new Map<string, number[][]>();
      for (const r of tileRows) {
        const group = splits.tileGroups[r[0]!]!;
        if (group !== 'mixed') byGroup.set(group, [...(byGroup.get(group) ?? []), r.slice(3).map(Number)]);
      }
      const [, ...groupRows] = parseCsv(readFileSync(groupPredictionsPath(ga, fold.fold), 'utf8'));
      assert.deepEqual(groupRows.map((r) => r[0]), [...byGroup.keys()]);
      const means = [...byGroup.values()].map((rows) => rows[0]!.map((_, c) => rows.reduce((s, row) => s + row[c]!, 0) / rows.length));
      groupRows.forEach((r, i) => r.slice(4).forEach((p, c) => near(Number(p), means[i]![c]!, 1e-6)));
      const labels = groupRows.map((r) => metrics.classes.indexOf(r[2]!));
      const again = classificationMetrics(labels, means, metrics.classes);
      assert.deepEqual(g.folds[k]!.metrics.confusionMatrix, again.confusionMatrix);
      near(g.folds[k]!.metrics.balancedAccuracy, again.balancedAccuracy, 1e-6);
    }
    assert.match(readFileSync(join(ga, 'metrics.md'), 'utf8'), /## Per group \(patient, slide\)\n\nGrouped by source image: 4 of the 5 test groups have tiles of one class, and are scored as one sample each \(7 tiles\), predicted by the mean of their tiles' probabilities\. 1 is left out because its tiles have more than one class \(mixed: 1 tile of green, 1 of red\)\./);

    const { file } = compareAndSummarise(ga, gb, { resamples: 200, metric: 'balanced-accuracy' });
    const c = file.comparison;
    assert.equal(c.metric, 'balanced-accuracy');
    assert.equal(c.groupLevel!.groups, 4);
    const correct = (run: string): boolean[] => parseCsv(readFileSync(join(run, ENSEMBLE_GROUP_PREDICTIONS), 'utf8')).slice(1).map((r) => r[2] === r[3]);
    const [ca, cb] = [correct(ga), correct(gb)];
    assert.equal(c.groupLevel!.mcnemar.onlyACorrect, ca.filter((x, i) => x && !cb[i]).length);
    assert.equal(c.groupLevel!.mcnemar.onlyBCorrect, cb.filter((x, i) => x && !ca[i]).length);
    const mb = readRunMetrics(gb);
    assert.deepEqual(c.groupLevel!.folds.differences, metrics.groups!.folds.map((f, k) => Math.round((mb.groups!.folds[k]!.metrics.balancedAccuracy - f.metrics.balancedAccuracy) * 1e12) / 1e12));
    assert.deepEqual(c.folds.differences, metrics.folds.map((f, k) => Math.round((mb.folds[k]!.metrics.balancedAccuracy - f.metrics.balancedAccuracy) * 1e12) / 1e12));
    const html = readFileSync((await writeReport([ga, gb], { resamples: 200, plots: false, metric: 'balanced-accuracy' })).path, 'utf8');
    checkWellFormed(html, { allowDoctype: true });
    for (const text of ['Per group (patient, slide)', 'Grouped by source image: 4 of the 5 test groups', 'McNemar’s exact test per group', 'Test balanced accuracy per fold', 'Confusion matrix per group: se_resnet20']) {
      assert.ok(html.replace(/&#39;|'/g, '’').includes(text.replace(/'/g, '’')), text);
    }

    // A run split before splits.json recorded each tile's group: resolved again (here by source image, one tile each).
    const old = JSON.parse(readFileSync(join(ga, 'splits.json'), 'utf8'));
    delete old.tileGroups;
    writeFileSync(join(ga, 'splits.json'), JSON.stringify(old));
    const again = (await evaluateRun(ga, { threads: 1, excitation: false })).metrics.groups!;
    assert.deepEqual([again.source, again.ensemble, again.unavailable], ['resolved again', null, 'every test group holds one tile (grouped by source image), so group-level scores would repeat the tile-level ones']);
    assert.ok(!existsSync(join(ga, ENSEMBLE_GROUP_PREDICTIONS)), 'no stale group predictions');
    const stale = compareRunDirs(ga, gb, { resamples: 50 }).file.comparison;
    assert.deepEqual([stale.groupLevel, stale.groupLevelUnavailable], [null, again.unavailable]);
  });

  it('writes the report with its plots as SVG and PNG', async () => {
    const result = await writeReport([a, b], { resamples: 500 });
    assert.equal(result.path, join(comparisonDir(a, b), 'report.html'));
    const html = readFileSync(result.path, 'utf8');
    checkWellFormed(html, { allowDoctype: true });
    for (const text of ['resnet20 vs se_resnet20 on tiles', 'Training curves: se_resnet20', 'SE excitation by class: se_resnet20', 'layer3.2.se', 'Verdict: ', 'lowest validation loss of each fold', 'epoch 2 of each fold']) {
      assert.ok(html.includes(text), text);
    }
    for (const name of ['curves-resnet20', 'curves-se_resnet20', 'confusion-resnet20', 'confusion-se_resnet20', 'per-class-f1', 'excitation-se_resnet20']) {
      for (const ext of ['svg', 'png']) assert.ok(existsSync(join(comparisonDir(a, b), 'plots', `${name}.${ext}`)), `${name}.${ext}`);
    }
    const single = await writeReport([b], { plots: false });
    assert.equal(single.path, join(b, 'report.html'));
    assert.ok(!readFileSync(single.path, 'utf8').includes('<section id="comparison">'));
  });

  it('shows where both ensembles look on tiles chosen with the seed: each map for the class its ensemble predicts', async () => {
    const result = await writeReport([a, b], { resamples: 200 });
    const looks = result.data.looks!;
    assert.equal(looks.unavailable, null);
    assert.deepEqual([looks.runs, looks.layers, looks.seed], [['resnet20', 'se_resnet20'], ['layer3', 'layer3'], 1]);
    const predictions = [a, b].map((run) => new Map(parseCsv(readFileSync(join(run, ENSEMBLE_PREDICTIONS), 'utf8')).slice(1).map((r) => [r[0]!, r]))) ;
    assert.ok(looks.tiles.length > 0);
    for (const t of looks.tiles) {
      const rows = predictions.map((p) => p.get(t.file)!);
      assert.ok(rows.every((r) => r[1] === t.label), `${t.file} is a ${t.label} tile`);
      assert.equal(t.kind === 'agree', rows.every((r) => r[2] === t.label), `${t.file}: ${t.kind}`);
      t.maps.forEach((m, k) => {
        assert.equal(m.predicted, rows[k]![2], 'the map explains the ensemble\'s call');
        // The explain model's probability of that class, against the evaluation's (eval_step, float rounding apart).
        near(m.probability, Number(rows[k]![3 + ['blue', 'green', 'red'].indexOf(m.predicted)]), 1e-4);
        assert.match(m.overlay, /^data:image\/jpeg;base64,/);
      });
    }
    const perClass = (kind: string): number[] => ['blue', 'green', 'red'].map((c) => looks.tiles.filter((t) => t.kind === kind && t.label === c).length);
    assert.ok(perClass('agree').every((n) => n <= 2) && perClass('disagree').every((n) => n <= 2));
    for (const p of reportPlots(result.data).looks) {
      for (const ext of ['svg', 'png']) assert.ok(existsSync(join(comparisonDir(a, b), 'plots', `where-they-look-${p.kind}.${ext}`)), `${p.kind}.${ext}`);
    }
    const again = await writeReport([a, b], { resamples: 200, plots: false });
    assert.deepEqual(again.data.looks!.tiles.map((t) => t.file), looks.tiles.map((t) => t.file), 'the same seed, the same tiles');
    const none = await writeReport([a, b], { resamples: 200, plots: false, gradcam: false });
    assert.ok(!readFileSync(none.path, 'utf8').includes('id="looks"'));
    await assert.rejects(writeReport([a, b], { resamples: 200, plots: false, layer: 'layer9' }), /expected one of stem, .* for --layer but received "layer9"/);
  });

  it('says why there are no maps when the tiles are gone, and still writes the report', async () => {
    const moved = join(root, 'runs', 'moved');
    cpSync(b, moved, { recursive: true });
    const config = JSON.parse(readFileSync(join(moved, 'config.json'), 'utf8'));
    config.options.data = join(root, 'no-such-tiles');
    writeFileSync(join(moved, 'config.json'), JSON.stringify(config));
    const result = await writeReport([moved], { plots: false });
    assert.match(result.data.looks!.unavailable!, /no-such-tiles.*cannot decode tile/);
    assert.ok(readFileSync(result.path, 'utf8').includes('No maps: '));
  });

  it('asks for evaluate first when a run has no metrics', async () => {
    const fresh = join(root, 'runs', 'unevaluated');
    cpSync(b, fresh, { recursive: true });
    rmSync(join(fresh, 'metrics.json'));
    await assert.rejects(writeReport([fresh]), /metrics.json: not found; evaluate the run first: senet-ort evaluate /);
  });

  it('does a study\'s last step in one call: evaluate both, compare, report', async () => {
    const result = await evaluateCompareReport(a, b, { resamples: 200, plots: false, evaluate: { threads: 1, excitation: false } });
    assert.equal(result.path, join(comparisonDir(a, b), 'report.html'));
    assert.equal(result.comparison!.file.comparison.testSplit.bootstrap.resamples, 200);
    assert.ok(!existsSync(join(b, 'excitation.json')), 'no stale analysis after evaluating without it');
    const html = readFileSync(result.path, 'utf8');
    assert.ok(html.includes('resnet20 has no SE blocks'));
    assert.ok(html.includes('se_resnet20 was evaluated without the excitation analysis'));
  });
});
