// "Where they look" as pictures: each tile and its maps as JPEG data URIs (the overlay as
// cam-overlay.ts draws it).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import type { Looks } from '../../src/evaluate/looks.ts';
import { lookPictures } from '../../src/report/look-pictures.ts';
import { LOOK_SIDE } from '../../src/report/looks.ts';
import { camOverlay } from '../../src/report/cam-overlay.ts';

// A smooth tile: JPEG keeps it within a few levels.
const tile = Uint8Array.from({ length: LOOK_SIDE * LOOK_SIDE * 3 }, (_, i) => 60 + Math.round(100 * Math.sin(Math.floor(i / 3) / 700) ** 2) + 20 * (i % 3));
const map = [0, 1, 2, 3, 4, 5, 6, 7, 8];
const looks: Looks = {
  classes: ['a<b>&"c"', 'a very long class name indeed'], layers: ['layer3', 'layer3'], seed: 1, perClass: 2, dataDir: 'data',
  tiles: [
    { file: 'x.png', label: 0, kind: 'agree', maps: [{ predicted: 0, probability: 0.9, map, height: 3, width: 3 }, { predicted: 0, probability: 0.8, map, height: 3, width: 3 }] },
    { file: 'y.png', label: 1, kind: 'disagree', maps: [{ predicted: 0, probability: 0.6, map, height: 3, width: 3 }, { predicted: 1, probability: 0.7, map: new Array<number>(9).fill(0), height: 3, width: 3 }] },
  ],
};

const decode = async (uri: string): Promise<Buffer> => (await sharp(Buffer.from(uri.replace(/^data:image\/jpeg;base64,/, ''), 'base64')).raw().toBuffer());

describe('"Where they look" pictures', () => {
  it('encodes each tile and each map over it as a JPEG data URI', async () => {
    const report = await lookPictures(looks, ['plain', 'se'], async () => tile);
    assert.deepEqual(report.tiles.map((t) => [t.label, t.kind, t.maps.map((m) => [m.predicted, m.max])]), [['a<b>&"c"', 'agree', [['a<b>&"c"', 8], ['a<b>&"c"', 8]]], ['a very long class name indeed', 'disagree', [['a<b>&"c"', 8], ['a very long class name indeed', 0]]]]);
    const [image, overlay] = await Promise.all([decode(report.tiles[0]!.image), decode(report.tiles[0]!.maps[0]!.overlay)]);
    const want = camOverlay(tile, LOOK_SIDE, LOOK_SIDE, map, 3, 3);
    // JPEG at quality 88 without chroma subsampling: within a few levels of the drawn pixels.
    const worst = (got: Buffer, ref: Uint8Array): number => got.reduce((m, v, i) => Math.max(m, Math.abs(v - ref[i]!)), 0);
    assert.ok(worst(image, tile) <= 6 && worst(overlay, want) <= 6, `${worst(image, tile)}, ${worst(overlay, want)}`);
  });
});
