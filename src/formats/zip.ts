/**
 * ZIP archives, as much of the format (PKWARE APPNOTE 6.3) as a run folder needs: files stored
 * uncompressed (tiles are PNG, checkpoints float noise: deflate would gain little), with CRC-32,
 * `/` paths and a fixed time, so the same files give the same bytes. The browser app writes its
 * run folder as one; `readZip` reads such archives back (the tests, and anything unpacking one).
 * Archives over 4 GiB would need ZIP64 and are refused.
 */
import { UserError } from '../errors.ts';

export interface ZipEntry {
  /** Relative path with `/`, no leading `/` and no `..`. */
  readonly path: string;
  readonly data: Uint8Array;
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (ISO 3309, the one ZIP and PNG use). */
export function crc32(data: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const LOCAL = 0x04034b50;
const CENTRAL = 0x02014b50;
const END = 0x06054b50;
/** 1980-01-01 00:00, the earliest DOS date: no clock in the bytes. */
const DOS_DATE = (0 << 9) | (1 << 5) | 1;
const UTF8_NAMES = 1 << 11;
const LIMIT = 0xffffffff;

function checkPath(path: string): void {
  if (path === '' || path.startsWith('/') || path.includes('\\') || path.split('/').some((p) => p === '..' || p === '')) {
    throw new UserError(`zip: expected a relative path with / for an entry but received ${JSON.stringify(path)}`);
  }
}

/** The archive of `entries`, in their order. */
export function writeZip(entries: readonly ZipEntry[]): Uint8Array {
  const encoder = new TextEncoder();
  const names = entries.map((e) => {
    checkPath(e.path);
    return encoder.encode(e.path);
  });
  const size = entries.reduce((n, e, i) => n + 30 + names[i]!.length + e.data.length + 46 + names[i]!.length, 22);
  if (size > LIMIT || entries.length > 0xffff) throw new UserError(`zip: ${entries.length} files of ${size} bytes in all; archives over 4 GiB or 65535 files are not supported`);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let at = 0;
  const offsets: number[] = [];
  const crcs = entries.map((e) => crc32(e.data));
  const header = (signature: number, i: number, central: boolean): void => {
    const e = entries[i]!;
    view.setUint32(at, signature, true);
    at += 4;
    if (central) {
      view.setUint16(at, 20, true); // made by: version 2.0
      at += 2;
    }
    view.setUint16(at, 20, true); // version needed
    view.setUint16(at + 2, UTF8_NAMES, true);
    view.setUint16(at + 4, 0, true); // stored
    view.setUint16(at + 6, 0, true); // time 00:00
    view.setUint16(at + 8, DOS_DATE, true);
    view.setUint32(at + 10, crcs[i]!, true);
    view.setUint32(at + 14, e.data.length, true);
    view.setUint32(at + 18, e.data.length, true);
    view.setUint16(at + 22, names[i]!.length, true);
    view.setUint16(at + 24, 0, true); // extra
    at += 26;
    if (central) {
      view.setUint16(at, 0, true); // comment
      view.setUint16(at + 2, 0, true); // disk
      view.setUint16(at + 4, 0, true); // internal attributes
      view.setUint32(at + 6, 0o100644 << 16, true); // external: a regular file, rw-r--r--
      view.setUint32(at + 10, offsets[i]!, true);
      at += 14;
    }
    out.set(names[i]!, at);
    at += names[i]!.length;
  };
  entries.forEach((e, i) => {
    offsets.push(at);
    header(LOCAL, i, false);
    out.set(e.data, at);
    at += e.data.length;
  });
  const central = at;
  entries.forEach((_, i) => header(CENTRAL, i, true));
  view.setUint32(at, END, true);
  view.setUint16(at + 4, 0, true);
  view.setUint16(at + 6, 0, true);
  view.setUint16(at + 8, entries.length, true);
  view.setUint16(at + 10, entries.length, true);
  view.setUint32(at + 12, at - central, true);
  view.setUint32(at + 16, central, true);
  view.setUint16(at + 20, 0, true);
  return out;
}

/** The files of a stored (uncompressed) archive, from its central directory; `source` names it in errors. */
export function readZip(bytes: Uint8Array, source = 'zip'): ZipEntry[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let end = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 0xffff); i--) {
    if (view.getUint32(i, true) === END) {
      end = i;
      break;
    }
  }
  if (end < 0) throw new UserError(`${source}: not a zip archive (no end of central directory)`);
  const count = view.getUint16(end + 10, true);
  let at = view.getUint32(end + 16, true);
  const decoder = new TextDecoder();
  const entries: ZipEntry[] = [];
  for (let n = 0; n < count; n++) {
    if (at + 46 > bytes.length || view.getUint32(at, true) !== CENTRAL) throw new UserError(`${source}: damaged central directory at entry ${n + 1}`);
    const method = view.getUint16(at + 10, true);
    const crc = view.getUint32(at + 16, true);
    const size = view.getUint32(at + 20, true);
    const nameLength = view.getUint16(at + 28, true);
    const extra = view.getUint16(at + 30, true);
    const comment = view.getUint16(at + 32, true);
    const local = view.getUint32(at + 42, true);
    const path = decoder.decode(bytes.subarray(at + 46, at + 46 + nameLength));
    at += 46 + nameLength + extra + comment;
    if (path.endsWith('/')) continue;
    checkPath(path);
    if (method !== 0) throw new UserError(`${source}: ${path} is compressed (method ${method}); only stored entries are read`);
    if (view.getUint32(local, true) !== LOCAL) throw new UserError(`${source}: ${path}: damaged local header`);
    const start = local + 30 + view.getUint16(local + 26, true) + view.getUint16(local + 28, true);
    const data = bytes.subarray(start, start + size);
    if (data.length !== size || crc32(data) !== crc) throw new UserError(`${source}: ${path}: CRC mismatch (damaged or truncated archive)`);
    entries.push({ path, data });
  }
  return entries;
}
