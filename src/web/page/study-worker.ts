/**
 * The page's worker: it holds onnxruntime-web and runs everything heavy, so the page stays
 * responsive. Messages: protocol.ts.
 */
import { Builder } from '../../graph/builder.ts';
import { encodeModel } from '../../formats/protobuf.ts';
import type { FromWorker, ToWorker, WorkerScope } from './protocol.ts';
import type { Backend } from './runtime.ts';
import { createSession, loadRuntime, webgpuAdapter } from './runtime.ts';

const scope = globalThis as unknown as WorkerScope;
const post = (message: FromWorker): void => scope.postMessage(message);

/**
 * One small graph run on the backend, checked against the same arithmetic in JavaScript: the
 * runtime's files loaded, compiled and ran (a 64x64 MatMul, large enough for the threads).
 */
async function selfCheck(backend: Backend): Promise<FromWorker> {
  const { ort, info } = await loadRuntime(backend);
  const n = 64;
  const b = new Builder();
  const x = b.input('x', 'float32', [n, n]);
  b.output(b.op('MatMul', [x, x], {}, { names: ['y'], name: 'square' }));
  const session = await createSession(ort, backend, encodeModel(b.graph('self_check')));
  const data = Float32Array.from({ length: n * n }, (_, i) => ((i * 7) % 13) / 13 - 0.5);
  const out = (await session.run({ x: new ort.Tensor('float32', data, [n, n]) }))['y']!.data as Float32Array;
  await session.release();
  let worst = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let k = 0; k < n; k++) sum += data[i * n + k]! * data[k * n + j]!;
      worst = Math.max(worst, Math.abs(sum - out[i * n + j]!));
    }
  }
  if (!(worst < 1e-4)) throw new Error(`the ${backend} runtime computed a 64x64 product off by ${worst}`);
  return { kind: 'runtime', info, check: `${n}x${n} MatMul within ${worst.toExponential(1)}` };
}

scope.addEventListener('message', (event) => {
  const message: ToWorker = event.data;
  void (async () => {
    try {
      if (message.kind === 'probe') {
        const backend: Backend = (await webgpuAdapter()) ? 'webgpu' : 'wasm';
        post(await selfCheck(backend));
      }
    } catch (err) {
      post({ kind: 'error', message: err instanceof Error ? err.message : String(err) });
    }
  })();
});
