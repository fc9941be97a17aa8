/**
 * How tiles were prepared from the images: the resolution they were cut at, the rule that chose
 * them, and their stain normalisation. `tile` writes it into dataset.json ("preparation"), a run
 * copies it into config.json, and an exported model carries it in its metadata, so that whoever
 * applies the model to new images can prepare them the same way.
 */

/** The rule that decided which tiles of an image are tissue. */
export type TissueRule =
  | { readonly method: 'none' }
  /** The original study's: drop tiles with more than maxWhite of pixels whose R, G and B all exceed whiteThreshold. */
  | { readonly method: 'white'; readonly whiteThreshold: number; readonly maxWhite: number }
  /** A saturation mask on a thumbnail (src/data/tissue.ts): keep tiles it covers by at least minTissue. */
  | {
    readonly method: 'otsu';
    readonly channel: 'saturation';
    /** Pixels with max(R, G, B) below this count as unsaturated. */
    readonly darkBelow: number;
    /** Otsu's threshold on saturation (0-1) is kept within these. */
    readonly thresholdBounds: readonly [number, number];
    /** Thumbnail pixels per tile side, and its longest side at most. */
    readonly thumbnailPixelsPerTile: number;
    readonly thumbnailMaxSide: number;
    /** Closing then opening with a disk of this radius, in tiles. */
    readonly radiusTiles: number;
    /** Tissue regions smaller than this are dropped: µm², or null for half a tile. */
    readonly minAreaUm2: number | null;
    readonly minTissue: number;
  };

/** Stain normalisation as applied to the tiles. */
export type StainRecord =
  | { readonly method: 'none' }
  | {
    readonly method: 'macenko';
    /** `auto`: each image larger than a tile fitted once on its kept tiles, the others each on their own. */
    readonly fit: 'tile' | 'slide' | 'auto';
    readonly io: number;
    readonly alpha: number;
    readonly beta: number;
    /** Rows R, G, B; columns haematoxylin, eosin. */
    readonly stains: readonly (readonly number[])[];
    readonly maxConcentrations: readonly number[];
    /** Macenko's published reference, or the image it was fitted to. */
    readonly reference: 'Macenko 2009' | { readonly file: string; readonly sha256: string };
  }
  | {
    readonly method: 'reinhard';
    readonly fit: 'tile' | 'slide' | 'auto';
    /** CIE L*a*b* (sRGB, D65) mean and standard deviation of the target image. */
    readonly mean: readonly number[];
    readonly std: readonly number[];
    readonly target: { readonly file: string; readonly sha256: string };
  };

export interface Preparation {
  /** Micrometres per pixel of the tiles, or null when they were cut at the images' own resolution (or by --scale). */
  readonly mpp: number | null;
  /** Tile side in pixels. */
  readonly tile: number;
  readonly tissue: TissueRule;
  readonly stain: StainRecord;
}

/** What a data set made before tiles recorded their preparation is taken to be. */
export const UNRECORDED: Omit<Preparation, 'tile'> = { mpp: null, tissue: { method: 'none' }, stain: { method: 'none' } };
