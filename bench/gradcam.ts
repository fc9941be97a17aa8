// Grad-CAM from our ONNX graphs against PyTorch autograd on the same weights and images
// (bench/gradcam.py, float64): the `cam` output of the model `gen-graph --explain --weights` writes
// (BatchNorm an op of its own) and of the one `export --explain` writes (BatchNorm folded into the
// convolutions, normalisation inside), for plain and SE networks of both stems, at the default
// layer (the last stage), a mid-stage layer, a block and the stem's output. Weights are the seeded ones with
// BatchNorm statistics and affine terms drawn away from 0 and 1, so eval-mode BN does something.
//   node --import tsx bench/gradcam.ts [--nets resnet20,se_resnet20,resnet18,se_resnet18,se_resnet50] [--batch 4] [--out DIR]
// Needs Debian's python3-torch (/usr/bin/python3). Prints one markdown row per network and layer.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import type { Graph, Tensor } from '../src/graph/ir.ts';
import { buildInferenceGraph, resolveModel } from '../src/graph/model.ts';
import { buildExplainGraph, defaultCamLayer } from '../src/graph/gradcam.ts';
import { buildDeployGraph } from '../src/graph/deploy.ts';
import { withWeights } from '../src/graph/weights.ts';
import { encodeModel } from '../src/formats/protobuf.ts';
import { importWeights } from '../src/formats/state-dict.ts';
import { readSafetensors, writeSafetensors } from '../src/formats/safetensors-file.ts';
import { createRng } from '../src/util/random.ts';
import { machine } from './common.ts';

const { values } = parseArgs({ options: { nets: { type: 'string' }, batch: { type: 'string' }, out: { type: 'string' } } });
const nets = (values.nets ?? 'resnet20,se_resnet20,resnet18,se_resnet18,se_resnet50').split(',');
const batch = Number(values.batch ?? 4);
const dir = values.out ?? mkdtempSync(join(tmpdir(), 'gradcam-bench-'));
mkdirSync(dir, { recursive: true });
const CLASSES = 8;

/** The seeded weights with trained-looking BatchNorm: running statistics and affine terms away from 0 and 1. */
function trainedLike(graph: Graph, seed: number): Map<string, Tensor> {
  const rng = createRng(seed);
  return new Map(graph.initializers.filter((i) => i.kind !== 'constant').map((i) => {
    const d = Float32Array.from(i.tensor.data as Float32Array);
    const name = i.value.name;
    if (/running_var$/.test(name)) d.forEach((_, k) => { d[k] = 0.5 + rng.next(); });
    else if (/running_mean$/.test(name) || /(bn\d|downsample\.1)\.bias$/.test(name)) d.forEach((_, k) => { d[k] = 0.3 * rng.normal(); });
    else if (/(bn\d|downsample\.1)\.weight$/.test(name)) d.forEach((_, k) => { d[k] = 0.5 + rng.next(); });
    return [name, { ...i.tensor, data: d }];
  }));
}

async function cam(graph: Graph, images: ort.Tensor): Promise<{ cam: Float32Array; logits: Float32Array; dims: readonly number[] }> {
  // Default session options, all graph optimisations on: what a user of the model file gets.
  const s = await ort.InferenceSession.create(encodeModel(graph), { intraOpNumThreads: 2, logSeverityLevel: 3 });
  const out = await s.run({ images });
  await s.release();
  return { cam: out['cam']!.data as Float32Array, logits: out['logits']!.data as Float32Array, dims: out['cam']!.dims };
}

/** The largest absolute difference, relative to the reference's largest value, and how many entries differ by more than 1e-3 of it. */
function compare(got: Float32Array, want: Float32Array): { worst: number; off: number } {
  const scale = want.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  let worst = 0;
  let off = 0;
  got.forEach((v, i) => {
    const d = Math.abs(v - want[i]!) / scale;
    worst = Math.max(worst, d);
    if (d > 1e-3) off++;
  });
  return { worst, off };
}

const setups = nets.map((net) => {
  const config = resolveModel({ arch: net, classes: CLASSES, input: /resnet(18|34|50|101|152)$/.test(net) ? [3, 64, 64] : [3, 32, 32] });
  const layers = [...new Set([defaultCamLayer(config.spec), 'layer2', 'layer1.0', 'stem'])];
  const weights = trainedLike(buildInferenceGraph(config), 1);
  const rng = createRng(2);
  const [c, h, w] = config.input;
  const images: Tensor = { dtype: 'float32', dims: [batch, c, h, w], data: Float32Array.from({ length: batch * c * h * w }, () => rng.normal()) };
  writeSafetensors(join(dir, `${net}.safetensors`), weights);
  writeSafetensors(join(dir, `${net}.input.safetensors`), new Map([['images', images]]), { layers: JSON.stringify(layers) });
  return { net, config, layers, images };
});

const py = spawnSync('/usr/bin/python3', [join(import.meta.dirname, 'gradcam.py'), dir, ...nets], { encoding: 'utf8' });
if (py.status !== 0) throw new Error(`bench/gradcam.py failed: ${py.stderr}`);

console.log(`machine: ${machine()}; ${new Date().toISOString()}; batch ${batch} of N(0, 1) images; weights in ${dir}`);
console.log('| network | input | layer | map | gen-graph --explain: max diff / max | entries off by > 1e-3 | export --explain (BN folded): max diff / max | entries off | logits max diff |');
console.log('|---|---|---|---|---:|---:|---:|---:|---:|');
for (const { net, config, layers, images } of setups) {
  const file = join(dir, `${net}.safetensors`);
  const reference = readSafetensors(join(dir, `${net}.torch.safetensors`)).tensors;
  // As gen-graph --weights loads a state_dict: checked names and shapes, then the explain graph's weights.
  const { tensors } = importWeights(file, buildInferenceGraph({ ...config, batch: 'N' }));
  const input = new ort.Tensor('float32', images.data as Float32Array, [...images.dims]);
  for (const layer of layers) {
    const want = reference.get(`cam.${layer}`)!.data as Float32Array;
    const explained = await cam(withWeights(buildExplainGraph(config, layer), tensors, file), input);
    // scale 1, mean 0, std 1: the exported model's normalisation leaves these inputs as they are.
    const exported = await cam(buildDeployGraph(config, [{ weights: tensors, source: file, scale: 1, mean: [0, 0, 0], std: [1, 1, 1] }], layer), input);
    const [a, b] = [compare(explained.cam, want), compare(exported.cam, want)];
    const logits = reference.get('logits')!.data as Float32Array;
    const logitDiff = explained.logits.reduce((m, v, i) => Math.max(m, Math.abs(v - logits[i]!)), 0);
    console.log(`| ${net} | ${config.input.join('x')} | ${layer} | ${explained.dims.slice(1).join('x')} | ${a.worst.toExponential(1)} | ${a.off} of ${want.length} | ${b.worst.toExponential(1)} | ${b.off} | ${logitDiff.toExponential(1)} |`);
  }
}
