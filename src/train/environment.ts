/**
 * What this machine runs: the versions stamped into a run's config.json, and `doctor`'s check that
 * a training step runs here (and how fast).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { buildArtifacts } from '../formats/artifacts.ts';
import { writeArtifacts } from '../formats/artifacts-file.ts';
import { loadCheckpoint } from '../formats/checkpoint.ts';
import { resolveModel } from '../graph/model.ts';
import { imageLibraryVersions } from '../data/image.ts';
import type { Device } from '../infer/session.ts';
import { createSession, ortVersion } from '../infer/session.ts';
import { VERSION } from '../version.ts';
import { describeKernels, trainStepFor } from './kernels.ts';

/** Versions stamped into config.json (and printed by `doctor`). */
export function environmentVersions(): Record<string, string> {
  const image = imageLibraryVersions();
  return { senetOrt: VERSION, node: process.version, onnxruntime: ortVersion(), sharp: image.sharp, libvips: image.vips };
}

/**
 * The environment check of `doctor`: generate a small network's training step, run it twice on
 * random data and report the second step's time (the first one includes ORT's warm-up).
 */
export async function checkTrainingStep(settings: { threads: number; device: Device }, arch = 'resnet20', batch = 16): Promise<{ arch: string; batch: number; input: readonly number[]; kernels: string; seconds: number; loss: number }> {
  const config = resolveModel({ arch, classes: 8, input: [3, 32, 32] });
  const dir = mkdtempSync(join(tmpdir(), 'senet-ort-doctor-'));
  try {
    const artifacts = buildArtifacts(config);
    writeArtifacts(artifacts, dir);
    const manifest = artifacts.manifest;
    const step = await trainStepFor(dir, manifest, 'auto', settings.device);
    const session = await createSession(step.model, { ...settings, batch });
    const feeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of loadCheckpoint(join(dir, 'init.safetensors'), manifest)) feeds[name] = new ort.Tensor('float32', t.data as Float32Array, [...t.dims]);
    feeds['images'] = new ort.Tensor('float32', Float32Array.from({ length: batch * 3 * 32 * 32 }, (_, i) => Math.sin(i)), [batch, 3, 32, 32]);
    feeds['labels'] = new ort.Tensor('int64', BigInt64Array.from({ length: batch }, (_, i) => BigInt(i % 8)), [batch]);
    for (const [name, v] of [['lr', 0.01], ['momentum', 0.9], ['weight_decay', 0.0001]] as const) feeds[name] = new ort.Tensor('float32', Float32Array.of(v), []);
    let seconds = 0;
    let loss = NaN;
    for (let i = 0; i < 2; i++) {
      const start = performance.now();
      const out = await session.run(feeds);
      seconds = (performance.now() - start) / 1000;
      loss = (out['loss']!.data as Float32Array)[0]!;
    }
    await session.release();
    return { arch, batch, input: config.input, kernels: describeKernels(step.kernels), seconds, loss };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
