import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { ROOT } from './helpers/cli.ts';

/**
 * The stages data passes through, in order. A module may import from its own stage and from
 * earlier ones, never from a later one; the README's Development section says the same.
 */
export const STAGES = ['core', 'graph', 'formats', 'data', 'infer', 'train', 'evaluate', 'report', 'deploy', 'slide', 'study', 'web', 'cli'] as const;

const SRC = join(ROOT, 'src');

function stageOf(file: string): number {
  const rel = relative(SRC, file).split(/[\\/]/);
  const top = rel.length === 1 || rel[0] === 'util' ? 'core' : rel[0]!;
  const rank = STAGES.indexOf(top as (typeof STAGES)[number]);
  if (rank < 0) throw new Error(`${relative(ROOT, file)}: folder src/${top} is no stage; add it to STAGES and the README`);
  return rank;
}

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** Every relative import of a file (static, type-only and dynamic), resolved to a path. */
export function importsOf(file: string, text: string = readFileSync(file, 'utf8')): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)['"](\.{1,2}\/[^'"]+)['"]/g)) found.push(resolve(dirname(file), m[1]!));
  return found;
}

/** Imports that point from a stage to a later one, as "from -> to" lines. */
export function upwardImports(files: readonly string[], read: (file: string) => string = (f) => readFileSync(f, 'utf8')): string[] {
  const bad: string[] = [];
  for (const file of files) {
    for (const target of importsOf(file, read(file))) {
      if (stageOf(target) > stageOf(file)) bad.push(`${relative(ROOT, file)} -> ${relative(ROOT, target)}`);
    }
  }
  return bad;
}

/**
 * Import circles, as "a -> b -> a" lines: one per edge that closes a circle in a depth-first walk,
 * so every circle shows, though one with several entries may show more than once.
 */
export function importCircles(files: readonly string[], read: (file: string) => string = (f) => readFileSync(f, 'utf8')): string[] {
  const edges = new Map(files.map((f) => [f, importsOf(f, read(f))]));
  const done = new Set<string>();
  const path: string[] = [];
  const circles: string[] = [];
  const visit = (file: string): void => {
    path.push(file);
    for (const target of edges.get(file) ?? []) {
      const at = path.indexOf(target);
      if (at >= 0) circles.push([...path.slice(at), target].map((f) => relative(ROOT, f)).join(' -> '));
      else if (!done.has(target)) visit(target);
    }
    path.pop();
    done.add(file);
  };
  for (const file of files) if (!done.has(file)) visit(file);
  return circles;
}

test('every folder under src/ is a stage', () => {
  for (const file of sources(SRC)) stageOf(file);
});

test('no import points to a later stage', () => {
  assert.deepEqual(upwardImports(sources(SRC)), []);
});

test('the check finds an upward import (train importing report)', () => {
  const file = join(SRC, 'train', 'fake.ts');
  const bad = upwardImports([file], () => "import { renderReport } from '../report/html.ts';\nimport type { X } from '../graph/ir.ts';");
  assert.deepEqual(bad, ['src/train/fake.ts -> src/report/html.ts']);
});

test('no two modules import each other, directly or around a circle (type-only imports count too)', () => {
  assert.deepEqual(importCircles(sources(SRC)), []);
});

test('the check finds a circle inside a folder (a -> b -> c -> a)', () => {
  const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((name) => join(SRC, 'study', `${name}.ts`));
  const text: Record<string, string> = {
    [a!]: "import { b } from './b.ts';",
    [b!]: "import type { C } from './c.ts';\nimport { d } from './d.ts';",
    [c!]: "export { a } from './a.ts';",
    [d!]: '',
  };
  assert.deepEqual(importCircles([a!, b!, c!, d!], (f) => text[f]!), ['src/study/a.ts -> src/study/b.ts -> src/study/c.ts -> src/study/a.ts']);
});

test('only the training and inference stages import onnxruntime-node, only data and image output import sharp', () => {
  const allowed: Record<string, readonly string[]> = { 'onnxruntime-node': ['infer', 'train', 'deploy'], sharp: ['data', 'report'] };
  for (const file of sources(SRC)) {
    const text = readFileSync(file, 'utf8');
    const top = relative(SRC, file).split(/[\\/]/)[0]!;
    for (const [pkg, stages] of Object.entries(allowed)) {
      if (new RegExp(`from ['"]${pkg}['"]`).test(text)) assert.ok(stages.includes(top), `${relative(ROOT, file)} imports ${pkg}`);
    }
  }
});

test('the browser app\'s code (src/web/page) imports no Node built-in, sharp or onnxruntime-node', () => {
  const page = join(SRC, 'web', 'page');
  for (const file of sources(page)) {
    const text = readFileSync(file, 'utf8');
    const bad = [...text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)['"]((?:node:)?(?:fs|path|os|url|crypto|child_process|worker_threads|http|stream)|sharp|onnxruntime-node)['"]/g)].map((m) => m[1]);
    assert.deepEqual(bad, [], `${relative(ROOT, file)} imports ${bad.join(', ')}`);
  }
});
