// A loader worker (see loader.ts): decodes tiles into the shared cache, then builds batches from it.
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { UserError } from '../errors.ts';
import { decodeTileInto } from './decode.ts';
import { channelSums, jitterStain, writeSample } from './augment.ts';
import type { WorkerReply, WorkerRequest, WorkerSetup } from './loader.ts';

const setup = workerData as WorkerSetup;
const { tiles } = setup;
const tileBytes = tiles.width * tiles.height * 3;
const ready = new Int32Array(setup.ready);
const chunks = setup.chunks.map((c) => new Uint8Array(c));
/** Decodes in flight at once in this worker (sharp spreads them over libuv's thread pool). */
const DECODE_CONCURRENCY = 4;

/** The tile's decoded pixels: its cache slot (decoded on first use), or a fresh decode. */
async function pixels(index: number): Promise<Uint8Array> {
  const path = join(tiles.dir, tiles.files[index]!);
  if (index >= setup.cachedTiles) {
    const out = new Uint8Array(tileBytes);
    await decodeTileInto(path, tiles.width, tiles.height, out);
    return out;
  }
  const chunk = Math.floor(index / setup.perChunk);
  const start = (index - chunk * setup.perChunk) * tileBytes;
  const slot = chunks[chunk]!.subarray(start, start + tileBytes);
  if (Atomics.load(ready, index) !== 1) {
    // Two workers may decode the same tile at once; both write the same bytes, so that is harmless.
    const decoded = new Uint8Array(tileBytes);
    await decodeTileInto(path, tiles.width, tiles.height, decoded);
    slot.set(decoded);
    Atomics.store(ready, index, 1);
  }
  return slot;
}

/** Run `work` on each index with a few decodes in flight; results in order. */
async function eachTile<T>(indices: Int32Array, work: (rgb: Uint8Array, i: number) => T): Promise<T[]> {
  const results = new Array<T>(indices.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < indices.length) {
      const i = next++;
      results[i] = work(await pixels(indices[i]!), i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(DECODE_CONCURRENCY, indices.length) }, lane));
  return results;
}

async function handle(request: WorkerRequest): Promise<{ reply: WorkerReply; transfer: ArrayBuffer[] }> {
  if (request.kind === 'sums') {
    const sums = new Float64Array(6);
    const perTile = await eachTile(request.indices, (rgb) => channelSums(rgb));
    for (const s of perTile) s.forEach((v, c) => (sums[c]! += v));
    return { reply: { id: request.id, sums }, transfer: [sums.buffer] };
  }
  const plane = 3 * tiles.width * tiles.height;
  const images = new Float32Array(request.indices.length * plane);
  const norm = { mean: request.mean as [number, number, number], std: request.std as [number, number, number] };
  await eachTile(request.indices, (rgb, i) => {
    const j = request.jitter;
    const jitter: [number, number, number] | null = j ? [j[i * 3]!, j[i * 3 + 1]!, j[i * 3 + 2]!] : null;
    const stained = request.stain ? jitterStain(rgb, request.stain.subarray(i * 6, i * 6 + 6)) : rgb;
    writeSample(stained, tiles.width, tiles.height, request.symmetries[i]!, jitter, norm, images, i * plane);
  });
  return { reply: { id: request.id, images }, transfer: [images.buffer] };
}

parentPort!.on('message', (request: WorkerRequest) => {
  handle(request).then(
    ({ reply, transfer }) => parentPort!.postMessage(reply, transfer),
    (err: unknown) => {
      const user = err instanceof UserError;
      parentPort!.postMessage({ id: request.id, error: user ? (err as Error).message : String((err as Error)?.stack ?? err), user } satisfies WorkerReply);
    },
  );
});
