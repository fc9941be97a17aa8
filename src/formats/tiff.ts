/**
 * A reader of TIFF and BigTIFF directory structure (no pixels): the image file directories (IFDs)
 * of the top-level chain and their SubIFDs, with the few tags that say what each image is and how
 * large a pixel is. libvips (through sharp) decodes the pixels; it does not expose the
 * ImageDescription or the resolution of a whole-slide file, which is why this exists.
 *
 * Only the tag headers and the values of the tags below are read, from their offsets: a 100,000 x
 * 100,000 pixel slide costs a few reads of a few kilobytes.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { UserError } from '../errors.ts';
import { isTiffHeader } from './tiff-header.ts';

/** One image file directory: an image of the file (a pyramid level, a thumbnail, a label, ...). */
export interface TiffDirectory {
  /** Position in the top-level chain (0-based); a SubIFD carries its parent's. */
  readonly page: number;
  /** Index among its parent's SubIFDs, or null for a top-level directory. */
  readonly subifd: number | null;
  readonly width: number;
  readonly height: number;
  /** Tiled (TileWidth present) rather than stored in strips. */
  readonly tiled: boolean;
  /** NewSubfileType: bit 0 a reduced-resolution copy of another image, bit 2 a transparency mask. */
  readonly subfileType: number;
  readonly description: string | null;
  /** XResolution and YResolution: pixels per ResolutionUnit. */
  readonly xResolution: number | null;
  readonly yResolution: number | null;
  /** ResolutionUnit: 1 none, 2 inch (the TIFF default), 3 centimetre. */
  readonly resolutionUnit: number;
  /** Orientation (1 when absent): 5 to 8 swap the width and height as displayed. */
  readonly orientation: number;
  readonly subifds: readonly TiffDirectory[];
}

const TAG = {
  NewSubfileType: 254, ImageWidth: 256, ImageLength: 257, ImageDescription: 270, Orientation: 274,
  XResolution: 282, YResolution: 283, ResolutionUnit: 296, TileWidth: 322, SubIFDs: 330,
} as const;

/** Bytes per value of each TIFF field type (6.0 and BigTIFF). */
const TYPE_SIZE: Readonly<Record<number, number>> = { 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8, 17: 8, 18: 8 };

/** More directories than any real file has: a longer chain is a loop or garbage. */
const MAX_DIRECTORIES = 4096;
/** Longest ImageDescription read (OME-XML of large multi-series files can be megabytes). */
const MAX_DESCRIPTION = 8 << 20;

interface Entry {
  type: number;
  count: number;
  /** Where the value lives: inside the entry when it fits, else at the offset the entry holds. */
  at: number;
}

class Reader {
  readonly size: number;
  little = true;
  big = false;

  constructor(private readonly fd: number) {
    this.size = fstatSync(fd).size;
  }

  bytes(offset: number, length: number): Buffer {
    if (offset < 0 || length < 0 || offset + length > this.size) throw this.bad(`data at ${offset} beyond the end of the file (${this.size} bytes)`);
    const out = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const n = readSync(this.fd, out, done, length - done, offset + done);
      if (n === 0) throw this.bad('file ended while reading');
      done += n;
    }
    return out;
  }

  uint(buffer: Buffer, at: number, size: number): number {
    switch (size) {
      case 1: return buffer.readUInt8(at);
      case 2: return this.little ? buffer.readUInt16LE(at) : buffer.readUInt16BE(at);
      case 4: return this.little ? buffer.readUInt32LE(at) : buffer.readUInt32BE(at);
      default: {
        const v = this.little ? buffer.readBigUInt64LE(at) : buffer.readBigUInt64BE(at);
        if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw this.bad('an offset or count beyond 2^53');
        return Number(v);
      }
    }
  }

  bad(what: string): UserError {
    return new UserError(`not a readable TIFF (${what})`);
  }
}

/** The entries of the directory at `offset`, by tag, and the offset of the next directory (0 at the end). */
function readEntries(r: Reader, offset: number): { entries: Map<number, Entry>; next: number } {
  const countSize = r.big ? 8 : 2;
  const entrySize = r.big ? 20 : 12;
  const valueSize = r.big ? 8 : 4;
  const count = r.uint(r.bytes(offset, countSize), 0, countSize);
  const block = r.bytes(offset + countSize, count * entrySize + valueSize);
  const entries = new Map<number, Entry>();
  for (let i = 0; i < count; i++) {
    const e = i * entrySize;
    const tag = r.uint(block, e, 2);
    const type = r.uint(block, e + 2, 2);
    const n = r.uint(block, e + 4, r.big ? 8 : 4);
    const size = TYPE_SIZE[type];
    if (size === undefined) continue; // an unknown type: the tag is not one of ours
    const inline = size * n <= valueSize;
    const valueAt = offset + countSize + e + (r.big ? 12 : 8);
    entries.set(tag, { type, count: n, at: inline ? valueAt : r.uint(block, e + (r.big ? 12 : 8), valueSize) });
  }
  return { entries, next: r.uint(block, count * entrySize, valueSize) };
}

