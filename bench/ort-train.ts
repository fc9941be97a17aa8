// ort-train end to end against the bare training step: images/s of `train()` (loader, augmentation,
// labels, learning rate, accuracy, progress) and of a bare loop that feeds one fixed batch to the same
// train_step.onnx and feeds the `.next` outputs back (as bench/train.ts does). The difference is
// what the data pipeline and the bookkeeping cost; the target is under 5%.
//   node --import tsx bench/ort-train.ts [--nets resnet20,se_resnet20] [--input 3x64x64] [--batch 32] [--steps 20] [--rounds 3] [--threads 2] [--data DIR]
// --data: a folder of class folders (default: ../shared/data/kather2016-crc-texture when present, else the embedded sample).
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { splitDataset, tileDataset } from '../src/data/index.ts';
import { loadCheckpoint } from '../src/formats/checkpoint.ts';
import { createProgress } from '../src/train/progress.ts';
import type { EpochRecord } from '../src/formats/rundir.ts';
import { logPath } from '../src/formats/rundir.ts';
import { createSession } from '../src/infer/session.ts';
import { trainStepFor } from '../src/train/kernels.ts';
import { EMBEDDED_SAMPLE } from '../src/study/study.ts';
import { train } from '../src/train/trainer.ts';
import type { ArtifactManifest } from '../src/formats/artifacts.ts';
import { machine, table } from './common.ts';

const { values } = parseArgs({
  options: {
    nets: { type: 'string' }, input: { type: 'string' }, batch: { type: 'string' }, steps: { type: 'string' },
    rounds: { type: 'string' }, threads: { type: 'string' }, data: { type: 'string' },
  },
});
const nets = (values.nets ?? 'resnet20,se_resnet20').split(',');
const input = (values.input ?? '3x64x64').split('x').map(Number) as [number, number, number];
const batch = Number(values.batch ?? 32);
const steps = Number(values.steps ?? 20);
const rounds = Number(values.rounds ?? 3);
const threads = Number(values.threads ?? 2);
const sharedKather = fileURLToPath(new URL('../../shared/data/kather2016-crc-texture', import.meta.url));
const images = values.data ?? (existsSync(sharedKather) ? sharedKather : EMBEDDED_SAMPLE);

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const silent = createProgress(null, () => undefined);

/**
 * images/s of the bare step loop on the run's train_step.onnx, in the kernels ort-train picks here
 * (x64 on an x86-64 CPU), so that both sides run the same step (warm-up 2 steps, then `steps`).
 */
async function bare(run: string): Promise<number> {
  const manifest = JSON.parse(readFileSync(join(run, 'artifact.json'), 'utf8')) as ArtifactManifest;
  const kernels = await trainStepFor(run, manifest, 'auto', 'cpu');
  const session = await createSession(kernels.model, { threads, device: 'cpu' });
  let feeds: Record<string, ort.Tensor> = {
    images: new ort.Tensor('float32', Float32Array.from({ length: batch * input[0] * input[1] * input[2] }, (_, i) => Math.sin(i)), [batch, ...input]),
    labels: new ort.Tensor('int64', BigInt64Array.from({ length: batch }, (_, i) => BigInt(i % manifest.classes)), [batch]),
    lr: new ort.Tensor('float32', [0.01], []), momentum: new ort.Tensor('float32', [0.9], []), weight_decay: new ort.Tensor('float32', [1e-4], []),
  };
  for (const [name, t] of loadCheckpoint(join(run, 'init.safetensors'), manifest)) feeds[name] = new ort.Tensor('float32', t.data as Float32Array, [...t.dims]);
  const step = async (): Promise<void> => {
    const out = await session.run(feeds);
    const fed: Record<string, ort.Tensor> = { ...feeds };
    for (const name of Object.keys(feeds)) if (out[`${name}.next`]) fed[name] = out[`${name}.next`]!;
    feeds = fed;
  };
  for (let i = 0; i < 2; i++) await step();
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) await step();
  const seconds = (performance.now() - t0) / 1000;
  await session.release();
  return (steps * batch) / seconds;
}

/** ort-train on fold 1: a warm-up epoch, then one measured epoch of `steps` batches. */
async function endToEnd(data: string, arch: string, out: string): Promise<EpochRecord> {
  await train({ data, arch, out, input, batchSize: batch, itersPerEpoch: steps, epochs: 2, folds: [1], threads, lr: 0.01, schedule: 'constant' }, { progress: silent });
  const records = readFileSync(logPath(out, 1), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as EpochRecord);
  return records[1]!;
}

const root = mkdtempSync(join(tmpdir(), 'senet-ort-bench-'));
try {
  const data = join(root, 'tiles');
  const tiled = await tileDataset({ input: images, output: data });
  splitDataset({ dir: data, groupRegex: 'CRC-Prim-HE-\\d+' });
  console.log(`ort-train end to end vs bare train step: input ${input.join('x')}, batch ${batch}, ${steps} steps per measurement, ${threads} ORT threads, median of ${rounds} rounds`);
  console.log(`data: ${images} (${tiled.tiles} tiles of ${tiled.classes.length} classes, at ${input[1]}x${input[2]}, flips and rotations on, fold normalisation)`);
  console.log(`${machine()}; ${new Date().toISOString()}\n`);
  const rows: Record<string, number | string>[] = [];
  for (const arch of nets) {
    const bareRates: number[] = [];
    const trainRates: number[] = [];
    const epochRates: number[] = [];
    const waits: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const out = join(root, `${arch}-${round}`);
      const record = await endToEnd(data, arch, out);
      trainRates.push(record.imagesPerSecond);
      epochRates.push(record.images / record.seconds);
      waits.push(record.loaderWaitSeconds / record.trainSeconds);
      bareRates.push(await bare(out));
    }
    const b = median(bareRates);
    const t = median(trainRates);
    rows.push({
      network: arch,
      'bare step img/s': b.toFixed(1),
      'ort-train img/s': t.toFixed(1),
      'overhead': `${(((b - t) / b) * 100).toFixed(1)}%`,
      'loader wait': `${(median(waits) * 100).toFixed(2)}%`,
      'epoch img/s (with validation, checkpoint)': median(epochRates).toFixed(1),
    });
  }
  console.log(table(rows));
} finally {
  rmSync(root, { recursive: true, force: true });
}
