import type { CAC, Command } from 'cac';
import { formatSplitTable, KATHER_SLIDE_REGEX, splitDataset } from '../../data/index.ts';
import type { SplitOptions } from '../../data/index.ts';

/** Flags shared by `split` and `tile --split`, as cac parses them (numbers or strings). */
export interface SplitFlags {
  testFraction?: number | string;
  folds?: number | string;
  seed?: number | string;
  groupRegex?: string | number;
  groupOn?: string;
  groups?: string | number;
}

/** The grouping flags, shared by `split`, `tile --split`, `study`, `init` and `sweep`. */
export function addGroupingOptions(command: Command, regexDefault = 'group by source image'): Command {
  return command
    .option('--group-regex <re>', `Group tiles by this pattern on each source's file name (1st capture or whole match), e.g. '^\\d+' for names that begin with the patient id, '${KATHER_SLIDE_REGEX}' for Kather 2016 slides (default: ${regexDefault})`)
    .option('--group-on <name|path>', 'What --group-regex matches: the source\'s file name, or its path inside the input folder (class/patient-7/slide.svs) (default: name)')
    .option('--groups <file>', 'Group tiles by a CSV of "source,group" rows (source as in manifest.csv), e.g. slides to patients');
}

/** The grouping options of parsed flags (checked in splitDataset). */
export function groupingOptions(flags: Record<string, unknown>): Pick<SplitOptions, 'groupRegex' | 'groupOn' | 'groupsFile'> {
  return {
    ...(flags['groupRegex'] !== undefined ? { groupRegex: String(flags['groupRegex']) } : {}),
    ...(flags['groupOn'] !== undefined ? { groupOn: String(flags['groupOn']) } : {}),
    ...(flags['groups'] !== undefined ? { groupsFile: String(flags['groups']) } : {}),
  };
}

export function addSplitOptions(command: Command): Command {
  command
    .option('--test-fraction <f>', 'Share of each class held out as the test set, 0 for none (default: 0.2)')
    .option('--folds <k>', 'Cross-validation folds over the rest, each validating on 1/k of it (default: 4)')
    .option('--seed <n>', 'Seed of the split search: same data and seed, same split (default: 0)');
  return addGroupingOptions(command);
}

/** The split options of parsed flags; checks happen in splitDataset, in one place. */
export function splitOptions(dir: string, flags: SplitFlags): SplitOptions {
  const options: SplitOptions = { dir, ...groupingOptions({ ...flags }) };
  if (flags.testFraction !== undefined) options.testFraction = flags.testFraction as number;
  if (flags.folds !== undefined) options.folds = flags.folds as number;
  if (flags.seed !== undefined) options.seed = flags.seed as number;
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
