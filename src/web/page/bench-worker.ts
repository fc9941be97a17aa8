/** The bench page's worker: one backend's runtime, and the training steps timed on it (src/web/bench.ts). */
import { benchSteps } from '../bench.ts';
import type { BenchRequest, BenchResult } from '../bench.ts';
import type { Backend, RuntimeInfo } from './runtime.ts';
import { loadRuntime } from './runtime.ts';

export type BenchMessage = { readonly kind: 'result'; readonly result: BenchResult; readonly info: RuntimeInfo } | { readonly kind: 'error'; readonly message: string };

interface BenchScope {
  postMessage(message: BenchMessage): void;
  addEventListener(type: 'message', listener: (event: MessageEvent<{ backend: Backend; request: BenchRequest }>) => void): void;
}

const scope = globalThis as unknown as BenchScope;

scope.addEventListener('message', (event) => {
  void (async () => {
    try {
      const { ort, info } = await loadRuntime(event.data.backend);
      scope.postMessage({ kind: 'result', result: await benchSteps(ort, event.data.backend, event.data.request), info });
    } catch (err) {
      scope.postMessage({ kind: 'error', message: err instanceof Error ? err.message : String(err) });
    }
  })();
});
