import type { CAC } from 'cac';
import { UserError } from '../../errors.ts';
import { SECURITY_HEADERS } from '../../web/headers.ts';
import { APP_DIR, serveApp } from '../../web/serve.ts';
import { copyApp } from '../../web/static.ts';
import { intFlag } from '../flags.ts';

interface WebFlags {
  port?: string | number;
  host?: string;
  out?: string;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|::1)$/;

async function web(flags: WebFlags): Promise<void> {
  if (flags.out !== undefined) {
    const files = copyApp(APP_DIR, String(flags.out));
    process.stdout.write(`web app: ${files} files in ${flags.out}; serve them with these headers (or the app's service worker adds the first two):\n`);
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) process.stdout.write(`  ${k}: ${v}\n`);
    return;
  }
  const port = intFlag(flags.port, '--port', 0) ?? 8080;
  if (port > 65535) throw new UserError(`expected a port from 0 to 65535 for --port but received ${port}`);
  const host = flags.host === undefined ? '127.0.0.1' : String(flags.host);
  const server = await serveApp({ root: APP_DIR, port, host });
  process.stdout.write(`senet-ort web: ${server.url} (Ctrl-C stops it)\n`);
  if (!LOOPBACK.test(host)) {
    process.stderr.write(`note: browsers on other machines reach ${server.url} over plain HTTP, which is no secure context: they get neither WebGPU nor more than one thread. Serve the app over HTTPS for them (senet-ort web --out DIR).\n`);
  }
  await new Promise<void>((done) => {
    const stop = (): void => void server.close().then(done);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

export function register(cli: CAC): void {
  cli
    .command('web', 'Serve the browser app: the study on your own images in the page, on WebGPU or WebAssembly; the images never leave the machine')
    .option('--port <n>', 'Port to listen on, 0 for any free one (default 8080)')
    .option('--host <address>', 'Address to listen on (default 127.0.0.1, this machine only)')
    .option('-o, --out <dir>', 'Write the app as static files for another web server instead, with the headers it must send')
    .example('senet-ort web                 # then open http://127.0.0.1:8080/')
    .example('senet-ort web --out site/     # static files for any web server')
    .ignoreOptionDefaultValue()
    .action((flags: WebFlags) => web(flags));
}
