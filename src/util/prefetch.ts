/**
 * Run an async iterable ahead of its consumer: up to `depth` items are being made while the caller
 * works on the current one. Used where the making (decoding on libvips' threads) can overlap the
 * using (an ONNX Runtime session, which runs on the main thread).
 */
export async function* prefetch<T>(source: AsyncIterable<T>, depth: number): AsyncGenerator<T> {
  const it = source[Symbol.asyncIterator]();
  const queue: Promise<IteratorResult<T>>[] = [];
  const pull = (): void => {
    const next = it.next();
    next.catch(() => undefined); // awaited in turn below; until then a failure must not count as unhandled
    queue.push(next);
  };
  try {
    for (;;) {
      while (queue.length < depth) pull();
      const result = await queue.shift()!;
      if (result.done) return;
      yield result.value;
    }
  } finally {
    await it.return?.(undefined);
  }
}
