// Shared by the preprocess tests: where the data lives, temporary folders, and synthetic images.
// Fixtures are made with sharp directly: these tests exercise src/preprocess/, the one sharp user.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import sharp from 'sharp';
import type { Sharp } from 'sharp';
import { KATHER_SLIDE_REGEX, splitDataset, tileDataset } from '../../src/data/index.ts';

export const REPO: string = fileURLToPath(new URL('../../', import.meta.url));
/** `<repo>/../shared/data`, where CI puts the shared data sets beside the clone. */
export const SHARED_DATA: string = join(REPO, '..', 'shared', 'data');
export const WHOLE_IMAGES: string = join(SHARED_DATA, 'histology-whole-images');
export const KATHER_FULL: string = join(SHARED_DATA, 'kather2016-crc-texture');
/** The 80-tile sample committed to the repository. */
export const SAMPLE: string = join(REPO, 'data', 'kather2016-crc-texture-sample');
/** Gitignored folder for files meant to be looked at (contact sheets). */
export const TEST_OUTPUT: string = join(REPO, 'test-output');

/** A fresh temporary folder, removed when the test ends. */
export function tempDir(t: TestContext, prefix = 'senet-ort-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A sharp pipeline over a solid colour (or a function of x, y giving RGB) of the given size. */
export function synthetic(width: number, height: number, colour: readonly number[] | ((x: number, y: number) => readonly number[])): Sharp {
  const channels = (typeof colour === 'function' ? colour(0, 0) : colour).length;
  const data = Buffer.alloc(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const c = typeof colour === 'function' ? colour(x, y) : colour;
      for (let i = 0; i < channels; i++) data[(y * width + x) * channels + i] = c[i]!;
    }
  }
  return sharp(data, { raw: { width, height, channels: channels as 1 | 2 | 3 | 4 } });
}

/** Write bytes, creating folders. */
export function put(path: string, bytes: Uint8Array | string): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, bytes);
  return path;
}

/** Tissue-like texture: pink/purple noise that no white filter drops. */
export const tissue = (x: number, y: number): number[] => [150 + ((x * 7 + y * 13) % 60), 60 + ((x * 11 + y * 5) % 50), 140 + ((x * 3 + y * 17) % 40)];

/** The embedded 80-tile sample tiled and split by slide into `<root>/tiles`; returns that folder. */
export async function splitSample(root: string): Promise<string> {
  const data = join(root, 'tiles');
  await tileDataset({ input: SAMPLE, output: data });
  splitDataset({ dir: data, groupRegex: KATHER_SLIDE_REGEX });
  return data;
}

/** Patients of patientPatches, as the ids that begin their file names. */
export const PATIENTS: readonly string[] = ['10253', '10254', '12626', '13613', '8863', '9036'];

/**
 * A small copy of the shape of published breast-histology patch sets: class folders `0` and `1` of
 * 48x48 PNG patches named `<patient>_idx5_x<X>_y<Y>_class<N>.png`, every patient in both classes,
 * 5 patches per patient and class, and 3 smaller ones cut off at slide edges (60 of the 63
 * images, 95.2%, are 48x48). Each class has its own tint, so a network can tell them apart.
 */
export async function patientPatches(root: string): Promise<string> {
  const dir = join(root, 'patches');
  const edges = new Map([['10254/0/1', [48, 30]], ['12626/1/3', [20, 48]], ['9036/1/0', [33, 41]]]);
  for (const [p, patient] of PATIENTS.entries()) {
    for (const label of [0, 1]) {
      for (let i = 0; i < 5; i++) {
        const x = 1001 + 50 * i;
        const y = 51 + 50 * p;
        const colour = (u: number, v: number): number[] => {
          const [r, g, b] = tissue(u + i * 5, v + p * 3);
          return label === 0 ? [r!, g!, b!] : [r! - 60, g! - 30, b! + 20];
        };
        const name = `${patient}_idx5_x${x}_y${y}_class${label}.png`;
        put(join(dir, String(label), name), await synthetic(48, 48, colour).png().toBuffer());
        const edge = edges.get(`${patient}/${label}/${i}`);
        if (edge) put(join(dir, String(label), `${patient}_idx5_x${x}_y${y + 2000}_class${label}.png`), await synthetic(edge[0]!, edge[1]!, colour).png().toBuffer());
      }
    }
  }
  return dir;
}
