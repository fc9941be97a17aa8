/**
 * The one place that creates ONNX Runtime sessions: thread counts, graph optimisation and the
 * execution provider (CPU; CUDA when onnxruntime-node's CUDA binaries are installed; WebGPU, which
 * the package bundles, on a GPU reached through Vulkan, Metal or D3D12).
 *
 * onnxruntime-node ships with its CPU provider; its CUDA provider is a separate download that
 * `npm ci --onnxruntime-node-install=cuda12` fetches (ORT's NuGet GPU package) into the package's
 * bin folder. `listSupportedBackends()` lists 'cuda' whenever the binding was built with it, so
 * usability is checked for real: the provider library must be there and a session must start on it.
 * WebGPU is checked the same way, in a child process (webgpu.ts).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { Builder } from '../graph/builder.ts';
import { decodeModel, encodeModel, withFixedBatch } from '../formats/protobuf.ts';
import { UserError } from '../errors.ts';
import type { HostNode } from './placement.ts';
import { hostNodes } from './placement.ts';
import { webgpuStatus } from './webgpu.ts';

export const DEVICES = ['cpu', 'cuda', 'webgpu'] as const;
export type Device = (typeof DEVICES)[number];

export interface SessionSettings {
  /** intraOpNumThreads: the threads one operator may use. */
  readonly threads: number;
  readonly device: Device;
  /**
   * The batch a model with a symbolic one is fixed to on WebGPU, which would otherwise run the
   * shape arithmetic of every layer on the CPU (and which the Node binding cannot override).
   */
  readonly batch?: number;
  /** Outputs that stay in GPU memory (WebGPU), to be fed to the next run without a copy. */
  readonly deviceOutputs?: readonly string[];
}

export const CUDA_INSTALL_HINT = 'install it with `npm ci --onnxruntime-node-install=cuda12` (downloads ONNX Runtime\'s CUDA 12 binaries; needs an NVIDIA driver, CUDA 12 and cuDNN 9)';

/** The ONNX Runtime package version. */
export function ortVersion(): string {
  return ort.env.versions.node ?? 'unknown';
}

/** Execution providers compiled into this onnxruntime-node binding (bundled: shipped in the npm package). */
export function executionProviders(): { name: string; bundled: boolean }[] {
  return ort.listSupportedBackends().map((b) => ({ name: b.name, bundled: b.bundled }));
}

/** The folder holding onnxruntime-node's native binding, where its CUDA provider library goes. */
function bindingFolder(): string {
  const entry = fileURLToPath(import.meta.resolve('onnxruntime-node'));
  return join(dirname(entry), '..', 'bin', 'napi-v6', process.platform, process.arch);
}

let cudaProbe: Promise<{ usable: boolean; reason: string }> | undefined;

/**
 * Whether the CUDA provider can run here, and why not when it cannot. Starts a one-node session on
 * it once per process (a driver or cuDNN problem shows only then).
 */
