/**
 * The browser app as static files, the folder `senet-ort web` serves and any web server can
 * (with headers.ts's headers, or the service worker's stand-in for them):
 *
 *   index.html, app.css, favicon.svg   the page
 *   app.js                   the page's script (src/web/page/main.ts and what it imports, bundled)
 *   study-worker.js          the study, run in a worker so the page stays responsive
 *   coi-sw.js                the service worker for hosts that cannot send the isolation headers
 *   bench.html, bench.js, bench-worker.js   the bench page: images/s of a training step per backend
 *   ort/                     onnxruntime-web's own files, unchanged: the API and the WebAssembly
 *                            runtime, one build for WASM with threads and one for WebGPU
 *   sample/                  the embedded Kather 2016 sample (/?demo), and sample/index.json
 *   _headers                 headers.ts's headers for hosts that read such a file
 *
 * The page's code may import no module that needs Node: esbuild bundles for the browser and stops
 * at the first `node:` import, naming the module that pulled it in.
 */
import { copyFileSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';
import { UserError } from '../errors.ts';
import { headersFile } from './headers.ts';
import { ORT_FILES, SAMPLE_INDEX } from './page/paths.ts';
import { APP_DIR } from './serve.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PAGE = join(ROOT, 'src', 'web', 'page');
export const SAMPLE_DIR: string = join(ROOT, 'data', 'kather2016-crc-texture-sample');
/** The page's files that are served as they are. */
const STATIC_FILES = ['index.html', 'bench.html', 'app.css', 'favicon.svg'];

/** onnxruntime-web's dist folder, found through the package's own exports. */
function ortDist(): string {
  return dirname(createRequire(import.meta.url).resolve('onnxruntime-web/ort-wasm-simd-threaded.wasm'));
}

/** Every file under `dir`, relative to it with `/`, in byte order. */
function filesUnder(dir: string, prefix = ''): string[] {
  return readdirSync(dir).sort().flatMap((name) => {
    const path = join(dir, name);
    const rel = prefix === '' ? name : `${prefix}/${name}`;
    return statSync(path).isDirectory() ? filesUnder(path, rel) : [rel];
  });
}

/** Build the app from the page's folder `page` into `out` (emptied first); returns the files written, relative to it. */
export async function buildApp(out: string = APP_DIR, page: string = PAGE): Promise<string[]> {
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  try {
    await esbuild.build({
      entryPoints: {
        app: join(page, 'main.ts'), 'study-worker': join(page, 'study-worker.ts'), 'coi-sw': join(page, 'coi-sw.ts'),
        bench: join(page, 'bench.ts'), 'bench-worker': join(page, 'bench-worker.ts'),
      },
      outdir: out,
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      // onnxruntime-web is loaded from its own files at run time (ort/), which find their wasm beside them.
      external: ['/ort/*'],
      logLevel: 'silent',
      legalComments: 'none',
    });
  } catch (err) {
    const first = (err as { errors?: esbuild.Message[] }).errors?.[0];
    if (!first) throw err;
    const where = first.location ? `${relative(ROOT, first.location.file)}:${first.location.line}: ` : '';
    throw new UserError(`the browser app does not build: ${where}${first.text}`);
  }
  for (const file of STATIC_FILES) copyFileSync(join(page, file), join(out, file));
  mkdirSync(join(out, 'ort'));
  for (const file of ORT_FILES) copyFileSync(join(ortDist(), file), join(out, 'ort', file));
  const sample = filesUnder(SAMPLE_DIR).filter((f) => f.endsWith('.png'));
  for (const file of sample) {
    mkdirSync(dirname(join(out, 'sample', file)), { recursive: true });
    copyFileSync(join(SAMPLE_DIR, file), join(out, 'sample', file));
  }
  writeFileSync(join(out, SAMPLE_INDEX.slice(1)), `${JSON.stringify(sample)}\n`);
  writeFileSync(join(out, '_headers'), headersFile());
  return filesUnder(out);
}

// `node dist/web/build.js` (npm run build) builds the app into dist/web/app.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    const files = await buildApp();
    process.stdout.write(`web app: ${files.length} files in ${relative(ROOT, APP_DIR)}\n`);
  } catch (err) {
    process.stderr.write(`build: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}
