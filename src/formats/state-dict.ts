/**
 * Published weights into our networks: a safetensors state_dict in one of the layouts the PyTorch
 * ResNet/SE-ResNet libraries write, renamed to our names (torchvision's state_dict keys), checked
 * tensor by tensor against a built graph, strictly. The layouts:
 *   torchvision    resnet18..152: our names as they are (timm's resnet* write the same names)
 *   timm           seresnet*: the same names plus `layerX.Y.se.fc1/fc2` (widths: --se-width timm)
 *   legacy-se      timm's legacy_seresnet* and Cadene's se_resnet*: `layer0.conv1` -> `conv1`,
 *                  `layer0.bn1` -> `bn1`, `se_module.fc1/fc2` -> `se.fc1/fc2`, `last_linear` -> `fc`;
 *                  trained in the SENet authors' Caffe layout, our legacy_* networks
 *   senet.pytorch  moskomule's se_resnet*: SE blocks of Linear layers without bias, `se.fc.0` and
 *                  `se.fc.2` [out, in], reshaped to our 1x1 convs; their biases start at zero
 *   senet-ort      this project's checkpoints and init.safetensors (momentum buffers are dropped)
 * Everywhere, `num_batches_tracked` is ignored and a DataParallel `module.` prefix is dropped.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import type { Graph, Tensor } from '../graph/ir.ts';
import { numel } from '../graph/ir.ts';
import { isLegacy, layoutTwin, plainTwin, seTwin } from '../graph/registry.ts';
import { decodeSafetensors } from './safetensors.ts';
import { UserError, expected } from '../errors.ts';

export type WeightLayout = 'torchvision' | 'timm' | 'legacy-se' | 'senet.pytorch' | 'senet-ort';
export const WEIGHT_LAYOUTS: readonly WeightLayout[] = ['torchvision', 'timm', 'legacy-se', 'senet.pytorch', 'senet-ort'];

/** What an import did, as config.json and artifact.json record it. */
export interface InitRecord {
  /** The file as given (absolute when it comes from a run's options). */
  readonly file: string;
  readonly sha256: string;
  readonly layout: WeightLayout;
  /** Tensors taken over from the file. */
  readonly loaded: number;
  /** Tensors left at their seeded initialisation (the classifier, when the class count differs). */
  readonly reinitialised: readonly string[];
  /** Tensors the file lacks by design that start at zero (senet.pytorch's SE biases). */
  readonly zeroed: readonly string[];
  /** File tensors deliberately not used (num_batches_tracked, momentum buffers). */
  readonly ignored: number;
  /** What a user should know, one sentence each. */
  readonly notes: readonly string[];
}

export interface ImportedWeights {
  /** Every parameter and buffer of the target graph: imported, or the graph's own where the record says so. */
  readonly tensors: Map<string, Tensor>;
  readonly record: InitRecord;
}

/** Python that turns a PyTorch pickle into the safetensors file this reads (README, "Fine-tuning"). */
export function conversionCommand(file: string): string {
  const out = `${basename(file, extname(file))}.safetensors`;
  return `python3 -c "import torch; from safetensors.torch import save_file; sd = torch.load('${file}', map_location='cpu'); sd = sd.get('state_dict', sd); save_file({k: v.float().contiguous() for k, v in sd.items() if v.is_floating_point()}, '${out}')"`;
}

const PICKLE_EXTENSIONS = new Set(['.pth', '.pt', '.pkl', '.ckpt', '.tar']);

