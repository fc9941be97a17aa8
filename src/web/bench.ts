/**
 * Training speed in the browser: images per second of one network's training step on a backend,
 * run as the page trains (the portable step on WebAssembly, the webgpu step on WebGPU, the state
 * fed back after every step), on a fixed batch after a few warm-up steps. The bench page
 * (`/bench.html`) prints it for each backend the browser has.
 */
import type * as Ort from 'onnxruntime-web';
import { buildArtifacts } from '../formats/artifacts.ts';
import { stateNames } from '../formats/checkpoint-codec.ts';
import { PORTABLE } from '../graph/flavours.ts';
import { resolveModel } from '../graph/model.ts';
import { ResidentState } from '../train/resident-state.ts';
import type { Backend, OrtModule } from './trainer.ts';
import { initialState, trainSession } from './trainer.ts';

export interface BenchRequest {
  readonly arch: string;
  readonly input: readonly [number, number, number];
  readonly batch: number;
  readonly classes: number;
  /** Timed steps, after `warmup` untimed ones (the first compiles the kernels). */
  readonly steps: number;
  readonly warmup: number;
}

export interface BenchResult {
  readonly arch: string;
  readonly input: string;
  readonly batch: number;
  readonly steps: number;
  readonly seconds: number;
  readonly imagesPerSecond: number;
  readonly msPerStep: number;
}

export const BENCH_DEFAULTS: BenchRequest = { arch: 'se_resnet20', input: [3, 64, 64], batch: 16, classes: 8, steps: 10, warmup: 2 };

/** Time `request.steps` training steps of `request.arch` on `backend`. */
export async function benchSteps(ort: OrtModule, backend: Backend, request: BenchRequest): Promise<BenchResult> {
  const model = resolveModel({ arch: request.arch, classes: request.classes, input: request.input, seed: 0 });
  const artifacts = buildArtifacts({ ...model, batch: request.batch }, {}, undefined, { kernels: PORTABLE });
  const files = new Map(artifacts.files());
  const session = await trainSession({ ort, backend }, artifacts, files);
  const state = new ResidentState(stateNames(artifacts.manifest), initialState(ort, artifacts.manifest, files));
  try {
    const size = request.batch * request.input[0] * request.input[1] * request.input[2];
    const images = new ort.Tensor('float32', Float32Array.from({ length: size }, (_, i) => Math.sin(i * 0.37)), [request.batch, ...request.input]);
    const labels = new ort.Tensor('int64', BigInt64Array.from({ length: request.batch }, (_, i) => BigInt(i % request.classes)), [request.batch]);
    const scalar = (v: number): Ort.Tensor => new ort.Tensor('float32', Float32Array.of(v), []);
    const feeds: Record<string, Ort.Tensor> = { images, labels, lr: scalar(0.01), momentum: scalar(0.9), weight_decay: scalar(1e-4) };
    const step = (): Promise<unknown> => state.step(session, feeds);
    for (let i = 0; i < request.warmup; i++) await step();
    const started = performance.now();
    for (let i = 0; i < request.steps; i++) await step();
    const seconds = (performance.now() - started) / 1000;
    return {
      arch: request.arch, input: request.input.join('x'), batch: request.batch, steps: request.steps, seconds,
      imagesPerSecond: (request.steps * request.batch) / seconds, msPerStep: (1000 * seconds) / request.steps,
    };
  } finally {
    state.release();
    await session.release();
  }
}
