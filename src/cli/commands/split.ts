import type { CAC, Command } from 'cac';
import { formatSplitTable, KATHER_SLIDE_REGEX, splitDataset } from '../../data/index.ts';
import type { SplitOptions } from '../../data/index.ts';

/** Flags shared by `split` and `tile --split`, as cac parses them (numbers or strings). */
export interface SplitFlags {
  testFraction?: number | string;
  folds?: number | string;
  seed?: number | string;
  groupRegex?: string | number;
  groups?: string | number;
}

export function addSplitOptions(command: Command): Command {
  return command
    .option('--test-fraction <f>', 'Share of each class held out as the test set, 0 for none (default: 0.2)')
    .option('--folds <k>', 'Cross-validation folds over the rest, each validating on 1/k of it (default: 4)')
    .option('--seed <n>', 'Seed of the split search: same data and seed, same split (default: 0)')
    .option('--group-regex <re>', `Group tiles by this pattern on the source path (1st capture or whole match), e.g. '${KATHER_SLIDE_REGEX}' for Kather 2016 slides (default: group by source image)`)
    .option('--groups <file>', 'Group tiles by a CSV of "source,group" rows (source as in manifest.csv), e.g. slides to patients');
}

/** The split options of parsed flags; checks happen in splitDataset, in one place. */
export function splitOptions(dir: string, flags: SplitFlags): SplitOptions {
  const options: SplitOptions = { dir };
  if (flags.testFraction !== undefined) options.testFraction = flags.testFraction as number;
  if (flags.folds !== undefined) options.folds = flags.folds as number;
  if (flags.seed !== undefined) options.seed = flags.seed as number;
  if (flags.groupRegex !== undefined) options.groupRegex = String(flags.groupRegex);
  if (flags.groups !== undefined) options.groupsFile = String(flags.groups);
  return options;
}

/** Split a tile folder and print the table of counts per class and split. */
export function runSplit(dir: string, flags: SplitFlags): void {
  const result = splitDataset(splitOptions(dir, flags));
  process.stdout.write(formatSplitTable(result));
}

export function register(cli: CAC): void {
  const command = cli
    .command('split <dataset-dir>', 'Hold out a test set and make k folds of a tile folder, stratified by class and grouped by slide or patient (writes splits.json)')
    .example(`senet-ort split tiles/ --group-regex '${KATHER_SLIDE_REGEX}'`);
  addSplitOptions(command).action((dir: string, flags: SplitFlags) => runSplit(dir, flags));
}
