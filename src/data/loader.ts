import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { UserError, expected } from '../errors.ts';
import { parseCsv } from '../formats/csv.ts';
import { createRng } from '../util/random.ts';
import type { Augmentation } from './augment.ts';
import type { Normalization } from '../formats/rundir.ts';
import { drawAugmentation, normalizationFromSums } from './augment.ts';

/**
 * Tiles to float32 NCHW batches, off the main thread.
 *
 * The main thread plans each epoch (which tiles, in which order, with which flips and jitter) from
 * a generator seeded by (seed, fold, epoch) alone, so a resumed run replays exactly what an
 * uninterrupted one would have done. Worker threads (loader-worker.ts) decode tiles with sharp,
 * augment them and fill the batch; onnxruntime-node runs a session synchronously on the main
 * thread, so this is what lets the next batches get ready while a training step runs.
 *
 * Decoded tiles (8-bit RGB at the network's input size) live in shared memory, one slot per tile,
 * filled on first use by whichever worker needs the tile; when the data set is larger than the
 * cache budget the tiles past the budget are decoded again each time they are drawn.
 */

/** The tiles a loader serves: files inside `dir`, decoded to `width` x `height` RGB. */
export interface TileSet {
  readonly dir: string;
  readonly files: readonly string[];
  readonly width: number;
  readonly height: number;
}

export interface LoaderOptions {
  /** Worker threads (default: a quarter of the CPUs, 1 to 4). */
  readonly workers?: number;
  /** Largest memory, in bytes, for decoded tiles (default: a quarter of the machine's memory). */
  readonly cacheBytes?: number;
}

/** One batch to build: tile indices into the TileSet, one symmetry per sample, optional jitter. */
export interface BatchRequest {
  readonly indices: Int32Array;
  readonly symmetries: Uint8Array;
  /** Three factors (brightness, contrast, saturation) per sample, or null for no jitter. */
  readonly jitter: Float32Array | null;
  readonly normalization: Normalization;
}

/** What the main thread sends a worker. */
export type WorkerRequest =
  | { id: number; kind: 'batch'; indices: Int32Array; symmetries: Uint8Array; jitter: Float32Array | null; mean: number[]; std: number[] }
  | { id: number; kind: 'sums'; indices: Int32Array };

/** What a worker answers. */
export type WorkerReply = { id: number; images: Float32Array } | { id: number; sums: Float64Array } | { id: number; error: string; user: boolean };

/** The worker's start-up data: the tile set and the shared cache. */
export interface WorkerSetup {
  tiles: TileSet;
  /** Shared memory for decoded tiles: chunk c holds tiles [c * perChunk, (c + 1) * perChunk). */
  chunks: SharedArrayBuffer[];
  perChunk: number;
  /** Tiles [0, cachedTiles) have a cache slot; the rest are decoded every time. */
  cachedTiles: number;
  /** Int32 per cached tile: 1 once its slot holds the decoded pixels. */
  ready: SharedArrayBuffer;
}

/** Bytes of one shared chunk: typed arrays stay well under V8's limits. */
const CHUNK_BYTES = 1 << 30;

export function defaultWorkers(): number {
  return Math.max(1, Math.min(4, Math.floor(availableParallelism() / 4)));
}

/**
 * Start the worker script beside this file: loader-worker.js when running from dist. Running from
 * source under tsx (tests, benchmarks), Node 20 does not pass tsx's loader on to worker threads,
 * so a two-line bootstrap registers it first.
 */