export function cudaStatus(): Promise<{ usable: boolean; reason: string }> {
  cudaProbe ??= (async () => {
    if (!executionProviders().some((p) => p.name === 'cuda')) {
      return { usable: false, reason: `this onnxruntime-node build (${process.platform}/${process.arch}) has no CUDA provider` };
    }
    const library = join(bindingFolder(), process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so');
    if (!existsSync(library)) return { usable: false, reason: `the CUDA provider of onnxruntime-node is not installed (no ${library}); ${CUDA_INSTALL_HINT}` };
    try {
      const session = await ort.InferenceSession.create(probeModel(), { executionProviders: ['cuda'], logSeverityLevel: 3 });
      await session.release();
      return { usable: true, reason: `CUDA provider loaded from ${library}` };
    } catch (err) {
      const why = String((err as Error)?.message ?? err).split('\n')[0];
      return { usable: false, reason: `the CUDA provider is installed but did not start (${why}); check the NVIDIA driver, CUDA 12 and cuDNN 9` };
    }
  })();
  return cudaProbe;
}

/** y = x + x on a float[1]: the smallest model that runs a kernel on the device. */
function probeModel(): Uint8Array {
  const b = new Builder();
  const x = b.input('x', 'float32', [1]);
  b.output(b.op('Add', [x, x], {}, { names: ['y'], name: 'y' }));
  return encodeModel(b.graph('probe'));
}

/** The usable-or-why of a GPU device, checked once per process; CPU is always usable. */
export async function deviceStatus(device: Device): Promise<{ usable: boolean; reason: string }> {
  if (device === 'cuda') return cudaStatus();
  if (device === 'webgpu') return webgpuStatus();
  return { usable: true, reason: 'the CPU provider is always there' };
}

/**
 * Stop with one line, before anything is written, where the GPU `device` cannot run here. The CPU,
 * an absent device and a name that is none of DEVICES pass: the options check names the choices.
 */
export async function requireDevice(device: string | undefined): Promise<void> {
  if (device !== 'cuda' && device !== 'webgpu') return;
  const status = await deviceStatus(device);
  if (!status.usable) throw new UserError(`--device ${device}: ${status.reason}`);
}

const placements = new WeakMap<ort.InferenceSession, readonly HostNode[]>();

/** On WebGPU, the nodes ONNX Runtime placed on the CPU (with their largest output); empty elsewhere. */
export function cpuNodes(session: ort.InferenceSession): readonly HostNode[] {
  return placements.get(session) ?? [];
}

/** A session on `model` (a file or ONNX bytes) with the given threads and device. */
export async function createSession(model: string | Uint8Array, settings: SessionSettings): Promise<ort.InferenceSession> {
  await requireDevice(settings.device);
  if (settings.device === 'webgpu') return createWebgpuSession(model, settings);
  const options: ort.InferenceSession.SessionOptions = {
    executionProviders: settings.device === 'cuda' ? ['cuda', 'cpu'] : ['cpu'],
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    // Memory patterns are per input shape; training steps measured faster and half as large without.
    enableMemPattern: false,
    intraOpNumThreads: settings.threads,
    interOpNumThreads: 1,
    logSeverityLevel: 3,
  };
  return open(model, options);
}

async function open(model: string | Uint8Array, options: ort.InferenceSession.SessionOptions, name = typeof model === 'string' ? model : 'model'): Promise<ort.InferenceSession> {
  try {
    return typeof model === 'string' ? await ort.InferenceSession.create(model, options) : await ort.InferenceSession.create(model, options);
  } catch (err) {
    throw new UserError(`${name}: ONNX Runtime cannot load it (${String((err as Error)?.message ?? err).split('\n')[0]})`);
  }
}

/**
 * A WebGPU session: the batch fixed, the chosen outputs kept on the GPU, and the nodes ORT placed
 * on the CPU read back from the optimised model it saves (its Memcpy nodes mark the crossings).
 */
async function createWebgpuSession(model: string | Uint8Array, settings: SessionSettings): Promise<ort.InferenceSession> {
  const name = typeof model === 'string' ? model : 'model';
  let bytes: Uint8Array = typeof model === 'string' ? readFileSync(model) : model;
  if (settings.batch !== undefined) bytes = withFixedBatch(bytes, settings.batch);
  const scratch = mkdtempSync(join(tmpdir(), 'senet-ort-webgpu-'));
  try {
    const saved = join(scratch, 'optimized.onnx');
    const location = Object.fromEntries((settings.deviceOutputs ?? []).map((o) => [o, 'gpu-buffer' as const]));
    const session = await open(bytes, {
      executionProviders: ['webgpu'],
      graphOptimizationLevel: 'all',
      executionMode: 'sequential',
      intraOpNumThreads: settings.threads,
      interOpNumThreads: 1,
      logSeverityLevel: 3,
      optimizedModelFilePath: saved,
      ...(settings.deviceOutputs?.length ? { preferredOutputLocation: location } : {}),
    }, name);
    placements.set(session, existsSync(saved) ? hostNodes(decodeModel(readFileSync(saved))) : []);
    return session;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
