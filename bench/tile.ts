// Tiling throughput: `node --import tsx bench/tile.ts` (needs ../shared/data beside the repository).
// Each case tiles into a fresh temporary folder, five times; the median time is reported.
import { execSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tileDataset } from '../src/data/index.ts';
import type { TileSummary } from '../src/data/index.ts';
import { imageLibraryVersions } from '../src/data/image.ts';

const DATA = fileURLToPath(new URL('../../shared/data/', import.meta.url));
const WHOLE = join(DATA, 'histology-whole-images');
const KATHER = join(DATA, 'kather2016-crc-texture');
const RUNS = 5;

/** A class folder holding links to the given images. */
function linkInput(root: string, files: readonly string[]): string {
  const input = join(root, 'in');
  mkdirSync(join(input, 'images'), { recursive: true });
  for (const f of files) symlinkSync(f, join(input, 'images', basename(f)));
  return input;
}

async function time(input: string, root: string): Promise<{ ms: number; summary: TileSummary }> {
  const times: number[] = [];
  let summary: TileSummary | undefined;
  for (let run = 0; run < RUNS; run++) {
    const output = join(root, `out-${run}`);
    const start = performance.now();
    summary = await tileDataset({ input, output });
    times.push(performance.now() - start);
    rmSync(output, { recursive: true, force: true });
  }
  times.sort((a, b) => a - b);
  return { ms: times[Math.floor(RUNS / 2)]!, summary: summary! };
}

const cases: [string, (root: string) => string][] = [
  ['CMU-1-Small-Region.svs (2220x2967 H&E, 2/3 white)', (root) => linkInput(root, [join(WHOLE, 'CMU-1-Small-Region.svs')])],
  ['skimage_ihc.png (512x512 IHC)', (root) => linkInput(root, [join(WHOLE, 'skimage_ihc.png')])],
  ['Tumor_CD31_HiRes.png (801x899 IHC, RGBA)', (root) => linkInput(root, [join(WHOLE, 'Tumor_CD31_HiRes.png')])],
  ['the three whole images together', (root) => linkInput(root, ['CMU-1-Small-Region.svs', 'skimage_ihc.png', 'Tumor_CD31_HiRes.png'].map((f) => join(WHOLE, f)))],
  ['Kather 2016 copy, 345 tiles of 150x150 TIFF (pass-through)', () => KATHER],
];

const versions = imageLibraryVersions();
console.log(`machine: ${availableParallelism()} CPUs (nproc ${execSync('nproc').toString().trim()}), node ${process.version}, sharp ${versions.sharp}, libvips ${versions.vips}`);
console.log(`date: ${execSync('date').toString().trim()}`);
console.log('options: --tile 150 (stride 150, white threshold 220, max white 0.5), default concurrency; median of 5 runs\n');
console.log('| input | grid positions | tiles written | time (ms) | tiles written / s | positions / s |');
console.log('|---|---:|---:|---:|---:|---:|');
for (const [label, make] of cases) {
  const root = mkdtempSync(join(tmpdir(), 'senet-ort-bench-'));
  try {
    const { ms, summary } = await time(make(root), root);
    const positions = summary.tiles + summary.dropped;
    console.log(`| ${label} | ${positions} | ${summary.tiles} | ${ms.toFixed(0)} | ${(summary.tiles / (ms / 1000)).toFixed(0)} | ${(positions / (ms / 1000)).toFixed(0)} |`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
