/**
 * Freezing for fine-tuning: which parameters a training step leaves alone. A network's parts are
 * named as a user thinks of them: `stem` (conv1, bn1), `layer1` ... `layerN` (the stages), and
 * `backbone` for everything but the classifier `fc`.
 */
import type { ModelSpec } from './resnet.ts';
import { expected } from '../errors.ts';

export interface Freeze {
  /** Parts, in network order, as `parseFreeze` returns them; empty for a full step. */
  readonly parts: readonly string[];
  /** BatchNorm layers of frozen parts run in inference mode, their running statistics fixed. */
  readonly bn: boolean;
}

export const NO_FREEZE: Freeze = { parts: [], bn: false };

/** Every part name a network has, in order: stem, layer1..layerN. */
export function partNames(spec: ModelSpec): string[] {
  return ['stem', ...spec.stages.map((_, i) => `layer${i + 1}`)];
}

/** `stem,layer1` or `backbone` as the ordered list of parts; `backbone` is every part but fc. */
export function parseFreeze(text: string | readonly string[], spec: ModelSpec): string[] {
  const known = partNames(spec);
  const given = (typeof text === 'string' ? text.split(',') : [...text]).map((s) => s.trim()).filter((s) => s !== '');
  const parts = new Set<string>();
  for (const part of given) {
    if (part === 'backbone') known.forEach((k) => parts.add(k));
    else if (known.includes(part)) parts.add(part);
    else throw expected(`a comma-separated list of ${[...known, 'backbone'].join(', ')}`, '--freeze', typeof text === 'string' ? text : text.join(','));
  }
  return known.filter((k) => parts.has(k));
}

/** Whether a parameter or buffer (by state_dict name) belongs to a frozen part. */
export function isFrozen(name: string, parts: readonly string[]): boolean {
  const part = /^(conv1|bn1)\./.test(name) ? 'stem' : /^(layer\d+)\./.exec(name)?.[1];
  return part !== undefined && parts.includes(part);
}
