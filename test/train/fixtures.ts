// The tiny data set the training tests share.
import { join } from 'node:path';
import { tileDataset } from '../../src/data/dataset.ts';
import { splitDataset } from '../../src/data/split.ts';
import { put, synthetic } from '../data/fixtures.ts';

/** Three colour classes of six 24x24 tiles each, tiled and split into 2 folds and a test set. */
export async function syntheticData(root: string): Promise<string> {
  const colours = { red: [190, 60, 70], green: [60, 170, 80], blue: [70, 80, 190] } as const;
  for (const [name, [r, g, b]] of Object.entries(colours)) {
    for (let i = 0; i < 6; i++) {
      put(join(root, 'images', name, `${name}${i}.png`), await synthetic(24, 24, (x, y) => [r + ((x * 7 + i * 5) % 40), g + ((y * 5 + i * 3) % 40), b + ((x + y) % 30)]).png().toBuffer());
    }
  }
  const data = join(root, 'tiles');
  await tileDataset({ input: join(root, 'images'), output: data, tile: 24 });
  splitDataset({ dir: data, folds: 2, testFraction: 0.2 });
  return data;
}
