import { describe, expect, it } from 'vitest';
import type { Callback, Logs, TrainingControl, WeightSnapshot } from '../../../../src/main/training/callbacks';
import {
  BestCheckpoint,
  CallbackList,
  EarlyStopping,
  LearningRateScheduler,
  ProgressReporter,
  ReduceLROnPlateau,
  scheduledLearningRate,
  TimeStopping,
} from '../../../../src/main/training/callbacks';

/** A run whose "weights" are one number, so restoring the best ones is visible. */
class FakeControl implements TrainingControl {
  stopTraining = false;
  stopReason?: string;
  lr = 0.1;
  weights = 0;
  live = 0;
  getLearningRate() {
    return this.lr;
  }
  setLearningRate(lr: number) {
    this.lr = lr;
  }
  snapshotWeights(): WeightSnapshot & { value: number } {
    this.live++;
    const value = this.weights;
    return { value, dispose: () => void this.live-- };
  }
  restoreWeights(snapshot: WeightSnapshot) {
    this.weights = (snapshot as WeightSnapshot & { value: number }).value;
  }
}

/** Feeds one metric epoch by epoch until a callback stops training; returns the last epoch run. */
async function run(callback: Callback, metric: string, values: number[], control = new FakeControl(), onEpoch?: (e: number) => void) {
  await callback.onTrainBegin?.(control);
  let last = -1;
  for (const [epoch, value] of values.entries()) {
    control.weights = 100 + epoch;
    await callback.onEpochEnd?.(epoch, { [metric]: value }, control);
    onEpoch?.(epoch);
    last = epoch;
    if (control.stopTraining) break;
  }
  await callback.onTrainEnd?.({}, control);
  return { last, control };
}

describe('EarlyStopping', () => {
  it('stops after `patience` epochs without improvement', async () => {
    const stopper = new EarlyStopping({ monitor: 'val_loss', patience: 3 });
    const { last, control } = await run(stopper, 'val_loss', [1.0, 0.9, 0.95, 0.92, 0.91, 0.93, 0.5]);
    expect(last).toBe(4);
    expect(stopper.stoppedEpoch).toBe(4);
    expect(stopper.best).toBe(0.9);
    expect(stopper.bestEpoch).toBe(1);
    expect(control.stopReason).toMatch(/val_loss did not improve for 3 epoch/);
  });

  it('counts an improvement only when it beats min_delta', async () => {
    const stopper = new EarlyStopping({ monitor: 'val_loss', patience: 2, minDelta: 0.05 });
    // 0.97 and 0.93 improve by less than 0.05 on 1.0: no improvement, stop at epoch 2.
    const { last } = await run(stopper, 'val_loss', [1.0, 0.97, 0.96, 0.5]);
    expect(last).toBe(2);
  });

  it('maximises accuracy in auto mode', async () => {
    const stopper = new EarlyStopping({ monitor: 'val_accuracy', patience: 1 });
    expect(stopper.mode).toBe('max');
    const { last } = await run(stopper, 'val_accuracy', [0.5, 0.6, 0.6, 0.9]);
    expect(last).toBe(2);
  });

  it('with a baseline, keeps counting while the metric stays worse than it', async () => {
    const stopper = new EarlyStopping({ monitor: 'val_loss', patience: 2, baseline: 0.5 });
    const { last } = await run(stopper, 'val_loss', [0.9, 0.95, 0.96, 0.1]);
    expect(last).toBe(1);
    const beats = new EarlyStopping({ monitor: 'val_loss', patience: 2, baseline: 0.5 });
    expect((await run(beats, 'val_loss', [0.4, 0.45, 0.3, 0.35, 0.36])).last).toBe(4);
  });

  it('restores the best weights when it stops, and frees its snapshots', async () => {
    const stopper = new EarlyStopping({ monitor: 'val_loss', patience: 2, restoreBestWeights: true });
    const { last, control } = await run(stopper, 'val_loss', [0.5, 0.4, 0.6, 0.7, 0.1]);
    expect(last).toBe(3);
    expect(control.weights).toBe(101); // epoch 1's
    expect(control.live).toBe(0);
  });

  it('ignores epochs where the metric is missing', async () => {
    const stopper = new EarlyStopping({ monitor: 'val_loss', patience: 0 });
    const { last } = await run(stopper, 'loss', [1, 2, 3]);
    expect(last).toBe(2);
  });
});

describe('ReduceLROnPlateau', () => {
  it('halves the LR after `patience` flat epochs, waits out the cooldown and stops at min_lr', async () => {
    const reducer = new ReduceLROnPlateau({ monitor: 'val_loss', factor: 0.5, patience: 2, cooldown: 1, minLr: 0.01 });
    const lrs: number[] = [];
    const control = new FakeControl();
    await run(reducer, 'val_loss', Array(10).fill(1), control, () => lrs.push(control.lr));
    expect(lrs.map((lr) => +lr.toFixed(6))).toEqual([0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.0125, 0.0125, 0.01, 0.01]);
  });

  it('does not reduce while the metric improves by more than min_delta', async () => {
    const reducer = new ReduceLROnPlateau({ monitor: 'val_loss', patience: 1, minDelta: 0.01 });
    const control = new FakeControl();
    await run(reducer, 'val_loss', [1, 0.9, 0.8, 0.795], control);
    expect(control.lr).toBeCloseTo(0.01); // only the last step (0.005 < min_delta) counts as flat
  });
});

