import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../../src/main/project/demo';
import { accuracy, accuracyEstimate, confusionMatrix, describeAccuracy, perClassMetrics, wilsonInterval } from '../../../src/shared/metrics';

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

  it('handles a val split holding one class only', async () => {
    const { rocCurve, prCurve, confusionAtThreshold } = await import('../../../src/shared/metrics');
    // Three OK images (class 1), one predicted NG: NG has no support, OK no false positives.
    const confusion = confusionMatrix([1, 1, 1], [1, 0, 1], 2);
    expect(confusion).toEqual([
      [0, 0],
      [1, 2],
    ]);
    const [ng, ok] = perClassMetrics(confusion);
    expect(ng).toEqual({ precision: 0, recall: 0, f1: 0, support: 0 });
    expect(ok).toEqual({ precision: 1, recall: 2 / 3, f1: 0.8, support: 3 });
    expect(accuracy(confusion)).toBeCloseTo(2 / 3, 10);
    // NG positive with no NG images: no ROC, no AP, and the confusion still counts the false alarm.
    expect(rocCurve([0.7, 0.2, 0.1], [false, false, false])).toEqual({ points: [], auc: null });
    expect(prCurve([0.7, 0.2, 0.1], [false, false, false]).averagePrecision).toBeNull();
    expect(confusionAtThreshold([0.7, 0.2, 0.1], [false, false, false], 0.5)).toEqual({ tp: 0, fp: 1, tn: 2, fn: 0 });
  });
});

describe('two-class curves', () => {
  // scores:   0.9 0.8 0.7 0.6 0.55 0.4
  // positive:  T   T   F   T   F    F
  const scores = [0.9, 0.8, 0.7, 0.6, 0.55, 0.4];
  const positive = [true, true, false, true, false, false];

  it('ROC points and AUC by hand', async () => {
    const { rocCurve } = await import('../../../src/shared/metrics');
    const { points, auc } = rocCurve(scores, positive);
    expect(points.map((p) => [p.x, p.y])).toEqual([
      [0, 0],
      [0, 1 / 3],
      [0, 2 / 3],
      [1 / 3, 2 / 3],
      [1 / 3, 1],
      [2 / 3, 1],
      [1, 1],
    ]);
    // 8 of the 9 positive/negative pairs are ordered correctly.
    expect(auc).toBeCloseTo(8 / 9, 10);
    expect(rocCurve([0.5, 0.4], [true, true]).auc).toBeNull();
    // Ties count half, as in the Mann-Whitney statistic.
    expect(rocCurve([0.5, 0.5], [true, false]).auc).toBeCloseTo(0.5, 10);
  });

  it('precision-recall and average precision by hand', async () => {
    const { prCurve } = await import('../../../src/shared/metrics');
    const { points, averagePrecision } = prCurve(scores, positive);
    expect(points.map((p) => [p.x, p.y])).toEqual([
      [1 / 3, 1],
      [2 / 3, 1],
      [2 / 3, 2 / 3],
      [1, 3 / 4],
      [1, 3 / 5],
      [1, 1 / 2],
    ]);
    expect(averagePrecision).toBeCloseTo(1 / 3 + 1 / 3 + (1 / 3) * (3 / 4), 10);
    expect(prCurve([0.2], [false]).averagePrecision).toBeNull();
  });

  it('confusion at a threshold', async () => {
    const { confusionAtThreshold } = await import('../../../src/shared/metrics');
    expect(confusionAtThreshold(scores, positive, 0.65)).toEqual({ tp: 2, fp: 1, tn: 2, fn: 1 });
    expect(confusionAtThreshold(scores, positive, 0)).toEqual({ tp: 3, fp: 3, tn: 0, fn: 0 });
  });

  it('a threshold sweep agrees with the ROC points at every score', async () => {
    const { confusionAtThreshold, rocCurve } = await import('../../../src/shared/metrics');
    const { points } = rocCurve(scores, positive);
    for (const point of points.slice(1)) {
      const { tp, fp, tn, fn } = confusionAtThreshold(scores, positive, point.threshold);
      expect([fp / (fp + tn), tp / (tp + fn)]).toEqual([point.x, point.y]);
    }
    // Past the top score nothing is positive; at 0 everything is.
    expect(confusionAtThreshold(scores, positive, 0.95)).toEqual({ tp: 0, fp: 0, tn: 3, fn: 3 });
    expect(confusionAtThreshold(scores, positive, 1)).toEqual({ tp: 0, fp: 0, tn: 3, fn: 3 });
  });
});

describe('accuracy with its interval', () => {
  it('gives the Wilson interval by hand, inside [0, 1] even at 0 and n of n', () => {
    // 45 of 50: p = 0.9, z = 1.96 → 0.7864–0.9565 (Wilson 1927, checked by hand).
    const { low, high } = wilsonInterval(45, 50);
    expect(low).toBeCloseTo(0.7864, 3);
    expect(high).toBeCloseTo(0.9565, 3);
    expect(wilsonInterval(20, 20).high).toBe(1);
    expect(wilsonInterval(20, 20).low).toBeCloseTo(0.8389, 3);
    expect(wilsonInterval(0, 10).low).toBe(0);
  });

  it('covers the true accuracy about 95% of the time on generated val splits', () => {
    const random = seededRandom(9);
    for (const [n, p] of [
      [40, 0.9],
      [120, 0.97],
      [300, 0.75],
    ] as const) {
      let covered = 0;
      const trials = 4000;
      for (let t = 0; t < trials; t++) {
        let hits = 0;
        for (let i = 0; i < n; i++) if (random() < p) hits++;
        const { low, high } = wilsonInterval(hits, n);
        if (low <= p && p <= high) covered++;
      }
      expect(covered / trials, `n ${n}, p ${p}`).toBeGreaterThan(0.925);
      expect(covered / trials, `n ${n}, p ${p}`).toBeLessThan(0.975);
    }
  });

  it('says what an accuracy was measured on and whether it is optimistic', () => {
    expect(describeAccuracy(accuracyEstimate('val', 117, 120, true))).toBe('97.5% (95% CI 92.9–99.1%) on the val split: 120 images that chose nothing');
    expect(describeAccuracy(accuracyEstimate('val', 19, 20, false))).toMatch(/on the val split: 20 images that also chose the kept epoch \(optimistic\)$/);
    expect(describeAccuracy(accuracyEstimate('cv', 570, 600, true, 5))).toMatch(/on 5-fold cross-validation over all 600 labeled images, each judged by a model that never saw it$/);
    expect(describeAccuracy(accuracyEstimate('train', 80, 80, false))).toMatch(/the train split: 80 images the model was trained on \(optimistic: add a val split\)$/);
  });
});
