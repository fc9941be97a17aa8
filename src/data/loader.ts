/**
 * Tiles to float32 NCHW batches, off the main thread.
 *
 * The main thread plans the batches (plan.ts); this loader builds them. Worker threads
 * (loader-worker.ts) decode tiles with sharp, augment them and fill the batch; onnxruntime-node
 * runs a session synchronously on the main thread, so this is what lets the next batches get
 * ready while a training step runs.
 *
 * Decoded tiles (8-bit RGB at the network's input size) live in shared memory, one slot per tile,
 * filled on first use by whichever worker needs the tile; when the data set is larger than the
 * cache budget the tiles past the budget are decoded again each time they are drawn.
 */
import { availableParallelism, totalmem } from 'node:os';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { UserError, expected } from '../errors.ts';
import type { Normalization } from '../formats/rundir.ts';
import { normalizationFromSums } from './augment.ts';
import type { BatchRequest } from './plan.ts';

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

/** What the main thread sends a worker. */
export type WorkerRequest =
  | { id: number; kind: 'batch'; indices: Int32Array; symmetries: Uint8Array; jitter: Float32Array | null; stain: Float32Array | null; mean: number[]; std: number[] }
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
      stain: request.stain,
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
