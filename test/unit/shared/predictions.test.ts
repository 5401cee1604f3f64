import { describe, expect, it } from 'vitest';
import { decideLabel, predictionsCsv } from '../../../src/shared/predictions';

describe('decideLabel', () => {
  it('takes the most probable class without an operating point (the first on a tie)', () => {
    expect(decideLabel([0.2, 0.5, 0.3], ['a', 'b', 'c'], null)).toBe('b');
    expect(decideLabel([0.5, 0.5], ['NG', 'OK'], null)).toBe('NG');
  });

  it('applies a two-class operating point on the positive class, threshold inclusive', () => {
    const point = { positiveClass: 'NG', threshold: 0.3 };
    expect(decideLabel([0.3, 0.7], ['NG', 'OK'], point)).toBe('NG');
    expect(decideLabel([0.29, 0.71], ['NG', 'OK'], point)).toBe('OK');
    expect(decideLabel([0.1, 0.9], ['OK', 'NG'], { positiveClass: 'NG', threshold: 0.95 })).toBe('OK');
  });

  it('ignores an operating point that does not fit the classes', () => {
    expect(decideLabel([0.2, 0.8], ['NG', 'OK'], { positiveClass: 'Maybe', threshold: 0.1 })).toBe('OK');
    expect(decideLabel([0.5, 0.3, 0.2], ['a', 'b', 'c'], { positiveClass: 'c', threshold: 0.1 })).toBe('a');
  });
});

describe('predictionsCsv', () => {
  it('writes one column per class and quotes commas, quotes and newlines', () => {
    const csv = predictionsCsv(['NG', 'OK'], [
      { file: 'a.jpg', predicted: 'OK', probabilities: [0.25, 0.75], error: null },
      { file: 'b, "c".jpg', predicted: null, probabilities: null, error: 'The file is\nempty' },
    ]);
    expect(csv).toBe('file,predicted,p_NG,p_OK,error\na.jpg,OK,0.250000,0.750000,\n"b, ""c"".jpg",,,,"The file is\nempty"\n');
  });
});
