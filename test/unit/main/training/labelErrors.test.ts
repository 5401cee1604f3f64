import { beforeAll, describe, expect, it } from 'vitest';
import { TrainingConfig } from '../../../../src/shared/contract';
import { seededRandom } from '../../../../src/main/services/demo';
import { selectBackend } from '../../../../src/main/training/backend';
import { assignFolds, outOfFoldProbabilities, rankLabelIssues } from '../../../../src/main/training/labelErrors';

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

  it('makes stratified folds', () => {
    const labels = Int32Array.from({ length: 50 }, (_, i) => (i < 40 ? 0 : 1));
    const folds = assignFolds(labels, 5, 1);
    for (let f = 0; f < 5; f++) {
      expect(labels.filter((l, i) => folds[i] === f && l === 0)).toHaveLength(8);
      expect(labels.filter((l, i) => folds[i] === f && l === 1)).toHaveLength(2);
    }
  });

  it('puts flipped labels at the top of the ranking (precision@k on synthetic noise)', async () => {
    const random = seededRandom(5);
    const n = 300;
    const dim = 8;
    const features = new Float32Array(n * dim);
    const truth = Int32Array.from({ length: n }, (_, i) => i % 2);
    for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) features[i * dim + d] = (truth[i] ? 1 : -1) * (d < 3 ? 1 : 0) + (random() - 0.5) * 1.6;
    const labels = truth.slice();
    const flipped = new Set<number>();
    while (flipped.size < 15) flipped.add(Math.floor(random() * n));
    for (const i of flipped) labels[i] = 1 - (labels[i] as number);
    const probabilities = await outOfFoldProbabilities(features, dim, labels, 2, TrainingConfig.parse({ learningRate: 0.01, batchSize: 32 }));
    const issues = rankLabelIssues(probabilities, labels, 2);
    const top = [...issues.keys()].sort((a, b) => (issues[b]?.mislabelScore ?? 0) - (issues[a]?.mislabelScore ?? 0)).slice(0, flipped.size);
    const precision = top.filter((i) => flipped.has(i)).length / flipped.size;
    expect(precision).toBeGreaterThanOrEqual(0.8);
    for (const i of top.filter((i) => flipped.has(i))) expect(issues[i]?.suggested).toBe(truth[i]);
  }, 60_000);
});
