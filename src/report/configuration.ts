/**
 * The configuration table of the report: a run's options as people read them, in reading order.
 * Pure, so that the browser app (src/web) shows its runs' configuration as `report` does.
 */
import type { RunConfig } from '../formats/rundir.ts';
import { describeSchedule } from '../train/schedule.ts';
import type { ConfigValue } from './html.ts';

/** The configuration table's rows for fine-tuning (the report). */
export function fineTuneRows(config: RunConfig): Record<string, string> {
  const o = config.options;
  const rows: Record<string, string> = {};
  if (o.seWidth === 'timm') rows['SE width'] = 'make_divisible(C / r, 8), as timm';
  const r = config.init;
  if (r) {
    const changed = [...r.reinitialised.map((n) => `${n} re-initialised`), ...(r.zeroed.length ? [`${r.zeroed.length} SE biases at zero`] : [])];
    rows['initial weights'] = `${r.file} (${r.layout}, sha256 ${r.sha256.slice(0, 16)}${changed.length ? `; ${changed.join(', ')}` : ''})`;
  } else if (o.init) {
    rows['initial weights'] = `${o.init} (sha256 ${(o.initSha256 ?? '').slice(0, 16)})`;
  }
  if (o.freeze?.length) rows['frozen'] = `${o.freeze.join(', ')}${o.freezeBn ? ', BatchNorm statistics fixed' : ''}`;
  return rows;
}

/** The run's options as the configuration table shows them, in reading order. */
export function configurationOf(config: RunConfig): Record<string, ConfigValue> {
  const o = config.options;
  return {
    architecture: o.arch,
    'SE reduction': o.reduction,
    input: o.input.join('x'),
    'folds trained': o.folds.join(', '),
    epochs: o.epochs,
    'batch size': o.batchSize,
    'steps per epoch': o.itersPerEpoch ?? 'one pass over the training tiles',
    optimizer: `SGD, momentum ${o.momentum}, weight decay ${o.weightDecay}`,
    'learning rate': describeSchedule({ kind: o.schedule, lr: o.lr, epochs: o.epochs, stepSize: o.stepSize, gamma: o.gamma, warmupEpochs: o.warmupEpochs }),
    augmentation: [o.augment ? 'flips and 90° rotations' : '', o.colorJitter > 0 ? `colour jitter ${o.colorJitter}` : '', (o.stainJitter ?? 0) > 0 ? `HED stain jitter ${o.stainJitter}` : ''].filter(Boolean).join(', ') || 'none',
    normalisation: o.normalize === 'fold' ? 'per-channel mean and sd of the training fold' : o.normalize === 'imagenet' ? 'ImageNet mean and sd (torchvision)' : 'pixels scaled to [0, 1]',
    ...fineTuneRows(config),
    'label smoothing': o.labelSmoothing,
    'class weights': o.classWeighting === 'balanced' && o.classWeights ? `balanced (n / (classes × count) over the non-test tiles): ${o.classWeights.map((w) => Number(w.toPrecision(4))).join(', ')}` : o.classWeights,
    seed: o.seed,
    preset: o.preset,
    'data set': config.dataset.dir,
    'data checksum': config.dataset.checksum.slice(0, 16),
    resize: config.dataset.resize,
    device: `${o.device}, ${o.threads} threads`,
    versions: Object.entries(config.versions).map(([k, v]) => `${k} ${v}`),
    machine: `${config.machine.cpuModel} (${config.machine.cpus} CPUs, ${config.machine.platform}/${config.machine.arch})`,
  };
}