/** An entry's values as numbers (integers, rationals as quotients, floats). */
function numbers(r: Reader, entry: Entry | undefined, limit = 65536): number[] {
  if (!entry) return [];
  const size = TYPE_SIZE[entry.type]!;
  const n = Math.min(entry.count, limit);
  const buffer = r.bytes(entry.at, size * n);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const at = i * size;
    switch (entry.type) {
      case 5: case 10: {
        const num = entry.type === 10 ? buffer[r.little ? 'readInt32LE' : 'readInt32BE'](at) : r.uint(buffer, at, 4);
        const den = entry.type === 10 ? buffer[r.little ? 'readInt32LE' : 'readInt32BE'](at + 4) : r.uint(buffer, at + 4, 4);
        out.push(den === 0 ? Number.NaN : num / den);
        break;
      }
      case 11: out.push(r.little ? buffer.readFloatLE(at) : buffer.readFloatBE(at)); break;
      case 12: out.push(r.little ? buffer.readDoubleLE(at) : buffer.readDoubleBE(at)); break;
      case 6: out.push(buffer.readInt8(at)); break;
      case 8: out.push(r.little ? buffer.readInt16LE(at) : buffer.readInt16BE(at)); break;
      case 9: out.push(r.little ? buffer.readInt32LE(at) : buffer.readInt32BE(at)); break;
      default: out.push(r.uint(buffer, at, size));
    }
  }
  return out;
}

function text(r: Reader, entry: Entry | undefined): string | null {
  if (!entry || entry.type !== 2) return null;
  const raw = r.bytes(entry.at, Math.min(entry.count, MAX_DESCRIPTION)).toString('utf8');
  const end = raw.indexOf('\0');
  return end >= 0 ? raw.slice(0, end) : raw;
}

function readDirectory(r: Reader, offset: number, page: number, subifd: number | null, seen: Set<number>): TiffDirectory & { next: number } {
  const { entries, next } = readEntries(r, offset);
  const first = (tag: number): number | null => numbers(r, entries.get(tag), 1)[0] ?? null;
  const width = first(TAG.ImageWidth);
  const height = first(TAG.ImageLength);
  if (width === null || height === null) throw r.bad(`directory ${page} has no ImageWidth or ImageLength`);
  const subifds: TiffDirectory[] = [];
  if (subifd === null) {
    numbers(r, entries.get(TAG.SubIFDs)).forEach((at, i) => {
      if (seen.has(at)) throw r.bad('a directory is referenced twice');
      seen.add(at);
      const { next: _, ...sub } = readDirectory(r, at, page, i, seen);
      subifds.push(sub);
    });
  }
  return {
    page, subifd, width, height,
    tiled: entries.has(TAG.TileWidth),
    subfileType: first(TAG.NewSubfileType) ?? 0,
    description: text(r, entries.get(TAG.ImageDescription)),
    xResolution: first(TAG.XResolution),
    yResolution: first(TAG.YResolution),
    resolutionUnit: first(TAG.ResolutionUnit) ?? 2,
    orientation: first(TAG.Orientation) ?? 1,
    subifds,
    next,
  };
}

/**
 * Every top-level directory of a TIFF or BigTIFF file, in file order, each with its SubIFDs. A file
 * that is not one is a UserError "not a readable TIFF (why)", without the path: callers name the file.
 */
export function readTiffDirectories(path: string): TiffDirectory[] {
  const fd = openSync(path, 'r');
  try {
    const r = new Reader(fd);
    const head = r.bytes(0, Math.min(16, r.size));
    if (!isTiffHeader(head)) throw r.bad('no TIFF header');
    r.little = head[0] === 0x49;
    r.big = r.uint(head, 2, 2) === 43;
    if (r.big && (r.uint(head, 4, 2) !== 8 || r.size < 16)) throw r.bad('BigTIFF header with an offset size other than 8');
    let offset = r.big ? r.uint(head, 8, 8) : r.uint(head, 4, 4);
    const seen = new Set<number>();
    const out: TiffDirectory[] = [];
    while (offset !== 0) {
      if (seen.has(offset) || out.length >= MAX_DIRECTORIES) throw r.bad('the directory chain loops');
      seen.add(offset);
      const { next, ...directory } = readDirectory(r, offset, out.length, null, seen);
      out.push(directory);
      offset = next;
    }
    if (out.length === 0) throw r.bad('no image directory');
    return out;
  } finally {
    closeSync(fd);
  }
}
