/**
 * What a person watching training sees. On a terminal, a progress bar (redrawn in place on stderr)
 * with the running loss, accuracy and images/s; elsewhere (CI logs, `| tee`, files), nothing per
 * step. Either way one plain line per epoch goes to stdout and into the fold's train.log.
 */
import type { EpochRecord } from '../formats/rundir.ts';

export interface StepProgress {
  readonly fold: number;
  readonly epoch: number;
  readonly epochs: number;
  readonly step: number;
  readonly steps: number;
  /** Mean loss and accuracy of the epoch so far. */
  readonly loss: number;
  readonly accuracy: number;
  readonly imagesPerSecond: number;
  /** Seconds since the epoch began. */
  readonly elapsed: number;
}

export interface Progress {
  step(p: StepProgress): void;
  /** A status line (validation, checkpoint) replacing the bar until the next step. */
  status(text: string): void;
  /** Print a line to stdout, clearing the bar first. */
  line(text: string): void;
  /** Remove the bar (before errors and at the end). */
  clear(): void;
}

const BAR_WIDTH = 24;
/** Redraw at most this often: a terminal can be slower than the training steps. */
const REDRAW_MS = 100;

function clock(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--:--';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60)).padStart(h > 0 ? 2 : 1, '0');
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

export function formatBar(p: StepProgress): string {
  const filled = Math.round((p.step / p.steps) * BAR_WIDTH);
  const bar = '='.repeat(Math.max(0, filled - 1)) + (filled > 0 ? (p.step === p.steps ? '=' : '>') : '') + ' '.repeat(BAR_WIDTH - filled);
  const eta = p.step > 0 ? (p.elapsed / p.step) * (p.steps - p.step) : Infinity;
  return `fold ${p.fold} epoch ${p.epoch}/${p.epochs} [${bar}] ${p.step}/${p.steps}  loss ${p.loss.toFixed(4)}  acc ${(100 * p.accuracy).toFixed(1)}%  ${p.imagesPerSecond.toFixed(0)} img/s  eta ${clock(eta)}`;
}

const pct = (x: number | null): string => (x === null ? '-' : `${(100 * x).toFixed(1)}%`);
const num = (x: number | null): string => (x === null ? '-' : x.toFixed(4));

/** The plain per-epoch line (stdout and train.log). */
export function formatEpoch(r: EpochRecord, epochs: number): string {
  const width = String(epochs).length;
  return [
    `fold ${r.fold} epoch ${String(r.epoch).padStart(width)}/${epochs}`,
    `lr ${r.lr.toPrecision(3)}`,
    `train loss ${num(r.trainLoss)} acc ${pct(r.trainAccuracy)}`,
    `val loss ${num(r.valLoss)} acc ${pct(r.valAccuracy)}`,
    `${r.imagesPerSecond.toFixed(0)} img/s`,
    `${r.seconds.toFixed(1)} s`,
  ].join('  ');
}

/** "1 epoch", "3 epochs": a count and its noun. */
export const plural = (n: number, word: string, words = `${word}s`): string => `${n} ${n === 1 ? word : words}`;

/** A progress display on `tty` (a terminal stream, or null for none) writing lines to `out`. */
export function createProgress(tty: NodeJS.WriteStream | null, out: (text: string) => void = (t) => process.stdout.write(t)): Progress {
  let shown = false;
  let lastDraw = 0;
  const draw = (text: string): void => {
    if (!tty) return;
    const width = tty.columns && tty.columns > 20 ? tty.columns - 1 : 120;
    tty.write(`\r\x1b[K${text.length > width ? text.slice(0, width) : text}`);
    shown = true;
  };
  const clear = (): void => {
    if (tty && shown) tty.write('\r\x1b[K');
    shown = false;
  };
  return {
    step(p) {
      const now = Date.now();
      if (now - lastDraw < REDRAW_MS && p.step !== p.steps) return;
      lastDraw = now;
      draw(formatBar(p));
    },
    status(text) {
      draw(text);
    },
    line(text) {
      clear();
      out(`${text}\n`);
    },
    clear,
  };
}
