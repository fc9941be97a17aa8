/**
 * `senet-ort web`: the browser app's files (build.ts makes them) over HTTP from this machine, each
 * with the isolation and content-security headers (headers.ts). GET and HEAD only; nothing is
 * received, so images chosen in the page have nowhere to go.
 */
import { createReadStream, existsSync, statSync } from 'node:fs';
import type { Server } from 'node:http';
import { createServer } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../errors.ts';
import { SECURITY_HEADERS } from './headers.ts';

/** Where `npm run build` puts the app (build.ts), and where `senet-ort web` serves it from. */
export const APP_DIR: string = fileURLToPath(new URL('../../dist/web/app', import.meta.url));

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.txt': 'text/plain; charset=utf-8',
};

export interface ServeOptions {
  /** The folder of the built app (index.html at its top). */
  readonly root: string;
  readonly port: number;
  readonly host: string;
  /** The headers sent with every response (default headers.ts's; the tests play a host that sends none). */
  readonly headers?: Readonly<Record<string, string>>;
}

export interface RunningServer {
  readonly server: Server;
  /** Where the app is, e.g. `http://127.0.0.1:8080/`. */
  readonly url: string;
  close(): Promise<void>;
}

/** The file a URL path names inside `root`, or null when it names none (or tries to leave the folder). */
export function fileFor(root: string, urlPath: string): string | null {
  let path: string;
  try {
    path = decodeURIComponent(urlPath.split('?')[0]!);
  } catch {
    return null;
  }
  if (path.includes('\0')) return null;
  const rel = normalize(path).replace(/^([\\/])+/, '');
  const file = join(root, rel === '' || rel.endsWith(sep) || rel.endsWith('/') ? join(rel, 'index.html') : rel);
  if (file !== root && !file.startsWith(`${root}${sep}`)) return null;
  return existsSync(file) && statSync(file).isFile() ? file : null;
}

/** Serve `options.root` until closed; a port already in use is one line. */
export function serveApp(options: ServeOptions): Promise<RunningServer> {
  const root = normalize(options.root).replace(/[\\/]+$/, '');
  if (!existsSync(join(root, 'index.html'))) throw new UserError(`${root}: no index.html; build the app first (npm run build)`);
  const server = createServer((req, res) => {
    for (const [k, v] of Object.entries(options.headers ?? SECURITY_HEADERS)) res.setHeader(k, v);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' }).end('only GET and HEAD: this app sends nothing anywhere\n');
      return;
    }
    const file = fileFor(root, req.url ?? '/');
    if (!file) {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not found\n');
      return;
    }
    res.writeHead(200, {
      'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
      'Content-Length': statSync(file).size,
      // The page and its scripts change with each build; the runtime's large wasm files do not.
      'Cache-Control': extname(file) === '.wasm' ? 'public, max-age=86400' : 'no-cache',
    });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
  });
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') reject(new UserError(`--port ${options.port}: already in use on ${options.host}; choose another port`));
      else if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND') reject(new UserError(`--host ${options.host}: not an address of this machine`));
      else reject(err);
    });
    server.listen(options.port, options.host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : options.port;
      const host = options.host.includes(':') ? `[${options.host}]` : options.host;
      resolve({
        server,
        url: `http://${host}:${port}/`,
        close: () => new Promise<void>((done) => {
          server.closeAllConnections();
          server.close(() => done());
        }),
      });
    });
  });
}
