import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { labToRgb, rgbToLab } from '../../src/data/colour.ts';
import { MACENKO_REFERENCE, applyMacenko, applyReinhard, fitMacenko, fitReinhard, stainedFraction } from '../../src/data/stain.ts';
import type { MacenkoStains } from '../../src/data/stain.ts';
import { KATHER_FULL, tempDir } from './fixtures.ts';
import { needs, requireData } from '../helpers/needs.ts';

const REFERENCE = fileURLToPath(new URL('./macenko_reference.py', import.meta.url));
/** Debian's python3 with python3-numpy (CI installs both). */
const PYTHON = '/usr/bin/python3';
const numpy = spawnSync(PYTHON, ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0;

async function rgbOf(path: string): Promise<Uint8Array> {
  const { data, info } = await sharp(path).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  assert.equal(info.channels, 3);
  return new Uint8Array(data);
}

/** Every 9th Kather 2016 tile of every class (39 tiles: tumour to empty glass), in name order. */
function katherSample(): string[] {
  return readdirSync(KATHER_FULL, { withFileTypes: true }).filter((d) => d.isDirectory()).sort((a, b) => (a.name < b.name ? -1 : 1))
    .flatMap((d) => readdirSync(join(KATHER_FULL, d.name)).filter((f) => f.endsWith('.tif')).sort().filter((_, i) => i % 9 === 0).map((f) => join(KATHER_FULL, d.name, f)));
}

describe('Macenko', () => {
  it('matches an independent NumPy implementation of the published algorithm on the Kather 2016 tiles', { skip: requireData(KATHER_FULL) || needs(numpy, 'python3-numpy (Debian)') }, async (t) => {
    const dir = tempDir(t);
    const tiles = katherSample();
    const images = await Promise.all(tiles.map(rgbOf));
    // The tiles one by one, and a "slide" of eight tumour and stroma tiles fitted as one image.
    images.push(Uint8Array.from(images.slice(0, 8).flatMap((rgb) => [...rgb])));
    const jobs = images.map((rgb, i) => {
      writeFileSync(join(dir, `${i}.rgb`), rgb);
      return { rgb: join(dir, `${i}.rgb`), out: join(dir, `${i}.out`) };
    });
    const python = spawnSync(PYTHON, [REFERENCE], { input: JSON.stringify(jobs), encoding: 'utf8', maxBuffer: 1 << 26 });
    assert.equal(python.status, 0, python.stderr);
    const reference = JSON.parse(python.stdout) as (Omit<MacenkoStains, 'method'> | null)[];
    let fitted = 0;
    let differing = 0;
    let bytes = 0;
    images.forEach((rgb, i) => {
      const ours = fitMacenko(rgb);
      const theirs = reference[i]!;
      assert.equal(ours === null, theirs === null, `tile ${i}: fitted by one implementation only`);
      if (!ours || !theirs) return;
      fitted++;
      ours.stains.forEach((row, r) => row.forEach((v, c) => assert.ok(Math.abs(v - theirs.stains[r]![c]!) < 1e-9, `tile ${i} stains[${r}][${c}]: ${v} vs ${theirs.stains[r]![c]}`)));
      ours.maxConcentrations.forEach((v, k) => assert.ok(Math.abs(v - theirs.maxConcentrations[k]!) < 1e-9 * Math.abs(v), `tile ${i} maxC[${k}]`));
      const out = applyMacenko(rgb, ours, MACENKO_REFERENCE);
      const expected = readFileSync(jobs[i]!.out);
      for (let b = 0; b < out.length; b++) {
        const d = Math.abs(out[b]! - expected[b]!);
        assert.ok(d <= 1, `tile ${i} byte ${b}: ${out[b]} vs ${expected[b]}`);
        if (d) differing++;
      }
      bytes += out.length;
    });
    // Every H&E class is stained enough to fit; rounding exactly at .5 may differ on a rare byte.
    assert.ok(fitted >= images.length - 5, `fitted ${fitted} of ${images.length}`);
    assert.ok(differing / bytes < 1e-4, `${differing} of ${bytes} bytes differ`);
  });

  it('recolours towards the reference: refitting a normalised tile finds the reference stains', { skip: requireData(KATHER_FULL) }, async () => {
    for (const path of katherSample().slice(0, 10)) {
      const rgb = await rgbOf(path);
      const fit = fitMacenko(rgb)!;
      const refit = fitMacenko(applyMacenko(rgb, fit, MACENKO_REFERENCE))!;
      refit.stains.forEach((row, r) => row.forEach((v, c) => assert.ok(Math.abs(v - MACENKO_REFERENCE.stains[r]![c]!) < 0.06, `${path}: stains[${r}][${c}] ${v}`)));
      // Clipping and 8-bit rounding of the recoloured tile move the concentrations' 99th percentiles a little.
      refit.maxConcentrations.forEach((v, k) => assert.ok(Math.abs(v / MACENKO_REFERENCE.maxConcentrations[k]! - 1) < 0.2, `${path}: maxC[${k}] ${v}`));
    }
  });

  it('leaves an image with fewer than 1% stained pixels alone', () => {
    const glass = new Uint8Array(300 * 3).fill(235);
    glass.set([120, 60, 150, 110, 70, 160, 90, 50, 140], 0); // three stained pixels of 300: 1%, enough
    assert.equal(stainedFraction(glass), 0.01);
    assert.notEqual(fitMacenko(glass), null);
    assert.notEqual(fitReinhard(glass), null);
    glass.set([235, 235, 235], 0); // 2 of 300: under 1%
    assert.ok(stainedFraction(glass) < 0.01);
    assert.equal(fitMacenko(glass), null);
    assert.equal(fitReinhard(glass), null);
  });
});

describe('CIE L*a*b* and Reinhard', () => {
  it('converts sRGB (D65) as the published values have it, and back exactly', () => {
    const lab = new Float64Array(3);
    const cases: [number[], number[]][] = [
      [[255, 255, 255], [100, 0, 0]],
      [[0, 0, 0], [0, 0, 0]],
      [[255, 0, 0], [53.2408, 80.0925, 67.2032]], // Lindbloom's calculator, sRGB D65
      [[0, 0, 255], [32.297, 79.1875, -107.8602]],
      [[128, 128, 128], [53.585, 0, 0]],
    ];
    for (const [rgb, expected] of cases) {
      rgbToLab(rgb[0]!, rgb[1]!, rgb[2]!, lab, 0);
      lab.forEach((v, c) => assert.ok(Math.abs(v - expected[c]!) < 2e-3, `${rgb}: ${[...lab]} vs ${expected}`));
    }
    const back = new Uint8Array(3);
    for (let v = 0; v < 256 * 3; v += 7) {
      const rgb = [v % 256, (v * 5) % 256, (v * 11) % 256];
      rgbToLab(rgb[0]!, rgb[1]!, rgb[2]!, lab, 0);
      labToRgb(lab[0]!, lab[1]!, lab[2]!, back, 0);
      assert.deepEqual([...back], rgb);
    }
  });

  it('fits the mean and standard deviation of L*, a*, b* (hand-computed) and matches them', () => {
    // Three stained pixels of one colour and one white: L* of the colour by hand from its linear light.
    const colour = [150, 60, 140];
    const rgb = new Uint8Array([...colour, ...colour, ...colour, 255, 255, 255]);
    const linear = (v: number): number => ((v / 255 + 0.055) / 1.055) ** 2.4;
    const y = 0.2126729 * linear(150) + 0.7151522 * linear(60) + 0.072175 * linear(140);
    const l = 116 * Math.cbrt(y) - 16;
    const fit = fitReinhard(rgb)!;
    // White's L* is 100 to within the matrix's seven digits (its Y row sums to 1.0000001).
    assert.ok(Math.abs(fit.mean[0] - (3 * l + 100) / 4) < 1e-5);
    assert.ok(Math.abs(fit.std[0] - Math.sqrt(3 / 16) * (100 - l)) < 1e-5); // two values, weights 3:1
    // Matching any image to a target gives the target's statistics, up to 8-bit rounding.
    const source = Uint8Array.from({ length: 30 * 30 * 3 }, (_, i) => [200, 90, 170][i % 3]! - ((i * 13) % 50));
    const target = fitReinhard(Uint8Array.from({ length: 30 * 30 * 3 }, (_, i) => [150, 70, 150][i % 3]! + ((i * 7) % 40)))!;
    const matched = fitReinhard(applyReinhard(source, fitReinhard(source)!, target))!;
    for (let c = 0; c < 3; c++) {
      assert.ok(Math.abs(matched.mean[c]! - target.mean[c]!) < 0.5, `mean ${c}: ${matched.mean[c]} vs ${target.mean[c]}`);
      assert.ok(Math.abs(matched.std[c]! - target.std[c]!) < 0.5, `std ${c}: ${matched.std[c]} vs ${target.std[c]}`);
    }
  });
});
