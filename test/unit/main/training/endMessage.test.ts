// The finish message speaks to people (time, accuracy and split, kept epoch); diagnostics such as
// the event-loop lag go to the details line only.
import { describe, expect, it } from 'vitest';
import { finishMessage, formatDuration } from '../../../../src/main/training/endMessage';
import { TrainingConfig } from '../../../../src/shared/contract';
import type { TrainingReport } from '../../../../src/shared/report';

function report(overrides: Partial<TrainingReport> = {}): TrainingReport {
  return {
    runId: '20260101-120000-abcd',
    backend: 'wasm (SIMD, 1 thread: tfjs disables wasm threads in Node). Not used: tensorflow: @tensorflow/tfjs-node is not installed',
    classes: ['NG', 'OK'],
    counts: { train: { NG: 40, OK: 40 }, val: { NG: 10, OK: 10 }, test: { NG: 0, OK: 0 } },
    epochs: Array.from({ length: 20 }, (_, i) => ({ loss: 1 / (i + 1), val_loss: 1 / (i + 1) })),
    bestEpoch: 11,
    stopReason: null,
    evaluatedOn: 'val',
    valAccuracy: 0.975,
    confusion: [
      [10, 0],
      [1, 9],
    ],
    perClass: {},
    samples: [],
    skipped: [],
    timing: { totalSeconds: 40, embedSeconds: 20, trainSeconds: 18, imagesPerSecond: 30, embedded: 600, fromCache: 0 },
    preprocessing: { inputSize: 160, scale: '0,1', resize: 'stretch' },
    backbone: { kind: 'mobilenet_v2', cutLayer: 'out_relu', id: 'mobilenet', featureSize: 1280 },
    fineTune: null,
    augmentedCopies: 0,
    ...overrides,
  };
}

const diagnostics = { elapsedSeconds: 41.2, eventLoopLagP99Ms: 36 };

