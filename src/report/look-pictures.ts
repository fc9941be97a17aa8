/**
 * "Where they look" as pictures (looks.ts draws the figures): each chosen test tile beside each
 * network's Grad-CAM map laid over it (cam-overlay.ts), as JPEG data URIs, read and encoded with
 * sharp, which is why they live apart from the figures the browser app draws too.
 */
import { join } from 'node:path';
import { decodeTile } from '../data/decode.ts';
import { encodeJpeg } from '../data/image.ts';
import type { Looks } from '../evaluate/looks.ts';
import { camOverlay, mapMaximum } from './cam-overlay.ts';
import { LOOK_SIDE } from './looks.ts';
import type { LookPicture, LooksReport } from './looks.ts';

const dataUri = (jpeg: Buffer): string => `data:image/jpeg;base64,${jpeg.toString('base64')}`;

/**
 * The pictures of `looks`, each tile read from the data set (or given by `pixels`, packed RGB at
 * LOOK_SIDE x LOOK_SIDE), resized to LOOK_SIDE as training resizes tiles.
 */
export async function lookPictures(looks: Looks, runs: readonly string[], pixels?: (file: string) => Promise<Uint8Array>): Promise<LooksReport> {
  const read = pixels ?? ((file: string) => decodeTile(join(looks.dataDir, file), LOOK_SIDE, LOOK_SIDE));
  const tiles: LookPicture[] = [];
  for (const t of looks.tiles) {
    const rgb = await read(t.file);
    tiles.push({
      file: t.file,
      label: looks.classes[t.label]!,
      kind: t.kind,
      image: dataUri(await encodeJpeg(rgb, LOOK_SIDE, LOOK_SIDE)),
      maps: await Promise.all(t.maps.map(async (m) => ({
        predicted: looks.classes[m.predicted]!,
        probability: m.probability,
        max: mapMaximum(m.map),
        overlay: dataUri(await encodeJpeg(camOverlay(rgb, LOOK_SIDE, LOOK_SIDE, m.map, m.height, m.width), LOOK_SIDE, LOOK_SIDE)),
      }))),
    });
  }
  return { runs, layers: looks.layers, seed: looks.seed, perClass: looks.perClass, tiles, unavailable: null };
}
