/**
 * TIFF tiles decoded in the browser as the CLI decodes them (src/data/image.ts, through libvips),
 * byte for byte: the file's largest image (the base of its pyramid, chosen by the CLI's own
 * pyramidLevels), its Orientation tag applied, gray expanded to RGB, WhiteIsZero inverted, a
 * palette looked up, associated alpha unpremultiplied, alpha flattened onto white, 16-bit samples
 * cut to their high byte.
 *
 * utif2 (photopea's UTIF.js) reads the directories and decompresses the pixels: uncompressed,
 * PackBits, LZW and Deflate, with the horizontal predictor, in strips or tiles, either byte
 * order. Its own toRGBA8 is not used: it leaves alpha unflattened, ignores associated alpha and
 * takes the high byte of a palette whose entries are 8-bit, so the samples become RGB here, with
 * libvips' arithmetic.
 *
 * What the CLI reads and this does not (BigTIFF, JPEG and other compressions, CMYK and embedded
 * ICC profiles, which libvips converts with lcms, separate colour planes, slides) is refused with
 * a reason that says so, rather than decoded into other pixels than the CLI's.
 */
import UTIF from 'utif2';
import type { IFD } from 'utif2';
import { UserError } from '../errors.ts';
import { pyramidLevels } from '../data/resolution.ts';
import type { TiffDirectory } from '../formats/tiff.ts';
import { isTiffHeader } from '../formats/tiff-header.ts';

/** A decoded image: packed 8-bit RGB, row-major, as displayed. */
export interface DecodedTiff {
  readonly width: number;
  readonly height: number;
  readonly rgb: Uint8Array;
}

/**
 * More pixels than this (8192 x 8192) make a slide: the page holds a decoded image whole, where
 * the CLI reads a band at a time. Published "larger images" (Kather 2016's 5000 x 5000) pass.
 */
export const MAX_TIFF_PIXELS: number = 1 << 26;

/** The reasons the CLI records for broken files (src/data/image.ts, formats/tiff.ts), so that rejected.csv agrees. */
export const NOT_AN_IMAGE: string = 'not an image: unrecognised format or corrupt header';
export const CORRUPT_HEADER: string = 'corrupt image: its header could not be read';
export const LOOPING: string = 'not a readable TIFF (the directory chain loops)';
export const CORRUPT_PIXELS: string = 'corrupt or truncated TIFF image: its pixels could not be decoded';

const CLI = 'senet-ort study reads it';
const DECODED = 'the browser app decodes uncompressed, PackBits, LZW and Deflate TIFF';

/** Compressions utif2 decodes here: none, LZW, Deflate (the standard and the old code), PackBits. */
const COMPRESSIONS = new Set([1, 5, 8, 32946, 32773]);
/** Compressions the CLI's libvips (sharp's build of libtiff) reads and utif2 does not here. */
const CLI_COMPRESSIONS: Readonly<Record<number, string>> = { 2: 'CCITT RLE', 3: 'CCITT Group 3', 4: 'CCITT Group 4', 6: 'old-style JPEG', 7: 'JPEG', 50001: 'WebP' };
/** Compressions neither reads (sharp's libtiff has no JPEG 2000, Zstandard, LZMA or JPEG XL). */
const OTHER_COMPRESSIONS: Readonly<Record<number, string>> = { 33003: 'Aperio JPEG 2000', 33005: 'Aperio JPEG 2000', 34712: 'JPEG 2000', 34925: 'LZMA', 50000: 'Zstandard', 50002: 'JPEG XL' };
const PHOTOMETRIC = { whiteIsZero: 0, blackIsZero: 1, rgb: 2, palette: 3 } as const;
const PHOTOMETRIC_NAMES: Readonly<Record<number, string>> = { 4: 'a transparency mask', 5: 'CMYK', 6: 'YCbCr', 8: 'CIE L*a*b*', 9: 'ICC L*a*b*', 10: 'ITU L*a*b*', 32844: 'LogL', 32845: 'LogLuv' };

/** TIFF tags read here, by number (utif2 keys them `t<number>`). */
const TAG = {
  subfileType: 254, width: 256, height: 257, bitsPerSample: 258, compression: 259, photometric: 262,
  description: 270, stripOffsets: 273, orientation: 274, samplesPerPixel: 277, rowsPerStrip: 278, stripByteCounts: 279,
  xResolution: 282, yResolution: 283, planar: 284, resolutionUnit: 296, predictor: 317, colorMap: 320,
  tileWidth: 322, tileLength: 323, tileOffsets: 324, tileByteCounts: 325, extraSamples: 338, sampleFormat: 339, iccProfile: 34675,
} as const;
/** More top-level directories than any real file has: a longer chain is a loop or garbage (as the CLI's reader says). */
const MAX_DIRECTORIES = 4096;

