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
