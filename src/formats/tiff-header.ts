// Apart from the directory reader (tiff.ts reads files with node:fs), so that the browser app tells TIFF by its header as the CLI does.

/** Whether the first bytes are a TIFF or BigTIFF header. */
export function isTiffHeader(head: Uint8Array): boolean {
  const order = String.fromCharCode(head[0] ?? 0, head[1] ?? 0);
  if (order !== 'II' && order !== 'MM') return false;
  const magic = order === 'II' ? (head[2] ?? 0) | ((head[3] ?? 0) << 8) : ((head[2] ?? 0) << 8) | (head[3] ?? 0);
  return magic === 42 || magic === 43;
}
