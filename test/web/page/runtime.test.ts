// The page finds its backend and runs onnxruntime-web from the app's own files: WebAssembly with
// a thread per core (the server's isolation headers give it shared memory), or WebGPU where an
// adapter exists (SwiftShader here); on a host that sends no headers, its service worker adds the
// isolation ones. Nothing is requested off the page's origin; a page error,
// console error or CSP violation fails the test.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { browserSkip, leaks, openApp } from '../../helpers/web-app.ts';

const BACKEND = "document.getElementById('backend')?.dataset.backend || document.getElementById('error')?.textContent";

describe('the page\'s runtime', () => {
  it('runs on WebAssembly with a thread per core when no GPU is there', { skip: browserSkip() }, async (t) => {
    const { browser, server } = await openApp(t);
    await browser.open(server.url);
    assert.equal(await browser.until<string>(BACKEND, 60_000, 'the backend'), 'wasm');
    const cores = await browser.evaluate<number>('navigator.hardwareConcurrency');
    assert.equal(await browser.evaluate('crossOriginIsolated'), true);
    assert.equal(await browser.evaluate("document.getElementById('backend').textContent"), `Runs on WebAssembly, ${cores} thread${cores === 1 ? '' : 's'}.`);
    assert.match(await browser.evaluate<string>("document.getElementById('backend').title"), /^self-check: 64x64 MatMul within /);
    assert.deepEqual(browser.problems, []);
    assert.deepEqual(leaks(browser.requests, new URL(server.url).origin), []);
    assert.ok(browser.requests.some((r) => r.url.endsWith('/ort/ort-wasm-simd-threaded.wasm')), 'the runtime came from the app');
  });

  it('isolates itself through its service worker on a host that sends no headers, and gets its threads', { skip: browserSkip() }, async (t) => {
    const { browser, server } = await openApp(t, { headers: {} });
    await browser.open(server.url);
    assert.equal(await browser.until<string>(BACKEND, 60_000, 'the backend'), 'wasm');
    assert.equal(await browser.evaluate('crossOriginIsolated && !!navigator.serviceWorker.controller'), true);
    const cores = await browser.evaluate<number>('navigator.hardwareConcurrency');
    assert.equal(await browser.evaluate("document.getElementById('backend').textContent"), `Runs on WebAssembly, ${cores} thread${cores === 1 ? '' : 's'}.`);
    assert.ok(browser.requests.some((r) => r.url.endsWith('/coi-sw.js')));
    assert.deepEqual(browser.problems, []);
    assert.deepEqual(leaks(browser.requests, new URL(server.url).origin), []);
  });

  it('runs on WebGPU where an adapter exists (SwiftShader\'s Vulkan)', { skip: browserSkip(true) }, async (t) => {
    const { browser, server } = await openApp(t, { webgpu: true });
    await browser.open(server.url);
    assert.equal(await browser.until<string>(BACKEND, 120_000, 'the backend'), 'webgpu');
    assert.match(await browser.evaluate<string>("document.getElementById('backend').textContent"), /^Runs on WebGPU \(.*swiftshader.*\)\.$/i);
    assert.deepEqual(browser.problems, []);
    assert.deepEqual(leaks(browser.requests, new URL(server.url).origin), []);
  });
});
