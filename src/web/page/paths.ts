/** Where the built app keeps its files (build.ts writes them; the page and its worker load them). */

/** onnxruntime-web's files, copied unchanged: the API and runtime for WASM with threads, and for WebGPU. */
export const ORT_FILES: readonly string[] = [
  'ort.wasm.min.mjs', 'ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.wasm',
  'ort.webgpu.min.mjs', 'ort-wasm-simd-threaded.asyncify.mjs', 'ort-wasm-simd-threaded.asyncify.wasm',
];

/** The runtime for each backend, as the page imports it. */
export const ORT_MODULE: Readonly<Record<'wasm' | 'webgpu', string>> = { wasm: '/ort/ort.wasm.min.mjs', webgpu: '/ort/ort.webgpu.min.mjs' };

/** The embedded sample's file list (class/file.png paths under /sample/). */
export const SAMPLE_INDEX = '/sample/index.json';
