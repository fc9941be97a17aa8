import type { CAC } from 'cac';
import { KATHER_SLIDE_REGEX } from '../../data/index.ts';
import type { SplitOptions } from '../../data/index.ts';
import { addGroupingOptions, groupingOptions } from './split.ts';
import { addTilingOptions, tilingOptions } from './tile.ts';
import { runStudy } from '../../study/study.ts';
import { metricFlag } from '../flags.ts';
import type { StudyInput } from '../../study/study.ts';
import { TRAIN_OPTIONS, addTrainingOptions, trainInput } from '../train-flags.ts';
import type { RawFlags } from '../train-flags.ts';

/** Training options a study takes; it sets the data, networks, run directories and folds itself. */
const STUDY_TRAINING = Object.fromEntries(Object.entries(TRAIN_OPTIONS).filter(([k]) => !['data', 'arch', 'fold', 'folds', 'out', 'resume'].includes(k)));

function splitOptions(flags: RawFlags): Omit<SplitOptions, 'dir'> {
  const options: Omit<SplitOptions, 'dir'> = groupingOptions(flags);
  if (flags['testFraction'] !== undefined) options.testFraction = flags['testFraction'] as number;
  if (flags['folds'] !== undefined) options.folds = flags['folds'] as number;
  if (flags['splitSeed'] !== undefined) options.seed = flags['splitSeed'] as number;
  return options;
}

export function studyInput(images: string | undefined, flags: RawFlags): StudyInput {
  const { testFraction: _t, folds: _f, splitSeed: _s, groupRegex: _g, groupOn: _o, groups: _p, name, root, arch, seInit, metric, ...rest } = flags;
  return {
    ...(images !== undefined ? { images } : {}),
    ...(name !== undefined ? { name: String(name) } : {}),
    ...(root !== undefined ? { root: String(root) } : {}),
    ...(arch !== undefined ? { arch: String(arch) } : {}),
    ...(seInit !== undefined ? { seInit: String(seInit) } : {}),
    ...(metric !== undefined ? { metric: metricFlag(metric)! } : {}),
    tiling: tilingOptions(flags),
    split: splitOptions(flags),
    train: trainInput(rest, STUDY_TRAINING),
  };
}

export function register(cli: CAC): void {
  const command = cli
    .command('study [images-or-prepared-dir]', 'The main job: tile and split a folder of class folders (default: the embedded Kather 2016 sample), or split a data set that `tile` made, or take one `split` made; train ResNet and SE-ResNet on every fold, evaluate both on the test split, compare them and write the HTML report')
    .option('--name <name>', 'Experiment name: results go to artifacts/<name> (default: the image folder\'s name)')
    .option('--root <dir>', 'Experiment root folder (default artifacts/<name>)')
    .option('--arch <name>', 'The plain network; its SE twin (se_<name>, legacy_se_resnetN for legacy_resnetN) is trained alongside (default resnet20)')
    .option('--test-fraction <f>', 'Share of each class held out as the test set (default 0.2)')
    .option('--folds <k>', 'Cross-validation folds (default 4)')
    .option('--split-seed <n>', 'Seed of the split (default 0)')
    .option('--metric <accuracy|balanced-accuracy>', 'The comparison\'s primary metric (default: balanced accuracy when the test split\'s classes are imbalanced more than 2:1, else accuracy)')
    .option('--se-init <file.safetensors>', 'With --init (the plain network\'s weights): the SE twin\'s initial weights, e.g. timm seresnet18 with --se-width timm');
  addGroupingOptions(command, `'${KATHER_SLIDE_REGEX}' when every name carries a Kather slide id, else the source image`);
  addTilingOptions(command, '; images only');
  addTrainingOptions(command)
    .example('senet-ort study                      # the embedded sample, a few minutes on a laptop CPU')
    .example('senet-ort study slides/ --preset paper --device cuda   # the original study\'s settings')
    .example('senet-ort study patches/ --group-regex \'^\\d+\'         # ready tiles (one size), grouped by the patient id that begins each name')
    .example('senet-ort study tiles/ --arch resnet18 --init resnet18.safetensors --se-init seresnet18.safetensors --se-width timm --normalize imagenet')
    .ignoreOptionDefaultValue()
    .action(async (images: string | undefined, flags: RawFlags) => {
      await runStudy(studyInput(images, flags));
    });
}
