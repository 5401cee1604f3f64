import { beforeAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../../../../src/main/project/demo';
import { selectBackend } from '../../../../src/main/engine/backend';
import { estimateLabelErrors, outOfFoldProbabilities, rankLabelIssues } from '../../../../src/main/inspection/labelErrors';
import { assignFolds } from '../../../../src/main/training/splits';
import { type TF, tf } from '../../../../src/main/engine/tf';
import { CancelledError } from '../../../../src/main/common/errors';

describe('label-error ranking', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });

  it('scores hand-made probabilities: agreement 0, confident disagreement near 1', () => {
    const probabilities = Float32Array.from([0.9, 0.1, 0.2, 0.8, 0.95, 0.05, 0.5, 0.5]);
    const issues = rankLabelIssues(probabilities, Int32Array.from([0, 1, 1, 0]), 2);
    expect(issues[0]).toMatchObject({ suggested: 0, likelyWrong: false });
    expect(issues[0]?.mislabelScore).toBeCloseTo(0.1);
    expect(issues[2]).toMatchObject({ suggested: 0, likelyWrong: true });
    expect(issues[2]?.mislabelScore).toBeCloseTo(0.95);
    expect(issues[3]?.mislabelScore).toBeCloseTo(0.5);
  });

  it('scores one minus the probability of the given label (self-confidence), whatever the other classes share', () => {
    // Three classes: 0.25 on the given label scores 0.75 whether the rest is split evenly or not.
    const issues = rankLabelIssues(Float32Array.from([0.4, 0.35, 0.25, 0.75, 0, 0.25, 0.2, 0.2, 0.6]), Int32Array.from([2, 2, 2]), 3);
    expect(issues.map((i) => i.mislabelScore)).toEqual([expect.closeTo(0.75), expect.closeTo(0.75), expect.closeTo(0.4)]);
    expect(issues.map((i) => i.suggested)).toEqual([0, 0, 2]);
  });

  it('makes stratified folds', () => {
    const labels = Int32Array.from({ length: 50 }, (_, i) => (i < 40 ? 0 : 1));
    const folds = assignFolds(labels, 5, 1);
    for (let f = 0; f < 5; f++) {
      expect(labels.filter((l, i) => folds[i] === f && l === 0)).toHaveLength(8);
      expect(labels.filter((l, i) => folds[i] === f && l === 1)).toHaveLength(2);
    }
  });

  /**
   * 300 rows, 15 labels flipped. The class shows in dimension 0, buried under a large nuisance that
   * dimension 1 also carries: only a converged classifier learns to subtract it (a class-mean
   * direction, which a barely trained one is, ranks poorly).
   */
  function noisySet(flips = 15, seed = 5) {
    const random = seededRandom(seed);
    const n = 300;
    const dim = 8;
    const features = new Float32Array(n * dim);
    const truth = Int32Array.from({ length: n }, (_, i) => i % 2);
    for (let i = 0; i < n; i++) {
      const nuisance = (random() - 0.5) * 8;
      for (let d = 0; d < dim; d++) features[i * dim + d] = (random() - 0.5) * 0.8;
      features[i * dim] = (features[i * dim] as number) + (truth[i] ? 1 : -1) + nuisance;
      features[i * dim + 1] = (features[i * dim + 1] as number) + nuisance;
    }
    const labels = truth.slice();
    const flipped = new Set<number>();
    while (flipped.size < flips) flipped.add(Math.floor(random() * n));
    for (const i of flipped) labels[i] = 1 - (labels[i] as number);
    return { features, dim, truth, labels, flipped };
  }

  for (const maxBatch of [undefined, 64]) {
    it(`puts flipped labels at the top of the ranking (precision@k on synthetic noise, ${maxBatch ? 'sampled batches' : 'whole folds'})`, async () => {
      const { features, dim, truth, labels, flipped } = noisySet();
      const before = tf.memory().numTensors;
      const probabilities = await outOfFoldProbabilities(features, dim, labels, 2, { seed: 1, maxBatch });
      expect(tf.memory().numTensors).toBe(before);
      const issues = rankLabelIssues(probabilities, labels, 2);
      const top = [...issues.keys()].sort((a, b) => (issues[b]?.mislabelScore ?? 0) - (issues[a]?.mislabelScore ?? 0)).slice(0, flipped.size);
      const precision = top.filter((i) => flipped.has(i)).length / flipped.size;
      expect(precision).toBeGreaterThanOrEqual(0.8);
      for (const i of top.filter((i) => flipped.has(i))) expect(issues[i]?.suggested).toBe(truth[i]);
    }, 60_000);
  }

  it('estimates how many labels are wrong within a few points of the truth, and flags about that many', async () => {
    for (const [flips, seed] of [
      [0, 6],
      [15, 5],
      [30, 7],
    ] as const) {
      const { features, dim, labels, flipped } = noisySet(flips, seed);
      const probabilities = await outOfFoldProbabilities(features, dim, labels, 2, { seed: 1 });
      const estimate = estimateLabelErrors(probabilities, labels, 2);
      expect(Math.abs(estimate.share - flips / labels.length), `${flips} flipped: estimated ${estimate.count}`).toBeLessThanOrEqual(0.03);
      const flagged = rankLabelIssues(probabilities, labels, 2).flatMap((issue, i) => (issue.likelyWrong ? [i] : []));
      expect(flagged.length).toBeLessThanOrEqual(estimate.count);
      expect(flagged.length).toBeGreaterThanOrEqual(Math.floor(estimate.count * 0.8));
      if (flips > 0) expect(flagged.filter((i) => flipped.has(i)).length / flagged.length, `${flips} flipped`).toBeGreaterThanOrEqual(0.8);
    }
  }, 60_000);

  it.each([
    [2, 1],
    [5, 1],
    [3, 2],
  ])('takes the same steps as tf.train.adam on the same objective, each of %i folds (%i fold assignments averaged) on its own rows (all trained side by side, the gradient written out)', async (folds, repeats) => {
    const { features, dim, labels } = noisySet();
    const probabilities = await outOfFoldProbabilities(features, dim, labels, 2, { seed: 1, folds, repeats, steps: 60 });
    // The reference: TF.js's own Adam minimising the same loss, one fold after the other, each assignment's probabilities averaged.
    const reference = new Float32Array(probabilities.length);
    for (let repeat = 0; repeat < repeats; repeat++) {
      const fold = assignFolds(labels, folds, 1 + 7 + repeat);
      for (let f = 0; f < folds; f++) {
        const rest = [...fold.keys()].filter((row) => fold[row] !== f);
        const held = [...fold.keys()].filter((row) => fold[row] === f);
        const x = tf.gather(tf.tensor2d(features, [labels.length, dim]), tf.tensor1d(rest, 'int32'));
        const y = tf.oneHot(tf.tensor1d(Int32Array.from(rest, (r) => labels[r] as number), 'int32'), 2).toFloat();
        const weights = tf.variable(tf.zeros([dim, 2]));
        const bias = tf.variable(tf.zeros([2]));
        const optimizer = tf.train.adam(0.01);
        for (let step = 0; step < 60; step++) optimizer.minimize(() => tf.add(tf.losses.softmaxCrossEntropy(y, tf.add(tf.matMul(x, weights), bias)), tf.mul(1e-4, tf.sum(tf.square(weights)))) as TF.Scalar);
        const p = tf.softmax(tf.add(tf.matMul(tf.gather(tf.tensor2d(features, [labels.length, dim]), tf.tensor1d(held, 'int32')), weights), bias)).dataSync();
        held.forEach((row, i) => [0, 1].forEach((c) => (reference[row * 2 + c] = (reference[row * 2 + c] as number) + (p[i * 2 + c] as number) / repeats)));
      }
    }
    expect(Math.max(...probabilities.map((v, i) => Math.abs(v - (reference[i] as number))))).toBeLessThan(1e-4);
  });

  it('stops when cancelled, without leaking tensors', async () => {
    const { features, dim, labels } = noisySet();
    const before = tf.memory().numTensors;
    let folds = 0;
    const cancelled = outOfFoldProbabilities(features, dim, labels, 2, { seed: 1, repeats: 1, isCancelled: () => folds >= 1, onFold: () => folds++ });
    await expect(cancelled).rejects.toBeInstanceOf(CancelledError);
    expect(folds).toBe(1);
    expect(tf.memory().numTensors).toBe(before);
  });
});
