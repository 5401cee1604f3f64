import { describe, expect, it } from 'vitest';
import { accuracy, confusionMatrix, perClassMetrics } from '../../../../src/main/training/metrics';

describe('metrics', () => {
  it('computes the confusion matrix and per-class precision/recall/F1 by hand', () => {
    // true:      0 0 0 0 1 1 1 2
    // predicted: 0 0 1 2 1 1 0 2
    const confusion = confusionMatrix([0, 0, 0, 0, 1, 1, 1, 2], [0, 0, 1, 2, 1, 1, 0, 2], 3);
    expect(confusion).toEqual([
      [2, 1, 1],
      [1, 2, 0],
      [0, 0, 1],
    ]);
    const [a, b, c] = perClassMetrics(confusion);
    expect(a).toEqual({ precision: 2 / 3, recall: 0.5, f1: (2 * (2 / 3) * 0.5) / (2 / 3 + 0.5), support: 4 });
    expect(b).toMatchObject({ precision: 2 / 3, recall: 2 / 3, support: 3 });
    expect(c).toMatchObject({ precision: 0.5, recall: 1, support: 1 });
    expect(accuracy(confusion)).toBe(5 / 8);
  });

  it('handles a class never predicted and a class absent from the data', () => {
    const [never, absent] = perClassMetrics(confusionMatrix([0, 0, 0], [1, 1, 1], 2));
    expect(never).toEqual({ precision: 0, recall: 0, f1: 0, support: 3 });
    expect(absent).toEqual({ precision: 0, recall: 0, f1: 0, support: 0 });
    expect(accuracy(confusionMatrix([], [], 2))).toBeNull();
  });
});
