import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Schedule } from '../../src/train/schedule.ts';
import { describeSchedule, learningRate } from '../../src/train/schedule.ts';

const base: Schedule = { kind: 'step', lr: 0.1, epochs: 150, stepSize: 40, gamma: 0.1, warmupEpochs: 0 };
const close = (a: number, b: number): void => assert.ok(Math.abs(a - b) < 1e-12 * Math.max(1, Math.abs(b)), `${a} != ${b}`);

describe('learning-rate schedules', () => {
  it('step: x gamma every stepSize epochs, as StepLR (the study: x0.1 every 40)', () => {
    close(learningRate(base, 0, 0, 700), 0.1);
    close(learningRate(base, 39, 699, 700), 0.1);
    close(learningRate(base, 40, 0, 700), 0.01);
    close(learningRate(base, 80, 0, 700), 0.001);
    close(learningRate(base, 149, 699, 700), 0.0001);
  });

  it('cosine: from lr down to 0 over every step of every epoch', () => {
    const s: Schedule = { ...base, kind: 'cosine', epochs: 10 };
    close(learningRate(s, 0, 0, 10), 0.1);
    close(learningRate(s, 5, 0, 10), 0.05);
    assert.ok(learningRate(s, 9, 9, 10) < 0.0001);
    for (let e = 0, prev = Infinity; e < 10; e++) {
      const lr = learningRate(s, e, 3, 10);
      assert.ok(lr < prev);
      prev = lr;
    }
  });

  it('constant, and a linear warmup in front of any schedule', () => {
    const s: Schedule = { ...base, kind: 'constant', warmupEpochs: 2 };
    close(learningRate(s, 0, 0, 5), 0.1 / 10);
    close(learningRate(s, 0, 4, 5), 0.1 / 2);
    close(learningRate(s, 1, 4, 5), 0.1);
    close(learningRate(s, 7, 2, 5), 0.1);
    const cosine: Schedule = { ...base, kind: 'cosine', epochs: 4, warmupEpochs: 2 };
    close(learningRate(cosine, 2, 0, 5), 0.1); // annealing starts after the warmup
    close(learningRate(cosine, 3, 0, 5), 0.05);
  });

  it('describes itself for logs', () => {
    assert.equal(describeSchedule(base), 'step: lr 0.1 x0.1 every 40 epochs');
    assert.equal(describeSchedule({ ...base, kind: 'cosine', warmupEpochs: 1 }), 'cosine: lr 0.1 to 0 over 150 epochs, 1 warmup epoch');
  });
});
