/** `senet-ort web --out DIR`: a copy of the built app for any web server, made whole or not at all. */
import { cpSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { UserError } from '../errors.ts';

/** Copy the app folder `app` to `out`, which must not exist or be empty; returns how many files. */
export function copyApp(app: string, out: string): number {
  if (!existsSync(join(app, 'index.html'))) throw new UserError(`${app}: no index.html; build the app first (npm run build)`);
  const target = resolve(out);
  if (existsSync(target) && readdirSync(target).length > 0) throw new UserError(`--out ${out}: already exists and is not empty; choose a new folder`);
  const tmp = join(dirname(target), `.${randomBytes(4).toString('hex')}.tmp`);
  mkdirSync(dirname(target), { recursive: true });
  try {
    cpSync(app, tmp, { recursive: true });
    rmSync(target, { recursive: true, force: true });
    renameSync(tmp, target);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  const count = (dir: string): number => readdirSync(dir, { withFileTypes: true }).reduce((n, e) => n + (e.isDirectory() ? count(join(dir, e.name)) : 1), 0);
  return count(target);
}