function startWorker(workerData: WorkerSetup): Worker {
  const ext = extname(fileURLToPath(import.meta.url));
  const url = new URL(`./loader-worker${ext}`, import.meta.url);
  if (ext !== '.ts') return new Worker(url, { workerData });
  const tsx = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(tsx)}).then((tsx) => tsx.register()).then(() => import(${JSON.stringify(url.href)}));`;
  return new Worker(bootstrap, { eval: true, workerData });
}

interface Pending {
  resolve: (reply: WorkerReply) => void;
  reject: (err: Error) => void;
  worker: number;
}

export class TileLoader {
  readonly tiles: TileSet;
  /** How many tiles have a slot in the in-memory cache (all of them when the set fits). */
  readonly cachedTiles: number;
  readonly workerCount: number;
  #workers: Worker[];
  #inFlight: number[];
  #pending = new Map<number, Pending>();
  #nextId = 0;
  #failure: Error | null = null;

  constructor(tiles: TileSet, options: LoaderOptions = {}) {
    const workers = options.workers ?? defaultWorkers();
    if (!Number.isInteger(workers) || workers < 1) throw expected('positive integer', '--workers', workers);
    const tileBytes = tiles.width * tiles.height * 3;
    const budget = options.cacheBytes ?? Math.floor(totalmem() / 4);
    this.tiles = tiles;
    this.cachedTiles = Math.min(tiles.files.length, Math.floor(budget / tileBytes));
    this.workerCount = workers;
    const perChunk = Math.max(1, Math.floor(CHUNK_BYTES / tileBytes));
    const chunks: SharedArrayBuffer[] = [];
    for (let first = 0; first < this.cachedTiles; first += perChunk) {
      chunks.push(new SharedArrayBuffer(Math.min(perChunk, this.cachedTiles - first) * tileBytes));
    }
    const setup: WorkerSetup = { tiles: { ...tiles, files: [...tiles.files] }, chunks, perChunk, cachedTiles: this.cachedTiles, ready: new SharedArrayBuffer(4 * Math.max(1, this.cachedTiles)) };
    this.#inFlight = new Array<number>(workers).fill(0);
    this.#workers = Array.from({ length: workers }, (_, w) => {
      const worker = startWorker(setup);
      worker.on('message', (reply: WorkerReply) => this.#settle(reply));
      worker.on('error', (err) => this.#fail(new Error(`loader worker ${w} failed: ${err.stack ?? err.message}`)));
      worker.on('exit', (code) => {
        if (this.#workers.length > 0) this.#fail(new Error(`loader worker ${w} exited (code ${code})`));
      });
      return worker;
    });
  }

  #settle(reply: WorkerReply): void {
    const pending = this.#pending.get(reply.id);
    if (!pending) return;
    this.#pending.delete(reply.id);
    this.#inFlight[pending.worker]!--;
    if ('error' in reply) pending.reject(reply.user ? new UserError(reply.error) : new Error(reply.error));
    else pending.resolve(reply);
  }

  #fail(err: Error): void {
    this.#failure ??= err;
    for (const pending of this.#pending.values()) pending.reject(err);
    this.#pending.clear();
  }

  #send(request: WorkerRequest, transfer: ArrayBuffer[] = []): Promise<WorkerReply> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#workers.length === 0) return Promise.reject(new Error('TileLoader used after close()'));
    let worker = 0;
    for (let w = 1; w < this.#workers.length; w++) if (this.#inFlight[w]! < this.#inFlight[worker]!) worker = w;
    this.#inFlight[worker]!++;
    return new Promise<WorkerReply>((resolve, reject) => {
      this.#pending.set(request.id, { resolve, reject, worker });
      this.#workers[worker]!.postMessage(request, transfer);
    });
  }

  /** Build one batch: float32 [n, 3, height, width]. */
  async batch(request: BatchRequest): Promise<Float32Array> {
    const reply = await this.#send({
      id: this.#nextId++,
      kind: 'batch',
      indices: request.indices,
      symmetries: request.symmetries,
      jitter: request.jitter,
      mean: [...request.normalization.mean],
      std: [...request.normalization.std],
    });
    return (reply as { images: Float32Array }).images;
  }

  /**
   * Batches in order, keeping up to `depth` of them in flight so that the workers build the next
   * ones while the caller trains on this one.
   */
  async *stream(requests: readonly BatchRequest[], depth: number = 2 * this.workerCount + 2): AsyncGenerator<Float32Array> {
    const inFlight: Promise<Float32Array>[] = [];
    let next = 0;
    const fill = (): void => {
      while (next < requests.length && inFlight.length < depth) {
        const p = this.batch(requests[next++]!);
        p.catch(() => undefined); // awaited below in order; a caller that stops early leaves none unhandled
        inFlight.push(p);
      }
    };
    fill();
    while (inFlight.length > 0) {
      const images = await inFlight.shift()!;
      fill();
      yield images;
    }
  }

  /** The per-channel mean and std of the given tiles at input size, bytes scaled to [0, 1]. */
  async normalization(indices: readonly number[]): Promise<Normalization> {
    if (indices.length === 0) throw new Error('normalization of no tiles');
    const parts = this.workerCount * 4;
    const size = Math.ceil(indices.length / parts);
    const replies = await Promise.all(
      Array.from({ length: Math.ceil(indices.length / size) }, (_, p) =>
        this.#send({ id: this.#nextId++, kind: 'sums', indices: Int32Array.from(indices.slice(p * size, (p + 1) * size)) }),
      ),
    );
    const total = new Float64Array(6);
    for (const reply of replies) (reply as { sums: Float64Array }).sums.forEach((v, i) => (total[i]! += v));
    return normalizationFromSums(total, indices.length * this.tiles.width * this.tiles.height);
  }

  async close(): Promise<void> {
    const workers = this.#workers;
    this.#workers = [];
    this.#fail(new Error('TileLoader closed'));
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/** A 32-bit seed for one (seed, fold, epoch) stream: a murmur3-style mix of the three. */
export function streamSeed(seed: number, fold: number, epoch: number): number {
  let h = 0x2545f491;
  for (const part of [seed, fold, epoch]) {
    let k = Math.imul(part >>> 0, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export interface EpochPlan {
  /** Indices into the TileSet of the training tiles (the fold's train split). */
  readonly tiles: readonly number[];
  /** Samples to draw this epoch. */
  readonly samples: number;
  readonly batchSize: number;
  readonly seed: number;
  readonly fold: number;
  readonly epoch: number;
  readonly augmentation: Augmentation;
  readonly square: boolean;
  readonly normalization: Normalization;
}

/**
 * The batches of one epoch: `samples` draws from successive random permutations of the training
 * tiles (one pass when samples equals their count), cut into batches of `batchSize` (the last one
 * shorter when samples is not a multiple), each sample with its own augmentation.
 */
export function planEpoch(plan: EpochPlan): BatchRequest[] {
  const rng = createRng(streamSeed(plan.seed, plan.fold, plan.epoch));
  const order = new Int32Array(plan.samples);
  const n = plan.tiles.length;
  const perm = Int32Array.from(plan.tiles);
  for (let filled = 0; filled < plan.samples; filled += n) {
    for (let i = n - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      const t = perm[i]!;
      perm[i] = perm[j]!;
      perm[j] = t;
    }
    order.set(perm.subarray(0, Math.min(n, plan.samples - filled)), filled);
  }
  const batches: BatchRequest[] = [];
  const jitterOn = plan.augmentation.colorJitter > 0;
  for (let start = 0; start < plan.samples; start += plan.batchSize) {
    const indices = order.slice(start, Math.min(plan.samples, start + plan.batchSize));
    const symmetries = new Uint8Array(indices.length);
    const jitter = jitterOn ? new Float32Array(indices.length * 3) : null;
    for (let i = 0; i < indices.length; i++) {
      const draw = drawAugmentation(rng, plan.augmentation, plan.square);
      symmetries[i] = draw.symmetry;
      if (jitter && draw.jitter) jitter.set(draw.jitter, i * 3);
    }
    batches.push({ indices, symmetries, jitter, normalization: plan.normalization });
  }
  return batches;
}

/** Evaluation batches: the tiles in order, unaugmented. */
export function planEvaluation(tiles: readonly number[], batchSize: number, normalization: Normalization): BatchRequest[] {
  const batches: BatchRequest[] = [];
  for (let start = 0; start < tiles.length; start += batchSize) {
    const indices = Int32Array.from(tiles.slice(start, start + batchSize));
    batches.push({ indices, symmetries: new Uint8Array(indices.length), jitter: null, normalization });
  }
  return batches;
}

/** A folder prepared by `tile` and `split`: its classes, every tile's label, and the splits. */
export interface PreparedDataset {
  readonly dir: string;
  /** dataset.json's class list: a tile's label is its class's index here. */
  readonly classes: readonly string[];
  readonly tileSize: number | null;
  /** Label of each tile file listed in manifest.csv. */
  readonly labels: ReadonlyMap<string, number>;
  readonly splits: { readonly test: readonly string[]; readonly folds: readonly { readonly train: readonly string[]; readonly val: readonly string[] }[] };
}

function readJsonFile<T>(path: string, hint: string): T {
  if (!existsSync(path)) throw new UserError(`${path}: not found; ${hint}`);
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    throw new UserError(`${path}: not valid JSON`);
  }
}

/**
 * Read a prepared data set: dataset.json (classes), manifest.csv (each tile's class) and the splits
 * (`splitsFile`, by default the folder's splits.json). Every split tile must be in the manifest.
 */
export function readPreparedDataset(dir: string, splitsFile: string = join(dir, 'splits.json')): PreparedDataset {
  const hint = `prepare the data set first: senet-ort tile <images> ${dir} --split`;
  const dataset = readJsonFile<{ classes?: string[]; tileSize?: number }>(join(dir, 'dataset.json'), hint);
  const splits = readJsonFile<{ classes?: string[]; test?: string[]; folds?: { train: string[]; val: string[] }[] }>(splitsFile, `split the data set first: senet-ort split ${dir}`);
  const classes = dataset.classes ?? [];
  if (classes.length < 2) throw new UserError(`${join(dir, 'dataset.json')}: expected at least 2 classes but received ${classes.length}`);
  if (!Array.isArray(splits.folds) || splits.folds.length === 0 || !Array.isArray(splits.test)) throw new UserError(`${splitsFile}: expected "test" and "folds" lists (a senet-ort splits file)`);
  if (JSON.stringify(splits.classes) !== JSON.stringify(classes)) {
    throw new UserError(`${splitsFile}: its classes (${(splits.classes ?? []).join(', ')}) differ from dataset.json's (${classes.join(', ')}); split the data set again`);
  }
  const manifest = join(dir, 'manifest.csv');
  if (!existsSync(manifest)) throw new UserError(`${manifest}: not found; ${hint}`);
  const [header, ...rows] = parseCsv(readFileSync(manifest, 'utf8'));
  const fileCol = header?.indexOf('file') ?? -1;
  const classCol = header?.indexOf('class') ?? -1;
  if (fileCol < 0 || classCol < 0) throw new UserError(`${manifest}: expected "file" and "class" columns`);
  const classIndex = new Map(classes.map((c, i) => [c, i]));
  const labels = new Map<string, number>();
  for (const row of rows) {
    const label = classIndex.get(row[classCol]!);
    if (label !== undefined) labels.set(row[fileCol]!, label);
  }
  for (const file of [...splits.test, ...splits.folds.flatMap((f) => [...f.train, ...f.val])]) {
    if (!labels.has(file)) throw new UserError(`${splitsFile}: tile ${file} is not in manifest.csv with a known class; split the data set again`);
  }
  return { dir, classes, tileSize: typeof dataset.tileSize === 'number' ? dataset.tileSize : null, labels, splits: { test: splits.test, folds: splits.folds } };
}

/** Every tile the splits use, each once: test first, then the folds' tiles in order. */
export function splitFiles(dataset: PreparedDataset): string[] {
  const seen = new Set<string>();
  for (const file of dataset.splits.test) seen.add(file);
  for (const fold of dataset.splits.folds) for (const file of [...fold.train, ...fold.val]) seen.add(file);
  return [...seen];
}
