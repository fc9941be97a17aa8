// The app's response headers: the Content-Security-Policy exactly, isolation, and the
// _headers file a static host reads.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { CONTENT_SECURITY_POLICY, SECURITY_HEADERS, headersFile } from '../../src/web/headers.ts';

it('the policy lets the page reach its own origin only, run WebAssembly and start workers from its files or blobs', () => {
  assert.equal(CONTENT_SECURITY_POLICY, "default-src 'self'; connect-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self' blob:");
  assert.equal(SECURITY_HEADERS['Cross-Origin-Opener-Policy'], 'same-origin');
  assert.equal(SECURITY_HEADERS['Cross-Origin-Embedder-Policy'], 'require-corp');
});

it('headersFile applies every header to every path', () => {
  const lines = headersFile().split('\n');
  assert.equal(lines[0], '/*');
  assert.equal(lines.filter((l) => l.startsWith('  ')).length, Object.keys(SECURITY_HEADERS).length);
  assert.ok(lines.includes(`  Content-Security-Policy: ${CONTENT_SECURITY_POLICY}`));
});
