import { dirname, join, resolve } from 'node:path';
import { UserError } from '../errors.ts';
import { NO_PROJECT, PROJECT_KEYS, findProject } from '../study/project.ts';
import type { TrainInput } from '../train/options.ts';
import type { RawFlags } from './train-flags.ts';
import { readOptions, trainInput } from './train-flags.ts';
import { readJson } from '../formats/json.ts';

/**
 * ort-train's input with the project file (src/study/project.ts) of `cwd` under the flags, unless
 * `--config` names a file: `ort-train --fold 2` in a project folder trains fold 2 of its network
 * on its data with its options, into <runs>/<arch>.
 */
export function projectTrainInput(flags: RawFlags, cwd: string = process.cwd()): TrainInput {
  const given = trainInput(flags);
  const file = flags['config'] === undefined ? findProject(cwd) : null;
  if (!file) {
    if (!given.arch && !given.out) throw new UserError(NO_PROJECT);
    return given;
  }
  const json = readJson<unknown>(file, 'a senet-ort project file');
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new UserError(`${file}: expected a JSON object of options`);
  const raw = { ...(json as Record<string, unknown>) };
  const runs = raw['runs'];
  for (const key of PROJECT_KEYS) delete raw[key];
  if (runs !== undefined && typeof runs !== 'string') throw new UserError(`${file} "runs": expected a folder name`);
  const dir = dirname(file);
  const project = readOptions(raw, (key) => `${file} "${key}"`) as TrainInput;
  const input: TrainInput = { ...project, ...given };
  // Paths in the project file are relative to its folder; flags' paths to the current folder.
  if (given.data === undefined && project.data !== undefined) input.data = resolve(dir, project.data);
  if (given.out === undefined) {
    if (project.out !== undefined) input.out = resolve(dir, project.out);
    else if (input.arch) input.out = join(resolve(dir, runs ?? 'artifacts'), input.arch);
  }
  if (!input.arch && !input.out) throw new UserError(`${file}: no "arch"; add one, or give --arch`);
  return input;
}
