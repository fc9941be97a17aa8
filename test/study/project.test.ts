// senet-ort init and senet-ort.json: `ort-train --fold 2`, exactly as typed, in a project folder.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readFoldState, readRunConfig } from '../../src/formats/rundir.ts';
import { runBin } from '../helpers/cli.ts';
import { patientPatches, splitSample } from '../data/fixtures.ts';
import { readPreparedDataset } from '../../src/data/prepared.ts';

function bin(name: string, args: readonly string[], cwd: string): { code: number | null; stdout: string; stderr: string } {
  const r = runBin(name, args, { cwd, timeout: 300_000 });
  return { code: r.status, stdout: r.stdout.toString(), stderr: r.stderr };
}

describe('senet-ort init, senet-ort.json', () => {
  let root = '';
  let data = '';
  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'senet-ort-project-'));
    data = await splitSample(root);
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('init writes the project file; ort-train --fold 2 there trains fold 2 of its network with its options', () => {
    const project = join(root, 'experiment');
    mkdirSync(project);
    const init = bin('main', ['init', data, '--arch', 'resnet20', '--input', '3x16x16', '--epochs', '1', '--batch-size', '8', '--lr', '0.05'], project);
    assert.equal(init.code, 0, init.stderr);
    assert.match(init.stdout, /^wrote .*\/experiment\/senet-ort\.json \(data .*\/tiles\); train a fold with: ort-train --fold 1$/m);
    assert.deepEqual(JSON.parse(readFileSync(join(project, 'senet-ort.json'), 'utf8')), { data, arch: 'resnet20', runs: '.', input: '3x16x16', epochs: 1, 'batch-size': 8, lr: 0.05 });

    const r = bin('ort-train', ['--fold', '2', '--threads', '1'], project);
    assert.equal(r.code, 0, r.stderr);
    const run = join(project, 'resnet20');
    assert.equal(readFoldState(run, 2)?.finished, true);
    assert.equal(existsSync(join(run, 'fold-1')), false);
    const options = readRunConfig(run).options;
    assert.deepEqual([options.data, options.input, options.epochs, options.lr], [data, [3, 16, 16], 1, 0.05]);

    const twice = bin('main', ['init', data], project);
    assert.equal(twice.code, 1);
    assert.match(twice.stderr, /^senet-ort: .*\/experiment\/senet-ort\.json: already there; edit it, or remove it to make a new one\n$/);
  });

  it('without a project file, the one-line error says how to make one; bad options write nothing', () => {
    const empty = join(root, 'empty');
    mkdirSync(empty);
    const r = bin('ort-train', ['--fold', '2'], empty);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'ort-train: missing --arch and --data; give them, or run in a folder with a senet-ort.json project file (make one with: senet-ort init <images-or-prepared-dir> --arch se_resnet20)\n');
    const bad = bin('main', ['init', data, '--epochs', '0'], empty);
    assert.equal(bad.code, 1);
    assert.equal(bad.stderr, 'senet-ort: expected positive integer for --epochs but received 0\n');
    const grouped = bin('main', ['init', data, '--group-regex', '^\\d+'], empty);
    assert.equal(grouped.code, 1);
    assert.equal(grouped.stderr, `senet-ort: ${data}: already split (splits.json); --group-regex applies when splitting, so leave it out or split again with senet-ort split\n`);
    const tiled = bin('main', ['init', data, '--tile', '48'], empty);
    assert.equal(tiled.code, 1);
    assert.equal(tiled.stderr, `senet-ort: ${data}: already tiled (dataset.json); --tile applies to images, so leave it out or tile the images again with senet-ort tile\n`);
    assert.equal(existsSync(join(empty, 'senet-ort.json')), false);
  });

  it('init tiles images with the tiling flags, and splits a data set that tile made without touching it', async () => {
    const patches = await patientPatches(root);
    const cut = bin('main', ['init', patches, '--dir', join(root, 'cut'), '--tile', '40', '--group-regex', '^\\d+', '--arch', 'resnet20'], root);
    assert.equal(cut.code, 0, cut.stderr);
    assert.match(cut.stdout, /^tiled 60 sources into 60 tiles in .*\/cut\/data \(grid, white filter on\)$/m);
    assert.match(cut.stdout, /^split 60 tiles by \/\^\\d\+\/ on file names: /m);
    assert.equal(readPreparedDataset(join(root, 'cut', 'data')).tileSize, 40);

    const tiles = join(root, 'patch-tiles');
    assert.equal(bin('main', ['tile', patches, tiles], root).code, 0);
    const linked = bin('main', ['init', tiles, '--dir', join(root, 'linked'), '--group-regex', '^\\d+', '--arch', 'resnet20'], root);
    assert.equal(linked.code, 0, linked.stderr);
    assert.match(linked.stdout, /^linked the 60 tiles of .*\/patch-tiles into .*\/linked\/data, to be split there$/m);
    assert.equal(readPreparedDataset(join(root, 'linked', 'data')).tileSize, 48);
    assert.equal(existsSync(join(tiles, 'splits.json')), false);
  });
});
