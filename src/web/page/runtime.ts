/**
 * onnxruntime-web in the page's worker: which backend this browser has (WebGPU where an adapter
 * exists, else WebAssembly), the runtime for it loaded from the app's own files, and sessions on it.
 */
import type * as Ort from 'onnxruntime-web';
import { ORT_MODULE } from './paths.ts';

export type OrtModule = typeof Ort;
export type Backend = 'webgpu' | 'wasm';

export interface RuntimeInfo {
  readonly backend: Backend;
  /** The WebGPU adapter in words (vendor, architecture, device), or null on WASM. */
  readonly adapter: string | null;
  /** WebAssembly threads: more than one only when the page is cross-origin isolated. */
  readonly threads: number;
  readonly isolated: boolean;
}

interface GpuAdapterLike {
  readonly info?: { vendor?: string; architecture?: string; device?: string; description?: string };
}
interface GpuLike {
  requestAdapter(): Promise<GpuAdapterLike | null>;
}

/** The WebGPU adapter's description, or null where there is none (no navigator.gpu, or no adapter). */
export async function webgpuAdapter(): Promise<string | null> {
  const gpu = (navigator as Navigator & { gpu?: GpuLike }).gpu;
  if (!gpu) return null;
  try {
    const adapter = await gpu.requestAdapter();
    if (!adapter) return null;
    const i = adapter.info ?? {};
    return [i.vendor, i.architecture, i.device, i.description].filter((x) => x && x.length > 0).join(' ') || 'WebGPU adapter';
  } catch {
    return null;
  }
}

/** The runtime for `backend` (WebGPU's build also runs WASM), with as many threads as the page may use. */
export async function loadRuntime(backend: Backend): Promise<{ ort: OrtModule; info: RuntimeInfo; adapter: string | null }> {
  const ort = (await import(ORT_MODULE[backend])) as OrtModule;
  const isolated = globalThis.crossOriginIsolated === true;
  // Without isolation there is no shared memory, and onnxruntime-web would fall back to one thread on its own.
  ort.env.wasm.numThreads = isolated ? Math.max(1, navigator.hardwareConcurrency || 1) : 1;
  ort.env.wasm.wasmPaths = '/ort/';
  ort.env.logLevel = 'error';
  const adapter = backend === 'webgpu' ? await webgpuAdapter() : null;
  return { ort, adapter, info: { backend, adapter, threads: ort.env.wasm.numThreads, isolated } };
}

/** A session on the backend, from an ONNX model's bytes. */
export function createSession(ort: OrtModule, backend: Backend, model: Uint8Array): Promise<Ort.InferenceSession> {
  return ort.InferenceSession.create(model, {
    executionProviders: [backend],
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
  });
}
