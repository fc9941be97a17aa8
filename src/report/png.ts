import sharp from 'sharp';
import { UserError, expected } from '../errors.ts';

/**
 * SVG to PNG through sharp (librsvg), for the report's plots. Text is set in the fonts that
 * fontconfig finds (the plots ask for DejaVu Sans, then Liberation Sans); transparent areas are
 * flattened onto white, so the PNG looks like the SVG on a white page.
 */
export interface SvgPngOptions {
  /** Pixels per SVG user unit (default 2: sharp on a high-density screen or paper). */
  scale?: number;
}

export async function svgToPng(svg: string, options: SvgPngOptions = {}): Promise<Buffer> {
  const scale = options.scale ?? 2;
  if (!(scale > 0 && scale <= 8)) throw expected('scale from 0 (exclusive) to 8', 'scale', scale);
  try {
    // sharp's density is in dots per inch and 72 draws one user unit as one pixel.
    return await sharp(Buffer.from(svg, 'utf8'), { density: 72 * scale })
      .flatten({ background: '#ffffff' })
      .png({ compressionLevel: 9 })
      .toBuffer();
  } catch (err) {
    throw new UserError(`cannot render SVG to PNG: ${(err as Error).message}`);
  }
}
