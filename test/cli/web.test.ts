// senet-ort web as a user runs it (from dist/, with the app npm run build made): it serves the
// app with the security headers until stopped, writes the static copy, and refuses bad flags.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SECURITY_HEADERS } from '../../src/web/headers.ts';
import { ROOT, runBin } from '../helpers/cli.ts';
import { tempDir } from '../data/fixtures.ts';

describe('senet-ort web', () => {
  it('serves the app with the isolation and content-security headers until SIGTERM', async () => {
    const child = spawn(process.execPath, [join(ROOT, 'dist', 'cli', 'main.js'), 'web', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /^senet-ort web: (http:\/\/127\.0\.0\.1:\d+\/) \(Ctrl-C stops it\)$/m.exec(out);
        if (m) resolve(m[1]!);
      });
      child.once('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
    });
    const page = await fetch(url);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<script type="module" src="\/app\.js"><\/script>/);
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) assert.equal(page.headers.get(k), v, k);
    assert.equal((await fetch(`${url}ort/ort-wasm-simd-threaded.wasm`, { method: 'HEAD' })).headers.get('content-type'), 'application/wasm');
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  });

  it('--out writes the static app and lists the headers to send', (t) => {
    const out = join(tempDir(t), 'site');
    const r = runBin('main', ['web', '--out', out]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout.toString(), /^web app: \d+ files in .*site; serve them with these headers/);
    assert.match(r.stdout.toString(), /  Content-Security-Policy: default-src 'self'; connect-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self' blob:\n/);
    for (const f of ['index.html', 'app.js', 'study-worker.js', 'coi-sw.js', '_headers', 'ort/ort-wasm-simd-threaded.wasm']) assert.ok(existsSync(join(out, f)), f);
  });

  it('refuses a bad port in one line', () => {
    const r = runBin('main', ['web', '--port', 'http']);
    assert.equal(r.status, 1);
    assert.equal(r.stderr, 'senet-ort: expected non-negative integer for --port but received "http"\n');
    assert.equal(runBin('main', ['web', '--port', '70000']).stderr, 'senet-ort: expected a port from 0 to 65535 for --port but received 70000\n');
  });
});
