// senet-ort web --out: the built app copied whole for another web server, never over other files.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { copyApp } from '../../src/web/static.ts';
import { tempDir } from '../data/fixtures.ts';

it('copyApp copies every file into a new folder, and refuses a non-empty one or an unbuilt app', (t) => {
  const root = tempDir(t);
  const app = join(root, 'app');
  mkdirSync(join(app, 'ort'), { recursive: true });
  writeFileSync(join(app, 'index.html'), 'page');
  writeFileSync(join(app, 'ort', 'a.wasm'), 'wasm');
  assert.equal(copyApp(app, join(root, 'site', 'app')), 2);
  assert.ok(existsSync(join(root, 'site', 'app', 'ort', 'a.wasm')));
  assert.deepEqual(readdirSync(join(root, 'site')), ['app']);
  assert.throws(() => copyApp(app, join(root, 'site', 'app')), /--out .*app: already exists and is not empty; choose a new folder$/);
  assert.throws(() => copyApp(join(root, 'nothing'), join(root, 'other')), /nothing: no index\.html; build the app first \(npm run build\)$/);
});
