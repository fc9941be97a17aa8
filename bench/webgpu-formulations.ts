// What the webgpu flavour's two rewrites (src/graph/webgpu.ts) cost on the CPU: whether either could be
// the portable step's own formulation, and what it does to the x64 step, whose NCHWc pass lowers the
// folded one-channel convs too (9 or 3 outputs padded to a block). The rewrites: fold (conv-grad's
// grouped one-hot shift convs as plain convs over [N*C, 1, H, W]) and maxpool (MaxPool's backward by
// first maxima instead of Indices + ScatterElements); networks without MaxPool have only the first.
// One child process per network; in it one ONNX Runtime session per variant, warm-up, then rounds
// in which every variant runs one step right beside one of its flavour's base step (the base first
// in every other round): the median step time of each, and the median and range of the ratios of
// neighbouring steps. The base runs as a variant too ("again", a second session of the same graph):
// its ratio is this machine's noise. Then each step once more under ONNX Runtime's profiler: the
// kernel time of the nodes the rewrite replaced (in the base) and of those it made (in the variant).
// Two more variants per flavour (unless --no-plain) ask where the fold's cost comes from: the folded
// convs in a session at graph optimisation level extended, without ORT's own NCHWc pass, which takes
// convs with constant weights (the folded ones are such), and for x64 folded after the x64 pass, so
// that neither lowers them; beside them the base step at level extended, for what the level alone does.
//   node --import tsx bench/webgpu-formulations.ts [--nets resnet20,se_resnet20,resnet18] [--input 3x150x150] [--batch 32]
//     [--steps 7 (rounds)] [--warmup 1] [--threads 2] [--flavours portable,x64] [--profile-steps 1] [--no-profile] [--no-plain]
import { loadavg } from 'node:os';
import * as ort from 'onnxruntime-node';
import type { Graph, Node } from '../src/graph/ir.ts';
import { resolveModel } from '../src/graph/model.ts';
import { NEXT_SUFFIX, buildTrainStep } from '../src/graph/train.ts';
import { lowerForWebgpu } from '../src/graph/webgpu.ts';
import { lowerToNchwc, loweredConvs } from '../src/graph/nchwc.ts';
import { encodeModel } from '../src/formats/protobuf.ts';
import { nchwcBlock } from '../src/train/kernels.ts';
import { benchArgs, inChild, machine, profiledStep, stepFeeds, table } from './common.ts';

const args = benchArgs({ batch: 32, steps: 7 }, { flavours: { type: 'string' }, 'profile-steps': { type: 'string' }, 'no-profile': { type: 'boolean' }, 'no-plain': { type: 'boolean' } });
if (!args.extra['nets']) args.nets = ['resnet20', 'se_resnet20', 'resnet18'];
if (!args.extra['warmup']) args.warmup = 1;
const flavours = String(args.extra['flavours'] ?? 'portable,x64').split(',');
const profileSteps = args.extra['no-profile'] ? 0 : Number(args.extra['profile-steps'] ?? 1);
const plain = !args.extra['no-plain'];

type Form = 'base' | 'again' | 'fold' | 'maxpool' | 'both' | 'extended' | 'fold-plain';
const LABELS: Record<Form, string> = {
  base: '', again: 'again', fold: 'fold', maxpool: 'maxpool', both: 'fold + maxpool',
  extended: 'at level extended', 'fold-plain': 'fold, its convs kept off NCHWc (level extended)',
};
const HIDDEN = 'bench.hidden';

const isPoolWithIndices = (n: Node): boolean => n.op === 'MaxPool' && !n.domain && n.outputs.length === 2;
const isGroupedConv = (n: Node): boolean => n.op === 'Conv' && !n.domain && ((n.attrs['group'] as number | undefined) ?? 1) > 1;

/**
 * lowerForWebgpu with one of its two rewrites only: the other's nodes pass through it under a
 * domain it leaves alone (it rewrites domain-less MaxPool and Conv nodes only), which is then taken off.
 */
function onlyRewrite(graph: Graph, rewrite: 'fold' | 'maxpool'): Graph {
  const hide = rewrite === 'fold' ? isPoolWithIndices : isGroupedConv;
  const lowered = lowerForWebgpu({ ...graph, nodes: graph.nodes.map((n) => (hide(n) ? { ...n, domain: HIDDEN } : n)) });
  return {
    ...lowered,
    nodes: lowered.nodes.map((n) => {
      if (n.domain !== HIDDEN) return n;
      const plain: { -readonly [K in keyof Node]: Node[K] } = { ...n };
      delete plain.domain;
      return plain;
    }),
  };
}

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const round = (x: number, digits: number): number => Math.round(x * 10 ** digits) / 10 ** digits;

