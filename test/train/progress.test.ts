import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createProgress, formatBar, formatEpoch } from '../../src/train/progress.ts';
import type { EpochRecord } from '../../src/formats/rundir.ts';

const record: EpochRecord = {
  fold: 2, epoch: 7, lr: 0.00123456, trainLoss: 0.51234, trainAccuracy: 0.8125, valLoss: 0.7, valAccuracy: 0.75,
  images: 640, imagesPerSecond: 312.4, seconds: 2.25, trainSeconds: 2.05, valSeconds: 0.2, loaderWaitSeconds: 0.001, time: '2026-01-01T00:00:00.000Z',
};
const step = { fold: 1, epoch: 3, epochs: 10, step: 5, steps: 20, loss: 1.23456, accuracy: 0.456, imagesPerSecond: 123.4, elapsed: 10 };

/** A stand-in terminal that records what is written to it. */
function fakeTty(): NodeJS.WriteStream & { text: string } {
  const tty = { text: '', columns: 200, write(s: string) { tty.text += s; return true; } };
  return tty as unknown as NodeJS.WriteStream & { text: string };
}

describe('progress', () => {
  it('one plain line per epoch', () => {
    assert.equal(formatEpoch(record, 150), 'fold 2 epoch   7/150  lr 0.00123  train loss 0.5123 acc 81.3%  val loss 0.7000 acc 75.0%  312 img/s  2.3 s');
    assert.equal(formatEpoch({ ...record, valLoss: null, valAccuracy: null }, 9), 'fold 2 epoch 7/9  lr 0.00123  train loss 0.5123 acc 81.3%  val loss - acc -  312 img/s  2.3 s');
  });

  it('a bar with loss, accuracy, images/s and the time left', () => {
    assert.equal(formatBar(step), 'fold 1 epoch 3/10 [=====>                  ] 5/20  loss 1.2346  acc 45.6%  123 img/s  eta 0:30');
  });

  it('draws the bar in place on a terminal, and nothing per step elsewhere', () => {
    const lines: string[] = [];
    const tty = fakeTty();
    const live = createProgress(tty, (t) => lines.push(t));
    live.step(step);
    live.line('epoch line');
    assert.equal(tty.text, `\r\x1b[K${formatBar(step)}\r\x1b[K`);
    assert.deepEqual(lines, ['epoch line\n']);
    const plain: string[] = [];
    const quiet = createProgress(null, (t) => plain.push(t));
    quiet.step(step);
    quiet.status('validating');
    quiet.line('epoch line');
    assert.deepEqual(plain, ['epoch line\n']);
  });
});
