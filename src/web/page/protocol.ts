/** The messages between the page (main.ts) and its study worker (study-worker.ts). */
import type { RuntimeInfo } from './runtime.ts';

export type ToWorker = { readonly kind: 'probe' };

export type FromWorker =
  | { readonly kind: 'runtime'; readonly info: RuntimeInfo; readonly check: string }
  | { readonly kind: 'error'; readonly message: string };

/** The parts of a dedicated worker's scope the worker uses (the page's code is typed against the DOM). */
export interface WorkerScope {
  postMessage(message: FromWorker, transfer?: Transferable[]): void;
  addEventListener(type: 'message', listener: (event: MessageEvent<ToWorker>) => void): void;
}