/** The file's tensors and SHA-256; a PyTorch pickle is refused with the conversion to run. */
export function readWeightFile(file: string): { tensors: Map<string, Tensor>; metadata: Record<string, string>; sha256: string } {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new UserError(`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  // torch.save writes a zip (PK\x03\x04) since PyTorch 1.6, a bare pickle (\x80) before.
  const zip = bytes.length >= 4 && bytes.readUInt32LE(0) === 0x04034b50;
  const pickle = bytes.length >= 2 && bytes[0] === 0x80 && bytes[1]! <= 5;
  if (zip || pickle || PICKLE_EXTENSIONS.has(extname(file).toLowerCase())) {
    throw new UserError(`${file}: a PyTorch pickle, not safetensors (which loads no code); convert it once: ${conversionCommand(file)}`);
  }
  const { tensors, metadata } = decodeSafetensors(bytes, file);
  return { tensors, metadata, sha256: createHash('sha256').update(bytes).digest('hex') };
}

/** The layout a state_dict's names (and senet-ort's own metadata) betray. */
export function detectLayout(names: readonly string[], metadata: Readonly<Record<string, string>> = {}): WeightLayout {
  const plain = names.map((n) => n.replace(/^module\./, ''));
  if ((metadata['producer'] ?? '').startsWith('senet-ort') || plain.some((n) => n.endsWith('.momentum'))) return 'senet-ort';
  if (plain.some((n) => n.startsWith('layer0.') || n.startsWith('last_linear.') || n.includes('.se_module.'))) return 'legacy-se';
  if (plain.some((n) => /\.se\.fc\.\d+\.weight$/.test(n))) return 'senet.pytorch';
  if (plain.some((n) => n.includes('.se.fc1.'))) return 'timm';
  return 'torchvision';
}

export function parseLayout(value: string): WeightLayout {
  if (!WEIGHT_LAYOUTS.includes(value as WeightLayout)) throw expected(WEIGHT_LAYOUTS.join(', ') + ' or auto', '--init-format', value);
  return value as WeightLayout;
}

/** A file name in our names, or null for a tensor that is ignored by design. */
export function ourName(name: string, layout: WeightLayout): string | null {
  const n = name.replace(/^module\./, '');
  if (n.endsWith('.num_batches_tracked')) return null;
  switch (layout) {
    case 'torchvision':
    case 'timm':
      return n;
    case 'senet-ort':
      return n.endsWith('.momentum') ? null : n;
    case 'legacy-se':
      return n.replace(/^layer0\.(conv1|bn1)\./, '$1.').replace(/\.se_module\.(fc1|fc2)\./, '.se.$1.').replace(/^last_linear\./, 'fc.');
    case 'senet.pytorch':
      return n.replace(/\.se\.fc\.0\.weight$/, '.se.fc1.weight').replace(/\.se\.fc\.2\.weight$/, '.se.fc2.weight');
  }
}

const dims = (d: readonly number[]): string => `[${d.join(',')}]`;
const sameDims = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((d, i) => d === b[i]);
const isClassifier = (name: string): boolean => name === 'fc.weight' || name === 'fc.bias';
const isSeBias = (name: string): boolean => /\.se\.fc[12]\.bias$/.test(name);

/** A Linear weight [out, in] as the 1x1 conv weight [out, in, 1, 1] it equals. */
function asConv(t: Tensor, want: readonly number[]): Tensor | null {
  if (t.dims.length === 2 && want.length === 4 && want[2] === 1 && want[3] === 1 && t.dims[0] === want[0] && t.dims[1] === want[1]) {
    return { ...t, dims: [...want] };
  }
  return null;
}

function listed(what: string, names: readonly string[]): string {
  const shown = names.slice(0, 3).join(', ');
  return `${names.length} ${what} (${shown}${names.length > 3 ? ', ...' : ''})`;
}

/**
 * The target graph's parameters and buffers taken from `source`, strictly: every missing,
 * unexpected or wrongly shaped tensor is reported in one error naming `file`. The one exception is
 * the classifier when the class count differs: it keeps the graph's own (seeded) initialisation.
 */
export function matchStateDict(
  target: Graph, source: ReadonlyMap<string, Tensor>, file: string,
  options: { layout: WeightLayout; sha256: string; arch?: string },
): ImportedWeights {
  const { layout } = options;
  const arch = options.arch ?? target.name;
  const renamed = new Map<string, { from: string; tensor: Tensor }>();
  let ignored = 0;
  for (const [name, tensor] of source) {
    const ours = ourName(name, layout);
    if (ours === null) ignored++;
    else renamed.set(ours, { from: name, tensor });
  }
  const tensors = new Map<string, Tensor>();
  const missing: string[] = [];
  const wrong: string[] = [];
  const reinitialised: string[] = [];
  const zeroed: string[] = [];
  const used = new Set<string>();
  const classifier: string[] = [];
  for (const init of target.initializers) {
    if (init.kind === 'constant') continue;
    const name = init.value.name;
    const want = init.tensor.dims;
    const found = renamed.get(name);
    if (!found) {
      if (layout === 'senet.pytorch' && isSeBias(name)) {
        tensors.set(name, { dtype: 'float32', dims: [...want], data: new Float32Array(numel(want)) });
        zeroed.push(name);
      } else {
        missing.push(name);
      }
      continue;
    }
    used.add(name);
    const t = found.tensor;
    const shaped = sameDims(t.dims, want) ? t : asConv(t, want);
    if (t.dtype !== 'float32') {
      wrong.push(`${found.from} is ${t.dtype}, expected float32`);
    } else if (shaped) {
      tensors.set(name, shaped);
    } else if (isClassifier(name) && t.dims.length === want.length && t.dims.slice(1).every((d, i) => d === want[i + 1])) {
      classifier.push(`${t.dims[0]}`);
      tensors.set(name, init.tensor);
      reinitialised.push(name);
    } else {
      wrong.push(`${found.from} ${dims(t.dims)}, expected ${dims(want)}`);
    }
  }
  const unexpected = [...renamed.entries()].filter(([name]) => !used.has(name)).map(([, v]) => v.from);
  if (missing.length || wrong.length || unexpected.length) {
    const parts = [
      ...(missing.length ? [listed('missing', missing)] : []),
      ...(unexpected.length ? [listed('unexpected', unexpected)] : []),
      ...(wrong.length ? [listed('wrongly shaped', wrong)] : []),
    ];
    throw new UserError(`${file}: does not fit ${arch} as a ${layout} state_dict: ${parts.join('; ')}${hint(layout, arch, missing, unexpected, wrong, used.size)}`);
  }
  const notes: string[] = [];
  if (reinitialised.length) notes.push(`the file's classifier has ${classifier[0]} classes, this network ${target.initializers.find((i) => i.value.name === 'fc.bias')?.tensor.dims[0]}: fc.weight and fc.bias are re-initialised`);
  if (zeroed.length) notes.push(`senet.pytorch's SE layers have no biases: ${zeroed.length} SE biases start at zero`);
  const otherLayout = layoutWarning(layout, arch);
  if (otherLayout) notes.push(otherLayout);
  const record: InitRecord = { file, sha256: options.sha256, layout, loaded: used.size - reinitialised.length, reinitialised, zeroed, ignored, notes };
  return { tensors, record };
}

/**
 * The warning for weights trained in one layout and loaded into a network of the other: they fit
 * tensor for tensor, but the stem's pooling and the blocks differ, so the features do until
 * fine-tuned. Our own checkpoints name no layout, and resume into the network that wrote them.
 */
function layoutWarning(layout: WeightLayout, arch: string): string | null {
  if (layout === 'senet-ort') return null;
  const legacyFile = layout === 'legacy-se';
  if (legacyFile === isLegacy(arch)) return null;
  const twin = layoutTwin(arch);
  const trained = legacyFile
    ? 'legacy SE-ResNet weights (Cadene\'s se_resnet*, timm\'s legacy_seresnet*) were trained in the SENet authors\' Caffe layout'
    : `${layout} weights were trained in torchvision's layout`;
  return `warning: ${trained}, which ${arch} does not have (stem pooling, block layout): they fit but compute other features until fine-tuned${twin ? `; ${twin} is the network they were trained in` : ''}`;
}

/** What a mismatch most likely means, as one clause. */
function hint(layout: WeightLayout, arch: string, missing: readonly string[], unexpected: readonly string[], wrong: readonly string[], matched: number): string {
  if (matched === 0) return `; none of its names fit: check --arch, or give --init-format (${WEIGHT_LAYOUTS.join(', ')})`;
  if (wrong.some((w) => /\.se\.fc1\.weight/.test(w))) return layout === 'timm' ? '; timm rounds SE widths to multiples of 8: add --se-width timm' : '; check --reduction and --se-width';
  if (unexpected.some((n) => /\.se(_module)?\./.test(n)) && !missing.some((n) => n.includes('.se.'))) return `; the file is an SE-ResNet: try --arch ${seTwin(arch) ?? 'se_<network>'}`;
  if (missing.length && missing.every((n) => n.includes('.se.'))) return `; the file has no SE blocks: try --arch ${plainTwin(arch) ?? 'the plain network'}`;
  if (missing.length && unexpected.length) return '; the file is probably another depth or block kind: check --arch';
  return '';
}

/** Read `file` and take the target graph's weights from it (layout detected unless given). */
export function importWeights(file: string, target: Graph, layout?: WeightLayout, arch?: string): ImportedWeights {
  const { tensors, metadata, sha256 } = readWeightFile(file);
  const chosen = layout ?? detectLayout([...tensors.keys()], metadata);
  return matchStateDict(target, tensors, file, { layout: chosen, sha256, ...(arch ? { arch } : {}) });
}

/** SHA-256 of a file's bytes (for config.json and --resume's check). */
export function fileSha256(file: string): string {
  try {
    return createHash('sha256').update(readFileSync(file)).digest('hex');
  } catch (err) {
    throw new UserError(`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}
