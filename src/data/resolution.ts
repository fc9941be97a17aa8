/**
 * Physical resolution (micrometres per pixel) and pyramid levels of an image, from its TIFF
 * directories: what `tile --mpp` needs to read every slide at the same magnification.
 *
 * Where a resolution comes from, in order:
 *   1. Aperio's ImageDescription (`|MPP = 0.4990|`), which .svs files carry on their first image;
 *   2. OME-XML's PhysicalSizeX/Y (with their units) in the first ImageDescription of an OME-TIFF;
 *   3. the TIFF XResolution/YResolution tags with ResolutionUnit (inch or centimetre). Writers put
 *      72 or 300 dpi there when they know nothing, so a value outside 0.02-20 µm per pixel (a
 *      microscope's range at any objective) counts as unknown.
 */
import type { TiffDirectory } from '../formats/tiff.ts';

/** Micrometres per pixel along x and y, and where they were read. */
export interface Resolution {
  readonly x: number;
  readonly y: number;
  readonly from: 'aperio' | 'ome' | 'tiff-tags' | '--source-mpp';
}

/** One decodable image of a pyramid: a top-level page or a SubIFD of one, with its size as displayed. */
export interface ImageLevel {
  readonly page: number;
  readonly subifd: number | null;
  readonly width: number;
  readonly height: number;
}

/** The range a resolution tag must fall in to be believed, in µm per pixel. */
const PLAUSIBLE_MPP: readonly [number, number] = [0.02, 20];

const OME_UNITS: Readonly<Record<string, number>> = {
  m: 1e6, cm: 1e4, mm: 1e3, 'µm': 1, 'μm': 1, um: 1, nm: 1e-3, 'Å': 1e-4, pm: 1e-6,
};

function aperioMpp(description: string): number | null {
  if (!description.startsWith('Aperio')) return null;
  const match = /\|\s*MPP\s*=\s*([0-9.eE+-]+)/.exec(description);
  const v = match ? Number(match[1]) : NaN;
  return Number.isFinite(v) && v > 0 ? v : null;
}

function omeMpp(description: string): { x: number; y: number } | null {
  if (!/<OME[\s>]/.test(description)) return null;
  const pixels = /<(?:\w+:)?Pixels\b([^>]*)>/.exec(description)?.[1];
  if (pixels === undefined) return null;
  const attribute = (name: string): string | undefined => new RegExp(`\\b${name}\\s*=\\s*"([^"]*)"`).exec(pixels)?.[1];
  const size = (axis: 'X' | 'Y'): number | null => {
    const v = Number(attribute(`PhysicalSize${axis}`));
    const unit = OME_UNITS[attribute(`PhysicalSize${axis}Unit`) ?? 'µm'];
    return Number.isFinite(v) && v > 0 && unit !== undefined ? v * unit : null;
  };
  const x = size('X');
  const y = size('Y') ?? x;
  return x !== null && y !== null ? { x, y } : null;
}

function tagMpp(d: TiffDirectory): { x: number; y: number } | null {
  const perUnit = d.resolutionUnit === 2 ? 25400 : d.resolutionUnit === 3 ? 10000 : null;
  if (perUnit === null || !d.xResolution || !d.yResolution || !(d.xResolution > 0) || !(d.yResolution > 0)) return null;
  const x = perUnit / d.xResolution;
  const y = perUnit / d.yResolution;
  const plausible = (v: number): boolean => v >= PLAUSIBLE_MPP[0] && v <= PLAUSIBLE_MPP[1];
  return plausible(x) && plausible(y) ? { x, y } : null;
}

const swaps = (orientation: number): boolean => orientation >= 5 && orientation <= 8;

