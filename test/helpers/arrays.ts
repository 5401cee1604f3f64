// Comparing two engines' outputs value by value.
import { expect } from 'vitest';

/** The largest absolute difference between two equally long arrays (fails the test if their lengths differ). */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs((a[i] as number) - (b[i] as number)));
  return max;
}