const refuse = (what: string): UserError => new UserError(what);

/** A tag's values as numbers ([] when absent). */
function values(ifd: IFD, tag: number): number[] {
  const v = ifd[`t${tag}`];
  return Array.isArray(v) || ArrayBuffer.isView(v) ? Array.from(v as ArrayLike<number>, Number) : [];
}
const first = (ifd: IFD, tag: number, absent: number): number => values(ifd, tag)[0] ?? absent;
const rational = (ifd: IFD, tag: number): number | null => {
  const v = ifd[`t${tag}`] as unknown as [number, number][] | undefined;
  return v?.[0] ? v[0][0] / v[0][1] : null;
};

/**
 * Walk the chain of top-level directories before utif2 does: it follows next-offsets without
 * looking, so a chain that loops would never end. BigTIFF is refused here (utif2 reads classic TIFF).
 */
function checkChain(view: DataView): void {
  const little = view.getUint8(0) === 0x49;
  if (view.getUint16(2, little) === 43) throw refuse(`BigTIFF: the browser app reads classic TIFF only; ${CLI}`);
  const seen = new Set<number>();
  for (let at = view.getUint32(4, little); at !== 0;) {
    if (seen.has(at) || seen.size >= MAX_DIRECTORIES) throw refuse(LOOPING);
    const end = at + 2 <= view.byteLength ? at + 2 + 12 * view.getUint16(at, little) : Infinity;
    if (end + 4 > view.byteLength) throw refuse(NOT_AN_IMAGE);
    seen.add(at);
    at = view.getUint32(end, little);
  }
  if (seen.size === 0) throw refuse(NOT_AN_IMAGE);
}

/** A utif2 directory in the shape of the CLI's directory reader, for pyramidLevels. */
function directory(ifd: IFD, page: number, subifd: number | null): TiffDirectory {
  const description = ifd[`t${TAG.description}`] as unknown as string[] | undefined;
  const subs = subifd === null ? ((ifd as unknown as { subIFD?: IFD[] }).subIFD ?? []) : [];
  return {
    page, subifd,
    width: first(ifd, TAG.width, 0), height: first(ifd, TAG.height, 0),
    tiled: ifd[`t${TAG.tileWidth}`] !== undefined,
    subfileType: first(ifd, TAG.subfileType, 0),
    description: typeof description?.[0] === 'string' ? description[0] : null,
    xResolution: rational(ifd, TAG.xResolution), yResolution: rational(ifd, TAG.yResolution),
    resolutionUnit: first(ifd, TAG.resolutionUnit, 2),
    orientation: first(ifd, TAG.orientation, 1),
    subifds: subs.map((s, i) => directory(s, page, i)),
  };
}

/** How the chosen image's samples are laid out, once checked to be a layout decoded here. */
interface Layout {
  readonly width: number;
  readonly height: number;
  readonly bits: 8 | 16;
  readonly samples: number;
  readonly photometric: number;
  /** Index of the alpha sample, or -1. */
  readonly alpha: number;
  readonly associated: boolean;
  readonly orientation: number;
}