/** A node as the ops it runs on which values, to tell the nodes a rewrite replaced from those it kept. */
const signature = (n: Node): string => `${n.domain ?? ''}.${n.op}(${n.inputs.map((v) => v?.name ?? '').join(',')})->${n.outputs.map((v) => v.name).join(',')}`;

/** The names of the nodes of `a` that `b` does not have (same op on the same values). */
function changedNodes(a: Graph, b: Graph): Set<string> {
  const kept = new Set(b.nodes.map(signature));
  return new Set(a.nodes.filter((n) => !kept.has(signature(n))).map((n) => n.name));
}

interface Variant {
  readonly flavour: string;
  readonly form: Form;
  /** The session's graph optimisation level: extended leaves out ORT's own NCHWc pass (constant-weight convs). */
  readonly level: 'all' | 'extended';
  readonly graph: Graph;
  readonly base: Graph;
  readonly times: number[];
  /** Per pair of neighbouring steps: the base step's time over this one's (above 1: this one is faster). */
  readonly ratios: number[];
  session?: ort.InferenceSession;
  /** The next step's inputs: the batch, the hyper-parameters and the state the last step left. */
  feeds: Record<string, ort.Tensor>;
}

/** One step of `v` on its feeds, whose state its `.next` outputs then replace; its time in ms. */
async function stepOf(v: Variant, state: readonly string[]): Promise<number> {
  const t0 = performance.now();
  const out = await v.session!.run(v.feeds);
  const ms = performance.now() - t0;
  v.feeds = { ...v.feeds, ...Object.fromEntries(state.map((name) => [name, out[`${name}${NEXT_SUFFIX}`]!])) };
  return ms;
}

const baseOf = (variants: readonly Variant[], v: Variant): Variant => variants.find((b) => b.flavour === v.flavour && b.form === 'base')!;

async function measure(net: string): Promise<Record<string, number | string>[]> {
  const block = await nchwcBlock();
  const config = resolveModel({ arch: net, input: args.input, classes: 8, batch: args.batch });
  const step = buildTrainStep(config);
  const n = args.batch;
  const portable = step.graph;
  const pooled = portable.nodes.some(isPoolWithIndices);
  const forms: [Form, Graph][] = [['base', portable], ['again', portable], ['fold', onlyRewrite(portable, 'fold')]];
  if (pooled) forms.push(['maxpool', onlyRewrite(portable, 'maxpool')], ['both', lowerForWebgpu(portable)]);
  const variants: Variant[] = [];
  for (const flavour of flavours) {
    if (flavour === 'x64' && block === null) { console.error(`${net}: no NCHWc kernels on this machine, x64 skipped`); continue; }
    if (flavour !== 'portable' && flavour !== 'x64') throw new Error(`unknown flavour ${flavour}`);
    const lower = (g: Graph): Graph => (flavour === 'x64' ? lowerToNchwc(g, block!) : g);
    const base = lower(portable);
    for (const [form, g] of forms) variants.push({ flavour, form, level: 'all', graph: form === 'base' || form === 'again' ? base : lower(g), base, times: [], ratios: [], feeds: {} });
    if (plain) {
      // The folded convs after the x64 pass, which then never sees them, and without ORT's NCHWc pass,
      // which would take them for their constant weights: what the fold costs where nothing pads them.
      variants.push({ flavour, form: 'extended', level: 'extended', graph: base, base, times: [], ratios: [], feeds: {} });
      variants.push({ flavour, form: 'fold-plain', level: 'extended', graph: onlyRewrite(base, 'fold'), base, times: [], ratios: [], feeds: {} });
    }
  }
  const inits = [...step.parameters, ...step.momentum, ...step.runningStats];
  const initial = stepFeeds(inits, args.input, n);
  const state = inits.map((i) => i.value.name);
  for (const v of variants) {
    v.session = await ort.InferenceSession.create(encodeModel(v.graph, { stateAsInputs: true }), {
      intraOpNumThreads: args.threads, interOpNumThreads: 1, graphOptimizationLevel: v.level, enableMemPattern: false,
    });
    v.feeds = initial;
  }
  for (let i = 0; i < args.warmup; i++) for (const v of variants) await stepOf(v, state);
  // Each variant right beside a step of its flavour's base, which goes first every other round: a
  // ratio of two neighbouring steps, which a load that comes and goes disturbs least.
  for (let i = 0; i < args.steps; i++) {
    for (const v of variants) {
      if (v.form === 'base') continue;
      const base = baseOf(variants, v);
      const pair = i % 2 === 0 ? [base, v] : [v, base];
      const [a, b] = [await stepOf(pair[0]!, state), await stepOf(pair[1]!, state)];
      const [tb, tv] = i % 2 === 0 ? [a, b] : [b, a];
      base.times.push(tb);
      v.times.push(tv);
      v.ratios.push(tb / tv);
    }
  }
  for (const v of variants) await v.session!.release();

  const rows: Record<string, number | string>[] = [];
  for (const v of variants) {
    const base = baseOf(variants, v);
    const ratios = v.ratios;
    const ms = median(v.times);
    const row: Record<string, number | string> = {
      network: net, flavour: v.flavour, step: v.form === 'base' || v.form === 'again' || v.form === 'extended' ? `${v.flavour} ${LABELS[v.form]}`.trim() : LABELS[v.form],
      'img/s': round((n / ms) * 1000, 2), 'ms/step': Math.round(ms),
      'speed vs base': v === base ? '1' : `${round(median(ratios), 3)} (${round(Math.min(...ratios), 2)}-${round(Math.max(...ratios), 2)})`,
      nodes: v.graph.nodes.length, 'nchwc convs': loweredConvs(v.graph),
      ...(profileSteps > 0 ? { 'kernel ms/step': '', 'rewritten nodes ms: before -> after': '', 'difference, % of base step': '' } : {}),
    };
    rows.push(row);
  }
  if (profileSteps > 0) await attribute(variants, rows, initial);
  return rows;
}

