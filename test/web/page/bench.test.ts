// The bench page prints images/s of a training step on WebAssembly and on WebGPU (SwiftShader here),
// each run in a worker of its own; the figures in the README come from it at its default settings.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { browserSkip, leaks, openApp } from '../../helpers/web-app.ts';

interface Row { backend: string; threads: number; arch: string; input: string; batch: number; steps: number; imagesPerSecond: number; msPerStep: number }

it('bench.html prints images/s on WebAssembly and WebGPU', { skip: browserSkip(true), timeout: 300_000 }, async (t) => {
  const { browser, server } = await openApp(t, { webgpu: true });
  await browser.open(`${server.url}bench.html?arch=resnet20&input=16&batch=4&steps=2&warmup=1`);
  const rows = JSON.parse(await browser.until<string>("document.getElementById('bench-result')?.textContent", 240_000, 'the bench\'s results')) as Row[];
  const text = await browser.evaluate<string>("document.getElementById('bench').textContent");
  t.diagnostic(text.trim().replaceAll('\n', ' | '));
  assert.deepEqual(rows.map((r) => r.backend), ['wasm', 'webgpu']);
  for (const r of rows) {
    assert.deepEqual([r.arch, r.input, r.batch, r.steps], ['resnet20', '3x16x16', 4, 2]);
    assert.ok(r.imagesPerSecond > 0 && Math.abs(r.imagesPerSecond - (1000 * r.batch) / r.msPerStep) < 1e-6 * r.imagesPerSecond);
  }
  assert.match(text, /^resnet20 training step, input 3x16x16, batch 4: 2 steps after 1 warm-up steps\nWebAssembly, \d+ threads: [\d.]+ images\/s \([\d.]+ ms a step\)\nWebGPU \(.*\): [\d.]+ images\/s/);
  assert.deepEqual(browser.problems, []);
  assert.deepEqual(leaks(browser.requests, new URL(server.url).origin), []);
});
