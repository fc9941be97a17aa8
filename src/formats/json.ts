/**
 * The one reader of JSON files a user can see, move or edit (config.json, splits.json, state.json,
 * metrics.json, …). Whatever goes wrong is one UserError line that names the file first:
 *
 *   <path>: not found; <hint, or "expected <what>">
 *   <path>: cannot read <what> (<error code>)
 *   <path>: <what> is not valid JSON (<parser's reason>)
 *
 * `what` says what the file should be ("the run config"); `hint` says how to get it made, when
 * another command makes it. Checking the shape of the parsed value is the caller's job: only the
 * caller knows what the file must hold.
 */
import { existsSync, readFileSync } from 'node:fs';
import { UserError } from '../errors.ts';

export function readJson<T>(path: string, what: string, hint?: string): T {
  if (!existsSync(path)) throw new UserError(`${path}: not found; ${hint ?? `expected ${what}`}`);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UserError(`${path}: cannot read ${what} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  return parseJson<T>(text, path, what);
}

/** Parse JSON text that came from `path` (a whole file, or one line of a JSON-lines file such as `log.jsonl:3`). */
export function parseJson<T>(text: string, path: string, what: string): T {
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    const reason = String((err as Error)?.message ?? err).split('\n')[0];
    throw new UserError(`${path}: ${what} is not valid JSON (${reason})`);
  }
}
