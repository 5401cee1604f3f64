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
