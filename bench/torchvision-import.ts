// Loads the torchvision state_dicts that bench/torchvision_import.py wrote into our graphs, as
// `gen-graph --weights` does, and compares the logits with torchvision's on the same inputs.
//   /usr/bin/python3 bench/torchvision_import.py /tmp/tv && node --import tsx bench/torchvision-import.ts /tmp/tv [resnet18 resnet50]
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { buildInferenceGraph, resolveModel } from '../src/graph/model.ts';
import { withWeights } from '../src/graph/weights.ts';
import { encodeModel } from '../src/formats/protobuf.ts';
import { readSafetensors } from '../src/formats/safetensors-file.ts';
import { importWeights } from '../src/formats/state-dict.ts';
import { machine } from './common.ts';

const dir = process.argv[2] ?? '/tmp/tv';
const nets = process.argv.length > 3 ? process.argv.slice(3) : ['resnet18', 'resnet50'];
console.log(`machine: ${machine()}`);
console.log('| network | layout | tensors loaded | ignored | max abs logit difference | max logit | relative |');
console.log('|---|---|---:|---:|---:|---:|---:|');
for (const net of nets) {
  const config = resolveModel({ arch: net, input: [3, 112, 112] });
  const seeded = buildInferenceGraph(config);
  const { tensors, record } = importWeights(join(dir, `${net}.safetensors`), seeded);
  const session = await ort.InferenceSession.create(encodeModel(withWeights(seeded, tensors, net), {}), { intraOpNumThreads: 2 });
  const check = readSafetensors(join(dir, `${net}.check.safetensors`)).tensors;
  const images = check.get('images')!;
  const want = check.get('logits')!.data as Float32Array;
  const got = (await session.run({ images: new ort.Tensor('float32', images.data as Float32Array, [...images.dims]) }))['logits']!.data as Float32Array;
  let diff = 0;
  let max = 0;
  for (let i = 0; i < want.length; i++) {
    diff = Math.max(diff, Math.abs(got[i]! - want[i]!));
    max = Math.max(max, Math.abs(want[i]!));
  }
  console.log(`| ${net} | ${record.layout} | ${record.loaded} | ${record.ignored} | ${diff.toExponential(1)} | ${max.toFixed(2)} | ${(diff / max).toExponential(1)} |`);
}
