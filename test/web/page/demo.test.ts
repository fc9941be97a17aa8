// /?demo in headless Chromium on WebAssembly (two cores: about a minute): the study runs on the
// embedded sample to its #result, nothing is requested off the page's origin and nothing is sent
// (a page error, console error or policy violation fails the test), and the study folder it offers
// for download holds the CLI's splits for the same seed and is read by `senet-ort report`.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { it } from 'node:test';
import { prepareSource } from '../../../src/data/prepare.ts';
import { readZip } from '../../../src/formats/zip.ts';
import type { StudySummary } from '../../../src/web/study.ts';
import { SAMPLE, tempDir } from '../../data/fixtures.ts';
import { runBin } from '../../helpers/cli.ts';
import { browserSkip, leaks, openApp } from '../../helpers/web-app.ts';

it('/?demo writes its summary into #result, sends nothing, and its zip holds the CLI\'s splits and is read by senet-ort report', { skip: browserSkip(), timeout: 300_000 }, async (t) => {
  const downloads = tempDir(t);
  const { browser, server } = await openApp(t, { downloads });
  await browser.open(`${server.url}?demo`);
  const text = await browser.until<string>("document.getElementById('result')?.textContent || (document.getElementById('error')?.textContent && 'error: ' + document.getElementById('error').textContent)", 240_000, 'the demo\'s #result');
  assert.doesNotMatch(text, /^error: /);
  const summary = JSON.parse(text) as StudySummary;
  assert.deepEqual(Object.keys(summary).sort(), ['accuracy', 'archs', 'backend', 'verdict']);
  assert.deepEqual(summary.archs, ['resnet20', 'se_resnet20']);
  assert.equal(summary.backend, 'wasm');
  for (const arch of summary.archs) {
    assert.equal(summary.accuracy[arch]!.length, 4);
    for (const a of summary.accuracy[arch]!) assert.ok(Number.isInteger(Math.round(a * 15)) && a >= 0 && a <= 1, `${arch}: ${a}`);
  }
  assert.match(summary.verdict, /significant|difference|better/);
  assert.equal(await browser.evaluate("document.getElementById('verdict').textContent"), `Verdict: ${summary.verdict}.`);

  // The study folder, downloaded as a person downloads it.
  const done = browser.waitFor('Browser.downloadProgress', (p) => p['state'] === 'completed', 60_000);
  await browser.evaluate("document.querySelector('#downloads a[download$=\".zip\"]').click()");
  await done;
  const zipFile = readdirSync(downloads).find((f) => f.endsWith('.zip'));
  assert.equal(zipFile, 'senet-ort-kather2016-crc-texture-sample.zip');
  const dir = tempDir(t);
  for (const e of readZip(new Uint8Array(readFileSync(join(downloads, zipFile!))), zipFile)) {
    mkdirSync(dirname(join(dir, e.path)), { recursive: true });
    writeFileSync(join(dir, e.path), e.data);
  }
  const root = join(dir, 'senet-ort-kather2016-crc-texture-sample');
  const cli = join(dir, 'cli-data');
  await prepareSource({ source: SAMPLE, output: cli });
  assert.equal(readFileSync(join(root, 'data', 'splits.json'), 'utf8'), readFileSync(join(cli, 'splits.json'), 'utf8'), 'the page splits the sample as the CLI does');
  const report = runBin('main', ['report', join(root, 'resnet20'), join(root, 'se_resnet20'), '--no-plots']);
  assert.equal(report.status, 0, report.stderr);
  assert.match(report.stdout.toString(), /report: .*resnet20-vs-se_resnet20\/report\.html/);
  const metrics = JSON.parse(readFileSync(join(root, 'se_resnet20', 'metrics.json'), 'utf8')) as { folds: { metrics: { accuracy: number } }[] };
  assert.deepEqual(metrics.folds.map((f) => f.metrics.accuracy), summary.accuracy['se_resnet20']);

  assert.deepEqual(browser.problems, []);
  assert.deepEqual(leaks(browser.requests, new URL(server.url).origin), []);
  t.diagnostic(`verdict: ${summary.verdict}; ${browser.requests.length} requests, all to ${new URL(server.url).origin}`);
});
