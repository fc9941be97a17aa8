// How smoothly each run of a sweep trained: per grid point and network, the test accuracy over folds
// (from the runs' metrics.json, so run `senet-ort sweep report <dir>` first), the largest validation
// loss any epoch reached, the epochs whose validation loss spiked past 3x the fold's best one, and
// the training time. Used to choose the quick preset's defaults (bench/RESULTS.md).
//   node --import tsx bench/sweep-stability.ts <sweep-dir>
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readRunMetrics } from '../src/evaluate/evaluate.ts';
import { meanStd } from '../src/evaluate/metrics.ts';
import { readEpochLog } from '../src/formats/rundir.ts';
import { readSweepPlan } from '../src/study/sweep.ts';
import { textTable } from '../src/util/table.ts';

const dir = process.argv[2];
if (!dir) throw new Error('usage: bench/sweep-stability.ts <sweep-dir>');
const plan = readSweepPlan(dir);
const rows: (string | number)[][] = [];
for (const point of plan.points) {
  for (const arch of plan.archs) {
    const run = join(dir, 'runs', point.id, arch);
    const logs = plan.folds.map((f) => readEpochLog(run, f));
    const val = logs.flatMap((log) => log.map((r) => r.valLoss ?? NaN));
    const spikes = logs.reduce((n, log) => {
      const best = Math.min(...log.map((r) => r.valLoss ?? Infinity));
      return n + log.filter((r) => (r.valLoss ?? 0) > 3 * best).length;
    }, 0);
    const acc = existsSync(join(run, 'metrics.json')) ? meanStd(readRunMetrics(run).folds.map((f) => f.metrics.accuracy)) : null;
    const seconds = logs.flat().reduce((s, r) => s + r.seconds, 0) / plan.folds.length;
    rows.push([point.id, arch, acc ? acc.mean.toFixed(3) : '-', acc?.std != null ? acc.std.toFixed(3) : '-', Math.max(...val).toFixed(2), `${spikes}/${val.length}`, seconds.toFixed(0)]);
  }
}
process.stdout.write(`${textTable(['grid point', 'network', 'test acc', 'sd', 'max val loss', 'spikes (>3x best)', 's/fold'], rows)}\n`);
