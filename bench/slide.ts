/**
 * Whole-slide prediction speed and memory: `predict --out` (src/slide) against the Python way
 * (bench/slide_predict_pytorch.py: OpenSlide, NumPy and PyTorch eager on the same weights), in
 * tiles predicted per second, each in a process of its own, run in turn. senet-ort's figure is
 * given twice: to the last prediction (what the Python loop does), and with its GeoJSON, CSV and
 * maps written (which the Python loop does not make).
 *
 *   node --import tsx bench/slide.ts [--arch se_resnet20] [--input 64] [--threads 2] [--batch 32]
 *       [--runs 3] [--big 20000] [--huge]
 *
 * Slides: CMU-1-Small-Region.svs (../shared/data), and a pyramid of about --big x --big pixels that
 * vips writes by repeating that region (JPEG tiles, with its resolution); --huge adds a 100,000 x
 * 100,000 pyramid and measures senet-ort's peak memory on it (no Python run: it takes an hour).
 * The model: `arch` trained for one epoch on the 80 embedded Kather tiles (150 px, white rule
 * recorded), fold 1 exported. Needs Debian's libvips-tools, python3-openslide and python3-torch.
 * A child run (`--child model slide`) prints one JSON line: tiles, seconds, peak RSS.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import onnxProto from 'onnx-proto';
import { tileDataset } from '../src/data/dataset.ts';
import { splitDataset } from '../src/data/split.ts';
import { KATHER_SLIDE_REGEX } from '../src/data/groups.ts';
import { train } from '../src/train/trainer.ts';
import { exportRun } from '../src/deploy/export.ts';
import { decodeModel } from '../src/formats/protobuf.ts';
import { predictSlides } from '../src/slide/slides.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SVS = join(ROOT, '..', 'shared', 'data', 'histology-whole-images', 'CMU-1-Small-Region.svs');
const PNG = join(ROOT, '..', 'shared', 'data', 'histology-whole-images', 'CMU-1-Small-Region.png');
const QUIET = { line: () => undefined, step: () => undefined, status: () => undefined, clear: () => undefined };

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
}

async function child(model: string, slide: string): Promise<void> {
  const out = mkdtempSync(join(tmpdir(), 'bench-slide-out-'));
  const started = performance.now();
  // The progress callback's last call comes when the last tile is predicted, before the maps are drawn.
  let predicted = 0;
  const { results, failures } = await predictSlides(model, [slide], {
    out, threads: Number(arg('threads', '2')), batch: Number(arg('batch', '32')),
    progress: (_, done, total) => { if (done === total) predicted = performance.now(); },
  });
  const seconds = (performance.now() - started) / 1000;
  const predictSeconds = (predicted - started) / 1000;
  rmSync(out, { recursive: true, force: true });
  if (failures.length) throw new Error(failures.join('\n'));
  const tiles = results[0]!.summary.grid.tiles;
  process.stdout.write(`${JSON.stringify({
    tiles, positions: results[0]!.summary.grid.positions, seconds: +seconds.toFixed(3), tiles_per_s: +(tiles / seconds).toFixed(2),
    predict_tiles_per_s: +(tiles / predictSeconds).toFixed(2), peak_rss_mb: +(process.resourceUsage().maxRSS / 1024).toFixed(1),
  })}\n`);
}

/** The model (cached under the temp folder by arch and input): one epoch on the Kather sample, fold 1 exported. */
async function model(cache: string, arch: string, input: number): Promise<{ model: string; checkpoint: string; normalization: string }> {
  const run = join(cache, `run-${arch}-${input}`);
  const file = join(cache, `${arch}-${input}.onnx`);
  const checkpoint = join(run, 'fold-1', 'checkpoints', 'epoch-1.safetensors');
  if (!existsSync(file)) {
    const data = join(cache, 'tiles');
    if (!existsSync(join(data, 'splits.json'))) {
      await tileDataset({ input: join(ROOT, 'data', 'kather2016-crc-texture-sample'), output: data });
      splitDataset({ dir: data, groupRegex: KATHER_SLIDE_REGEX });
    }
    await train({ data, arch, input: [3, input, input], epochs: 1, batchSize: 16, folds: [1], threads: 2, workers: 1, out: run }, { progress: QUIET });
    const exported = join(cache, `${arch}-${input}.exported.onnx`);
    await exportRun({ run, fold: 1, checkpoint: 'last', out: exported, threads: 2 });
    // The Kather tiles were ready-made; on slides the model applies the study's white rule.
    const m = decodeModel(readFileSync(exported));
    m.metadataProps = [...(m.metadataProps ?? []).filter((p) => p.key !== 'tissue_detection'), new onnxProto.onnx.StringStringEntryProto({ key: 'tissue_detection', value: JSON.stringify({ method: 'white', whiteThreshold: 220, maxWhite: 0.5 }) })];
    writeFileSync(file, onnxProto.onnx.ModelProto.encode(m).finish());
  }
  return { model: file, checkpoint, normalization: join(run, 'fold-1', 'normalization.json') };
}

