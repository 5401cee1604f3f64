// The small CNN's parts: its layers, the tutorial's decay, and the inner holdout that keeps val honest.
import { describe, expect, it } from 'vitest';
import { buildSmallCnn, cnnSchedule, innerHoldout } from '../../../../src/main/training/smallCnn';
import { scheduledLearningRate } from '../../../../src/main/training/callbacks';
import { monitorsOnHoldout } from '../../../../src/main/training/holdoutMonitors';
import { TrainingConfig } from '../../../../src/shared/contract';

describe('small CNN from scratch', () => {
  it('is the Keras tutorial stack: three Conv–Pool blocks, dropout, dense 128, logits', () => {
    const model = buildSmallCnn(64, 5, 1);
    expect(model.layers.map((l) => l.getClassName())).toEqual(['Conv2D', 'MaxPooling2D', 'Conv2D', 'MaxPooling2D', 'Conv2D', 'MaxPooling2D', 'Dropout', 'Flatten', 'Dense', 'Dropout', 'Dense']);
    expect(model.inputs[0]?.shape).toEqual([null, 64, 64, 3]);
    expect(model.outputs[0]?.shape).toEqual([null, 5]);
    // 64 px halves three times: 8 × 8 × 128 values reach the dense layer.
    expect(model.getLayer('flatten').outputShape).toEqual([null, 8 * 8 * 128]);
    expect(model.countParams()).toBe(896 + 18_496 + 73_856 + (8192 * 128 + 128) + (128 * 5 + 5));
    model.dispose();
    // Beside a backbone in one graph its layers are named apart (a Keras backbone may have its own "flatten").
    const branch = buildSmallCnn(32, 2, 1, 'cnn_branch_');
    expect(branch.layers.every((l) => l.name.startsWith('cnn_branch_'))).toBe(true);
    branch.dispose();
  });

  it('decays the learning rate once an epoch unless the config names a schedule', () => {
    const plain = { schedule: { kind: 'constant' as const }, reduceLrOnPlateau: null };
    const decay = cnnSchedule(plain, 0.96, 10);
    expect(decay).toEqual({ kind: 'exponential', decaySteps: 10, decayRate: 0.96, staircase: true });
    // Steps 0–9 are epoch 1 at the full rate, step 10 starts epoch 2 at 0.96 of it, step 25 is in epoch 3.
    expect([0, 9, 10, 25].map((step) => scheduledLearningRate(1e-3, decay, step))).toEqual([1e-3, 1e-3, 1e-3 * 0.96, 1e-3 * 0.96 * 0.96].map((v) => expect.closeTo(v, 12)));
    const cosine = { kind: 'cosine' as const, decaySteps: 100, alpha: 0 };
    expect(cnnSchedule({ ...plain, schedule: cosine }, 0.96, 10)).toBe(cosine);
    expect(cnnSchedule(plain, 1, 10)).toEqual({ kind: 'constant' });
    // ReduceLROnPlateau sets the rate itself: a per-batch decay would overwrite it every step.
    const plateau = TrainingConfig.parse({ reduceLrOnPlateau: {} }).reduceLrOnPlateau;
    expect(cnnSchedule({ ...plain, reduceLrOnPlateau: plateau }, 0.96, 10)).toEqual({ kind: 'constant' });
  });

  it('watches its inner holdout under its own name, or the training metrics when there is none', () => {
    const config = TrainingConfig.parse({ checkpointMonitor: 'val_accuracy', reduceLrOnPlateau: { monitor: 'val_loss' }, earlyStopping: { monitor: 'val_loss', patience: 4 } });
    const onHoldout = monitorsOnHoldout(config, true);
    expect([onHoldout.checkpointMonitor, onHoldout.earlyStopping?.monitor, onHoldout.reduceLrOnPlateau?.monitor]).toEqual(['holdout_accuracy', 'holdout_loss', 'holdout_loss']);
    expect(onHoldout.earlyStopping?.patience).toBe(4);
    const without = monitorsOnHoldout(config, false);
    expect([without.checkpointMonitor, without.earlyStopping?.monitor, without.reduceLrOnPlateau?.monitor]).toEqual(['accuracy', 'loss', 'loss']);
    // A monitor on the training metrics stays as it is.
    expect(monitorsOnHoldout({ ...config, checkpointMonitor: 'loss' }, true).checkpointMonitor).toBe('loss');
  });

  it('holds out 15% of each class\'s train images with their copies, never a class\'s only image', () => {
    // Images 0–9 are class 0, 10–12 class 1, 13 class 2; rows 14–17 are augmented copies of 0, 10, 13, 5.
    const labels = Int32Array.from([...Array(10).fill(0), 1, 1, 1, 2, 0, 1, 2, 0]);
    const copyOf = [0, 10, 13, 5];
    const imageOf = (row: number) => (row < 14 ? row : (copyOf[row - 14] as number));
    const trainRows = [...Array(18).keys()];
    const { fitRows, holdoutRows } = innerHoldout(trainRows, labels, imageOf, 7);
    // round(10 × 0.15) = 2 of class 0, at least 1 of class 1's 3, none of class 2's single image.
    expect(holdoutRows.filter((r) => labels[r] === 0)).toHaveLength(2);
    expect(holdoutRows.filter((r) => labels[r] === 1)).toHaveLength(1);
    expect(holdoutRows.filter((r) => labels[r] === 2)).toHaveLength(0);
    expect(holdoutRows.every((r) => r < 14)).toBe(true);
    // No row to fit on is, or copies, a held-out image; every other row stays.
    expect(fitRows.some((r) => holdoutRows.includes(imageOf(r)))).toBe(false);
    expect(fitRows.length + holdoutRows.length + trainRows.filter((r) => r >= 14 && holdoutRows.includes(imageOf(r))).length).toBe(18);
    expect(innerHoldout(trainRows, labels, imageOf, 7)).toEqual({ fitRows, holdoutRows });
    // Oversampling's repeats of a held-out image go with it; the holdout lists each image once.
    const repeated = innerHoldout([...trainRows, ...trainRows], labels, imageOf, 7);
    expect(repeated.holdoutRows).toEqual(holdoutRows);
    expect(repeated.fitRows).toEqual([...fitRows, ...fitRows]);
  });
});
