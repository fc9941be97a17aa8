// The run folder's zip: read back by our reader and by Info-ZIP's unzip (Debian) where installed,
// CRC-32 against known values, the same files giving the same bytes.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { crc32, readZip, writeZip } from '../../src/formats/zip.ts';
import { tempDir } from '../data/fixtures.ts';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const entries = [
  { path: 'study/data/01_TUMOR__a__x0_y0.png', data: Uint8Array.from({ length: 1000 }, (_, i) => (i * 31) % 256) },
  { path: 'study/resnet20/config.json', data: text('{"format":"senet-ort run"}\n') },
  { path: 'study/ünïcode name.txt', data: text('') },
];

it('crc32 gives the published check value and zlib\'s', () => {
  assert.equal(crc32(text('123456789')), 0xcbf43926);
  assert.equal(crc32(new Uint8Array(0)), 0);
  assert.equal(crc32(text('The quick brown fox jumps over the lazy dog')), 0x414fa339);
});

it('writeZip and readZip round-trip, deterministically; unzip reads the archive too', (t) => {
  const zip = writeZip(entries);
  assert.deepEqual(writeZip(entries), zip);
  assert.deepEqual(readZip(zip).map((e) => [e.path, [...e.data]]), entries.map((e) => [e.path, [...e.data]]));
  const dir = tempDir(t);
  writeFileSync(join(dir, 'run.zip'), zip);
  const unzip = spawnSync('unzip', ['-q', 'run.zip'], { cwd: dir });
  if (unzip.error) return t.diagnostic('unzip not installed: only our reader checked');
  assert.equal(unzip.status, 0, unzip.stderr?.toString());
  assert.deepEqual(readFileSync(join(dir, 'study', 'resnet20', 'config.json'), 'utf8'), '{"format":"senet-ort run"}\n');
  assert.deepEqual([...readFileSync(join(dir, entries[0]!.path))], [...entries[0]!.data]);
});

it('refuses paths that leave the folder, and damaged archives, in one line', () => {
  assert.throws(() => writeZip([{ path: '../x', data: text('') }]), /^UserError: zip: expected a relative path with \/ for an entry but received "\.\.\/x"$/);
  assert.throws(() => writeZip([{ path: '/etc/x', data: text('') }]), /relative path/);
  const zip = writeZip(entries);
  const damaged = zip.slice();
  damaged[30 + entries[0]!.path.length + 10]! ^= 0xff; // a byte of the first file's data
  assert.throws(() => readZip(damaged, 'run.zip'), /^UserError: run\.zip: study\/data\/01_TUMOR__a__x0_y0\.png: CRC mismatch/);
  assert.throws(() => readZip(text('not a zip at all, just text that goes on'), 'x.zip'), /^UserError: x\.zip: not a zip archive/);
});
