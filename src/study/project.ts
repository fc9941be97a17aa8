/**
 * The project file `senet-ort.json`: what an experiment folder trains, so that `ort-train --fold 2`
 * run in that folder works exactly as typed. Its format is ort-train's `--config` file (keys as the
 * long flags, in kebab-case or camelCase) plus one key of its own:
 *
 *   {
 *     "data": "data",              the prepared data set, relative to the file's folder
 *     "arch": "se_resnet20",       the network ort-train trains when --arch is not given
 *     "runs": ".",                 run folders are <runs>/<arch> (default artifacts/<arch>), relative to the file's folder
 *     "input": "3x64x64", ...      any ort-train option
 *   }
 *
 * `senet-ort init`, `study` and `sweep` write one; ort-train reads the one in the current folder
 * unless `--config` names another file.
 */
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { UserError } from '../errors.ts';
import { prepareSource } from '../data/index.ts';
import type { PreparedSource, SplitOptions, TilingOptions } from '../data/index.ts';
import { readPreparedDataset } from '../data/prepared.ts';
import type { TrainInput } from '../train/options.ts';
import { resolveTrainOptions } from '../train/options.ts';
import { writeFileAtomic } from '../util/atomic.ts';

export const PROJECT_FILE = 'senet-ort.json';

/** The key a project file has beyond ort-train's options. */
export const PROJECT_KEYS: readonly string[] = ['runs'];

export interface Project {
  /** The prepared data set. */
  readonly data: string;
  readonly arch?: string;
  /** Run folders are <runs>/<arch>. */
  readonly runs?: string;
  readonly options?: TrainInput;
}

/** A path as the project file stores it: relative to the file's folder when inside it. */
function stored(dir: string, path: string): string {
  const rel = relative(dir, resolve(path));
  return rel === '' ? '.' : rel.startsWith('..') || isAbsolute(rel) ? resolve(path) : rel;
}

const kebab = (key: string): string => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** Write <dir>/senet-ort.json (atomically); options as ort-train's flags name them. */
export function writeProject(dir: string, project: Project): string {
  const { data: _d, arch: _a, out: _o, folds: _f, resume: _r, threads: _t, workers: _w, ...options } = project.options ?? {};
  const body: Record<string, unknown> = {
    data: stored(dir, project.data),
    ...(project.arch !== undefined ? { arch: project.arch } : {}),
    ...(project.runs !== undefined ? { runs: stored(dir, project.runs) } : {}),
  };
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue;
    body[kebab(key)] = key === 'input' && Array.isArray(value) ? value.join('x') : value;
  }
  const path = join(dir, PROJECT_FILE);
  writeFileAtomic(path, `${JSON.stringify(body, null, 2)}\n`);
  return path;
}

/** The project file of `dir`, if there is one. */
export function findProject(dir: string): string | null {
  const path = join(resolve(dir), PROJECT_FILE);
  return existsSync(path) ? path : null;
}

/** Resolve a project file's relative paths against its folder. */
export function projectPath(file: string, path: string): string {
  return resolve(dirname(file), path);
}

export const NO_PROJECT: string = `missing --arch and --data; give them, or run in a folder with a ${PROJECT_FILE} project file (make one with: senet-ort init <images-or-prepared-dir> --arch se_resnet20)`;

/** What `init` checks before writing: a folder that already holds a project is left alone. */
export function checkNoProject(dir: string): void {
  const path = join(resolve(dir), PROJECT_FILE);
  if (existsSync(path)) throw new UserError(`${path}: already there; edit it, or remove it to make a new one`);
}

/** How `init` prepares its source: the tiling options for images, the grouping for a data set not split yet. */
export interface InitData {
  readonly tiling?: TilingOptions;
  readonly split?: Omit<SplitOptions, 'dir'>;
}

/**
 * `senet-ort init`: a project in `dir` from images, a tiled data set or a split one, made a
 * prepared, split data set as study and sweep make it (src/data/prepare.ts: into <dir>/data unless
 * it is split already).
 */
export async function initProject(source: string, dir: string, arch: string, options: TrainInput = {}, prepare: InitData = {}): Promise<{ path: string; data: string; prepared: PreparedSource }> {
  checkNoProject(dir);
  const prepared = await prepareSource({ source, output: join(resolve(dir), 'data'), ...prepare });
  const data = prepared.data;
  // Checks the options against the data before the file is written.
  resolveTrainOptions({ ...options, data, arch }, readPreparedDataset(data));
  return { path: writeProject(resolve(dir), { data, arch, runs: '.', options }), data, prepared };
}
