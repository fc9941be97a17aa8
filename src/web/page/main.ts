/**
 * The page: it starts the study worker, shows what runs the study here (WebGPU or WASM with
 * threads) and the worker's results. Nothing leaves the machine: the page talks to its worker
 * only, and the Content-Security-Policy (src/web/headers.ts) lets it reach its own origin only.
 */
import type { FromWorker, ToWorker } from './protocol.ts';

const ISOLATION_RELOAD = 'senet-ort:isolation-reload';

/**
 * A host that sent no isolation headers: register coi-sw.js, which adds them, and reload once so
 * that the page comes back through it. True when the page is about to reload.
 */
async function isolate(): Promise<boolean> {
  if (globalThis.crossOriginIsolated || !('serviceWorker' in navigator) || sessionStorage.getItem(ISOLATION_RELOAD)) return false;
  try {
    await navigator.serviceWorker.register('/coi-sw.js', { scope: '/' });
    await navigator.serviceWorker.ready;
    sessionStorage.setItem(ISOLATION_RELOAD, '1');
    location.reload();
    return true;
  } catch {
    return false;
  }
}

function element<T extends HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (!e) throw new Error(`index.html has no #${id}`);
  return e as T;
}

function showRuntime(message: Extract<FromWorker, { kind: 'runtime' }>): void {
  const { info } = message;
  const where = info.backend === 'webgpu' ? `WebGPU (${info.adapter})` : `WebAssembly, ${info.threads} thread${info.threads === 1 ? '' : 's'}`;
  const warning = info.isolated ? '' : ' — this host does not send the isolation headers, so WebAssembly runs on one thread';
  element('backend').textContent = `Runs on ${where}${warning}.`;
  element('backend').dataset['backend'] = info.backend;
  element('backend').title = `self-check: ${message.check}`;
}

async function start(): Promise<void> {
  if (await isolate()) return;
  const worker = new Worker('/study-worker.js', { type: 'module' });
  worker.addEventListener('message', (event: MessageEvent<FromWorker>) => {
    const message = event.data;
    if (message.kind === 'runtime') showRuntime(message);
    else if (message.kind === 'error') element('error').textContent = message.message;
  });
  worker.addEventListener('error', (event) => {
    element('error').textContent = `the study worker failed: ${event.message}`;
  });
  const probe: ToWorker = { kind: 'probe' };
  worker.postMessage(probe);
}

void start();
