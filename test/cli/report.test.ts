// evaluate, compare and report as a user runs them (from dist/, which npm test builds first).
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runBin } from '../helpers/cli.ts';
import { readRunMetrics } from '../../src/evaluate/evaluate.ts';
import { trainedPair, withFoldAccuracies } from '../report/runs.ts';

describe('evaluate, compare and report commands', () => {
  let root = '';
  let a = '';
  let b = '';
  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'senet-ort-cli-report-'));
    ({ a, b } = await trainedPair(root));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  const main = (args: string[]): { status: number | null; stdout: string; stderr: string } => {
    const r = runBin('main', args);
    return { status: r.status, stdout: r.stdout.toString(), stderr: r.stderr };
  };

  it('evaluate prints the folds, the mean and the ensemble, and writes metrics.json', () => {
    const r = main(['evaluate', a, '--threads', '1']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^resnet20 on 9 test tiles \(last checkpoint\):\n  fold 1 \(epoch 2\): accuracy \d\.\d{3}, macro F1 \d\.\d{3}\n  fold 2 \(epoch 2\): .*\n  mean over 2 folds: accuracy \d\.\d{3} ± \d\.\d{3}\n  fold ensemble: accuracy /);
    assert.match(r.stdout, /wrote .*metrics\.json, .*metrics\.md, .*evaluation\.json and the test predictions\n$/);
    assert.match(r.stderr, /fold 1: checkpoints\/epoch-2\.safetensors on 9 test tiles/);
    const best = main(['evaluate', b, '--best', '--threads', '1']);
    assert.equal(best.status, 0, best.stderr);
    assert.ok(existsSync(join(b, 'excitation.json')));
  });

  it('compare states the verdict that comparison.json decides, and writes comparison.json and comparison.md', () => {
    const r = main(['compare', a, b, '--resamples', '500']);
    assert.equal(r.status, 0, r.stderr);
    const dir = join(root, 'runs', 'resnet20-vs-se_resnet20');
    const saved = JSON.parse(readFileSync(join(dir, 'comparison.json'), 'utf8'));
    const expected: Record<string, string> = {
      'b-better': 'se_resnet20 is significantly better than resnet20 at alpha 0.05',
      'a-better': 'resnet20 is significantly better than se_resnet20 at alpha 0.05',
      'no-difference': 'no significant difference at alpha 0.05',
      undetermined: 'undetermined at alpha 0.05',
    };
    assert.ok(r.stdout.startsWith(`verdict: ${expected[saved.comparison.verdict.decision]}\n`), r.stdout);
    assert.ok(readFileSync(join(dir, 'comparison.md'), 'utf8').includes(`**Verdict: ${expected[saved.comparison.verdict.decision]}.**`));
  });

  it('compare gives the known answer: none between a run and its copy, B better when every fold gains 0.3', () => {
    const copy = withFoldAccuracies(a, join(root, 'runs', 'copy-of-a'), readRunMetrics(a).folds.map((f) => f.metrics.accuracy));
    const same = main(['compare', a, copy, '--resamples', '200', '-o', join(root, 'same')]);
    assert.equal(same.status, 0, same.stderr);
    assert.match(same.stdout, /^verdict: no significant difference at alpha 0\.05\n/);
    // Differences 0.30 and 0.31 over 2 folds: corrected t = 0.305 / (0.00707 · sqrt(1/2 + 1)) = 35.2, df 1, p = 0.018.
    const worse = withFoldAccuracies(a, join(root, 'runs', 'worse'), [0.3, 0.35]);
    const better = withFoldAccuracies(b, join(root, 'runs', 'better'), [0.6, 0.66]);
    const gain = main(['compare', worse, better, '--resamples', '200', '-o', join(root, 'gain')]);
    assert.equal(gain.status, 0, gain.stderr);
    assert.match(gain.stdout, /^verdict: se_resnet20 is significantly better than resnet20 at alpha 0\.05\n/);
    const back = main(['compare', better, worse, '--resamples', '200', '-o', join(root, 'loss')]);
    assert.match(back.stdout, /^verdict: se_resnet20 is significantly better than resnet20 at alpha 0\.05\n/, 'swapping A and B keeps the winner');
  });

  it('report writes one HTML file and says where it is', () => {
    const out = join(root, 'my-report.html');
    const r = main(['report', a, b, '--resamples', '500', '-o', out]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `report: ${out}\n`);
    assert.ok(existsSync(out));
    assert.ok(existsSync(join(root, 'plots', 'excitation-se_resnet20.png')));
    assert.ok(readFileSync(out, 'utf8').includes('<section id="looks">'));
    const plain = join(root, 'no-maps.html');
    assert.equal(main(['report', a, b, '--resamples', '200', '--no-gradcam', '--no-plots', '-o', plain]).status, 0);
    assert.ok(!readFileSync(plain, 'utf8').includes('<section id="looks">'));
    const mid = join(root, 'mid.html');
    assert.equal(main(['report', a, b, '--resamples', '200', '--layer', 'layer2', '--seed', '3', '--no-plots', '-o', mid]).status, 0);
    assert.ok(readFileSync(mid, 'utf8').includes('taken at the output of layer2'));
  });

  it('reports bad input on one line', () => {
    const cases: [string[], RegExp][] = [
      [['evaluate', a, '--epoch', '2', '--best'], /^senet-ort: --epoch and --best both given; use one\n$/],
      [['evaluate', a, '--epoch', '0'], /^senet-ort: expected positive integer for --epoch but received 0\n$/],
      [['evaluate', join(root, 'nope')], /^senet-ort: .*nope: not a run directory \(no config\.json\)\n$/],
      [['compare', a, b, '--alpha', '2'], /^senet-ort: expected number between 0 and 1 for --alpha but received 2\n$/],
      [['report', a, '-o', join(root, 'r.txt')], /^senet-ort: expected a file ending in \.html for --out but received ".*r\.txt"\n$/],
      [['report', a, '--layer', 'layer9', '-o', join(root, 'r.html')], /^senet-ort: expected one of stem, .* for --layer but received "layer9"\n$/],
    ];
    for (const [args, message] of cases) {
      const r = main(args);
      assert.equal(r.status, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
  });
});
