/**
 * Learning-rate schedules, as a pure function of where training is (epoch and step), so a resumed
 * run needs no scheduler state:
 *   step      lr * gamma^floor(epoch / stepSize)          (torch.optim.lr_scheduler.StepLR; the study: x0.1 every 40 epochs)
 *   cosine    lr * (1 + cos(pi * t)) / 2, t from 0 to 1   (CosineAnnealingLR to 0, per step)
 *   constant  lr
 * An optional linear warmup first ramps, per step, from lr / warmupSteps up to the schedule's value
 * over `warmupEpochs`; cosine then anneals over the epochs after the warmup.
 */

export const SCHEDULES = ['step', 'cosine', 'constant'] as const;
export type ScheduleKind = (typeof SCHEDULES)[number];

export interface Schedule {
  readonly kind: ScheduleKind;
  readonly lr: number;
  readonly epochs: number;
  /** step: epochs between decays. */
  readonly stepSize: number;
  /** step: the factor applied at each decay. */
  readonly gamma: number;
  readonly warmupEpochs: number;
}

/** The learning rate of step `step` (0-based) of epoch `epoch` (0-based) of `stepsPerEpoch`. */
export function learningRate(schedule: Schedule, epoch: number, step: number, stepsPerEpoch: number): number {
  const done = epoch * stepsPerEpoch + step;
  const warmupSteps = schedule.warmupEpochs * stepsPerEpoch;
  let lr: number;
  switch (schedule.kind) {
    case 'step':
      lr = schedule.lr * schedule.gamma ** Math.floor(epoch / schedule.stepSize);
      break;
    case 'cosine': {
      const total = schedule.epochs * stepsPerEpoch - warmupSteps;
      const t = total > 0 ? Math.min(1, Math.max(0, (done - warmupSteps) / total)) : 0;
      lr = (schedule.lr * (1 + Math.cos(Math.PI * t))) / 2;
      break;
    }
    case 'constant':
      lr = schedule.lr;
  }
  return done < warmupSteps ? (lr * (done + 1)) / warmupSteps : lr;
}

export function describeSchedule(s: Schedule): string {
  const warmup = s.warmupEpochs > 0 ? `, ${s.warmupEpochs} warmup epoch${s.warmupEpochs === 1 ? '' : 's'}` : '';
  if (s.kind === 'step') return `step: lr ${s.lr} x${s.gamma} every ${s.stepSize} epochs${warmup}`;
  if (s.kind === 'cosine') return `cosine: lr ${s.lr} to 0 over ${s.epochs} epochs${warmup}`;
  return `constant: lr ${s.lr}${warmup}`;
}