/** A JPEG-tiled pyramid of CMU-1-Small-Region repeated to about `side` x `side`, at its 0.499 µm/px. */
function pyramid(cache: string, side: number): string {
  const file = join(cache, `cmu-${side}.tif`);
  if (existsSync(file)) return file;
  const across = Math.ceil(side / 2220);
  const down = Math.ceil(side / 2967);
  // One vips pipeline, replicate into tiffsave: the full-size image is never on disk or in memory.
  const options = 'tile,tile-width=256,tile-height=256,pyramid,compression=jpeg,Q=85,bigtiff,xres=2004.008,yres=2004.008';
  const r = spawnSync('vips', ['replicate', PNG, `${file}[${options}]`, String(across), String(down)], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`vips replicate into ${file} failed`);
  return file;
}

function runChild(modelPath: string, slide: string): Record<string, number> {
  const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', modelPath, slide, '--threads', arg('threads', '2'), '--batch', arg('batch', '32')], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, number>;
}

function runPython(m: { checkpoint: string; normalization: string }, slide: string, arch: string): Record<string, number> {
  const r = spawnSync('/usr/bin/python3', [join(ROOT, 'bench', 'slide_predict_pytorch.py'), '--slide', slide, '--checkpoint', m.checkpoint, '--normalization', m.normalization, '--arch', arch, '--threads', arg('threads', '2'), '--batch', arg('batch', '32')], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, number>;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  if (process.argv.includes('--child')) {
    const i = process.argv.indexOf('--child');
    return child(process.argv[i + 1]!, process.argv[i + 2]!);
  }
  const arch = arg('arch', 'se_resnet20');
  const input = Number(arg('input', '64'));
  const runs = Number(arg('runs', '3'));
  const cache = join(tmpdir(), 'senet-ort-bench-slide');
  mkdirSync(cache, { recursive: true });
  const m = await model(cache, arch, input);
  const slides = [SVS, pyramid(cache, Number(arg('big', '20000')))];
  console.log(`# ${new Date().toISOString()}  ${cpus()[0]?.model} x${cpus().length}  ${arch} at 3x${input}x${input} from 150 px tiles, batch ${arg('batch', '32')}, ${arg('threads', '2')} threads`);
  console.log('slide | tiles (of positions) | senet-ort tiles/s, maps written | senet-ort tiles/s, to the last prediction | PyTorch tiles/s | ratio (maps written) | ratio (prediction) | senet-ort peak MB | PyTorch peak MB');
  for (const slide of slides) {
    const ours: Record<string, number>[] = [];
    const theirs: Record<string, number>[] = [];
    for (let r = 0; r < runs; r++) {
      ours.push(runChild(m.model, slide));
      theirs.push(runPython(m, slide, arch));
    }
    if (ours[0]!['tiles'] !== theirs[0]!['tiles']) console.log(`# note: ${ours[0]!['tiles']} tiles kept here, ${theirs[0]!['tiles']} by the Python loop`);
    const a = median(ours.map((o) => o['tiles_per_s']!));
    const p = median(ours.map((o) => o['predict_tiles_per_s']!));
    const b = median(theirs.map((o) => o['tiles_per_s']!));
    console.log(`${slide.split('/').at(-1)} | ${ours[0]!['tiles']} (of ${ours[0]!['positions']}) | ${a} | ${p} | ${b} | ${(a / b).toFixed(2)} | ${(p / b).toFixed(2)} | ${Math.max(...ours.map((o) => o['peak_rss_mb']!))} | ${Math.max(...theirs.map((o) => o['peak_rss_mb']!))}`);
  }
  if (process.argv.includes('--huge')) {
    const huge = pyramid(cache, 100000);
    const o = runChild(m.model, huge);
    console.log(`${huge.split('/').at(-1)} | ${o['tiles']} (of ${o['positions']}) | ${o['tiles_per_s']} | ${o['predict_tiles_per_s']} | - | - | - | ${o['peak_rss_mb']} | -`);
  }
}

await main();