/** Check the image is one decoded here, or say what it is and who reads it. */
function layout(ifd: IFD, fileBytes: number): Layout {
  const width = first(ifd, TAG.width, 0);
  const height = first(ifd, TAG.height, 0);
  if (width <= 0 || height <= 0) throw refuse(NOT_AN_IMAGE);
  const compression = first(ifd, TAG.compression, 1);
  if (!COMPRESSIONS.has(compression)) {
    const cli = CLI_COMPRESSIONS[compression];
    throw refuse(cli ? `${cli}-compressed TIFF: ${DECODED}; ${CLI}` : `${OTHER_COMPRESSIONS[compression] ?? `compression ${compression}`}-compressed TIFF: ${DECODED}`);
  }
  const photometric = first(ifd, TAG.photometric, -1);
  // libvips refuses a file without one (libtiff's guess is not taken).
  if (photometric < 0) throw refuse(CORRUPT_HEADER);
  if (photometric === 5) throw refuse(`CMYK TIFF: the CLI converts CMYK to RGB with an ICC profile, which the browser app does not; ${CLI}`);
  if (ifd[`t${TAG.iccProfile}`] !== undefined) throw refuse(`TIFF with an embedded ICC colour profile: the CLI converts its colours to sRGB with it, which the browser app does not; ${CLI}`);
  if (first(ifd, TAG.planar, 1) !== 1) throw refuse(`TIFF with separate colour planes (PlanarConfiguration 2): the browser app decodes interleaved samples only; ${CLI}`);
  const samples = first(ifd, TAG.samplesPerPixel, 1);
  const depths = values(ifd, TAG.bitsPerSample);
  const bits = depths[0] ?? 1;
  const format = first(ifd, TAG.sampleFormat, 1);
  const gray = photometric === PHOTOMETRIC.whiteIsZero || photometric === PHOTOMETRIC.blackIsZero;
  const colours = gray || photometric === PHOTOMETRIC.palette ? 1 : photometric === PHOTOMETRIC.rgb ? 3 : 0;
  const supported = colours > 0 && (samples === colours || (samples === colours + 1 && photometric !== PHOTOMETRIC.palette))
    && depths.every((d) => d === bits) && format === 1 && (bits === 8 || (bits === 16 && photometric !== PHOTOMETRIC.palette));
  if (!supported) {
    const kind = colours > 0 ? (gray ? 'gray' : photometric === PHOTOMETRIC.rgb ? 'RGB' : 'palette') : (PHOTOMETRIC_NAMES[photometric] ?? `photometric interpretation ${photometric}`);
    const sampleKind = format === 3 ? 'floating-point' : format === 2 ? 'signed' : `${depths.join('/') || bits}-bit`;
    throw refuse(`TIFF of ${kind}, ${sampleKind} samples, ${samples} per pixel: the browser app decodes 8- and 16-bit gray and RGB (with or without alpha) and 8-bit palette TIFF; ${CLI}`);
  }
  if (![1, 2].includes(first(ifd, TAG.predictor, 1))) throw refuse(`TIFF with the floating-point predictor: ${DECODED} with the horizontal predictor; ${CLI}`);
  // utif2 reads past the end of a file as zeros, and so does the CLI's libtiff where a strip is
  // stored uncompressed (it records no error): a strip or tile that is not all there is a truncated
  // file here. Uncompressed, only the bytes the pixels need count, as libtiff reads no more.
  const tiled = ifd[`t${TAG.tileWidth}`] !== undefined;
  const offsets = values(ifd, tiled ? TAG.tileOffsets : TAG.stripOffsets);
  const counts = values(ifd, tiled ? TAG.tileByteCounts : TAG.stripByteCounts);
  const pixelBytes = (samples * bits) / 8;
  const rows = Math.min(first(ifd, TAG.rowsPerStrip, height), height);
  const stored = (i: number): number => (tiled ? first(ifd, TAG.tileWidth, 0) * first(ifd, TAG.tileLength, 0) : Math.min(rows, height - i * rows) * width) * pixelBytes;
  const needed = (i: number): number => (compression === 1 ? Math.min(counts[i] ?? Infinity, stored(i)) : counts[i] ?? Number.NaN);
  if (offsets.length === 0 || offsets.some((o, i) => !(o + needed(i) <= fileBytes))) throw refuse(CORRUPT_PIXELS);
  const orientation = first(ifd, TAG.orientation, 1);
  return {
    width, height, bits, samples, photometric,
    alpha: samples > colours ? colours : -1,
    associated: samples > colours && first(ifd, TAG.extraSamples, 0) === 1,
    orientation: orientation >= 1 && orientation <= 8 ? orientation : 1,
  };
}

/**
 * Where the source pixel of output pixel (x, y) lies, as `start + x * stepX + y * stepY` (pixel
 * indices), for each EXIF/TIFF orientation: what libvips' autorot does.
 */
function orientationSteps(orientation: number, w: number, h: number): { start: number; stepX: number; stepY: number } {
  const last = (h - 1) * w;
  switch (orientation) {
    case 2: return { start: w - 1, stepX: -1, stepY: w };
    case 3: return { start: last + w - 1, stepX: -1, stepY: -w };
    case 4: return { start: last, stepX: 1, stepY: -w };
    case 5: return { start: 0, stepX: w, stepY: 1 };
    case 6: return { start: last, stepX: -w, stepY: 1 };
    case 7: return { start: last + w - 1, stepX: -w, stepY: -1 };
    case 8: return { start: w - 1, stepX: w, stepY: -1 };
    default: return { start: 0, stepX: 1, stepY: w };
  }
}

/** The palette as three 8-bit lookup tables: libvips takes a map whose entries all fit in 8 bits as 8-bit, else keeps the high byte. */
function palette(ifd: IFD): Uint8Array[] {
  const map = values(ifd, TAG.colorMap);
  if (map.length < 3 * 256) throw refuse(NOT_AN_IMAGE);
  const eight = map.every((v) => v < 256);
  return [0, 1, 2].map((c) => Uint8Array.from(map.slice(c * 256, (c + 1) * 256), (v) => (eight ? v : v >> 8)));
}

