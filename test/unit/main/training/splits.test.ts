import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../../../src/main/project/demo';
import { assignSplits, classWeights, oversample } from '../../../../src/main/training/splits';

const items = (label: string, n: number, prefix = label) => Array.from({ length: n }, (_, i) => ({ hash: `${prefix}-${i}`, label }));

describe('splits', () => {
  it('stratifies per class at the requested fractions', () => {
    const all = [...items('OK', 100), ...items('NG', 30)];
    const { assignments } = assignSplits(all, null, { val: 0.2, test: 0.1, seed: 1 });
    const count = (label: string, split: string) => all.filter((i) => i.label === label && assignments[i.hash] === split).length;
    expect([count('OK', 'train'), count('OK', 'val'), count('OK', 'test')]).toEqual([70, 20, 10]);
    expect([count('NG', 'train'), count('NG', 'val'), count('NG', 'test')]).toEqual([21, 6, 3]);
  });

  it('is stable across runs and keeps a relabeled image in its split', () => {
    const first = assignSplits([...items('OK', 50), ...items('NG', 50)], null, { val: 0.2, test: 0, seed: 3 });
    const relabeled = [...items('OK', 49), { hash: 'OK-49', label: 'NG' }, ...items('NG', 50)];
    const second = assignSplits(relabeled, first, { val: 0.2, test: 0, seed: 3 });
    expect(second.assignments['OK-49']).toBe(first.assignments['OK-49']);
    expect(second.assignments).toEqual(first.assignments);
  });

  it('places new images where their class is short, and reshuffles with a new seed', () => {
    const first = assignSplits(items('OK', 10), null, { val: 0.2, test: 0, seed: 3 });
    const grown = assignSplits(items('OK', 20), first, { val: 0.2, test: 0, seed: 3 });
    expect(Object.values(grown.assignments).filter((s) => s === 'val')).toHaveLength(4);
    for (let i = 0; i < 10; i++) expect(grown.assignments[`OK-${i}`]).toBe(first.assignments[`OK-${i}`]);
    const reshuffled = assignSplits(items('OK', 20), grown, { val: 0.2, test: 0, seed: 4 });
    expect(reshuffled.assignments).not.toEqual(grown.assignments);
  });

  it('refuses fractions that leave nothing to train on', () => {
    expect(() => assignSplits([], null, { val: 0.6, test: 0.4, seed: 1 })).toThrow(/leave room for training/);
  });
});

describe('balancing', () => {
  it('oversamples every class up to the largest, using each image before repeating any', () => {
    const result = oversample([[0, 1, 2, 3, 4, 5], [10, 11], [20, 21, 22, 23]], seededRandom(1));
    const count = (lo: number) => result.filter((i) => i >= lo && i < lo + 10).length;
    expect([count(0), count(10), count(20)]).toEqual([6, 6, 6]);
    expect(result.filter((i) => i === 10)).toHaveLength(3);
    for (const i of [20, 21, 22, 23]) expect(result.filter((x) => x === i).length).toBeGreaterThanOrEqual(1);
  });

  it('computes balanced class weights as Keras does', () => {
    expect(classWeights([80, 20])).toEqual([0.625, 2.5]);
  });
});
