import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UserError, expected } from '../errors.ts';
import { byteOrder, safeName, sourceIds } from './names.ts';

/** One input image candidate, found inside a class folder. */
export interface SourceFile {
  /** The class folder's name. */
  className: string;
  /** The class as written in tile names. */
  classId: string;
  /** Path relative to the input folder, with `/` separators (`01_TUMOR/slide 1.svs`). */
  source: string;
  /** The source's part of its tile names (unique within the class). */
  id: string;
  /** Absolute path. */
  path: string;
  size: number;
  mtimeMs: number;
}

/** An input that could not be used, and why (one row of rejected.csv). */
export interface Rejection {
  file: string;
  reason: string;
}

export interface InputScan {
  /** Class folder names, in byte order. */
  classes: string[];
  sources: SourceFile[];
  rejected: Rejection[];
}

const hidden = (name: string): boolean => name.startsWith('.');

/** Every non-hidden file under `dir`, as paths relative to it, in byte order (depth first). */
function walk(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort(byteOrder)) {
    if (hidden(name)) continue;
    const rel = prefix === '' ? name : `${prefix}/${name}`;
    const stat = statSync(join(dir, name), { throwIfNoEntry: false });
    if (stat?.isDirectory()) out.push(...walk(join(dir, name), rel));
    else if (stat?.isFile()) out.push(rel);
  }
  return out;
}

/**
 * List the classes (one subfolder each) and their files. Files at the top level and empty class
 * folders are rejected with a reason; hidden files and folders (`.DS_Store`, `.git`) are skipped.
 * Whether a file is an image is decided later, from its content.
 */
export function scanInput(input: string): InputScan {
  if (!statSync(input, { throwIfNoEntry: false })?.isDirectory()) throw expected('existing folder', '<input-dir>', input);
  const rejected: Rejection[] = [];
  const classes: string[] = [];
  for (const name of readdirSync(input).sort(byteOrder)) {
    if (hidden(name)) continue;
    const stat = statSync(join(input, name), { throwIfNoEntry: false });
    if (stat?.isDirectory()) classes.push(name);
    else if (stat?.isFile()) rejected.push({ file: name, reason: 'file at the top level: images belong in a class folder' });
  }
  if (classes.length === 0) throw expected('folder with one subfolder per class', '<input-dir>', input);
  const classIds = new Map<string, string>();
  for (const name of classes) {
    const id = safeName(name);
    const clash = [...classIds].find(([, other]) => other.toLowerCase() === id.toLowerCase());
    if (clash) throw new UserError(`${input}: class folders "${clash[0]}" and "${name}" would both be named "${id}" in tile names; rename one`);
    classIds.set(name, id);
  }
  const sources: SourceFile[] = [];
  for (const className of classes) {
    const files = walk(join(input, className));
    if (files.length === 0) rejected.push({ file: `${className}/`, reason: 'empty class folder' });
    const ids = sourceIds(files);
    for (const rel of files) {
      const path = join(input, className, ...rel.split('/'));
      const stat = statSync(path);
      sources.push({
        className,
        classId: classIds.get(className)!,
        source: `${className}/${rel}`,
        id: ids.get(rel)!,
        path,
        size: stat.size,
        mtimeMs: stat.mtimeMs,
      });
    }
  }
  return { classes, sources, rejected };
}
