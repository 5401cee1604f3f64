// Which labels are probably wrong, in the manner of confident learning (Northcutt et al.):
// every image gets out-of-fold class probabilities from heads trained on the other folds of the
// cached features, so no image is judged by a model that saw its own label. The ranking score is
// the normalised margin between the given label and the strongest other class.
import type { TrainingConfig } from '../../shared/contract';
import { seededRandom } from '../services/demo';
import { shuffled } from './splits';
import { predictInBatches, trainHead } from './trainHead';
import { tf } from './tf';

export interface LabelIssue {
  /** 0 = the model agrees with the label, 1 = it is sure of another class. */
  mislabelScore: number;
  /** The class the out-of-fold model prefers (the given label when it agrees). */
  suggested: number;
  /** Confident-learning verdict: another class beats both the given label and its own threshold. */
  likelyWrong: boolean;
}

/** Stratified fold number for every row. */
export function assignFolds(labels: Int32Array, folds: number, seed: number): Int32Array {
  const fold = new Int32Array(labels.length);
  const random = seededRandom(seed);
  const byClass = new Map<number, number[]>();
  labels.forEach((label, row) => byClass.set(label, [...(byClass.get(label) ?? []), row]));
  for (const rows of byClass.values()) shuffled(rows, random).forEach((row, i) => (fold[row] = i % folds));
  return fold;
}

export async function outOfFoldProbabilities(
  features: Float32Array,
  dim: number,
  labels: Int32Array,
  classCount: number,
  config: TrainingConfig,
  options: { folds?: number; epochs?: number; isCancelled?: () => boolean; onFold?: (done: number, total: number) => void } = {},
): Promise<Float32Array> {
  const folds = Math.max(2, Math.min(options.folds ?? 5, labels.length));
  const fold = assignFolds(labels, folds, config.seed + 7);
  const probabilities = new Float32Array(labels.length * classCount);
  const headConfig: TrainingConfig = { ...config, epochs: options.epochs ?? 15, earlyStopping: null, reduceLrOnPlateau: null, schedule: { kind: 'constant' }, checkpointMonitor: 'loss' };
  for (let f = 0; f < folds; f++) {
    const held = [...fold.keys()].filter((row) => fold[row] === f);
    const rest = [...fold.keys()].filter((row) => fold[row] !== f);
    const { model } = await trainHead({ features, dim, labels, classCount, trainRows: rest, valRows: [], config: headConfig, isCancelled: options.isCancelled });
    const predicted = tf.tidy(() => tf.softmax(predictInBatches(model, tf.gather(tf.tensor2d(features, [labels.length, dim]), tf.tensor1d(held, 'int32')))).dataSync());
    held.forEach((row, i) => probabilities.set(predicted.subarray(i * classCount, (i + 1) * classCount), row * classCount));
    model.dispose();
    options.onFold?.(f + 1, folds);
  }
  return probabilities;
}

/** Scores every row from its out-of-fold probabilities. */
export function rankLabelIssues(probabilities: Float32Array, labels: Int32Array, classCount: number): LabelIssue[] {
  // Per-class thresholds: the mean probability the model gives a class on rows labelled with it.
  const thresholds = Array.from({ length: classCount }, (_, c) => {
    let sum = 0;
    let count = 0;
    labels.forEach((label, row) => {
      if (label === c) {
        sum += probabilities[row * classCount + c] as number;
        count++;
      }
    });
    return count > 0 ? sum / count : 1;
  });
  return Array.from(labels, (label, row) => {
    const p = probabilities.subarray(row * classCount, (row + 1) * classCount);
    let other = -1;
    for (let c = 0; c < classCount; c++) if (c !== label && (other < 0 || (p[c] as number) > (p[other] as number))) other = c;
    const given = p[label] as number;
    const best = other < 0 ? 0 : (p[other] as number);
    return {
      mislabelScore: (1 - (given - best)) / 2,
      suggested: best > given ? other : label,
      likelyWrong: other >= 0 && best > given && best >= (thresholds[other] as number),
    };
  });
}
