// Images/s of the webgpu flavour of the training step on ONNX Runtime's WebGPU provider against the
// CPU step of the same network (portable, and x64 where ONNX Runtime has NCHWc kernels), with the
// training state kept on the GPU between steps as ort-train keeps it there: the step's session
// holds every `<state>.next` output in a GPU buffer (preferredOutputLocation 'gpu-buffer') and each
// step's outputs are the next step's inputs, so only the batch, the labels and three scalars go up
// and the loss and logits come down. A GPU tensor's data is never read from JavaScript (that aborts
// onnxruntime-node 1.30): the state comes back by one more step in a second session of the same
// model without preferredOutputLocation, which returns every output to the CPU. That session also
// times the step with the state going through the host every step (what residency saves), and its
// own continuation must equal the resident state's bit for bit: the state stayed intact on the GPU.
// Against the CPU: the first step from the same start (the provider's arithmetic; the x64 CPU step's
// distance from the portable one is the yardstick for rounding), and the loss after as many steps
// (rounding differences grow with every step, fastest where BatchNorm sees few values: small batches
// and maps).
// Each network runs in its own process; each step kind in turn (warm-up, then timed steps: the median).
//   node --import tsx bench/webgpu.ts [--arch resnet20[,se_resnet20,...]] [--input 3x150x150] [--batch 64]
//     [--steps 5] [--warmup 2] [--threads 2 (CPU steps, and ORT's CPU side of the WebGPU session)]
//     [--cpu portable,x64 | portable | none]
// On Linux WebGPU reaches the GPU through Vulkan. Without a GPU, SwiftShader (a CPU Vulkan) shows that
// it runs, 100-500x slower than the CPU provider: VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json
// with --arch resnet20 --input 3x32x32 --batch 8 --steps 2 --warmup 1.
import type * as ort from 'onnxruntime-node';
import type { Initializer } from '../src/graph/ir.ts';
import { resolveModel } from '../src/graph/model.ts';
import { NEXT_SUFFIX, buildTrainStep } from '../src/graph/train.ts';
import type { Kernels } from '../src/graph/flavours.ts';
import { PORTABLE, WEBGPU, trainStepKernels } from '../src/graph/flavours.ts';
import { encodeModel } from '../src/formats/protobuf.ts';
import { cpuNodes, createSession } from '../src/infer/session.ts';
import { webgpuStatus } from '../src/infer/webgpu.ts';
import { nchwcBlock } from '../src/train/kernels.ts';
import { benchArgs, inChild, machine, stepFeeds, table } from './common.ts';

const CLASSES = 8;
const args = benchArgs({ batch: 64, steps: 5 }, { arch: { type: 'string' }, cpu: { type: 'string' } });
if (args.extra['arch']) args.nets = String(args.extra['arch']).split(',');
else if (!args.extra['nets']) args.nets = ['resnet20'];
const cpuKinds = args.extra['cpu'] === 'none' ? [] : String(args.extra['cpu'] ?? 'portable,x64').split(',');
for (const k of cpuKinds) if (k !== 'portable' && k !== 'x64') throw new Error(`--cpu: unknown step ${k} (portable, x64, both comma-separated, or none)`);

type Outputs = ort.InferenceSession.ReturnType;
const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const perSecond = (ms: number): number => Math.round((args.batch / ms) * 1000 * 10) / 10;
const lossOf = (o: Outputs): number => (o['loss']!.data as Float32Array)[0]!;

/** Bytes that cross between host and device per step when the state stays on the GPU: images, labels, lr, momentum, weight decay up; loss, logits down. */
function transferBytes(batch: number, input: readonly number[]): { up: number; down: number } {
  const image = input.reduce((p, d) => p * d, 1);
  return { up: batch * image * 4 + batch * 8 + 3 * 4, down: 4 + batch * CLASSES * 4 };
}

const dispose = (feeds: Record<string, ort.Tensor>, names: readonly string[]): void => {
  for (const name of names) if (feeds[name]?.location === 'gpu-buffer') feeds[name]!.dispose();
};

interface Steps {
  readonly times: number[];
  /** The outputs of the first step, where they are on the CPU. */
  readonly first: Outputs | null;
  /** The state after the last step, as the next step's feeds. */
  readonly feeds: Record<string, ort.Tensor>;
  /** How many `.next` outputs of the last step were GPU buffers. */
  readonly onGpu: number;
}

/** Warm-up and timed steps of `session` from the initial state, each step's `.next` outputs fed to the next. */
async function steps(session: ort.InferenceSession, initial: Record<string, ort.Tensor>, names: readonly string[]): Promise<Steps> {
  let feeds = initial;
  const times: number[] = [];
  let first: Outputs | null = null;
  let onGpu = 0;
  for (let i = 0; i < args.warmup + args.steps; i++) {
    const t0 = performance.now();
    const out = await session.run(feeds);
    const ms = performance.now() - t0;
    if (i >= args.warmup) times.push(ms);
    const next: Record<string, ort.Tensor> = { ...feeds };
    for (const name of names) next[name] = out[`${name}${NEXT_SUFFIX}`]!;
    onGpu = names.filter((name) => next[name]!.location === 'gpu-buffer').length;
    if (i === 0 && onGpu === 0) first = out;
    // The state this step read is not read again: its GPU buffers go now, not when the GC gets to them.
    dispose(feeds, names);
    feeds = next;
  }
  return { times, first, feeds, onGpu };
}

