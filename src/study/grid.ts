/**
 * A sweep's grid: axes of ort-train options, read from `--grid key=v1,v2,...` flags or a named
 * sweep preset, and the grid points they span.
 *
 * An axis is a list of labelled option sets: `--grid lr=0.1,0.01` is the axis `lr` with the
 * points `0.1` ({ lr: 0.1 }) and `0.01` ({ lr: 0.01 }); `--grid preset=quick,paper` sets whole
 * ort-train presets; the `original-cases` sweep preset is one axis `case` whose points set several
 * options each. Points are the cartesian product of the axes in the order given, the last axis
 * varying fastest (as nested loops, the first axis outermost).
 */
import { UserError, expected, either } from '../errors.ts';
import type { TrainInput } from '../train/options.ts';
import { PRESETS } from '../train/options.ts';

/** A grid value as sweep.json stores it. */
export type GridValue = number | string | boolean;

export interface GridAxis {
  /** The option's camelCase name (`lr`, `weightDecay`), or `case` for a preset's named cases. */
  readonly key: string;
  readonly values: readonly { readonly label: string; readonly options: TrainInput }[];
}

export interface GridPoint {
  /** 0-based, in grid order. */
  readonly index: number;
  /** The point's folder name under runs/, e.g. `lr-0.1_reduction-4` (`default` for an empty grid). */
  readonly id: string;
  /** Axis key -> value label. */
  readonly values: Readonly<Record<string, string>>;
  /** The ort-train options this point sets. */
  readonly options: TrainInput;
}

type Kind = 'int' | 'number' | 'string' | 'bool';

/** ort-train options a grid may vary: what is trained, never where or how fast (threads, device, folds). */
export const GRID_KEYS: Readonly<Record<string, Kind>> = {
  lr: 'number', momentum: 'number', weightDecay: 'number', reduction: 'int', batchSize: 'int', epochs: 'int',
  itersPerEpoch: 'int', schedule: 'string', stepSize: 'int', gamma: 'number', warmupEpochs: 'int',
  labelSmoothing: 'number', colorJitter: 'number', stainJitter: 'number', seed: 'int', normalize: 'string', augment: 'bool', preset: 'string',
};

const camel = (key: string): string => key.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
export const kebab = (key: string): string => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

function value(kind: Kind, raw: string, where: string): GridValue {
  if (kind === 'string') return raw;
  if (kind === 'bool') {
    if (raw !== 'true' && raw !== 'false') throw expected('true or false', where, raw);
    return raw === 'true';
  }
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || (kind === 'int' && !Number.isInteger(n))) throw expected(kind === 'int' ? 'integer' : 'number', where, raw);
  return n;
}

/** One `--grid key=v1,v2` flag as an axis; every problem is a one-line UserError naming the flag. */
export function parseGridFlag(flag: string): GridAxis {
  const eq = flag.indexOf('=');
  if (eq <= 0) throw expected('key=value,value,... (e.g. lr=0.1,0.01)', '--grid', flag);
  const key = camel(flag.slice(0, eq).trim());
  const kind = GRID_KEYS[key];
  if (!kind) throw new UserError(`--grid ${flag}: unknown grid key "${flag.slice(0, eq)}"; known: ${Object.keys(GRID_KEYS).map(kebab).join(', ')}`);
  const raws = flag.slice(eq + 1).split(',').map((v) => v.trim());
  if (raws.some((v) => v === '')) throw new UserError(`--grid ${flag}: empty value; give one or more values separated by commas`);
  if (new Set(raws).size !== raws.length) throw new UserError(`--grid ${flag}: a value is repeated`);
  const where = `--grid ${kebab(key)}`;
  return {
    key,
    values: raws.map((raw) => {
      const v = value(kind, raw, where);
      if (key === 'preset' && !(raw in PRESETS)) throw expected(either(Object.keys(PRESETS)), where, raw);
      return { label: raw, options: { [key]: v } as TrainInput };
    }),
  };
}

/** Several `--grid` flags; one key twice is an error. */
export function parseGrid(flags: readonly string[]): GridAxis[] {
  const axes = flags.map(parseGridFlag);
  const seen = new Set<string>();
  for (const a of axes) {
    if (seen.has(a.key)) throw new UserError(`--grid ${kebab(a.key)}: given twice; put every value in one --grid ${kebab(a.key)}=...`);
    seen.add(a.key);
  }
  return axes;
}

/** A sweep preset: networks, shared options and an axis of named cases. */
export interface SweepPreset {
  readonly description: string;
  readonly archs: readonly string[];
  readonly options: TrainInput;
  readonly axis: GridAxis;
}

/**
 * original-cases: the original study's three cases over ResNet-20 and SE-ResNet-20 at its scale
 * (the `paper` preset: 150 epochs of 700 batches of 64, SGD momentum 0.9, no normalisation).
 *   case 1  lr 0.0001, x0.1 every 40 epochs
 *   case 2  lr 0.0001, constant
 *   case 3  lr 0.1, x0.1 every 40 epochs (where the plain ResNet's folds scattered)
 */
export const SWEEP_PRESETS: Readonly<Record<string, SweepPreset>> = {
  'original-cases': {
    description: "the original study's three cases at its scale",
    archs: ['resnet20', 'se_resnet20'],
    options: { preset: 'paper' },
    axis: {
      key: 'case',
      values: [
        { label: '1', options: { lr: 0.0001, schedule: 'step', stepSize: 40, gamma: 0.1 } },
        { label: '2', options: { lr: 0.0001, schedule: 'constant' } },
        { label: '3', options: { lr: 0.1, schedule: 'step', stepSize: 40, gamma: 0.1 } },
      ],
    },
  },
};

/** The grid's points: the cartesian product of the axes, the last axis fastest. */
export function gridPoints(axes: readonly GridAxis[]): GridPoint[] {
  let combos: { label: string; options: TrainInput }[][] = [[]];
  for (const axis of axes) combos = combos.flatMap((c) => axis.values.map((v) => [...c, v]));
  return combos.map((combo, index) => {
    const values = Object.fromEntries(axes.map((a, i) => [a.key, combo[i]!.label]));
    const id = axes.length === 0 ? 'default' : axes.map((a, i) => `${kebab(a.key)}-${combo[i]!.label.replace(/[^A-Za-z0-9.+-]/g, '_')}`).join('_');
    return { index, id, values, options: Object.assign({}, ...combo.map((c) => c.options)) as TrainInput };
  });
}
