import { beforeAll, describe, expect, it } from 'vitest';
import { TrainingConfig } from '../../../../src/shared/contract';
import { seededRandom } from '../../../../src/main/project/demo';
import type { Callback } from '../../../../src/main/training/callbacks';
import { selectBackend } from '../../../../src/main/engine/backend';
import { makeOptimizer, setLearningRate, trainHead } from '../../../../src/main/training/trainHead';
import { CancelledError } from '../../../../src/main/common/errors';
import { tf } from '../../../../src/main/engine/tf';
import type { TF } from '../../../../src/main/engine/tf';

/** Two Gaussian blobs in 16-d: separable, so a head must learn them. */
function blobs(perClass: number, seed = 1) {
  const random = seededRandom(seed);
  const dim = 16;
  const features = new Float32Array(perClass * 2 * dim);
  const labels = new Int32Array(perClass * 2);
  for (let i = 0; i < perClass * 2; i++) {
    labels[i] = i % 2;
    for (let d = 0; d < dim; d++) features[i * dim + d] = (labels[i] ? 1 : -1) * (d < 4 ? 1.5 : 0) + (random() - 0.5) * 2;
  }
  const rows = Array.from({ length: perClass * 2 }, (_, i) => i);
  return { features, labels, dim, trainRows: rows.filter((i) => i % 5 !== 0), valRows: rows.filter((i) => i % 5 === 0) };
}

const config = (overrides: Record<string, unknown> = {}) => TrainingConfig.parse({ epochs: 15, batchSize: 16, learningRate: 0.01, ...overrides });

describe('trainHead', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });

  it('learns separable features to high validation accuracy', async () => {
    const data = blobs(100);
    const result = await trainHead({ ...data, classCount: 2, config: config({ earlyStopping: null }) });
    expect(result.history).toHaveLength(15);
    expect(result.history.at(-1)?.val_accuracy).toBeGreaterThan(0.95);
    expect(result.history.at(-1)?.loss).toBeLessThan(result.history[0]?.loss as number);
    result.model.dispose();
  });

  it('does not leak tensors across epochs', async () => {
    const data = blobs(50);
    const counts: number[] = [];
    const watcher: Callback = { onEpochEnd: () => void counts.push(tf.memory().numTensors) };
    const before = tf.memory().numTensors;
    const result = await trainHead({ ...data, classCount: 2, config: config({ epochs: 6, earlyStopping: null, optimizer: 'adam' }), callbacks: [watcher] });
    expect(new Set(counts.slice(1)).size).toBe(1);
    result.model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('stops early and keeps the best epoch\'s weights', async () => {
    const data = blobs(60);
    // A huge LR makes val_loss bounce: early stopping must end the run before 40 epochs.
    const result = await trainHead({ ...data, classCount: 2, config: config({ epochs: 40, learningRate: 5, optimizer: 'sgd', momentum: 0.9, earlyStopping: { patience: 2 } }) });
    expect(result.history.length).toBeLessThan(40);
    expect(result.stopReason).toMatch(/val_loss did not improve/);
    const best = Math.min(...result.history.map((h) => h.val_loss as number));
    expect(result.history[result.bestEpoch]?.val_loss).toBe(best);
    result.model.dispose();
  });

  it('can be cancelled between batches', async () => {
    const data = blobs(50);
    let batches = 0;
    const counter: Callback = { onBatchEnd: () => void batches++ };
    await expect(trainHead({ ...data, classCount: 2, config: config(), callbacks: [counter], isCancelled: () => batches >= 3 })).rejects.toBeInstanceOf(CancelledError);
    expect(batches).toBe(3);
  });

  it('applies schedules and ReduceLROnPlateau to the optimizer it trains with', async () => {
    const lrs: number[] = [];
    const data = blobs(20);
    const spy: Callback = { onEpochEnd: (_e, _l, control) => void lrs.push(control.getLearningRate()) };
    const result = await trainHead({ ...data, classCount: 2, callbacks: [spy], config: config({ epochs: 3, batchSize: 8, earlyStopping: null, schedule: { kind: 'exponential', decaySteps: 4, decayRate: 0.5, staircase: true } }) });
    // 32 train rows, batch 8: 4 steps per epoch; the last step of epoch e is 4e+3, so lr = 0.01·0.5^e.
    expect(lrs.map((lr) => +lr.toFixed(6))).toEqual([0.01, 0.005, 0.0025]);
    result.model.dispose();
    for (const optimizer of ['sgd', 'adam', 'rmsprop'] as const) {
      const opt = makeOptimizer(config({ optimizer }));
      setLearningRate(opt, 0.123);
      expect((opt as unknown as { learningRate: number }).learningRate).toBe(0.123);
      opt.dispose();
    }
  });

  it('weights classes so a rare, overlapping class is predicted more often', async () => {
    // 90% class 0, 10% class 1, heavily overlapping: unweighted, the head mostly says 0.
    const random = seededRandom(9);
    const n = 400;
    const dim = 4;
    const features = new Float32Array(n * dim);
    const labels = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      labels[i] = i % 10 === 0 ? 1 : 0;
      for (let d = 0; d < dim; d++) features[i * dim + d] = (labels[i] ? 0.5 : -0.5) * (d === 0 ? 1 : 0) + (random() - 0.5) * 3;
    }
    const rows = Array.from({ length: n }, (_, i) => i);
    const predictedOnes = async (classWeights?: number[]) => {
      const { model } = await trainHead({ features, labels, dim, trainRows: rows, valRows: [], classCount: 2, classWeights, config: config({ epochs: 10, earlyStopping: null, dropout: 0 }) });
      const ones = tf.tidy(() => tf.sum(tf.argMax(model.predict(tf.tensor2d(features, [n, dim])) as TF.Tensor2D, 1)).dataSync()[0] as number);
      model.dispose();
      return ones;
    };
    expect(await predictedOnes([0.55, 5])).toBeGreaterThan((await predictedOnes()) + 40);
  });
});
