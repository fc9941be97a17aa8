// Given the same batch as raw tensors, the page's first training step (its worker's onnxruntime-web,
// on the backend the page picks) equals onnxruntime-node's within what float rounding alone moves
// onnxruntime-node's own step by: on WebAssembly against its CPU step, and on WebGPU (SwiftShader's
// Vulkan driver) against its WebGPU step, both the project's webgpu flavour, for two steps (the
// page leaves the state in GPU buffers between them, onnxruntime-node here brings it back). On WebGPU both differ
// from the CPU step by up to 4e-2 in resnet20's early gradients (measured): one ReLU input within rounding of
// zero falls on the other side of it (found by comparing every intermediate of the step), which
// moves a gradient row outright, as test/helpers/step-compare.ts says rounding can.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FirstStepRequest } from '../../../src/web/trainer.ts';
import type { Browser } from '../../helpers/browser.ts';
import { browserSkip, openApp } from '../../helpers/web-app.ts';
import { webgpuSkip } from '../../helpers/webgpu.ts';
import type { StepOutputs } from '../first-step.ts';
import { nodeStep, roundingError, stepRequest, worstError } from '../first-step.ts';

const floats = (base64: string): Float32Array => {
  const bytes = Buffer.from(base64, 'base64');
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
};

/** The page's step on `request`, through its test hook (window.senetOrt.firstStep). */
async function pageStep(browser: Browser, request: FirstStepRequest): Promise<StepOutputs> {
  const { images, ...rest } = request;
  const b64 = Buffer.from(images.buffer, images.byteOffset, images.byteLength).toString('base64');
  const reply = await browser.evaluate<{ loss: number; logits: string; next: Record<string, string> }>(`(async () => {
    const bytes = Uint8Array.from(atob(${JSON.stringify(b64)}), (c) => c.charCodeAt(0));
    const r = await window.senetOrt.firstStep({ ...${JSON.stringify(rest)}, images: new Float32Array(bytes.buffer) });
    const b64 = (a) => { let s = ''; const u = new Uint8Array(a.buffer, a.byteOffset, a.byteLength); for (let i = 0; i < u.length; i += 8192) s += String.fromCharCode(...u.subarray(i, i + 8192)); return btoa(s); };
    return { loss: r.loss, logits: b64(r.logits), next: Object.fromEntries(Object.entries(r.next).map(([k, v]) => [k, b64(v)])) };
  })()`);
  return { loss: reply.loss, logits: floats(reply.logits), next: new Map(Object.entries(reply.next).map(([k, v]) => [k, floats(v)])) };
}

async function compare(t: import('node:test').TestContext, browser: Browser, arch: string, input: readonly [number, number, number], slack: number, device: 'cpu' | 'webgpu' = 'cpu', steps = 1): Promise<void> {
  const request = stepRequest(arch, input, steps);
  const want = await nodeStep(request, device);
  const got = await pageStep(browser, request);
  // What rounding does to the CPU step: the scale the page's step must stay within.
  const rounding = await roundingError(request, device === 'cpu' ? want : await nodeStep(request));
  const worst = worstError(got, want);
  t.diagnostic(`${arch}: worst relative error ${worst.error.toExponential(2)} (${worst.where}); rounding alone ${rounding.toExponential(2)}`);
  assert.equal(got.next.size, want.next.size);
  assert.ok(worst.error <= slack * rounding, `${arch} ${worst.where}: ${worst.error} against rounding ${rounding}`);
}

describe('the page\'s first training step', () => {
  it('equals onnxruntime-node\'s on WebAssembly (resnet20, se_resnet20)', { skip: browserSkip(), timeout: 180_000 }, async (t) => {
    const { browser, server } = await openApp(t);
    await browser.open(server.url);
    assert.equal(await browser.until<string>("document.getElementById('backend')?.dataset.backend", 60_000, 'the backend'), 'wasm');
    await compare(t, browser, 'resnet20', [3, 16, 16], 10);
    await compare(t, browser, 'se_resnet20', [3, 16, 16], 10);
    assert.deepEqual(browser.problems, []);
  });

  // se_resnet20 alone on WebGPU: it holds every layer resnet20 has, and SwiftShader takes half a minute a network.
  it('equals onnxruntime-node\'s on WebGPU (SwiftShader), with the webgpu step and the state left on the GPU (se_resnet20, two steps)', { timeout: 400_000 }, async (t) => {
    const skip = browserSkip(true) || (await webgpuSkip());
    if (skip) return t.skip(skip);
    const { browser, server } = await openApp(t, { webgpu: true });
    await browser.open(server.url);
    assert.equal(await browser.until<string>("document.getElementById('backend')?.dataset.backend || document.getElementById('error')?.textContent", 120_000, 'the backend'), 'webgpu');
    // Two steps: the second reads the state the first left in GPU buffers.
    await compare(t, browser, 'se_resnet20', [3, 16, 16], 10, 'webgpu', 2);
    assert.deepEqual(browser.problems, []);
  });
});
