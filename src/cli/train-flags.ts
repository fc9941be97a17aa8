import type { Command } from 'cac';
import { UserError, expected } from '../errors.ts';
import { readJson } from '../formats/json.ts';
import { parseInputShape } from '../graph/model.ts';
import type { TrainInput } from '../train/options.ts';
import { PRESETS } from '../train/options.ts';

/**
 * The training options as flags and as JSON: their definitions (shared by ort-train, study,
 * sweep and init) and how flags, a `--config` file and a project file (cli/project.ts) are read
 * into ort-train's input. Keys are the long flags, in kebab-case or camelCase.
 */

/** How each option's raw value (a flag's string or number, a config file's JSON value) is read. */
type Kind = 'string' | 'int' | 'number' | 'bool' | 'shape' | 'folds' | 'numbers' | 'nullableInt' | 'names' | 'weights';

export const TRAIN_OPTIONS: Readonly<Record<string, Kind>> = {
  data: 'string', arch: 'string', reduction: 'int', input: 'shape', fold: 'int', folds: 'folds', epochs: 'int',
  batchSize: 'int', itersPerEpoch: 'nullableInt', lr: 'number', momentum: 'number', weightDecay: 'number',
  schedule: 'string', stepSize: 'int', gamma: 'number', warmupEpochs: 'int', augment: 'bool', colorJitter: 'number', stainJitter: 'number',
  normalize: 'string', labelSmoothing: 'number', classWeights: 'weights', seed: 'int', threads: 'int', device: 'string', kernels: 'string',
  workers: 'int', keepAll: 'bool', out: 'string', preset: 'string', resume: 'bool',
  init: 'string', initFormat: 'string', seWidth: 'string', freeze: 'names', freezeBn: 'bool',
};

const kebab = (key: string): string => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const camel = (key: string): string => key.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

function number(raw: unknown, where: string, integer: boolean): number {
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n))) throw expected(integer ? 'integer' : 'number', where, raw);
  return n;
}

function read(kind: Kind, raw: unknown, where: string): unknown {
  switch (kind) {
    case 'string':
      if (typeof raw !== 'string' && typeof raw !== 'number') throw expected('text', where, raw);
      return String(raw);
    case 'int':
      return number(raw, where, true);
    case 'nullableInt':
      return raw === null ? null : number(raw, where, true);
    case 'number':
      return number(raw, where, false);
    case 'bool':
      if (typeof raw !== 'boolean') throw expected('true or false', where, raw);
      return raw;
    case 'shape':
      if (Array.isArray(raw)) return parseInputShape(raw.join('x'));
      return parseInputShape(String(raw));
    case 'names':
      return (Array.isArray(raw) ? raw : String(raw).split(',')).map((p) => String(p).trim());
    case 'weights':
      if (raw === 'balanced') return raw;
      try {
        return read('numbers', raw, where);
      } catch (err) {
        if (err instanceof UserError) throw expected('numbers w,w,... or balanced', where, raw);
        throw err;
      }
    case 'numbers': {
      const parts = Array.isArray(raw) ? raw : String(raw).split(',');
      return parts.map((p) => number(p, where, false));
    }
    case 'folds': {
      if (raw === 'all') return 'all';
      const parts = Array.isArray(raw) ? raw : String(raw).split(',');
      return parts.map((p) => number(p, where, true));
    }
  }
}

/** Typed options from raw values; `where(key)` names the source in errors (`--lr`, `run.json "lr"`). */
export function readOptions(raw: Record<string, unknown>, where: (key: string) => string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    const name = camel(key);
    const kind = TRAIN_OPTIONS[name];
    if (!kind) throw new UserError(`${where(key)}: unknown option; known: ${Object.keys(TRAIN_OPTIONS).map(kebab).join(', ')}`);
    out[name] = read(kind, value, where(key));
  }
  return out;
}

function readConfigFile(path: string): Record<string, unknown> {
  const json = readJson<unknown>(path, 'the config file');
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new UserError(`${path}: expected a JSON object of options`);
  return readOptions(json as Record<string, unknown>, (key) => `${path} "${key}"`);
}

/** Flags as cac parses them, plus cac's own keys (`--`, `config`), which are dropped here. */
export type RawFlags = Record<string, unknown>;

