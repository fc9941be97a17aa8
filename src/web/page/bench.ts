/**
 * The bench page (`/bench.html`): images per second of a training step on WebAssembly and, where
 * the browser has an adapter, on WebGPU, each in a fresh worker. Query options: `arch`, `input`
 * (side in px), `batch`, `steps`, `warmup`, `backends` (`wasm,webgpu`). The lines go into #bench,
 * the results as JSON into #bench-result.
 */
import type { BenchRequest } from '../bench.ts';
import { BENCH_DEFAULTS } from '../bench.ts';
import type { BenchMessage } from './bench-worker.ts';
import type { Backend } from './runtime.ts';
import { webgpuAdapter } from './runtime.ts';

function request(query: URLSearchParams): { request: BenchRequest; backends: Backend[] } {
  const positive = (key: string, fallback: number): number => {
    const v = query.get(key);
    if (v === null) return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n < (key === 'warmup' ? 0 : 1)) throw new Error(`expected a whole number for ${key} but received ${JSON.stringify(v)}`);
    return n;
  };
  const side = positive('input', BENCH_DEFAULTS.input[1]);
  const backends = (query.get('backends') ?? 'wasm,webgpu').split(',').filter((b): b is Backend => b === 'wasm' || b === 'webgpu');
  return {
    request: { ...BENCH_DEFAULTS, arch: query.get('arch') ?? BENCH_DEFAULTS.arch, input: [3, side, side], batch: positive('batch', BENCH_DEFAULTS.batch), steps: positive('steps', BENCH_DEFAULTS.steps), warmup: positive('warmup', BENCH_DEFAULTS.warmup) },
    backends,
  };
}

function run(backend: Backend, bench: BenchRequest): Promise<BenchMessage> {
  const worker = new Worker('/bench-worker.js', { type: 'module' });
  return new Promise((resolve) => {
    worker.addEventListener('message', (event: MessageEvent<BenchMessage>) => {
      worker.terminate();
      resolve(event.data);
    });
    worker.addEventListener('error', (event) => resolve({ kind: 'error', message: event.message }));
    worker.postMessage({ backend, request: bench });
  });
}

async function main(): Promise<void> {
  const out = document.getElementById('bench')!;
  const print = (line: string): void => void (out.textContent += `${line}\n`);
  const results: unknown[] = [];
  try {
    const { request: bench, backends } = request(new URLSearchParams(location.search));
    print(`${bench.arch} training step, input ${bench.input.join('x')}, batch ${bench.batch}: ${bench.steps} steps after ${bench.warmup} warm-up steps`);
    for (const backend of backends) {
      if (backend === 'webgpu' && !(await webgpuAdapter())) {
        print('webgpu: no adapter in this browser');
        continue;
      }
      const m = await run(backend, bench);
      if (m.kind === 'error') {
        print(`${backend}: failed: ${m.message}`);
        continue;
      }
      const where = backend === 'webgpu' ? `WebGPU (${m.info.adapter})` : `WebAssembly, ${m.info.threads} threads`;
      print(`${where}: ${m.result.imagesPerSecond.toFixed(1)} images/s (${m.result.msPerStep.toFixed(1)} ms a step)`);
      results.push({ backend, threads: m.info.threads, adapter: m.info.adapter, ...m.result });
    }
  } catch (err) {
    print(`error: ${err instanceof Error ? err.message : String(err)}`);
  }
  document.getElementById('bench-result')!.textContent = JSON.stringify(results);
}

void main();