describe('BestCheckpoint', () => {
  it('saves on every improvement of the monitored metric', async () => {
    const saved: number[] = [];
    const checkpoint = new BestCheckpoint((epoch) => void saved.push(epoch), { monitor: 'val_accuracy' });
    await run(checkpoint, 'val_accuracy', [0.5, 0.7, 0.6, 0.8, 0.8]);
    expect(saved).toEqual([0, 1, 3]);
    expect(checkpoint.bestEpoch).toBe(3);
  });
});

describe('learning-rate schedules', () => {
  it('exponential decay, smooth and staircase', () => {
    const smooth = { kind: 'exponential', decaySteps: 10, decayRate: 0.5 } as const;
    expect(scheduledLearningRate(0.1, smooth, 0)).toBe(0.1);
    expect(scheduledLearningRate(0.1, smooth, 5)).toBeCloseTo(0.0707107, 6);
    expect(scheduledLearningRate(0.1, smooth, 20)).toBeCloseTo(0.025, 9);
    expect(scheduledLearningRate(0.1, { ...smooth, staircase: true }, 5)).toBe(0.1);
    expect(scheduledLearningRate(0.1, { ...smooth, staircase: true }, 19)).toBeCloseTo(0.05, 9);
  });

  it('cosine decay to alpha and flat after decay_steps', () => {
    const cosine = { kind: 'cosine', decaySteps: 100 } as const;
    expect(scheduledLearningRate(1, cosine, 0)).toBe(1);
    expect(scheduledLearningRate(1, cosine, 50)).toBeCloseTo(0.5, 9);
    expect(scheduledLearningRate(1, cosine, 100)).toBeCloseTo(0, 9);
    expect(scheduledLearningRate(1, cosine, 150)).toBeCloseTo(0, 9);
    expect(scheduledLearningRate(1, { ...cosine, alpha: 0.1 }, 100)).toBeCloseTo(0.1, 9);
  });

  it('the scheduler callback sets the LR before each batch', async () => {
    const control = new FakeControl();
    const scheduler = new LearningRateScheduler(0.2, { kind: 'exponential', decaySteps: 1, decayRate: 0.5 });
    scheduler.onBatchBegin(3, control);
    expect(control.lr).toBeCloseTo(0.025);
  });
});

describe('TimeStopping', () => {
  it('stops at the end of the first epoch that ends at or past the deadline, and says so', async () => {
    let clock = 0;
    const stopper = new TimeStopping(100, () => clock);
    const { last, control } = await run(stopper, 'loss', [1, 1, 1, 1, 1, 1], new FakeControl(), () => void (clock += 30));
    // run() advances the clock by 30 ms after each epoch, so epoch k ends at 30k ms; the deadline is 100 ms.
    expect(last).toBe(4);
    expect(stopper.stoppedAt).toBe(4);
    expect(control.stopReason).toBe('time budget reached after epoch 5');
  });

  it('does nothing before the deadline, nor over another callback\'s stop', async () => {
    const early = await run(new TimeStopping(1e9, () => 0), 'loss', [1, 1, 1]);
    expect(early.last).toBe(2);
    expect(early.control.stopTraining).toBe(false);
    const control = new FakeControl();
    control.stopTraining = true;
    control.stopReason = 'early stopping';
    const stopper = new TimeStopping(0, () => 10);
    stopper.onEpochEnd(0, {}, control);
    expect(stopper.stoppedAt).toBeNull();
    expect(control.stopReason).toBe('early stopping');
  });
});

describe('CallbackList', () => {
  it('is itself a callback: calls every member in order, nested lists included', async () => {
    const seen: string[] = [];
    const spy = (name: string): Callback => ({
      onTrainBegin: () => void seen.push(`${name}:begin`),
      onEpochEnd: (epoch: number, logs: Logs) => void seen.push(`${name}:${epoch}:${logs.loss}`),
    });
    const list = new CallbackList([spy('a'), new CallbackList([spy('b'), spy('c')])]);
    const control = new FakeControl();
    await list.onTrainBegin(control);
    await list.onEpochEnd(0, { loss: 2 }, control);
    expect(seen).toEqual(['a:begin', 'b:begin', 'c:begin', 'a:0:2', 'b:0:2', 'c:0:2']);
  });
});

describe('ProgressReporter', () => {
  it('throttles batch progress, always reports the last batch, and computes speed and ETA', async () => {
    let clock = 0;
    const progress: { batch: number; imagesPerSecond: number; etaSeconds: number }[] = [];
    const epochs: Logs[] = [];
    const reporter = new ProgressReporter({
      epochs: 2,
      batchesPerEpoch: 4,
      batchSize: 10,
      throttleMs: 250,
      now: () => clock,
      onProgress: (p) => progress.push(p),
      onEpoch: (_e, logs) => epochs.push(logs),
    });
    const control = new FakeControl();
    reporter.onTrainBegin();
    reporter.onEpochBegin(0);
    for (let step = 0; step < 4; step++) {
      clock += 100; // 10 images per 100 ms = 100 images/s
      reporter.onBatchEnd(step, { loss: 1, size: 10 });
    }
    reporter.onEpochEnd(0, { loss: 1, val_loss: 2 }, control);
    expect(progress.map((p) => p.batch)).toEqual([1, 4]);
    expect(progress[1]?.imagesPerSecond).toBeCloseTo(100);
    expect(progress[1]?.etaSeconds).toBeCloseTo(0.4); // 4 batches left at 0.1 s each
    expect(epochs).toEqual([{ loss: 1, val_loss: 2, lr: 0.1 }]);
  });
});
