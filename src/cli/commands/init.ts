import type { CAC } from 'cac';
import { PROJECT_FILE, initProject } from '../../study/project.ts';
import { TRAIN_OPTIONS, addTrainingOptions, trainInput } from '../train-flags.ts';
import type { RawFlags } from '../train-flags.ts';
import { addGroupingOptions, groupingOptions } from './split.ts';
import { addTilingOptions, tilingOptions } from './tile.ts';
import { KATHER_SLIDE_REGEX, formatPrepared } from '../../data/index.ts';

/** Options a project records; data, runs and folds are its own business. */
const PROJECT_TRAINING = Object.fromEntries(Object.entries(TRAIN_OPTIONS).filter(([k]) => !['data', 'arch', 'fold', 'folds', 'out', 'resume', 'threads', 'workers'].includes(k)));

export function register(cli: CAC): void {
  const command = cli
    .command('init <images-or-prepared-dir>', `Make this folder a project: tile and split the images into data/ (or split a data set that \`tile\` made there, or use one \`split\` made) and write ${PROJECT_FILE}, so that \`ort-train --fold 2\` here trains fold 2`)
    .option('--arch <name>', 'The network ort-train trains here (default se_resnet20)')
    .option('--dir <dir>', 'The project folder (default: the current folder)');
  addGroupingOptions(command, `'${KATHER_SLIDE_REGEX}' when every name carries a Kather slide id, else the source image; images or a data set not split yet`);
  addTilingOptions(command, '; images only');
  addTrainingOptions(command)
    .example('senet-ort init ~/slides --arch se_resnet20 --preset quick && ort-train --fold 2')
    .ignoreOptionDefaultValue()
    .action(async (source: string, flags: RawFlags) => {
      const { arch, dir, ...rest } = flags;
      const r = await initProject(source, String(dir ?? '.'), String(arch ?? 'se_resnet20'), trainInput(rest, PROJECT_TRAINING), { tiling: tilingOptions(flags), split: groupingOptions(flags) });
      if (r.prepared.kind !== 'split') process.stdout.write(formatPrepared(r.prepared));
      process.stdout.write(`wrote ${r.path} (data ${r.data}); train a fold with: ort-train --fold 1\n`);
    });
}
