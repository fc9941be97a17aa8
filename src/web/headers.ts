/**
 * The response headers of every file of the browser app: what `senet-ort web` sends, what the
 * static build's `_headers` file asks of a host, and what the README lists for other servers.
 *
 *   Cross-Origin-Opener-Policy / -Embedder-Policy   cross-origin isolation: without it the browser
 *                                                   gives WebAssembly no shared memory, and
 *                                                   onnxruntime-web silently runs on one thread
 *   Content-Security-Policy   the page may load and connect to its own origin only (the images
 *                             never leave the machine), run WebAssembly, and start workers from
 *                             its own files or blobs
 */

export const CONTENT_SECURITY_POLICY: string = [
  "default-src 'self'",
  "connect-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "worker-src 'self' blob:",
].join('; ');

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Content-Security-Policy': CONTENT_SECURITY_POLICY,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
};

/** The headers as a Netlify or Cloudflare Pages `_headers` file: every path gets them. */
export function headersFile(): string {
  return `/*\n${Object.entries(SECURITY_HEADERS).map(([k, v]) => `  ${k}: ${v}`).join('\n')}\n`;
}