describe('finishMessage', () => {
  it('says how long it took, the val accuracy and which epoch was kept', () => {
    const { message, details } = finishMessage(report(), TrainingConfig.parse({ epochs: 20 }), diagnostics);
    expect(message).toBe('Finished in 41 s · val accuracy 97.5% · kept epoch 12 of 20 (best val_loss)');
    expect(message).not.toMatch(/lag|p99/);
    expect(details).toMatch(/^Engine: wasm \(SIMD/);
    expect(details).toMatch(/600 image\(s\) embedded at 30\.0\/s, 0 from the cache · training 18 s · main event loop lag p99 36\.0 ms$/);
  });

  it('says where an early stop happened, and keeps its reason for the details', () => {
    const stopReason = 'val_loss did not improve for 5 epoch(s) (best 0.1000 at epoch 12)';
    const { message, details } = finishMessage(report({ stopReason, epochs: report().epochs.slice(0, 17) }), TrainingConfig.parse({ epochs: 50 }), { ...diagnostics, elapsedSeconds: 185 });
    expect(message).toBe('Stopped early at epoch 17 of 50 after 3 min 05 s · val accuracy 97.5% · kept epoch 12 of 17 (best val_loss)');
    expect(details).toContain(`stopped because ${stopReason}`);
  });

  it('names the split measured on when there is no val split, and adds the test accuracy', () => {
    const noVal = report({ valAccuracy: null, evaluatedOn: 'train', counts: { train: { NG: 40, OK: 40 }, val: { NG: 0, OK: 0 }, test: { NG: 0, OK: 0 } } });
    expect(finishMessage(noVal, TrainingConfig.parse({ epochs: 20, val: 0 }), diagnostics).message).toBe('Finished in 41 s · no val split (train accuracy 95.0%) · kept epoch 12 of 20 (best loss)');
    const withTest = report({ evaluatedOn: 'test' });
    expect(finishMessage(withTest, TrainingConfig.parse({ epochs: 20 }), diagnostics).message).toBe('Finished in 41 s · val accuracy 97.5% · test accuracy 95.0% · kept epoch 12 of 20 (best val_loss)');
  });

  it('counts fine-tuning epochs, and puts notes and skipped images in the details', () => {
    const tuned = report({ fineTune: { blocks: 2, cutLayer: 'block_15_add', cutShape: [3, 3, 160] }, bestEpoch: 22, epochs: report().epochs.concat(report().epochs.slice(0, 5)), skipped: [{ path: 'OK/x.jpg', reason: 'truncated' }], notes: ['3 cached feature row(s) held NaN'] });
    const { message, details } = finishMessage(tuned, TrainingConfig.parse({ epochs: 20, fineTuneBlocks: 2, fineTuneEpochs: 5, backbone: { kind: 'mobilenet_v2' } }), diagnostics);
    expect(message).toBe('Finished in 41 s · val accuracy 97.5% · kept epoch 23 of 25 (best val_loss)');
    expect(details).toContain('1 unreadable image(s) skipped · 3 cached feature row(s) held NaN');
  });

  it('gives the accuracy with its interval and what it was measured on, and how a converged head was fitted', () => {
    const converged = report({
      accuracy: { on: 'cv', value: 0.975, low: 0.9588, high: 0.985, images: 600, folds: 5, honest: true },
      head: { fit: 'converged', l2: 0.001, l2Scores: [], iterations: 37, converged: true },
      epochs: report().epochs.slice(0, 8),
      bestEpoch: 7,
    });
    const { message, details } = finishMessage(converged, TrainingConfig.parse({}), diagnostics);
    expect(message).toBe(
      'Finished in 41 s · accuracy 97.5% (95% CI 95.9–98.5%) on 5-fold cross-validation over all 600 labeled images, each judged by a model that never saw it · head fitted to convergence (L2 0.001 chosen by cross-validation on the train split)',
    );
    expect(details).toContain('stage 1: 37 L-BFGS iteration(s), converged');
    // Keras-style epochs: val chose the kept epoch, and the message says the figure is optimistic.
    const optimistic = report({ accuracy: { on: 'val', value: 0.95, low: 0.7639, high: 0.9911, images: 20, honest: false }, head: { fit: 'epochs' } });
    expect(finishMessage(optimistic, TrainingConfig.parse({ epochs: 20, headFit: 'epochs' }), diagnostics).message).toBe(
      'Finished in 41 s · accuracy 95.0% (95% CI 76.4–99.1%) on the val split: 20 images that also chose the kept epoch (optimistic) · kept epoch 12 of 20 (best val_loss)',
    );
  });

  it('says a small CNN kept the epoch its inner holdout chose, and decoded (not embedded) its images', () => {
    const scratch = report({ head: { fit: 'scratch', holdoutImages: 12 }, accuracy: { on: 'val', value: 0.95, low: 0.76, high: 0.99, images: 20, honest: true } });
    const { message, details } = finishMessage(scratch, TrainingConfig.parse({ epochs: 20, backbone: { kind: 'small_cnn' } }), diagnostics);
    expect(message).toMatch(/ · kept epoch 12 of 20 \(best holdout_loss on the 12 held-out train images\)$/);
    expect(details).toMatch(/600 image\(s\) decoded at 30\.0\/s/);
    // Classes too small to hold an image out: the training loss chose, and the line says so.
    const none = report({ head: { fit: 'scratch', holdoutImages: 0 }, accuracy: { on: 'val', value: 0.95, low: 0.76, high: 0.99, images: 20, honest: true } });
    expect(finishMessage(none, TrainingConfig.parse({ epochs: 20, backbone: { kind: 'small_cnn' } }), diagnostics).message).toMatch(/ · kept epoch 12 of 20 \(best loss on the train images, too few to hold some out\)$/);
  });

  it('formats durations people read', () => {
    expect([0.4, 41.2, 60, 185, 3600, 3725].map(formatDuration)).toEqual(['0 s', '41 s', '1 min 00 s', '3 min 05 s', '1 h 00 min', '1 h 02 min']);
  });
});
