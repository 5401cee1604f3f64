// What the Data tab draws from a split preview: per-class stacked bars and the imbalance ratio.
import type { SplitPreview } from '../../shared/contract';

export const SPLITS = ['train', 'val', 'test'] as const;
export type SplitName = (typeof SPLITS)[number];

export const SPLIT_COLORS: Record<SplitName | 'balanced', string> = { train: '#4f8fe0', balanced: '#8fb8ee', val: '#e0b34f', test: '#a96fe0' };
export const SPLIT_NAMES: Record<SplitName, string> = { train: 'train', val: 'validation', test: 'test' };

export interface BarSeries {
  label: string;
  /** Bars with the same stack sit on one another: one stack per class as split, one after oversampling. */
  stack: string;
  data: number[];
  color: string;
}

export interface SplitBars {
  classes: string[];
  bars: BarSeries[];
  /** Class weights, drawn as points on their own axis; null unless the loss weights classes. */
  weights: number[] | null;
}

/** Stacked train/val/test bars per class; with oversampling, a second stack shows the balanced train split. */
export function splitBars(preview: SplitPreview): SplitBars {
  const { classes, counts } = preview;
  const column = (split: SplitName) => classes.map((c) => counts[split][c] ?? 0);
  const asSplit = SPLITS.map((split) => ({ label: SPLIT_NAMES[split], stack: 'as split', data: column(split), color: SPLIT_COLORS[split] }));
  const oversampled = classes.some((c) => (preview.balancedTrain[c] ?? 0) !== (counts.train[c] ?? 0));
  const bars = oversampled
    ? [
        ...asSplit,
        { label: 'train after oversampling', stack: 'after oversampling', data: classes.map((c) => preview.balancedTrain[c] ?? 0), color: SPLIT_COLORS.balanced },
        ...asSplit.slice(1).map((bar) => ({ ...bar, stack: 'after oversampling' })),
      ]
    : asSplit;
  const weights = preview.classWeights ? classes.map((c) => preview.classWeights?.[c] ?? 0) : null;
  return { classes, bars, weights };
}

/** Largest class over smallest in the train split; null with fewer than two classes, Infinity when one is empty. */
export function imbalanceRatio(countsByClass: number[]): number | null {
  if (countsByClass.length < 2) return null;
  const smallest = Math.min(...countsByClass);
  return smallest === 0 ? Infinity : Math.max(...countsByClass) / smallest;
}

export interface Imbalance {
  before: number | null;
  /** What the model sees: repeats counted, or each class's count times its weight. */
  after: number | null;
}

export function trainImbalance(preview: SplitPreview): Imbalance {
  const train = preview.classes.map((c) => preview.counts.train[c] ?? 0);
  const effective = preview.classes.map((c, i) =>
    preview.classWeights ? (train[i] ?? 0) * (preview.classWeights[c] ?? 0) : (preview.balancedTrain[c] ?? 0),
  );
  return { before: imbalanceRatio(train), after: imbalanceRatio(effective) };
}

export function formatRatio(ratio: number | null): string {
  if (ratio === null) return '—';
  return ratio === Infinity ? '∞ (a class has no train images)' : `${ratio.toFixed(2)}×`;
}
