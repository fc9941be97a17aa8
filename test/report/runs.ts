// A tiny trained pair for the end-to-end tests: 36 synthetic 24x24 tiles of three colours, a 25%
// test split and 2 folds, resnet20 and se_resnet20 trained for 2 epochs at 3x16x16 (a few seconds).
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { tileDataset } from '../../src/data/dataset.ts';
import { splitDataset } from '../../src/data/split.ts';
import type { Progress } from '../../src/train/progress.ts';
import { train } from '../../src/train/trainer.ts';

const COLOURS: Record<string, readonly number[]> = { blue: [70, 80, 200], green: [60, 180, 80], red: [200, 60, 60] };

const QUIET: Progress = { line: () => undefined, step: () => undefined, status: () => undefined, clear: () => undefined };

/** Tiles and splits in `<root>/tiles`; returns that folder. */
export async function tinyDataset(root: string): Promise<string> {
  for (const [name, c] of Object.entries(COLOURS)) {
    mkdirSync(join(root, 'images', name), { recursive: true });
    for (let i = 0; i < 12; i++) {
      const data = Buffer.alloc(24 * 24 * 3);
      for (let p = 0; p < 24 * 24; p++) for (let k = 0; k < 3; k++) data[p * 3 + k] = Math.max(0, Math.min(255, c[k]! + ((p * 7 + i * 13 + k * 5) % 90) - 45));
      await sharp(data, { raw: { width: 24, height: 24, channels: 3 } }).png().toFile(join(root, 'images', name, `img${i}.png`));
    }
  }
  const tiles = join(root, 'tiles');
  await tileDataset({ input: join(root, 'images'), output: tiles, tile: 24, concurrency: 2 });
  splitDataset({ dir: tiles, testFraction: 0.25, folds: 2, seed: 0 });
  return tiles;
}

/** resnet20 (A) and se_resnet20 (B) trained on the same tiny data set, under `<root>/runs/`. */
export async function trainedPair(root: string): Promise<{ a: string; b: string; data: string }> {
  const data = await tinyDataset(root);
  const runs: string[] = [];
  for (const arch of ['resnet20', 'se_resnet20']) {
    const out = join(root, 'runs', arch);
    await train({ data, arch, input: [3, 16, 16], epochs: 2, batchSize: 8, lr: 0.05, threads: 1, workers: 1, seed: 1, out }, { progress: QUIET });
    runs.push(out);
  }
  return { a: runs[0]!, b: runs[1]!, data };
}

/**
 * A copy of an evaluated run whose fold accuracies in metrics.json are replaced: comparisons with
 * a known answer, since the corrected t-test's verdict depends only on the fold differences.
 */
export function withFoldAccuracies(run: string, dest: string, accuracies: readonly number[]): string {
  cpSync(run, dest, { recursive: true });
  const path = join(dest, 'metrics.json');
  const metrics = JSON.parse(readFileSync(path, 'utf8')) as { folds: { metrics: { accuracy: number } }[] };
  if (metrics.folds.length !== accuracies.length) throw new Error(`${path}: ${metrics.folds.length} folds, ${accuracies.length} accuracies given`);
  metrics.folds.forEach((f, k) => (f.metrics.accuracy = accuracies[k]!));
  writeFileSync(path, JSON.stringify(metrics, null, 2));
  return dest;
}
