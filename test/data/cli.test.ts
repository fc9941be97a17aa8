// End to end: the `tile` and `split` commands as a user runs them (src through tsx, as child processes).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { put, REPO, SAMPLE, synthetic, tempDir, tissue } from './fixtures.ts';

function senet(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(REPO, 'src', 'cli', 'main.ts'), ...args], { cwd: REPO, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('senet-ort tile / split', () => {
  it('tile: tiles good images, reports bad ones, exits 0', async (t) => {
    const root = tempDir(t);
    const input = join(root, 'in');
    put(join(input, 'tumor', 'a.png'), await synthetic(300, 150, tissue).png().toBuffer());
    put(join(input, 'tumor', 'broken.png'), 'not an image');
    put(join(input, 'normal', 'b.webp'), await synthetic(150, 300, tissue).webp({ lossless: true }).toBuffer());
    put(join(input, 'stray.jpg'), 'top level');
    const out = join(root, 'out');
    const r = senet('tile', input, out, '--contact-sheet', join(root, 'sheet.png'));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, [
      `tiled 2 sources into 4 tiles in ${out} (grid, white filter on)`,
      'class   sources  tiles  dropped  rejected',
      'normal        1      2        0         0',
      'tumor         1      2        0         1',
      'total         2      4        0         2',
      'rejected 2 inputs (rejected.csv):',
      '  stray.jpg: file at the top level: images belong in a class folder',
      '  tumor/broken.png: not an image: unrecognised format or corrupt header',
      `contact sheet: ${join(root, 'sheet.png')}`,
      '',
    ].join('\n'));
    for (const f of ['manifest.csv', 'dataset.json', 'rejected.csv', 'normal__b__x0_y150.png', 'tumor__a__x150_y0.png']) assert.ok(existsSync(join(out, f)), f);
    assert.ok(existsSync(join(root, 'sheet.png')));
  });

  it('tile --split on the embedded Kather sample, grouped by slide', (t) => {
    const out = join(tempDir(t), 'tiles');
    const r = senet('tile', SAMPLE, out, '--split', '--group-regex', 'CRC-Prim-HE-\\d+', '--seed', '3');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^tiled 80 sources into 80 tiles in .* \(pass-through, white filter off\)$/m);
    assert.match(r.stdout, /^split 80 tiles by \/CRC-Prim-HE-\\d\+\/ on file names: test 0\.2, 4 folds, seed 3 -> .*splits\.json$/m);
    assert.match(r.stdout, /^class\s+groups\s+tiles\s+test\s+val1\s+val2\s+val3\s+val4$/m);
    assert.match(r.stdout, /^08_EMPTY\s+2\s+10\s/m);
    assert.match(r.stdout, /^warning: class 08_EMPTY has one group in the development set/m);
    const splits = JSON.parse(readFileSync(join(out, 'splits.json'), 'utf8')) as { seed: number; test: string[]; folds: { train: string[]; val: string[] }[] };
    assert.equal(splits.seed, 3);
    const slides = (files: string[]): Set<string> => new Set(files.map((f) => /CRC-Prim-HE-\d+/.exec(f)![0]));
    for (const s of slides(splits.test)) assert.ok(splits.folds.every((f) => !slides(f.train).has(s) && !slides(f.val).has(s)), s);

    const again = senet('split', out, '--group-regex', 'CRC-Prim-HE-\\d+', '--folds', '3');
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^class\s+groups\s+tiles\s+test\s+val1\s+val2\s+val3$/m);
  });

  it('prints one-line errors and exits 1 on bad arguments', (t) => {
    const root = tempDir(t);
    const cases: [string[], string][] = [
      [['tile', SAMPLE, join(root, 'o'), '--tile', '0'], 'senet-ort: expected positive integer for --tile but received 0\n'],
      [['tile', SAMPLE, join(root, 'o'), '--max-white', '2'], 'senet-ort: expected number from 0 to 1 for --max-white but received 2\n'],
      [['tile', join(root, 'missing'), join(root, 'o')], `senet-ort: expected existing folder for <input-dir> but received ${JSON.stringify(join(root, 'missing'))}\n`],
      [['split', root], `senet-ort: expected tile folder with manifest.csv for <dataset-dir> but received ${JSON.stringify(root)}\n`],
      [['split', root, '--test-fraction', '1.5'], 'senet-ort: expected number from 0 to below 1 for --test-fraction but received 1.5\n'],
      [['tile', SAMPLE, join(root, 'o'), '--mpp', '0.5', '--scale', '2'], 'senet-ort: --mpp and --scale both given; use one (--mpp reads every image at that many µm per pixel, --scale shrinks each by a bare factor)\n'],
      [['tile', SAMPLE, join(root, 'o'), '--stain-normalize', 'reinhard'], 'senet-ort: --stain-normalize reinhard needs --stain-target IMAGE, the image whose L*a*b* statistics the tiles are matched to\n'],
      [['tile', SAMPLE, join(root, 'o'), '--stain-normalize', 'vahadane'], 'senet-ort: expected macenko or reinhard for --stain-normalize but received "vahadane"\n'],
      [['tile', SAMPLE, join(root, 'o'), '--tissue', 'otsu', '--min-tissue', '1.5'], 'senet-ort: expected number from 0 to 1 for --min-tissue but received 1.5\n'],
      [['split', root, '--group-regex', '^\\d+', '--group-on', 'folder'], 'senet-ort: expected name or path for --group-on but received "folder"\n'],
    ];
    for (const [args, stderr] of cases) {
      const r = senet(...args);
      assert.deepEqual([r.code, r.stderr, r.stdout], [1, stderr, ''], args.join(' '));
    }
    assert.ok(!existsSync(join(root, 'o')), 'nothing written');
  });

  it('tile --mpp --tissue otsu --stain-normalize macenko on ready tiles of unknown resolution, with --source-mpp', (t) => {
    const root = tempDir(t);
    const out = join(root, 'tiles');
    // Kather 2016's tiles are 150 px at 0.495 µm/px; at 0.5 they are 148.5 px (149 after rounding).
    const r = senet('tile', SAMPLE, out, '--mpp', '0.5', '--source-mpp', '0.495', '--tile', '149', '--tissue', 'otsu', '--filter', '--stain-normalize', 'macenko');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^tiled 80 sources into \d+ tiles in .* \(pass-through, at 0\.5 µm\/px, otsu tissue mask, stain normalised \(macenko, auto fit\)\)$/m);
    // The mask drops the adipose and empty tiles (fat cells and glass are unsaturated); the rest are stained.
    assert.match(r.stdout, /^07_ADIPOSE\s+10\s+0\s+10\s+0$/m);
    assert.match(r.stdout, /^08_EMPTY\s+10\s+0\s+10\s+0$/m);
    const dataset = JSON.parse(readFileSync(join(out, 'dataset.json'), 'utf8')) as { mpp: number; preparation: { tissue: { method: string }; stain: { method: string } } };
    assert.deepEqual([dataset.mpp, dataset.preparation.tissue.method, dataset.preparation.stain.method], [0.5, 'otsu', 'macenko']);
  });
});
