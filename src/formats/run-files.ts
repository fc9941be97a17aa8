/**
 * The run folder's file names, and their paths relative to it with `/` (rundir.ts lays the folder
 * out and reads it). Pure, so that the browser app (src/web) writes a run folder of the same
 * layout into its zip.
 */

export const CONFIG_FILE = 'config.json';
export const SPLITS_FILE = 'splits.json';
export const EVALUATION_FILE = 'evaluation.json';
export const STATE_FILE = 'state.json';
export const LOG_FILE = 'log.jsonl';
export const TEXT_LOG_FILE = 'train.log';
export const NORMALIZATION_FILE = 'normalization.json';
export const PREDICTIONS_FILE = 'test-predictions.csv';
export const GROUP_PREDICTIONS_FILE = 'test-group-predictions.csv';

/** A fold's folder in the run: `fold-<k>`, k from 1. */
export const foldFolder = (fold: number): string => `fold-${fold}`;
/** A fold's checkpoint after epoch e, relative to the fold's folder. */
export const checkpointName = (epoch: number): string => `checkpoints/epoch-${epoch}.safetensors`;
/** A file of a fold, relative to the run folder. */
export const foldFile = (fold: number, name: string): string => `${foldFolder(fold)}/${name}`;
