// explain on a real (tiny) trained run and on an exported model: a picture per image and
// explain.json with each map; the run folder and the model `export --explain` writes give the same
// maps; --class, --fold and --layer; one-line errors, and a broken image reported while the rest go on.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { runBin } from '../helpers/cli.ts';
import { tinyDataset } from '../report/runs.ts';
import { train } from '../../src/train/trainer.ts';
import type { Progress } from '../../src/train/progress.ts';

const QUIET: Progress = { line: () => undefined, step: () => undefined, status: () => undefined, clear: () => undefined };

interface ExplainJson {
  format: string;
  model: string;
  layer: string;
  classes: string[];
  images: { file: string; png: string; predicted: string; probability: number; explained: string; max: number; map: number[][] }[];
}

const readJson = (dir: string): ExplainJson => JSON.parse(readFileSync(join(dir, 'explain.json'), 'utf8')) as ExplainJson;

describe('explain', () => {
  let root = '';
  let run = '';
  let tiles: string[] = [];
  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'explain-'));
    const data = await tinyDataset(root);
    run = join(root, 'runs', 'se_resnet20');
    await train({ data, arch: 'se_resnet20', input: [3, 16, 16], epochs: 2, batchSize: 8, lr: 0.05, threads: 1, workers: 1, seed: 1, out: run }, { progress: QUIET });
    tiles = (JSON.parse(readFileSync(join(run, 'splits.json'), 'utf8')) as { test: string[] }).test.slice(0, 3).map((f) => join(data, f));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('explains a run\'s ensemble: a picture per image, explain.json, a line each; a broken image is reported and the rest still done', async () => {
    const out = join(root, 'maps');
    const broken = join(root, 'broken.png');
    writeFileSync(broken, 'not an image');
    const r = runBin('main', ['explain', run, tiles[0]!, broken, tiles[1]!, '--out', out]);
    assert.equal(r.status, 1);
    const lines = r.stdout.toString().trim().split('\n');
    assert.equal(lines.length, 2);
    for (const line of lines) assert.match(line, /\t(blue|green|red)\t(0|1)\.\d{4}\tmap of (blue|green|red)\t-> .*\.gradcam\.png$/);
    assert.match(r.stderr, /^explain: .*broken\.png: cannot decode tile/m);
    assert.match(r.stderr, /^explain: se_resnet20, ensemble of folds 1, 2 \(best checkpoints\), Grad-CAM of layer3; 2 pictures and .*explain\.json$/m);
    const json = readJson(out);
    assert.equal(json.format, 'senet-ort explain');
    assert.equal(json.layer, 'layer3');
    assert.deepEqual(json.classes, ['blue', 'green', 'red']);
    assert.equal(json.images.length, 2);
    for (const image of json.images) {
      assert.equal(image.explained, image.predicted, 'by default the predicted class');
      assert.deepEqual([image.map.length, image.map[0]!.length], [4, 4], 'layer3 of a 16x16 input');
      assert.equal(image.max, Math.max(...image.map.flat()));
      // 24 px tiles are shown at 256 px: the tile, the tile with its map, the colour bar.
      const meta = await sharp(join(out, image.png)).metadata();
      assert.deepEqual([meta.width, meta.height], [12 + 256 + 12 + 256 + 12 + 110, 12 + 3 * 18 + 256 + 12]);
    }
    assert.deepEqual(readdirSync(out).sort(), ['explain.json', ...json.images.map((i) => i.png)].sort(), 'nothing else, no temporary file');
  });

  it('gives the maps of the model export --explain writes, and takes --class, --fold and --layer', () => {
    const model = join(root, 'explain.onnx');
    assert.equal(runBin('main', ['export', run, '--explain', '-o', model]).status, 0);
    const [fromRun, fromFile] = [join(root, 'a'), join(root, 'b')];
    assert.equal(runBin('main', ['explain', run, ...tiles, '--out', fromRun, '--class', 'blue']).status, 0);
    assert.equal(runBin('main', ['explain', model, ...tiles, '--out', fromFile, '--class', 'blue']).status, 0);
    const [a, b] = [readJson(fromRun), readJson(fromFile)];
    assert.ok(a.images.every((i) => i.explained === 'blue'));
    assert.deepEqual(b.images.map((i) => i.map), a.images.map((i) => i.map));
    assert.equal(b.layer, 'layer3');
    const one = join(root, 'c');
    const r = runBin('main', ['explain', run, tiles[0]!, '--out', one, '--fold', '2', '--last', '--layer', 'layer2']);
    assert.equal(r.status, 0, r.stderr);
    const c = readJson(one);
    assert.equal(c.model, 'se_resnet20, fold 2 (last checkpoint)');
    assert.deepEqual([c.layer, c.images[0]!.map.length], ['layer2', 8]);
  });

  it('refuses with one line and writes nothing', () => {
    const out = join(root, 'none');
    const plain = join(root, 'plain.onnx');
    assert.equal(runBin('main', ['export', run, '--fold', '1', '-o', plain]).status, 0);
    const cases: [string[], RegExp][] = [
      [['explain', run, tiles[0]!], /^senet-ort: give --out DIR for the pictures \(<name>\.gradcam\.png\) and explain\.json\n$/],
      [['explain', run, '--out', out], /^senet-ort: give one or more image files after the model\n$/],
      [['explain', run, tiles[0]!, '--out', out, '--class', 'purple'], /^senet-ort: expected one of blue, green, red for --class but received "purple"\n$/],
      [['explain', run, tiles[0]!, '--out', out, '--layer', 'layer7'], /^senet-ort: expected one of stem, .* for --layer but received "layer7"\n$/],
      [['explain', plain, tiles[0]!, '--out', out], /^senet-ort: .*plain\.onnx: no Grad-CAM in this model .*export --explain or gen-graph --explain\n$/],
      [['explain', plain, tiles[0]!, '--out', out, '--layer', 'layer2'], /^senet-ort: --layer applies to a run folder; .*plain\.onnx is a model file/],
      [['explain', root, tiles[0]!, '--out', out], /^senet-ort: .*: not a run directory \(no config\.json\)\n$/],
    ];
    for (const [args, message] of cases) {
      const r = runBin('main', args);
      assert.equal(r.status, 1, args.join(' '));
      assert.match(r.stderr, message);
    }
    assert.ok(!existsSync(out));
  });
});
