// Pure metric functions, shared by main (reports) and the renderer (live threshold slider).
// Classification metrics with the degenerate cases handled on purpose: a class nobody predicted
// has precision 0 (not NaN), a class absent from the data has recall 0 and support 0.

/** rows = true class, columns = predicted class. */
export function confusionMatrix(actual: ArrayLike<number>, predicted: ArrayLike<number>, classCount: number): number[][] {
  const matrix = Array.from({ length: classCount }, () => new Array<number>(classCount).fill(0));
  for (let i = 0; i < actual.length; i++) (matrix[actual[i] as number] as number[])[predicted[i] as number]++;
  return matrix;
}

export interface ClassMetrics {
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

export function perClassMetrics(confusion: number[][]): ClassMetrics[] {
  return confusion.map((row, c) => {
    const truePositive = row[c] as number;
    const support = row.reduce((a, b) => a + b, 0);
    const predictedAs = confusion.reduce((sum, r) => sum + (r[c] as number), 0);
    const precision = predictedAs > 0 ? truePositive / predictedAs : 0;
    const recall = support > 0 ? truePositive / support : 0;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    return { precision, recall, f1, support };
  });
}

export function accuracy(confusion: number[][]): number | null {
  const total = confusion.reduce((sum, row) => sum + row.reduce((a, b) => a + b, 0), 0);
  if (total === 0) return null;
  return confusion.reduce((sum, row, c) => sum + (row[c] as number), 0) / total;
}

/**
 * The Wilson score interval for a proportion (`hits` of `n`) at 95%: unlike the normal
 * approximation it stays inside [0, 1] and is sound for small n and accuracies near 100%.
 */
export function wilsonInterval(hits: number, n: number, z = 1.959964): { low: number; high: number } {
  if (n === 0) return { low: 0, high: 1 };
  const p = hits / n;
  const denominator = 1 + (z * z) / n;
  const centre = (p + (z * z) / (2 * n)) / denominator;
  const half = (z / denominator) * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n));
  return { low: Math.max(0, centre - half), high: Math.min(1, centre + half) };
}

/** An accuracy with what it was measured on and how much to trust it. */
export interface AccuracyEstimate {
  /** A split, or `cv`: k-fold cross-validation of the whole recipe over every labeled image. */
  on: 'val' | 'test' | 'cv' | 'train';
  value: number;
  /** The 95% Wilson interval. */
  low: number;
  high: number;
  images: number;
  /** Cross-validation folds, when `on` is `cv`. */
  folds?: number;
  /** False when these images also chose something (the kept epoch, early stopping): then the figure is optimistic. */
  honest: boolean;
}

export function accuracyEstimate(on: AccuracyEstimate['on'], hits: number, images: number, honest: boolean, folds?: number): AccuracyEstimate {
  return { on, value: images > 0 ? hits / images : 0, ...wilsonInterval(hits, images), images, honest, ...(folds ? { folds } : {}) };
}

/**
 * "97.5% (95% CI 94.2–99.0%) on the val split: 120 images that chose nothing", the same words in
 * the window, the CLI and the report.
 */
export function describeAccuracy(estimate: AccuracyEstimate): string {
  const number = (v: number) => (v * 100).toFixed(1);
  const pct = (v: number) => `${number(v)}%`;
  const where =
    estimate.on === 'cv'
      ? `${estimate.folds ?? 5}-fold cross-validation over all ${estimate.images} labeled images`
      : `the ${estimate.on} split: ${estimate.images} image${estimate.images === 1 ? '' : 's'}`;
  const trust =
    estimate.on === 'train'
      ? ' the model was trained on (optimistic: add a val split)'
      : estimate.on === 'cv'
        ? ', each judged by a model that never saw it'
        : estimate.honest
          ? ' that chose nothing'
          : ' that also chose the kept epoch (optimistic)';
  return `${pct(estimate.value)} (95% CI ${number(estimate.low)}–${pct(estimate.high)}) on ${where}${trust}`;
}

export interface CurvePoint {
  threshold: number;
  x: number;
  y: number;
}

/** Scores sorted high → low with ties grouped: the thresholds at which a curve can change. */
function sweep(scores: ArrayLike<number>, positive: ArrayLike<boolean>) {
  const order = Array.from(scores, (_, i) => i).sort((a, b) => (scores[b] as number) - (scores[a] as number));
  const steps: { threshold: number; tp: number; fp: number }[] = [];
  let tp = 0;
  let fp = 0;
  for (let k = 0; k < order.length; k++) {
    const i = order[k] as number;
    if (positive[i]) tp++;
    else fp++;
    const next = order[k + 1];
    if (next === undefined || (scores[next] as number) !== (scores[i] as number)) steps.push({ threshold: scores[i] as number, tp, fp });
  }
  let positives = 0;
  for (let i = 0; i < positive.length; i++) if (positive[i]) positives++;
  return { steps, positives, negatives: positive.length - positives };
}

/** ROC curve (x = false-positive rate, y = true-positive rate) and its area; null area without both classes. */
export function rocCurve(scores: ArrayLike<number>, positive: ArrayLike<boolean>): { points: CurvePoint[]; auc: number | null } {
  const { steps, positives, negatives } = sweep(scores, positive);
  if (positives === 0 || negatives === 0) return { points: [], auc: null };
  const points: CurvePoint[] = [{ threshold: Infinity, x: 0, y: 0 }, ...steps.map((s) => ({ threshold: s.threshold, x: s.fp / negatives, y: s.tp / positives }))];
  let auc = 0;
  for (let i = 1; i < points.length; i++) auc += ((points[i].x - points[i - 1].x) * (points[i].y + points[i - 1].y)) / 2;
  return { points, auc };
}

/** Precision-recall curve (x = recall, y = precision) and average precision (step-wise, as scikit-learn). */
export function prCurve(scores: ArrayLike<number>, positive: ArrayLike<boolean>): { points: CurvePoint[]; averagePrecision: number | null } {
  const { steps, positives } = sweep(scores, positive);
  if (positives === 0) return { points: [], averagePrecision: null };
  const points = steps.map((s) => ({ threshold: s.threshold, x: s.tp / positives, y: s.tp / (s.tp + s.fp) }));
  let ap = 0;
  let previousRecall = 0;
  for (const p of points) {
    ap += (p.x - previousRecall) * p.y;
    previousRecall = p.x;
  }
  return { points, averagePrecision: ap };
}

/** Two-class confusion at an operating threshold on the positive class's probability. */
export function confusionAtThreshold(scores: ArrayLike<number>, positive: ArrayLike<boolean>, threshold: number) {
  let tp = 0;
  let fp = 0;
  let tn = 0;
  let fn = 0;
  for (let i = 0; i < scores.length; i++) {
    const predicted = (scores[i] as number) >= threshold;
    if (positive[i] && predicted) tp++;
    else if (positive[i]) fn++;
    else if (predicted) fp++;
    else tn++;
  }
  return { tp, fp, tn, fn };
}

/** Mean log-loss and accuracy of row-major probabilities, one row per entry of `rows` (in order), against those rows' labels. */
export function logLossAndAccuracy(probabilities: Float32Array, labels: Int32Array, rows: number[], classCount: number): { logLoss: number; accuracy: number } {
  let loss = 0;
  let hits = 0;
  for (const [k, row] of rows.entries()) {
    const label = labels[row] as number;
    const p = probabilities.subarray(k * classCount, (k + 1) * classCount);
    loss -= Math.log(Math.max(p[label] as number, 1e-15));
    if (p.indexOf(Math.max(...p)) === label) hits++;
  }
  return { logLoss: loss / rows.length, accuracy: hits / rows.length };
}
