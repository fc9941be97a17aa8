// The app's server: every file with the security headers, nothing outside the folder, nothing
// received, a taken port in one line.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SECURITY_HEADERS } from '../../src/web/headers.ts';
import { fileFor, serveApp } from '../../src/web/serve.ts';
import { tempDir } from '../data/fixtures.ts';

/** A request for `path` as typed (no URL resolves its `..`). */
function fetchRaw(base: string, path = '/', method = 'GET'): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, path, method }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(method === 'POST' ? 'x' : undefined);
  });
}

describe('serveApp', () => {
  it('serves the files with the isolation and content-security headers and their types', async (t) => {
    const root = join(tempDir(t), 'app');
    mkdirSync(join(root, 'ort'), { recursive: true });
    writeFileSync(join(root, 'index.html'), '<!doctype html><title>x</title>');
    writeFileSync(join(root, 'ort', 'x.wasm'), new Uint8Array([0, 97, 115, 109]));
    writeFileSync(join(root, '..', 'secret.txt'), 'outside');
    const server = await serveApp({ root, port: 0, host: '127.0.0.1' });
    t.after(() => server.close());
    const index = await fetchRaw(server.url);
    assert.equal(index.status, 200);
    assert.equal(index.body, '<!doctype html><title>x</title>');
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) assert.equal(index.headers[k.toLowerCase()], v, k);
    assert.equal(index.headers['content-type'], 'text/html; charset=utf-8');
    const wasm = await fetchRaw(server.url, '/ort/x.wasm');
    assert.equal(wasm.headers['content-type'], 'application/wasm');
    assert.equal((await fetchRaw(server.url, '/../secret.txt')).status, 404);
    assert.equal((await fetchRaw(server.url, '/%2e%2e/secret.txt')).status, 404);
    assert.equal((await fetchRaw(server.url, '/ort/..%2f..%2fsecret.txt')).status, 404);
    assert.equal((await fetchRaw(server.url, '/missing.js')).status, 404);
    const post = await fetchRaw(server.url, '/', 'POST');
    assert.equal(post.status, 405);
    assert.equal(post.headers['allow'], 'GET, HEAD');
    assert.equal(post.headers['content-security-policy'], SECURITY_HEADERS['Content-Security-Policy']);
  });

  it('refuses a folder without index.html and a port in use, in one line', async (t) => {
    const root = tempDir(t);
    assert.throws(() => serveApp({ root, port: 0, host: '127.0.0.1' }), /no index\.html; build the app first \(npm run build\)$/);
    writeFileSync(join(root, 'index.html'), '');
    const first = await serveApp({ root, port: 0, host: '127.0.0.1' });
    t.after(() => first.close());
    const port = Number(new URL(first.url).port);
    await assert.rejects(serveApp({ root, port, host: '127.0.0.1' }), new RegExp(`^UserError: --port ${port}: already in use on 127\\.0\\.0\\.1; choose another port$`));
  });

  it('fileFor maps a URL path into the folder only', (t) => {
    const root = tempDir(t);
    writeFileSync(join(root, 'index.html'), '');
    assert.equal(fileFor(root, '/'), join(root, 'index.html'));
    assert.equal(fileFor(root, '/index.html?demo'), join(root, 'index.html'));
    assert.equal(fileFor(root, '/../../etc/passwd'), null);
    assert.equal(fileFor(root, '/%E0%A4%A'), null);
  });
});
