import { expected, either } from '../errors.ts';
import { DEVICES } from '../infer/session.ts';
import type { Device } from '../infer/session.ts';
import { SCORE_METRICS } from '../evaluate/stats.ts';
import type { ScoreMetric } from '../evaluate/stats.ts';

const WHAT: Record<string, string> = { none: 'integer', 0: 'non-negative integer', 1: 'positive integer' };

/**
 * An integer flag as cac hands it over (a string or a number), or undefined when not given.
 * `min` 0 or 1 also bounds it; the message names the flag and what it got.
 */
export function intFlag(value: string | number | undefined, flag: string, min?: 0 | 1): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (String(value).trim() === '' || !Number.isInteger(n) || (min !== undefined && n < min)) throw expected(WHAT[min ?? 'none']!, flag, value);
  return n;
}

/** A --device flag (cpu, cuda or webgpu), or undefined when not given; anything else names the choices. */
export function deviceFlag(value: unknown, flag = '--device'): Device | undefined {
  if (value === undefined) return undefined;
  const v = Array.isArray(value) ? value.at(-1) : value;
  if (!(DEVICES as readonly unknown[]).includes(v)) throw expected(either(DEVICES), flag, v);
  return v as Device;
}

/** A --metric flag (accuracy or balanced-accuracy), or undefined when not given. */
export function metricFlag(value: unknown): ScoreMetric | undefined {
  if (value === undefined) return undefined;
  const v = Array.isArray(value) ? value.at(-1) : value;
  if (!(SCORE_METRICS as readonly unknown[]).includes(v)) throw expected(either(SCORE_METRICS), '--metric', v);
  return v as ScoreMetric;
}

/**
 * argv with `--flag -3` joined into `--flag=-3`: cac would read a negative number after a flag as
 * a short option of its own ("Unknown option `-3`"). No command takes negative positionals.
 */
export function joinNegativeValues(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const next = argv[i + 1];
    if (arg.startsWith('--') && !arg.includes('=') && next !== undefined && /^-\d/.test(next)) {
      out.push(`${arg}=${next}`);
      i++;
    } else {
      out.push(arg);
    }
  }
  return out;
}

/** cac's key for a long flag's name: its camelCase (`test-fractions` -> `testFractions`), up to a dot. */
const cacKey = (name: string): string => name.split('.')[0]!.replace(/([a-z])-([a-z])/g, (_, a: string, b: string) => a + b.toUpperCase());

/**
 * The option of cac's parsed key `key` as it was typed in `argv`: `--test-fractions` for
 * testFractions, `--no-such` for such (cac reads a --no- flag as its name set to false), `-x` for
 * x inside `-xvf`. Only arguments before `--` are options.
 */
export function typedOption(argv: readonly string[], key: string): string {
  for (const arg of argv) {
    if (arg === '--') break;
    const flag = arg.split('=')[0]!;
    if (flag.startsWith('--')) {
      const name = flag.slice(2);
      if (cacKey(name) === key || (name.startsWith('no-') && cacKey(name.slice(3)) === key)) return flag;
    } else if (flag.startsWith('-') && flag.slice(1).includes(key) && key.length === 1) {
      return `-${key}`;
    }
  }
  return key.length > 1 ? `--${key}` : `-${key}`;
}

/** Edits (insert, delete, substitute) that turn `a` into `b`. */
function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next.push(Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    row = next;
  }
  return row[b.length]!;
}

/**
 * The one line for an option the command does not have, named as typed, with the nearest known
 * option when it is a slip away (two edits, a third of the name at most). `rawNames` are cac's
 * option declarations (`-h, --help`, `--out <dir>`); `help` is the command to run for the list.
 */
export function unknownOptionMessage(typed: string, rawNames: readonly string[], help: string): string {
  const known = rawNames.flatMap((raw) => raw.match(/(?<![\w-])--?[A-Za-z][\w-]*/g) ?? []);
  const scored = known.map((name) => ({ name, d: editDistance(typed, name) })).filter((k) => k.d <= 2 && k.d <= typed.replace(/^-+/, '').length / 3);
  const best = scored.sort((a, b) => a.d - b.d)[0];
  return `Unknown option \`${typed}\`${best ? `; did you mean \`${best.name}\`?` : `; ${help} lists the options`}`;
}
