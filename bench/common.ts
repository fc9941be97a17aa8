// Shared by the benchmarks: argument parsing, one child process per network (so peak memory is
// that network's alone), a training step under ONNX Runtime's profiler, and the machine line that
// goes into bench/RESULTS.md.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import type { Graph, Initializer } from '../src/graph/ir.ts';
import { encodeModel } from '../src/formats/protobuf.ts';

export const DEFAULT_NETS = ['resnet20', 'se_resnet20', 'resnet18', 'se_resnet18', 'se_resnet50'];

export function machine(): string {
  return `${cpus().length} x ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}, onnxruntime-node ${ort.env.versions.node}`;
}

export interface BenchArgs {
  nets: string[];
  batch: number;
  input: [number, number, number];
  steps: number;
  warmup: number;
  threads: number;
  child?: string;
  extra: Record<string, string | boolean | undefined>;
}

export function benchArgs(defaults: { batch: number; steps: number }, extraOptions: Record<string, { type: 'string' | 'boolean' }> = {}): BenchArgs {
  const { values } = parseArgs({
    options: {
      nets: { type: 'string' }, batch: { type: 'string' }, input: { type: 'string' }, steps: { type: 'string' },
      warmup: { type: 'string' }, threads: { type: 'string' }, child: { type: 'string' }, ...extraOptions,
    },
  });
  const input = (values.input as string | undefined ?? '3x150x150').split('x').map(Number) as [number, number, number];
  return {
    nets: (values.nets as string | undefined)?.split(',') ?? DEFAULT_NETS,
    batch: Number(values.batch ?? defaults.batch),
    input,
    steps: Number(values.steps ?? defaults.steps),
    warmup: Number(values.warmup ?? 2),
    threads: Number(values.threads ?? 2),
    ...(values.child ? { child: values.child as string } : {}),
    extra: values as Record<string, string | boolean | undefined>,
  };
}

/** Runs this script again for one network and returns the JSON line it prints. */
export function inChild(script: string, net: string, argv: readonly string[]): Record<string, number | string> {
  const r = spawnSync(process.execPath, ['--import', 'tsx', script, ...argv, '--child', net], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${net}: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
}

/** A training step's feeds: a fixed batch of images and labels, the hyperparameters and the initial state. */
export function stepFeeds(state: readonly Initializer[], input: readonly number[], batch: number): Record<string, ort.Tensor> {
  const [c, h, w] = input as [number, number, number];
  const feeds: Record<string, ort.Tensor> = {
    images: new ort.Tensor('float32', Float32Array.from({ length: batch * c * h * w }, (_, i) => Math.sin(i)), [batch, c, h, w]),
    labels: new ort.Tensor('int64', BigInt64Array.from({ length: batch }, (_, i) => BigInt(i % 8)), [batch]),
    lr: new ort.Tensor('float32', [0.01], []), momentum: new ort.Tensor('float32', [0.9], []), weight_decay: new ort.Tensor('float32', [1e-4], []),
  };
  for (const i of state) feeds[i.value.name] = new ort.Tensor('float32', i.tensor.data as Float32Array, [...i.tensor.dims]);
  return feeds;
}

export function peakRssMiB(): number {
  return Math.round(process.resourceUsage().maxRSS / 1024);
}

export function table(rows: Record<string, number | string>[]): string {
  const keys = Object.keys(rows[0] ?? {});
  const line = (cells: (string | number)[]): string => `| ${cells.join(' | ')} |`;
  return [line(keys), line(keys.map(() => '---')), ...rows.map((r) => line(keys.map((k) => r[k] ?? '')))].join('\n');
}

/** One node's kernel time in ONNX Runtime's profile (microseconds). */
export interface KernelEvent { cat: string; name: string; dur: number; args?: { op_name?: string } }

/**
 * A training step's session under ONNX Runtime's profiler, with the settings ort-train uses.
 * `kernelEvents(steps)` ends the profile and returns the kernel-time events of the last `steps`
 * runs (the profile covers every run, warm-up included).
 */
export async function profiledStep(graph: Graph, threads: number): Promise<{ run: (feeds: Record<string, ort.Tensor>) => Promise<unknown>; kernelEvents: (steps: number) => KernelEvent[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'step-profile-'));
  const session = await ort.InferenceSession.create(encodeModel(graph, { stateAsInputs: true }), {
    enableProfiling: true, profileFilePrefix: join(dir, 'profile'),
    intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all', enableMemPattern: false,
  });
  let runs = 0;
  return {
    run: (feeds) => { runs++; return session.run(feeds); },
    kernelEvents: (steps) => {
      session.endProfiling();
      const all = (JSON.parse(readFileSync(join(dir, readdirSync(dir)[0]!), 'utf8')) as KernelEvent[]).filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time'));
      rmSync(dir, { recursive: true, force: true });
      return all.slice(all.length - (all.length / runs) * steps);
    },
  };
}