/** Largest difference between two runs' outputs, relative to the largest magnitude of each tensor. */
function worstDifference(a: Outputs, b: Outputs): number {
  let worst = 0;
  for (const name of Object.keys(b)) {
    const x = a[name]!.data as Float32Array;
    const y = b[name]!.data as Float32Array;
    let diff = 0;
    let scale = 0;
    for (let i = 0; i < x.length; i++) {
      diff = Math.max(diff, Math.abs(x[i]! - y[i]!));
      scale = Math.max(scale, Math.abs(y[i]!));
    }
    worst = Math.max(worst, scale > 0 ? diff / scale : diff);
  }
  return worst;
}

async function measure(net: string): Promise<Record<string, number | string>> {
  const n = args.batch;
  const config = resolveModel({ arch: net, input: args.input, classes: CLASSES, batch: n });
  const step = buildTrainStep(config);
  const state: Initializer[] = [...step.parameters, ...step.momentum, ...step.runningStats];
  const names = state.map((i) => i.value.name);
  const initial = stepFeeds(state, args.input, n);
  const bytes = (k: Kernels): Uint8Array => encodeModel(trainStepKernels(step.graph, k), { stateAsInputs: true });
  const settings = { threads: args.threads, batch: n };
  const total = args.warmup + args.steps;

  const webgpu = bytes(WEBGPU);
  const resident = await createSession(webgpu, { ...settings, device: 'webgpu', deviceOutputs: names.map((s) => `${s}${NEXT_SUFFIX}`) });
  const host = cpuNodes(resident);
  const onDevice = await steps(resident, initial, names);
  // The second session reads the resident session's buffers, so the first stays open until then.
  const viaHost = await createSession(webgpu, { ...settings, device: 'webgpu' });
  const throughHost = await steps(viaHost, initial, names);
  const readBack = await viaHost.run(onDevice.feeds);
  dispose(onDevice.feeds, names);
  const hostLast = await viaHost.run(throughHost.feeds);
  await viaHost.release();
  await resident.release();

  const { up, down } = transferBytes(n, args.input);
  const stateBytes = state.reduce((s, i) => s + i.tensor.data.length * 4, 0);
  const row: Record<string, number | string> = {
    network: net, 'webgpu img/s': perSecond(median(onDevice.times)), 'webgpu ms/step': Math.round(median(onDevice.times)),
    'webgpu img/s, state through the host': perSecond(median(throughHost.times)),
  };
  let best = 0;
  const block = await nchwcBlock();
  // For the CPU steps' first step and loss: the portable step's, and how far the x64 step is from it.
  const firsts = new Map<string, Outputs>();
  const losses: string[] = [lossOf(readBack).toFixed(5)];
  for (const kind of cpuKinds) {
    if (kind === 'x64' && block === null) { row['x64 CPU img/s'] = 'no NCHWc kernels'; continue; }
    const cpu = await createSession(bytes(kind === 'x64' ? { flavour: 'x64', block: block! } : PORTABLE), { ...settings, device: 'cpu' });
    const run = await steps(cpu, initial, names);
    const rate = perSecond(median(run.times));
    row[`${kind} CPU img/s`] = rate;
    best = Math.max(best, rate);
    firsts.set(kind, run.first!);
    losses.push(lossOf(await cpu.run(run.feeds)).toFixed(5));
    await cpu.release();
  }
  const portableFirst = firsts.get('portable');
  if (portableFirst) {
    row['first step against the portable CPU step, largest relative difference: webgpu'] = worstDifference(throughHost.first!, portableFirst).toExponential(1);
    const x64First = firsts.get('x64');
    if (x64First) row['x64 CPU'] = worstDifference(x64First, portableFirst).toExponential(1);
  }
  if (losses.length > 1) row[`loss after ${total} steps: webgpu / ${[...firsts.keys()].join(' / ')}`] = losses.join(' / ');
  if (best > 0) row['webgpu / best CPU'] = Math.round(((row['webgpu img/s'] as number) / best) * 1000) / 1000;
  row['host->device bytes/step'] = up;
  row['device->host bytes/step'] = down;
  row['state bytes (stay on the GPU; each way a step through the host)'] = stateBytes;
  row['state outputs on the GPU'] = `${onDevice.onGpu}/${names.length}`;
  row['resident state vs through the host after the last step: largest difference'] = worstDifference(readBack, hostLast).toExponential(1);
  row['nodes ORT placed on the CPU'] = host.length === 0 ? 'none' : `${host.length} (largest output ${Math.max(...host.map((h) => h.elements ?? 0))} values)`;
  return row;
}

if (args.child) {
  console.log(JSON.stringify(await measure(args.child)));
} else {
  const status = await webgpuStatus();
  console.log(`train step on WebGPU (webgpu flavour, state on the GPU) against the CPU, batch ${args.batch}, input ${args.input.join('x')}, ${args.steps} steps after ${args.warmup} warm-up (median), ${args.threads} CPU threads; WebGPU: ${status.reason}; NCHWc block ${await nchwcBlock()}; ${machine()}; ${new Date().toISOString()}`);
  if (!status.usable) {
    console.error(`WebGPU is not usable here: ${status.reason}`);
    process.exit(1);
  }
  const rows = args.nets.map((net): Record<string, number | string> => {
    try {
      return inChild(new URL(import.meta.url).pathname, net, process.argv.slice(2));
    } catch (err) {
      // Dawn's XDG_RUNTIME_DIR lines say nothing about the failure.
      const why = String((err as Error).message).split('\n').filter((l) => l.trim() && !/XDG_RUNTIME_DIR/.test(l)).slice(0, 4).join(' ');
      console.error(why);
      return { network: net, 'webgpu img/s': `failed: ${why.slice(0, 300)}` };
    }
  });
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  console.log(table(rows.map((r) => Object.fromEntries(keys.map((k) => [k, r[k] ?? ''])))));
  if (rows.some((r) => String(r['webgpu img/s']).startsWith('failed'))) process.exitCode = 1;
}
