// The page as a person uses it: choose a folder of class folders (here through the file input, as
// the DevTools protocol sets it), set the options, train and compare. PNG, JPEG and WebP tiles are
// decoded by the browser and an LZW TIFF by utif2; a JPEG-compressed TIFF and a file at the top
// level are rejected with their reasons.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import type { TestContext } from 'node:test';
import { readZip } from '../../../src/formats/zip.ts';
import type { StudySummary } from '../../../src/web/study.ts';
import { put, synthetic, tempDir, tissue } from '../../data/fixtures.ts';
import { browserSkip, leaks, openApp } from '../../helpers/web-app.ts';

/** Three classes of 8 tiles of 48 px each, in three formats, two TIFFs (one decoded, one not) and a stray file. */
async function folder(root: string): Promise<string> {
  const dir = join(root, 'my tiles');
  const tints = [[0, 0, 0], [-60, -30, 20], [40, -40, -40]];
  for (const [c, tint] of tints.entries()) {
    for (let i = 0; i < 8; i++) {
      const image = synthetic(48, 48, (x, y) => tissue(x + i * 5, y + c * 7).map((v, k) => Math.max(0, Math.min(255, v + tint[k]!))));
      const [ext, bytes] = i % 3 === 0 ? ['jpg', await image.jpeg({ quality: 95 }).toBuffer()] : i % 3 === 1 ? ['webp', await image.webp({ lossless: true }).toBuffer()] : ['png', await image.png().toBuffer()];
      put(join(dir, `class-${c}`, `patient${i}_tile.${ext}`), bytes);
    }
  }
  put(join(dir, 'class-0', 'scan.tif'), await synthetic(48, 48, tissue).tiff({ compression: 'lzw' }).toBuffer());
  put(join(dir, 'class-1', 'scan.tif'), await synthetic(48, 48, (x, y) => tissue(y, x)).tiff({ compression: 'jpeg' }).toBuffer());
  put(join(dir, 'notes.txt'), 'not a class');
  return dir;
}

async function chooseAndTrain(t: TestContext, webgpu: boolean, folds = 4): Promise<void> {
  const dir = await folder(tempDir(t));
  const downloads = tempDir(t);
  const { browser, server } = await openApp(t, { downloads, webgpu });
  await browser.open(server.url);
  assert.equal(await browser.until<string>("document.getElementById('backend')?.dataset.backend", 120_000, 'the backend'), webgpu ? 'webgpu' : 'wasm');
  const { root } = (await browser.send('DOM.getDocument', { depth: 1 })) as { root: { nodeId: number } };
  const { nodeId } = (await browser.send('DOM.querySelector', { nodeId: root.nodeId, selector: '#folder' })) as { nodeId: number };
  await browser.send('DOM.setFileInputFiles', { nodeId, files: [dir] });
  assert.equal(await browser.until<string>("document.getElementById('chosen').textContent", 10_000, 'the chosen folder'), 'my tiles: 27 files');
  await browser.evaluate(`(() => {
    const set = (id, v) => { document.getElementById(id).value = v; };
    set('input-size', '16'); set('epochs', '1'); set('batch', '4'); set('iters', '1'); set('lr', '0.01'); set('folds', '${folds}');
    document.getElementById('start').click();
  })()`);
  const text = await browser.until<string>("document.getElementById('result')?.textContent || (document.getElementById('error')?.textContent && 'error: ' + document.getElementById('error').textContent)", 600_000, '#result');
  assert.doesNotMatch(text, /^error: /);
  const summary = JSON.parse(text) as StudySummary;
  assert.deepEqual(summary.archs, ['resnet20', 'se_resnet20']);
  assert.equal(summary.backend, webgpu ? 'webgpu' : 'wasm');
  assert.equal(summary.accuracy['resnet20']!.length, folds);
  const tiles = await browser.evaluate<string>("document.getElementById('tiles').textContent");
  assert.match(tiles, /^25 tiles of 48x48 px in 3 classes \(the images are tiles already\), 2 files rejected/);
  assert.match(tiles, new RegExp(`test tiles and ${folds} folds`));
  const offered = await browser.evaluate<string[]>("[...document.querySelectorAll('#downloads a')].map((a) => a.download)");
  assert.deepEqual(offered, ['report.html', 'senet-ort-my-tiles.zip', 'resnet20-ensemble.onnx', 'se_resnet20-ensemble.onnx']);
  // The rejected files and why, in the downloaded zip's rejected.csv (a fetch of the blob would be refused: connect-src 'self').
  const done = browser.waitFor('Browser.downloadProgress', (p) => p['state'] === 'completed', 60_000);
  await browser.evaluate("document.querySelector('#downloads a[download$=\".zip\"]').click()");
  await done;
  const entries = readZip(new Uint8Array(readFileSync(join(downloads, 'senet-ort-my-tiles.zip'))));
  const rejected = new TextDecoder().decode(entries.find((e) => e.path === 'senet-ort-my-tiles/data/rejected.csv')!.data);
  assert.equal(rejected, 'file,reason\nclass-1/scan.tif,"JPEG-compressed TIFF: the browser app decodes uncompressed, PackBits, LZW and Deflate TIFF; senet-ort study reads it"\nnotes.txt,file at the top level: images belong in a class folder\n');
  assert.deepEqual(browser.problems, []);
  assert.deepEqual(leaks(browser.requests, new URL(server.url).origin), []);
}

it('trains and compares on a chosen folder with the options set in the form', { skip: browserSkip(), timeout: 240_000 }, (t) => chooseAndTrain(t, false));

// The whole study on WebGPU: the state left in GPU buffers between steps, validated and read back
// for checkpoints, the test split and the export check. Two folds, set in the form: SwiftShader
// takes about 8 s a fold here.
it('does the same on WebGPU, with two folds', { skip: browserSkip(true), timeout: 700_000 }, (t) => chooseAndTrain(t, true, 2));
