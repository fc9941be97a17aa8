/** Pixel arithmetic on packed 8-bit RGB, with no image library: cutting tiles and measuring background. */

/** Origins of the full tiles along one axis: 0, stride, 2·stride… while the tile still fits (partial edge tiles are dropped). */
export function gridPositions(length: number, tile: number, stride: number): number[] {
  const out: number[] = [];
  for (let p = 0; p + tile <= length; p += stride) out.push(p);
  return out;
}


/** Copy the `size` x `size` tile at (x, y) out of an RGB band `bandWidth` pixels wide. */
export function cropTile(band: Uint8Array, bandWidth: number, x: number, y: number, size: number): Uint8Array {
  const tile = new Uint8Array(size * size * 3);
  const rowBytes = size * 3;
  for (let row = 0; row < size; row++) {
    const start = ((y + row) * bandWidth + x) * 3;
    tile.set(band.subarray(start, start + rowBytes), row * rowBytes);
  }
  return tile;
}

/** Fraction of pixels whose R, G and B are all above `threshold` (the study's "white background"). */
export function whiteFraction(rgb: Uint8Array, threshold: number): number {
  const pixels = rgb.length / 3;
  let white = 0;
  for (let i = 0; i < rgb.length; i += 3) {
    if (rgb[i]! > threshold && rgb[i + 1]! > threshold && rgb[i + 2]! > threshold) white++;
  }
  return pixels === 0 ? 0 : white / pixels;
}
