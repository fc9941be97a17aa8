/** metadata_props that Netron shows and that tools read back: what a model is and where it came from. */
import type { ModelConfig } from '../graph/model.ts';

export function inferenceMetadata(config: ModelConfig, extra: Readonly<Record<string, string>> = {}): Record<string, string> {
  return {
    architecture: config.arch,
    se_reduction: config.reduction === null ? 'none' : String(config.reduction),
    se_width: config.reduction === null ? 'none' : config.seWidth ?? 'floor',
    classes: String(config.classes),
    input_shape: `${config.batch}x${config.input.join('x')}`,
    input_name: 'images',
    input_layout: 'NCHW float32',
    seed: String(config.seed),
    ...extra,
  };
}
