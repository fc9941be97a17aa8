// TIFF tiles in the page, chosen through the file input as a person chooses a folder, decoded in
// the study worker with utif2 and tiled through the page's own test hook (window.senetOrt.prepare,
// which stops before training): the Kather 2016 tiles (PackBits) and synthetic tiles written by
// sharp (no compression, LZW, Deflate, PackBits, tiled, 16-bit, gray) decode to sharp's pixels
// byte for byte, the Kather folder gets the CLI's manifest, splits and rejections, and what the
// page does not decode is rejected with its reason.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { it } from 'node:test';
import sharp from 'sharp';
import { decodeTile } from '../../../src/data/decode.ts';
import { prepareSource } from '../../../src/data/prepare.ts';
import type { Browser } from '../../helpers/browser.ts';
import { requireData } from '../../helpers/needs.ts';
import { browserSkip, leaks, openApp } from '../../helpers/web-app.ts';
import { KATHER_FULL, put, synthetic, tempDir, tissue } from '../../data/fixtures.ts';
import { sharpTiffs } from '../tiff-files.ts';

/** The hook's reply (src/web/page/protocol.ts, typed against the DOM, so not imported here). */
type DecodedFile = { source: string; width: number; height: number; sha256: string } | { source: string; error: string };
interface Prepared {
  readonly decoded: readonly DecodedFile[];
  readonly files: Record<string, string> | null;
  readonly error: string | null;
}

/** Choose `dir` in the page's folder input, then decode and tile it in the worker. */
async function choose(browser: Browser, dir: string): Promise<Prepared> {
  const { root } = (await browser.send('DOM.getDocument', { depth: 1 })) as { root: { nodeId: number } };
  const { nodeId } = (await browser.send('DOM.querySelector', { nodeId: root.nodeId, selector: '#folder' })) as { nodeId: number };
  await browser.send('DOM.setFileInputFiles', { nodeId, files: [dir] });
  const files = readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).length;
  const chosen = `${basename(dir)}: ${files} files`;
  await browser.until<boolean>(`document.getElementById('chosen').textContent === ${JSON.stringify(chosen)}`, 10_000, chosen);
  return browser.evaluate<Prepared>('window.senetOrt.prepare()');
}

/** SHA-256 of the CLI's pixels of an image file at its own size (decode.ts: as training reads a tile). */
async function cliDigest(path: string): Promise<{ width: number; height: number; sha256: string }> {
  const { autoOrient: { width, height } } = await sharp(path).metadata();
  return { width, height, sha256: createHash('sha256').update(await decodeTile(path, width, height)).digest('hex') };
}

it('decodes TIFF tiles to sharp\'s pixels, and tiles and splits a folder of them as the CLI does', { skip: browserSkip() || requireData(KATHER_FULL), timeout: 240_000 }, async (t) => {
  const { browser, server } = await openApp(t);
  await browser.open(server.url);
  await browser.until<boolean>('typeof window.senetOrt?.prepare === "function"', 30_000, 'the page\'s test hook');

  // The Kather 2016 tiles: 345 PackBits TIFFs of 150 px in 8 class folders, and two files at the top.
  const kather = await choose(browser, KATHER_FULL);
  const tiffs = kather.decoded.filter((d) => d.source.endsWith('.tif'));
  assert.equal(tiffs.length, 345);
  for (const d of tiffs) assert.deepEqual(d, { source: d.source, ...(await cliDigest(join(KATHER_FULL, d.source))) }, d.source);
  assert.equal(kather.error, null);
  const cli = join(tempDir(t), 'data');
  await prepareSource({ source: KATHER_FULL, output: cli });
  for (const file of ['manifest.csv', 'splits.json', 'rejected.csv']) assert.equal(kather.files![file], readFileSync(join(cli, file), 'utf8'), file);

  // Synthetic tiles, and TIFFs the page leaves to the CLI.
  const dir = join(tempDir(t), 'synthetic');
  for (const [name, bytes] of Object.entries(await sharpTiffs())) put(join(dir, 'decoded', name), bytes);
  const image = synthetic(48, 48, tissue);
  put(join(dir, 'decoded', 'tiled.tif'), await image.clone().tiff({ compression: 'lzw', tile: true, tileWidth: 16, tileHeight: 16 }).toBuffer());
  put(join(dir, 'refused', 'jpeg.tif'), await image.clone().tiff({ compression: 'jpeg' }).toBuffer());
  put(join(dir, 'refused', 'big.tiff'), await image.clone().tiff({ compression: 'lzw', bigtiff: true }).toBuffer());
  // A slide's file name: the page tells a TIFF by its header, as the CLI does.
  put(join(dir, 'refused', 'region.svs'), await image.clone().tiff({ compression: 'jpeg', tile: true, tileWidth: 16, tileHeight: 16 }).toBuffer());
  const synthetic_ = await choose(browser, dir);
  const decoded = synthetic_.decoded.filter((d) => d.source.startsWith('decoded/'));
  assert.deepEqual(decoded.map((d) => d.source).sort(), ['16-bit.tif', 'deflate.tif', 'gray.tif', 'lzw.tif', 'none.tif', 'packbits.tif', 'tiled.tif'].map((f) => `decoded/${f}`));
  for (const d of decoded) assert.deepEqual(d, { source: d.source, ...(await cliDigest(join(dir, d.source))) }, d.source);
  const reasons = Object.fromEntries(synthetic_.decoded.filter((d) => 'error' in d).map((d) => [d.source, (d as { error: string }).error]));
  const jpeg = 'JPEG-compressed TIFF: the browser app decodes uncompressed, PackBits, LZW and Deflate TIFF; senet-ort study reads it';
  assert.deepEqual(reasons, {
    'refused/jpeg.tif': jpeg,
    'refused/big.tiff': 'BigTIFF: the browser app reads classic TIFF only; senet-ort study reads it',
    'refused/region.svs': jpeg,
  });
  assert.deepEqual(readdirSync(join(dir, 'refused')).length, 3);

  // utif2's own logging (the tile grid of a tiled file) stays out of the user's console.
  assert.deepEqual(browser.console.filter((line) => /====/.test(line)), []);
  assert.deepEqual(browser.problems, []);
  assert.deepEqual(leaks(browser.requests, new URL(server.url).origin), []);
});
