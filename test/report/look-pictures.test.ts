// "Where they look" as pictures: each tile and its maps as JPEG data URIs (the overlay as
// cam-overlay.ts draws it).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { lookPictures } from '../../src/report/look-pictures.ts';
import { LOOK_SIDE } from '../../src/report/looks.ts';
import { looks, map, tile } from './looks-fixture.ts';
import { camOverlay } from '../../src/report/cam-overlay.ts';

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