/** The training input of parsed flags: config file first, flags over it, `--fold` folded into `folds`. */
export function trainInput(flags: RawFlags, known: Readonly<Record<string, Kind>> = TRAIN_OPTIONS): TrainInput {
  const { config, '--': _, ...rest } = flags;
  // A flag given twice arrives as an array; as in most command lines, the last one wins.
  const given = Object.fromEntries(Object.entries(rest).filter(([k]) => camel(k) in known).map(([k, v]) => [k, Array.isArray(v) ? v.at(-1) : v]));
  const merged = { ...(config !== undefined ? readConfigFile(String(config)) : {}), ...readOptions(given, (key) => `--${kebab(key)}`) };
  if (merged['fold'] !== undefined) {
    if (flags['folds'] !== undefined) throw new UserError('--fold and --folds both given; use one');
    merged['folds'] = [merged['fold']];
    delete merged['fold'];
  }
  return merged as TrainInput;
}

/** The training flags, shared by `ort-train` and `study`. */
export function addTrainingOptions(command: Command): Command {
  return command
    .option('--config <file.json>', 'Read options from a JSON file (keys as these flags); flags override it')
    .option('--preset <name>', `Start from a named set of options: ${Object.keys(PRESETS).join(', ')} (paper: 150 epochs x 700 batches of 64, lr 0.0001, x0.1 every 40 epochs)`)
    .option('--reduction <r>', 'SE reduction ratio (default 16)')
    .option('--se-width <floor|timm>', 'SE hidden width: floor is C // r (senet.pytorch, Cadene), timm rounds C / r to a multiple of 8 (default floor)')
    .option('--init <file.safetensors>', 'Start from these weights (torchvision, timm, legacy SE-ResNet, senet.pytorch or our own state_dict); a differing classifier is re-initialised')
    .option('--init-format <layout>', 'Layout of --init: torchvision, timm, legacy-se, senet.pytorch, senet-ort (default: detected from the names)')
    .option('--freeze <parts>', 'Parts that are not trained (no gradient computed): stem, layer1, ..., or backbone (everything but fc)')
    .option('--freeze-bn', 'BatchNorms of frozen parts use their running statistics, which stay fixed')
    .option('--input <CxHxW>', 'Network input; tiles of another size are resized (default: the tile size)')
    .option('--epochs <n>', 'Epochs per fold (default 30)')
    .option('--batch-size <n>', 'Training batch size (default 64)')
    .option('--iters-per-epoch <n>', 'Steps per epoch (default: one pass over the fold\'s training tiles)')
    .option('--lr <x>', 'SGD learning rate (default 0.01)')
    .option('--momentum <x>', 'SGD momentum (default 0.9)')
    .option('--weight-decay <x>', 'SGD weight decay (default 0.0001)')
    .option('--schedule <kind>', 'Learning-rate schedule: step, cosine or constant (default step)')
    .option('--step-size <n>', 'step: epochs between decays (default 10)')
    .option('--gamma <x>', 'step: decay factor (default 0.1)')
    .option('--warmup-epochs <n>', 'Linear learning-rate warmup (default 0)')
    .option('--augment', 'Random flips and 90-degree rotations (default on; --no-augment turns them off)')
    .option('--no-augment', 'Train on the tiles as they are')
    .option('--color-jitter <s>', 'Brightness, contrast and saturation jitter of strength s, e.g. 0.1 (default 0: off)')
    .option('--stain-jitter <s>', 'H&E stain jitter in HED space: per stain a factor from [1-s, 1+s] and an offset from [-s, s], e.g. 0.05 (default 0: off)')
    .option('--normalize <how>', 'fold: per-channel mean/std of the training fold; imagenet: torchvision\'s mean/std (for ImageNet weights); none: pixels in [0, 1] (default fold)')
    .option('--label-smoothing <x>', 'CrossEntropyLoss label smoothing (default 0)')
    .option('--class-weights <w,w,...|balanced>', 'CrossEntropyLoss class weights, one per class, or balanced: n / (classes x count) from the non-test tiles (scikit-learn\'s), once per run')
    .option('--seed <n>', 'Seed of weight initialisation, shuffling and augmentation (default 0)')
    .option('--threads <n>', 'ONNX Runtime intra-op threads (default: the number of CPUs)')
    .option('--device <cpu|cuda|webgpu>', 'Execution provider: cpu (default); cuda (ONNX Runtime\'s CUDA binaries, NVIDIA); webgpu (the bundled WebGPU provider: Vulkan on Linux, Metal on macOS, D3D12 on Windows)')
    .option('--kernels <auto|portable|x64|webgpu>', 'Training step kernels: x64 runs ONNX Runtime\'s NCHWc convolutions on x86-64 CPUs, webgpu the step rewritten for the WebGPU provider; auto (default) picks x64 where a probe finds it, webgpu on --device webgpu, else portable')
    .option('--workers <n>', 'Data loader threads (default: a quarter of the CPUs, 1 to 4)')
    .option('--keep-all', 'Keep every epoch\'s checkpoint, not just the last and the best');
}

