// The default stage 1: a softmax regression fitted to its optimum with L-BFGS, its L2 strength
// chosen on the train rows alone, and cross-validation in which no image judges itself.
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../../../src/main/engine/backend';
import { tf } from '../../../../src/main/engine/tf';
import { seededRandom } from '../../../../src/main/project/demo';
import { crossValidate, fitConvergedHead, fitData, fitSoftmaxRegression, L2_GRID } from '../../../../src/main/training/convergedHead';

/** Three overlapping Gaussian classes in `dim` dimensions. */
function blobs(perClass: number, dim = 12, seed = 1) {
  const random = seededRandom(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const n = perClass * 3;
  const features = new Float32Array(n * dim);
  const labels = Int32Array.from({ length: n }, (_, i) => i % 3);
  for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) features[i * dim + d] = (d === (labels[i] as number) ? 1.2 : 0) + gauss();
  return { features, labels, dim, rows: Array.from({ length: n }, (_, i) => i) };
}

/** The objective and its gradient in float64 plain JavaScript: an independent reference. */
function reference(features: Float32Array, labels: Int32Array, dim: number, classes: number, rows: number[], theta: Float64Array, l2: number) {
  const gradient = new Float64Array(theta.length);
  let loss = 0;
  for (const r of rows) {
    const logits = Array.from({ length: classes }, (_, c) => {
      let z = theta[dim * classes + c] as number;
      for (let d = 0; d < dim; d++) z += (features[r * dim + d] as number) * (theta[d * classes + c] as number);
      return z;
    });
    const max = Math.max(...logits);
    const sum = logits.reduce((s, z) => s + Math.exp(z - max), 0);
    loss -= ((logits[labels[r] as number] as number) - max - Math.log(sum)) / rows.length;
    logits.forEach((z, c) => {
      const residual = (Math.exp(z - max) / sum - (c === labels[r] ? 1 : 0)) / rows.length;
      for (let d = 0; d < dim; d++) gradient[d * classes + c] = (gradient[d * classes + c] as number) + residual * (features[r * dim + d] as number);
      gradient[dim * classes + c] = (gradient[dim * classes + c] as number) + residual;
    });
  }
  for (let i = 0; i < dim * classes; i++) {
    loss += l2 * (theta[i] as number) ** 2;
    gradient[i] = (gradient[i] as number) + 2 * l2 * (theta[i] as number);
  }
  return { loss, gradient };
}

describe('the converged head', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });

  it('reaches the optimum: the gradient vanishes, and a long gradient-descent run gets no lower', async () => {
    const { features, labels, dim, rows } = blobs(60);
    const all = tf.tensor2d(features, [features.length / dim, dim]);
    const data = fitData(all, labels, 3, rows);
    const fit = await fitSoftmaxRegression(data, { l2: 1e-3 });
    data.dispose();
    all.dispose();
    expect(fit.converged).toBe(true);
    const atFit = reference(features, labels, dim, 3, rows, fit.theta, 1e-3);
    expect(Math.max(...Array.from(atFit.gradient, Math.abs))).toBeLessThan(1e-4);
    // 3,000 steps of plain gradient descent from zero, in float64.
    let theta = new Float64Array(fit.theta.length);
    for (let step = 0; step < 3000; step++) {
      const { gradient } = reference(features, labels, dim, 3, rows, theta, 1e-3);
      theta = theta.map((v, i) => v - 0.5 * (gradient[i] as number));
    }
    expect(atFit.loss).toBeLessThanOrEqual(reference(features, labels, dim, 3, rows, theta, 1e-3).loss + 1e-6);
    expect(tf.memory().numTensors).toBeLessThan(50);
  });

  it('chooses L2 and fits on the train rows only: what val says changes nothing but the reported val curves', async () => {
    const { features, labels, dim, rows } = blobs(40, 12, 2);
    const trainRows = rows.filter((r) => r % 4 !== 0);
    const valRows = rows.filter((r) => r % 4 === 0);
    const fit = (labelsSeen: Int32Array) => fitConvergedHead({ features, dim, labels: labelsSeen, classCount: 3, trainRows, imageOf: (r) => r, valRows, dropout: 0, seed: 3 });
    const honest = await fit(labels);
    // Every val label changed: a fit that looked at val would choose or end differently.
    const scrambled = Int32Array.from(labels, (l, r) => (r % 4 === 0 ? (l + 1) % 3 : l));
    const other = await fit(scrambled);
    expect(honest.l2Scores.map((s) => s.l2)).toEqual([...L2_GRID]);
    expect(other.l2).toBe(honest.l2);
    expect(other.l2Scores).toEqual(honest.l2Scores);
    expect(other.model.getWeights()[1]?.dataSync()).toEqual(honest.model.getWeights()[1]?.dataSync());
    expect(other.history.map((h) => h.loss)).toEqual(honest.history.map((h) => h.loss));
    expect(other.history.at(-1)?.val_accuracy).not.toBe(honest.history.at(-1)?.val_accuracy);
    expect(honest.converged).toBe(true);
    honest.model.dispose();
    other.model.dispose();
  });

  it('keeps an image and its copies in one inner fold, and scores held-out images once', async () => {
    const { features, labels, dim, rows } = blobs(30, 12, 4);
    // Rows 90–179 are copies of rows 0–89 (same features, same labels), as augmented copies are.
    const withCopies = new Float32Array(features.length * 2);
    withCopies.set(features);
    withCopies.set(features, features.length);
    const labels2 = Int32Array.from([...labels, ...labels]);
    const copies = rows.map((r) => r + rows.length);
    const imageOf = (r: number) => r % rows.length;
    const result = await fitConvergedHead({ features: withCopies, dim, labels: labels2, classCount: 3, trainRows: [...rows, ...copies], imageOf, valRows: [], dropout: 0, seed: 5 });
    // Had a copy's twin sat in the held-out fold, memorising would pay: the weakest L2 would win on these noisy blobs.
    expect(result.l2).not.toBe(L2_GRID.at(-1));
    result.model.dispose();
  });

  it('cross-validates so that no model judges an image it was fitted on', async () => {
    const { features, labels, dim, rows } = blobs(25, 12, 6);
    const run = (input: Float32Array) => crossValidate({ features: input, dim, labels, classCount: 3, trainRows: rows, images: rows, imageOf: (r) => r, dropout: 0, seed: 7, folds: 5 });
    const base = await run(features);
    expect(base.folds).toBe(5);
    expect(base.probabilities).toHaveLength(rows.length * 3);
    // Move image 0 far away: the model that judges its fold never saw it, so that fold's other
    // images are judged exactly as before; every other fold's model was fitted on it and moves.
    const moved = Float32Array.from(features);
    for (let d = 0; d < dim; d++) moved[d] = 40;
    const after = await run(moved);
    const row = (p: Float32Array, i: number) => Array.from(p.subarray(i * 3, i * 3 + 3));
    const sameAsBefore = rows.filter((i) => i !== 0 && row(after.probabilities, i).every((v, c) => v === row(base.probabilities, i)[c]));
    const foldSize = rows.length / 5;
    expect(sameAsBefore.length).toBe(foldSize - 1);
  });
});
