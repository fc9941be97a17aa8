/** metadata_props that Netron shows and that tools read back: what a model is and where it came from. */
import type { ModelConfig } from '../graph/model.ts';
import type { Preparation } from './preparation.ts';

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

/**
 * How the training tiles were prepared, for whoever applies the model to new images: `tile_mpp`
 * (µm per pixel, or `none`: tiles at each image's own resolution), `tissue_detection` and
 * `stain_normalization` (JSON, as dataset.json's "preparation" holds them).
 */
export function preparationMetadata(p: Preparation): Record<string, string> {
  return {
    tile_mpp: p.mpp === null ? 'none' : String(p.mpp),
    tissue_detection: JSON.stringify(p.tissue),
    stain_normalization: JSON.stringify(p.stain),
  };
}

/**
 * What a model with Grad-CAM (graph/gradcam.ts) says of its `class` input and `cam` output:
 * `gradcam_layer` names the layer, `gradcam` says how the map is made.
 */
export function gradCamMetadata(layer: string, members: number): Record<string, string> {
  const ensemble = members > 1 ? `; in this ensemble of ${members} folds, each fold's map for the ensemble's class, averaged` : '';
  return {
    gradcam_layer: layer,
    gradcam: `Grad-CAM (Selvaraju et al., ICCV 2017): output cam [N,h,w] = ReLU(sum_k alpha_k A_k), A the output of ${layer}, alpha_k the mean over h and w of d(logit of the class)/dA_k, BatchNorm in inference mode${ensemble}; input class int64 [N], -1 (the default) for the predicted class; not normalised, not upsampled`,
  };
}

/** A fold model inside an exported model: its checkpoint and the normalisation it was trained with. */
export interface ExportedMember {
  readonly fold: number;
  /** Relative to the fold folder. */
  readonly checkpoint: string;
  readonly mean: readonly number[];
  readonly std: readonly number[];
  readonly scale: number;
}

/** The metadata_props of a model `export` writes from a run (config.json's data set): classes, input, normalisation, folds, preparation. */
export function exportMetadata(
  run: { readonly dataset: { readonly classes: readonly string[]; readonly tileSize: number | null; readonly resize: string; readonly preparation?: Preparation } },
  config: ModelConfig,
  members: readonly ExportedMember[],
): Record<string, string> {
  const folds = members.map((m) => m.fold);
  return inferenceMetadata(config, {
    class_names: JSON.stringify(run.dataset.classes),
    source_tile_size: String(run.dataset.tileSize ?? config.input[1]),
    input_format: 'RGB 0-255 as float32, NCHW; tiles of another size resized with ' + run.dataset.resize,
    normalization: JSON.stringify(members.map((m) => ({ fold: m.fold, mean: m.mean, std: m.std, scale: m.scale }))),
    folds: folds.join(','),
    checkpoints: members.map((m) => `fold-${m.fold}/${m.checkpoint}`).join(','),
    batchnorm: 'folded into the preceding convolutions',
    ...(run.dataset.preparation ? preparationMetadata(run.dataset.preparation) : {}),
    ...(folds.length > 1 ? { ensemble: 'mean of the folds\' probabilities; logits are its log' } : {}),
  });
}
