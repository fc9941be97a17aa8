// The app as static files: the page's script and worker bundled for the browser (no Node module
// can slip in), onnxruntime-web's files as they are, the sample and the _headers file.
import assert from 'node:assert/strict';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { buildApp } from '../../src/web/build.ts';
import { headersFile } from '../../src/web/headers.ts';
import { ORT_FILES } from '../../src/web/page/paths.ts';
import { tempDir } from '../data/fixtures.ts';
import { ROOT } from '../helpers/cli.ts';

describe('buildApp', () => {
  it('writes the page, its bundles, onnxruntime-web\'s files unchanged, the sample and _headers', async (t) => {
    const out = join(tempDir(t), 'app');
    const files = await buildApp(out);
    for (const f of ['index.html', 'bench.html', 'app.css', 'favicon.svg', 'app.js', 'study-worker.js', 'coi-sw.js', 'bench.js', 'bench-worker.js', '_headers', 'sample/index.json']) assert.ok(files.includes(f), f);
    const ortDist = dirname(createRequire(import.meta.url).resolve('onnxruntime-web/ort-wasm-simd-threaded.wasm'));
    for (const f of ORT_FILES) assert.ok(readFileSync(join(out, 'ort', f)).equals(readFileSync(join(ortDist, f))), f);
    const sample = JSON.parse(readFileSync(join(out, 'sample', 'index.json'), 'utf8')) as string[];
    assert.equal(sample.length, 80);
    assert.ok(sample.every((f) => files.includes(`sample/${f}`)));
    assert.equal(readFileSync(join(out, '_headers'), 'utf8'), headersFile());
    assert.doesNotMatch(readFileSync(join(out, 'study-worker.js'), 'utf8'), /require\("node:|from "node:/);
  });

  it('stops in one line, naming the module, when the page pulls in a Node module', async (t) => {
    const page = join(tempDir(t), 'page');
    cpSync(join(ROOT, 'src', 'web', 'page'), page, { recursive: true });
    writeFileSync(join(page, 'main.ts'), 'export {};\n');
    for (const f of ['coi-sw.ts', 'bench.ts', 'bench-worker.ts']) writeFileSync(join(page, f), 'export {};\n');
    // A worker that reaches a module with file I/O (the run folder's reader).
    writeFileSync(join(page, 'study-worker.ts'), `import { readRunConfig } from '${join(ROOT, 'src', 'formats', 'rundir.ts')}';\nexport const read = readRunConfig;\n`);
    await assert.rejects(buildApp(join(tempDir(t), 'app'), page), /^UserError: the browser app does not build: src\/formats\/(rundir|json)\.ts:\d+: Could not resolve "node:(crypto|fs|path)"/);
  });
});