/**
 * The samples of the decoded image (utif2 leaves 16-bit samples little-endian) as packed 8-bit RGB,
 * oriented, with libvips' arithmetic: unpremultiply in float32, truncated; flatten onto white
 * (255, or 255 * 256 for 16-bit samples, as sharp scales the background) with integer division;
 * 16-bit to 8-bit by the high byte.
 */
function toRgb(data: Uint8Array, l: Layout, map: Uint8Array[] | null): DecodedTiff {
  const swap = l.orientation >= 5;
  const [width, height] = swap ? [l.height, l.width] : [l.width, l.height];
  const { start, stepX, stepY } = orientationSteps(l.orientation, l.width, l.height);
  const wide = l.bits === 16;
  const max = wide ? 65535 : 255;
  const white = wide ? 65280 : 255;
  const sample = wide ? (i: number): number => data[2 * i]! | (data[2 * i + 1]! << 8) : (i: number): number => data[i]!;
  const colour = l.photometric === PHOTOMETRIC.rgb ? [0, 1, 2] : [0, 0, 0];
  const invert = l.photometric === PHOTOMETRIC.whiteIsZero;
  const rgb = new Uint8Array(width * height * 3);
  let q = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0, s = start + y * stepY; x < width; x++, s += stepX) {
      const base = s * l.samples;
      const a = l.alpha < 0 ? max : sample(base + l.alpha);
      const factor = Math.fround(a === 0 ? 0 : max / a);
      for (let c = 0; c < 3; c++) {
        let v = map ? map[c]![sample(base)]! : sample(base + colour[c]!);
        if (invert) v = max - v;
        if (l.alpha >= 0) {
          if (l.associated) v = Math.min(max, Math.trunc(Math.fround(factor * v)));
          v = Math.floor((v * a + white * (max - a)) / max);
        }
        rgb[q++] = wide ? v >> 8 : v;
      }
    }
  }
  return { width, height, rgb };
}

/**
 * Run utif2 with console.log silenced: 4.1.0 logs the tile grid of every tiled image ("==== 5 4"),
 * which would fill the console of the user's page (the worker's own console; decoding is synchronous).
 */
function quietly<T>(work: () => T): T {
  const log = console.log;
  console.log = () => {};
  try {
    return work();
  } finally {
    console.log = log;
  }
}

/**
 * Decode a TIFF file's largest image as the CLI does, or throw a UserError whose message is the
 * reason to record (rejected.csv): what the file is, and that senet-ort study reads it where it does.
 */
export function decodeTiff(file: ArrayBuffer): DecodedTiff {
  const bytes = new Uint8Array(file);
  if (bytes.length < 8 || !isTiffHeader(bytes)) throw refuse(NOT_AN_IMAGE);
  checkChain(new DataView(file));
  let ifds: IFD[];
  try {
    // Maker notes (camera vendors' private directories) are not read: no tile needs them.
    ifds = quietly(() => (UTIF.decode as (file: ArrayBuffer, options: { parseMN: boolean; debug: boolean }) => IFD[])(file, { parseMN: false, debug: false }));
  } catch {
    throw refuse(NOT_AN_IMAGE);
  }
  if (ifds.length === 0) throw refuse(NOT_AN_IMAGE);
  const levels = pyramidLevels(ifds.map((ifd, page) => directory(ifd, page, null)));
  const base = levels[0]!;
  if (base.width * base.height > MAX_TIFF_PIXELS) {
    const pyramid = levels.length > 1 ? `, a pyramid of ${levels.length} levels` : '';
    throw refuse(`a slide (${base.width}x${base.height} px${pyramid}): the browser app decodes images of up to ${MAX_TIFF_PIXELS / 2 ** 20} Mpx (${Math.sqrt(MAX_TIFF_PIXELS)}x${Math.sqrt(MAX_TIFF_PIXELS)}) whole; ${CLI} a band at a time`);
  }
  const top = ifds[base.page]!;
  const ifd = base.subifd === null ? top : (top as unknown as { subIFD: IFD[] }).subIFD[base.subifd]!;
  const l = layout(ifd, bytes.length);
  const map = l.photometric === PHOTOMETRIC.palette ? palette(ifd) : null;
  try {
    quietly(() => UTIF.decodeImage(file, ifd));
  } catch {
    throw refuse(CORRUPT_PIXELS);
  }
  const data = ifd.data as Uint8Array | undefined;
  if (!data || data.length < l.width * l.height * l.samples * (l.bits / 8)) throw refuse(CORRUPT_PIXELS);
  return toRgb(data, l, map);
}