/** The resolution of the first (full-resolution) image of a TIFF, as displayed, or null when unknown. */
export function tiffResolution(directories: readonly TiffDirectory[]): Resolution | null {
  const first = directories[0];
  if (!first) return null;
  const description = first.description ?? '';
  const aperio = aperioMpp(description);
  let found: Omit<Resolution, 'from'> | null = null;
  let from: Resolution['from'] = 'tiff-tags';
  if (aperio !== null) [found, from] = [{ x: aperio, y: aperio }, 'aperio'];
  else {
    const ome = omeMpp(description);
    if (ome) [found, from] = [ome, 'ome'];
    else found = tagMpp(first);
  }
  if (!found) return null;
  return swaps(first.orientation) ? { x: found.y, y: found.x, from } : { ...found, from };
}

/** An image that is not part of the pyramid: a slide label, a macro photograph, a mask. */
function isAssociated(d: TiffDirectory): boolean {
  if ((d.subfileType & 4) !== 0) return true;
  return /^Aperio[^\n]*\n\s*(label|macro)\b/i.test(d.description ?? '') || /\b(label|macro)\s+\d+x\d+\s*$/i.test(d.description ?? '');
}

/**
 * The pyramid of a TIFF, finest first. Its base is the largest top-level image that is not a
 * label, macro or mask (the first, in every slide format seen); the other levels are its SubIFDs
 * (OME-TIFF keeps its levels there) and the tiled or reduced-resolution top-level images that are
 * smaller and of the same aspect ratio within 1%, again not a label, macro or mask. Aperio's
 * thumbnail, a stripped page, is left out with the strips; a stripped file has one level.
 */
export function pyramidLevels(directories: readonly TiffDirectory[]): ImageLevel[] {
  const images = directories.filter((d) => !isAssociated(d));
  const base = (images.length > 0 ? images : directories).reduce((a, b) => (b.width * b.height > a.width * a.height ? b : a));
  const aspect = base.width / base.height;
  const candidates = [...base.subifds, ...images.filter((d) => d !== base && (d.tiled || (d.subfileType & 1) !== 0))];
  const levels = candidates.filter((d) =>
    !isAssociated(d) && d.width < base.width && d.height < base.height && Math.abs(d.width / d.height / aspect - 1) < 0.01);
  const swap = swaps(base.orientation);
  return [base, ...levels.sort((a, b) => b.width - a.width)].map((d) => (
    { page: d.page, subifd: d.subifd, width: swap ? d.height : d.width, height: swap ? d.width : d.height }));
}

/** How an image is read to reach a target pixel size: which level is decoded, and the size it is resized to. */
export interface ReadPlan {
  readonly level: ImageLevel;
  /** Size of the image that is tiled, after resizing. */
  readonly width: number;
  readonly height: number;
  /** Level-0 pixels per tiled pixel along x and y. */
  readonly factorX: number;
  readonly factorY: number;
}

/**
 * Read `levels` (finest first) so that a tiled pixel spans `downX` x `downY` level-0 pixels: from
 * the coarsest level that is still at least that fine (a level coarser by under 0.1% counts as
 * fine enough, as levels' sizes are rounded), resized to the level-0 size divided by the factors
 * (or left as it is when it is at that resolution already).
 */
export function planRead(levels: readonly ImageLevel[], downX: number, downY: number): ReadPlan {
  const base = levels[0]!;
  const width = Math.max(1, Math.round(base.width / downX));
  const height = Math.max(1, Math.round(base.height / downY));
  let level = base;
  for (const l of levels) {
    const ratioX = base.width / l.width;
    const ratioY = base.height / l.height;
    if (ratioX <= downX * 1.001 && ratioY <= downY * 1.001 && l.width >= width - 1 && l.height >= height - 1) level = l;
  }
  // A level at the target resolution (to 0.1%: its size was rounded) is read as it is: resampling it
  // by a pixel would only blur it.
  const exact = Math.abs(base.width / level.width / downX - 1) < 0.001 && Math.abs(base.height / level.height / downY - 1) < 0.001;
  const [w, h] = exact ? [level.width, level.height] : [width, height];
  return { level, width: w, height: h, factorX: base.width / w, factorY: base.height / h };
}
