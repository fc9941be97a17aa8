/**
 * Fine-tuning a run: the options that start it from published weights (--init, --init-format,
 * --se-width), freeze parts of it (--freeze, --freeze-bn) and normalise as those weights expect
 * (--normalize imagenet); and what the run records of them. The trainer calls in here at a few
 * points (option resolution, artifact generation, --resume's check, fold normalisation).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { UserError, expected, either } from '../errors.ts';
import type { ArtifactManifest, ArtifactSetup } from '../formats/artifacts.ts';
import type { Normalization, TrainOptions } from '../formats/rundir.ts';
import type { InitRecord, WeightLayout } from '../formats/state-dict.ts';
import { fileSha256, importWeights, parseLayout } from '../formats/state-dict.ts';
import type { ModelConfig } from '../graph/model.ts';
import { BATCH_SYMBOL, buildInferenceGraph } from '../graph/model.ts';
import type { ModelSpec, SeWidth } from '../graph/resnet.ts';
import { SE_WIDTHS } from '../graph/resnet.ts';
import { parseFreeze } from '../graph/freeze.ts';
import { IDENTITY_NORMALIZATION } from '../data/augment.ts';

/** torchvision's ImageNet normalisation (transforms.Normalize), what its and timm's weights expect. */
export const IMAGENET_NORMALIZATION: Normalization = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

export const NORMALIZATIONS = ['fold', 'none', 'imagenet'] as const;

/** What a user gives for fine-tuning, as TrainInput holds it. */
export interface FineTuneInput {
  readonly init?: string | null;
  readonly initFormat?: string | null;
  readonly initSha256?: string | null;
  readonly seWidth?: string | null;
  readonly freeze?: string | readonly string[] | null;
  readonly freezeBn?: boolean;
}

export type FineTuneOptions = Required<Pick<TrainOptions, 'init' | 'initFormat' | 'initSha256' | 'freeze' | 'freezeBn'>>;

export function parseSeWidth(value: string | null | undefined): SeWidth | undefined {
  if (value === undefined || value === null) return undefined;
  if (!SE_WIDTHS.includes(value as SeWidth)) throw expected(either(SE_WIDTHS), '--se-width', value);
  return value as SeWidth;
}

/**
 * The checked fine-tuning options. The --init file's SHA-256 is taken now; a run resumed after the
 * file was removed keeps the one recorded (its artifacts already hold the weights).
 */
export function resolveFineTune(o: FineTuneInput, spec: ModelSpec): FineTuneOptions {
  const init = o.init ? resolve(o.init) : null;
  const initFormat = o.initFormat && o.initFormat !== 'auto' ? parseLayout(o.initFormat) : null;
  if (initFormat && !init) throw new UserError('--init-format applies to --init: give the weights file too');
  const initSha256 = init === null ? null : !existsSync(init) && o.initSha256 ? o.initSha256 : fileSha256(init);
  const freeze = o.freeze ? parseFreeze(o.freeze, spec) : [];
  const freezeBn = o.freezeBn ?? false;
  if (freezeBn && freeze.length === 0) throw new UserError('--freeze-bn applies to frozen parts: give --freeze too (e.g. --freeze stem,layer1)');
  return { init, initFormat, initSha256, freeze, freezeBn };
}

/** `--resume` with another --init, or with the same path whose bytes changed, is refused in one line. */
export function checkSameInit(out: string, stored: TrainOptions, options: TrainOptions): void {
  const before = stored.init ?? null;
  const now = options.init ?? null;
  if (before !== now) {
    throw new UserError(`${out}: holds a run started from ${before === null ? 'seeded weights' : `--init ${before}`}, not ${now === null ? 'seeded weights' : `--init ${now}`}; use another --out, or leave --init out to continue this run`);
  }
  if (now !== null && stored.initSha256 && options.initSha256 !== stored.initSha256) {
    throw new UserError(`${now}: changed since ${out} started from it (sha256 ${options.initSha256?.slice(0, 12)}, was ${stored.initSha256.slice(0, 12)}); use another --out`);
  }
}

/**
 * What the run's artifacts start from: the --init weights matched against the seeded network (whose
 * classifier stays when the class count differs), and the frozen parts.
 */
export function artifactSetup(options: TrainOptions, config: ModelConfig): ArtifactSetup {
  const freeze = { parts: options.freeze ?? [], bn: options.freezeBn ?? false };
  if (!options.init) return { freeze };
  const target = buildInferenceGraph({ ...config, batch: BATCH_SYMBOL });
  const { tensors, record } = importWeights(options.init, target, (options.initFormat ?? undefined) as WeightLayout | undefined, config.arch);
  if (options.initSha256 && record.sha256 !== options.initSha256) {
    throw new UserError(`${options.init}: changed since this run started from it (sha256 ${record.sha256.slice(0, 12)}, was ${options.initSha256.slice(0, 12)}); use another --out`);
  }
  return { weights: tensors, init: record, freeze };
}

/**
 * Artifacts found in a run folder must have been made for this run's fine-tuning: the same SE
 * width and frozen parts, and the --init weights (or none), not silently others.
 */
export function checkArtifactsSetup(path: string, manifest: ArtifactManifest, options: TrainOptions): void {
  const built = { seWidth: manifest.seWidth ?? (manifest.reduction === null ? null : 'floor'), freeze: manifest.freeze?.parts ?? [], freezeBn: manifest.freeze?.bn ?? false };
  const needed = { seWidth: options.seWidth ?? (options.reduction === null ? null : 'floor'), freeze: options.freeze ?? [], freezeBn: options.freezeBn ?? false };
  if (JSON.stringify(built) !== JSON.stringify(needed)) {
    throw new UserError(`${path}: artifacts for ${JSON.stringify(built)}, but this run needs ${JSON.stringify(needed)}; remove them to have them generated`);
  }
  const have = manifest.init?.sha256 ?? null;
  const want = options.initSha256 ?? null;
  if (have !== want) {
    const what = (sha: string | null): string => (sha === null ? 'seeded weights' : `weights with sha256 ${sha.slice(0, 12)}`);
    throw new UserError(`${path}: artifacts with ${what(have)}, but this run starts from ${what(want)}${options.init ? ` (--init ${options.init})` : ''}; remove them to have them generated`);
  }
}

/** The lines a run prints about where its weights come from and what is frozen. */
export function describeSetup(record: InitRecord | null | undefined, options: TrainOptions): string[] {
  const lines: string[] = [];
  if (record) {
    lines.push(`initial weights: ${record.file} (${record.layout} layout, ${record.loaded} tensors, sha256 ${record.sha256.slice(0, 12)})`);
    for (const note of record.notes) lines.push(`  ${note}`);
  }
  if (options.freeze?.length) lines.push(`frozen: ${options.freeze.join(', ')}${options.freezeBn ? ' (their BatchNorms on running statistics)' : ''}`);
  return lines;
}

/** The fold's input normalisation: the fold's own statistics, ImageNet's, or none. */
export async function normalizationOf(normalize: TrainOptions['normalize'], foldStats: () => Promise<Normalization>): Promise<{ stats: Normalization; source: 'training fold' | 'none' | 'imagenet' }> {
  if (normalize === 'fold') return { stats: await foldStats(), source: 'training fold' };
  if (normalize === 'imagenet') return { stats: IMAGENET_NORMALIZATION, source: 'imagenet' };
  return { stats: IDENTITY_NORMALIZATION, source: 'none' };
}
