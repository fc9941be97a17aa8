import type { CAC } from 'cac';
import { UserError } from '../../errors.ts';
import { writeReport } from '../../report/report.ts';
import { compareOptions } from './compare.ts';
import { intFlag } from '../flags.ts';

interface ReportFlags {
  alpha?: string | number;
  metric?: string;
  resamples?: string | number;
  seed?: string | number;
  out?: string;
  title?: string;
  plots?: boolean;
  gradcam?: boolean;
  layer?: string;
  threads?: string | number;
}

async function report(runA: string, runB: string | undefined, flags: ReportFlags): Promise<void> {
  if (flags.out !== undefined && !String(flags.out).endsWith('.html')) throw new UserError(`expected a file ending in .html for --out but received ${JSON.stringify(String(flags.out))}`);
  const runs = runB === undefined ? [runA] : [runA, runB];
  const result = await writeReport(runs, {
    ...compareOptions(flags),
    ...(flags.out === undefined ? {} : { out: String(flags.out) }),
    ...(flags.title === undefined ? {} : { title: String(flags.title) }),
    plots: flags.plots !== false,
    gradcam: flags.gradcam !== false,
    ...(flags.layer === undefined ? {} : { layer: String(flags.layer) }),
    ...(flags.threads === undefined ? {} : { threads: intFlag(flags.threads, '--threads', 1)! }),
  });
  process.stdout.write(`report: ${result.path}\n`);
}

export function register(cli: CAC): void {
  cli
    .command('report <run-a> [run-b]', 'Write one self-contained HTML report of an evaluated run, or of two compared runs, with SVG and PNG plots')
    .option('-o, --out <file.html>', 'The report file (default: report.html in the run folder, or in <parent of B>/<A>-vs-<B>)')
    .option('--title <text>', 'Page title')
    .option('--alpha <a>', 'Significance level of the comparison (default 0.05)')
    .option('--metric <accuracy|balanced-accuracy>', 'The comparison\'s primary metric (default accuracy)')
    .option('--resamples <n>', 'Bootstrap resamples (default 10000)')
    .option('--seed <n>', 'Bootstrap seed, and the Grad-CAM tiles\' (default: run A\'s seed)')
    .option('--no-plots', 'Do not save the plots as SVG and PNG files beside the report')
    .option('--no-gradcam', 'Leave out "Where they look", the Grad-CAM maps of test tiles chosen with --seed')
    .option('--layer <name>', 'The Grad-CAM layer: stem, layerN (a stage) or layerN.B (a block); default the last stage')
    .option('--threads <n>', 'ONNX Runtime threads for the Grad-CAM maps (default 2)')
    .example('senet-ort report artifacts/resnet20 artifacts/se_resnet20')
    .ignoreOptionDefaultValue()
    .action((runA: string, runB: string | undefined, flags: ReportFlags) => report(runA, runB, flags));
}
