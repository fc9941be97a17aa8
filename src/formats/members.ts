/**
 * A run's trained folds as members of a deployable model (graph/deploy.ts): each fold's checkpoint
 * and the normalisation its inputs had in training. `export`, `explain` and the report's Grad-CAM
 * maps read them the same way.
 */
import { join } from 'node:path';
import type { DeployMember } from '../graph/deploy.ts';
import { UserError } from '../errors.ts';
import type { FoldNormalization } from './rundir.ts';
import { foldDir, readFoldState, readNormalization } from './rundir.ts';
import { readSafetensors } from './safetensors-file.ts';

export interface FoldMember extends DeployMember {
  readonly fold: number;
  /** Relative to the fold folder, e.g. `checkpoints/epoch-6.safetensors`. */
  readonly checkpoint: string;
  readonly normalization: FoldNormalization;
}

/** The fold's best (lowest validation loss) or last checkpoint, relative to the fold folder. */
export function foldCheckpoint(run: string, fold: number, which: 'best' | 'last'): string {
  const state = readFoldState(run, fold);
  const file = which === 'best' ? state?.best?.file : state?.last;
  if (!file) throw new UserError(`${foldDir(run, fold)}: no ${which} checkpoint yet (train the fold first)`);
  return file;
}

/** The fold's weights from `checkpoint` (relative to the fold folder) and its normalisation. */
export function readFoldMember(run: string, fold: number, checkpoint: string): FoldMember {
  const normalization = readNormalization(run, fold);
  const path = join(foldDir(run, fold), checkpoint);
  return { fold, checkpoint, source: path, weights: readSafetensors(path).tensors, normalization, scale: normalization.scale, mean: normalization.mean, std: normalization.std };
}
