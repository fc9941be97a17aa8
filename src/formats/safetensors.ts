/**
 * The safetensors format (Hugging Face): an 8-byte little-endian header length, a JSON header
 * mapping each name to dtype, shape and byte offsets, then the raw little-endian data. PyTorch
 * reads it with `safetensors.torch.load_file`, so weights travel both ways. Bytes in and out only:
 * safetensors-file.ts reads and writes the files.
 */
import type { DType, Tensor } from '../graph/ir.ts';
import { numel } from '../graph/ir.ts';
import { allocate } from '../graph/tensor.ts';
import { UserError } from '../errors.ts';

const CODES: Record<DType, string> = { float32: 'F32', int64: 'I64', int32: 'I32', bool: 'BOOL' };
const BYTES: Record<DType, number> = { float32: 4, int64: 8, int32: 4, bool: 1 };
const DTYPES = Object.fromEntries(Object.entries(CODES).map(([k, v]) => [v, k as DType])) as Record<string, DType>;

export type TensorMap = Map<string, Tensor>;

/** IEEE half precision to a number. */
function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

const BF16_BITS = new Uint32Array(1);
const BF16_VALUE = new Float32Array(BF16_BITS.buffer);

/** Dtypes read as float32 (decoding only): F16, BF16 (the top half of a float32) and F64. */
const WIDENED: Readonly<Record<string, { bytes: number; read: (v: DataView, i: number) => number }>> = {
  F16: { bytes: 2, read: (v, i) => halfToNumber(v.getUint16(2 * i, true)) },
  BF16: { bytes: 2, read: (v, i) => { BF16_BITS[0] = v.getUint16(2 * i, true) << 16; return BF16_VALUE[0]!; } },
  F64: { bytes: 8, read: (v, i) => v.getFloat64(8 * i, true) },
};

export function encodeSafetensors(tensors: ReadonlyMap<string, Tensor>, metadata: Readonly<Record<string, string>> = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header['__metadata__'] = metadata;
  let offset = 0;
  for (const [name, t] of tensors) {
    const size = t.data.byteLength;
    header[name] = { dtype: CODES[t.dtype], shape: [...t.dims], data_offsets: [offset, offset + size] };
    offset += size;
  }
  const text = new TextEncoder().encode(JSON.stringify(header));
  // Spaces pad the header so the data stays 8-byte aligned.
  const head = new Uint8Array(text.length + ((8 - (text.length % 8)) % 8)).fill(0x20);
  head.set(text);
  const out = new Uint8Array(8 + head.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let at = 8 + head.length;
  for (const t of tensors.values()) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  return out;
}

export function decodeSafetensors(bytes: Uint8Array, source = 'safetensors'): { tensors: TensorMap; metadata: Record<string, string> } {
  const bad = (why: string): UserError => new UserError(`${source}: not a valid safetensors file (${why})`);
  if (bytes.length < 8) throw bad('shorter than its 8-byte header length');
  const headerLength = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (headerLength > bytes.length - 8) throw bad('header runs past the end of the file');
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
  } catch {
    throw bad('header is not JSON');
  }
  const base = 8 + headerLength;
  const metadata = (header['__metadata__'] ?? {}) as unknown as Record<string, string>;
  const tensors: TensorMap = new Map();
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [start, end] = entry.data_offsets;
    const n = numel(entry.shape);
    const widen = WIDENED[entry.dtype];
    if (widen) {
      // Published weights in half or double precision: read as float32, what every graph takes.
      if (end - start !== n * widen.bytes || base + end > bytes.length) throw bad(`tensor ${name} has inconsistent offsets`);
      const view = new DataView(bytes.buffer, bytes.byteOffset + base + start, end - start);
      const data = new Float32Array(n);
      for (let i = 0; i < n; i++) data[i] = widen.read(view, i);
      tensors.set(name, { dtype: 'float32', dims: entry.shape, data });
      continue;
    }
    const dtype = DTYPES[entry.dtype];
    if (!dtype) throw bad(`tensor ${name} has unsupported dtype ${entry.dtype}`);
    if (end - start !== n * BYTES[dtype] || base + end > bytes.length) throw bad(`tensor ${name} has inconsistent offsets`);
    const data = allocate(dtype, n);
    new Uint8Array(data.buffer).set(bytes.subarray(base + start, base + end));
    tensors.set(name, { dtype, dims: entry.shape, data });
  }
  return { tensors, metadata };
}
