import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { svgToPng } from '../../src/report/png.ts';
import { UserError } from '../../src/errors.ts';

describe('svgToPng', () => {
  const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20"><rect x="0" y="0" width="20" height="20" fill="#0072B2"/></svg>';

  it('renders at `scale` pixels per unit onto white', async () => {
    const png = await svgToPng(svg, { scale: 3 });
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([info.width, info.height, info.channels], [120, 60, 3]);
    assert.deepEqual([...data.subarray(0, 3)], [0x00, 0x72, 0xb2]);
    const right = (30 * 120 + 100) * 3;
    assert.deepEqual([...data.subarray(right, right + 3)], [255, 255, 255]);
  });

  it('turns malformed SVG and bad scales into one-line UserErrors', async () => {
    await assert.rejects(svgToPng('<svg xmlns="http://www.w3.org/2000/svg"><g></svg>'), (err) => err instanceof UserError && /cannot render SVG to PNG/.test(err.message));
    await assert.rejects(svgToPng(svg, { scale: 0 }), /expected scale from 0 \(exclusive\) to 8 for scale but received 0/);
  });
});
