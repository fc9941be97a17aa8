import type { CAC } from 'cac';
import { expected } from '../../errors.ts';
import { intFlag, metricFlag } from '../flags.ts';
import type { CompareOptions } from '../../evaluate/compare.ts';
import { compareAndSummarise } from '../../report/summaries.ts';
import { verdictLine } from '../../evaluate/verdict.ts';

interface CompareFlags {
  alpha?: string | number;
  metric?: string;
  resamples?: string | number;
  seed?: string | number;
  out?: string;
}

/** The comparison flags, shared with `report`. */
export function compareOptions(flags: CompareFlags): CompareOptions {
  const options: CompareOptions = {};
  if (flags.alpha !== undefined) {
    const alpha = Number(flags.alpha);
    if (String(flags.alpha).trim() === '' || !(alpha > 0 && alpha < 1)) throw expected('number between 0 and 1', '--alpha', flags.alpha);
    options.alpha = alpha;
  }
  const metric = metricFlag(flags.metric);
  if (metric !== undefined) options.metric = metric;
  for (const key of ['resamples', 'seed'] as const) {
    const n = intFlag(flags[key], `--${key}`, key === 'seed' ? 0 : 1);
    if (n !== undefined) options[key] = n;
  }
  return options;
}

async function compare(runA: string, runB: string, flags: CompareFlags): Promise<void> {
  const result = compareAndSummarise(runA, runB, { ...compareOptions(flags), ...(flags.out === undefined ? {} : { out: String(flags.out) }) });
  const c = result.file.comparison;
  process.stdout.write(`verdict: ${verdictLine(c)}\n${c.verdict.summary}\n`);
  for (const caveat of c.verdict.caveats) process.stdout.write(`note: ${caveat}\n`);
  process.stdout.write(`wrote ${result.written.join(', ')}\n`);
}

export function register(cli: CAC): void {
  cli
    .command('compare <run-a> <run-b>', 'Test whether network B beats network A over the folds and on the test split (comparison.json, comparison.md)')
    .option('--alpha <a>', 'Significance level (default 0.05)')
    .option('--metric <accuracy|balanced-accuracy>', 'The fold tests\' and the bootstrap\'s metric; balanced accuracy for imbalanced classes (default accuracy)')
    .option('--resamples <n>', 'Bootstrap resamples (default 10000)')
    .option('--seed <n>', 'Bootstrap seed (default: run A\'s seed)')
    .option('-o, --out <dir>', 'Folder for the comparison files (default: <parent of B>/<A>-vs-<B>)')
    .example('senet-ort compare artifacts/resnet20 artifacts/se_resnet20')
    .ignoreOptionDefaultValue()
    .action((runA: string, runB: string, flags: CompareFlags) => compare(runA, runB, flags));
}