/**
 * Each rewrite's own nodes under the profiler: kernel ms per step of the nodes it replaced, in the
 * base step, and of those it made, in the variant; and each step's whole kernel time. ONNX Runtime's
 * optimizer renames some nodes: its own NCHWc pass takes the convs with constant weights (the folded
 * shift convs and the pooling window conv are such) as `<node>_nchwc`, between ReorderInput and
 * ReorderOutput nodes of its own naming. A renamed node counts as its node; one of ORT's own counts
 * as changed when the other step's profile has no node of that name.
 */
async function attribute(variants: readonly Variant[], rows: Record<string, number | string>[], feeds: Record<string, ort.Tensor>): Promise<void> {
  const profiles = new Map<Graph, Map<string, number>>();
  const profile = async (graph: Graph): Promise<Map<string, number>> => {
    const known = profiles.get(graph);
    if (known) return known;
    const session = await profiledStep(graph, args.threads);
    for (let i = 0; i < 1 + profileSteps; i++) await session.run(feeds);
    const names = new Set(graph.nodes.map((nd) => nd.name));
    const byNode = new Map<string, number>();
    for (const e of session.kernelEvents(profileSteps)) {
      const event = e.name.replace(/_kernel_time$/, '');
      const node = !names.has(event) && event.endsWith('_nchwc') && names.has(event.slice(0, -6)) ? event.slice(0, -6) : event;
      byNode.set(node, (byNode.get(node) ?? 0) + e.dur / 1000 / profileSteps);
    }
    profiles.set(graph, byNode);
    return byNode;
  };
  const total = (byNode: Map<string, number>): number => [...byNode.values()].reduce((a, b) => a + b, 0);
  /** Kernel ms of the nodes of `graph` (profiled as `own`) that `other` (profiled as `theirs`) does not have. */
  const changed = (graph: Graph, own: Map<string, number>, other: Graph, theirs: Map<string, number>): number => {
    const names = changedNodes(graph, other);
    const inGraph = new Set(graph.nodes.map((nd) => nd.name));
    let ms = 0;
    for (const [node, t] of own) if (names.has(node) || (!inGraph.has(node) && !theirs.has(node))) ms += t;
    return ms;
  };
  for (const [i, v] of variants.entries()) {
    const row = rows[i]!;
    if (v.level !== 'all') { row['kernel ms/step'] = 'n/a (profiled at level all only)'; continue; }
    const own = await profile(v.graph);
    row['kernel ms/step'] = Math.round(total(own));
    if (v.form === 'base' || v.form === 'again') continue;
    const base = await profile(v.base);
    const replaced = changed(v.base, base, v.graph, own);
    const made = changed(v.graph, own, v.base, base);
    row['rewritten nodes ms: before -> after'] = `${round(replaced, 1)} -> ${round(made, 1)}`;
    row['difference, % of base step'] = `${made - replaced >= 0 ? '+' : ''}${round(((made - replaced) / total(base)) * 100, 1)}%`;
  }
}

if (args.child) {
  console.log(JSON.stringify({ rows: await measure(args.child) }));
} else {
  console.log(`webgpu rewrites on the CPU, batch ${args.batch}, input ${args.input.join('x')}, ${args.threads} threads, ${args.steps} rounds after ${args.warmup} warm-up, profile ${profileSteps} step(s); NCHWc block ${await nchwcBlock()}; ${machine()}; ${new Date().toISOString()}`);
  const rows = args.nets.flatMap((net) => {
    const load = loadavg()[0]!.toFixed(1);
    const { rows: own } = inChild(new URL(import.meta.url).pathname, net, process.argv.slice(2)) as unknown as { rows: Record<string, number | string>[] };
    console.log(`${net}: load average ${load} before, ${loadavg()[0]!.toFixed(1)} after (${new Date().toISOString()})`);
    return own;
  });
  console.log(table(rows));
}
