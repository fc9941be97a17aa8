// The version is a constant in src/version.ts (no file read, so the browser app can use it): it
// must say what package.json says, or every artifact would carry the wrong one.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { VERSION, fileHeader } from '../src/version.ts';
import { ROOT } from './helpers/cli.ts';

it('VERSION is package.json\'s version', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  assert.equal(VERSION, pkg.version);
  assert.deepEqual(fileHeader('splits'), { format: 'senet-ort splits', version: 1, tool: `senet-ort ${pkg.version}` });
});
