// Stage 1: a new head (dropout + dense) trained on cached backbone features with our own loop,
// so every Keras control (callbacks, schedules, class weights, best weights) is ours to test.
import type { TrainingConfig } from '../../shared/contract';
import { seededRandom } from '../project/demo';
import type { Callback, Logs, TrainingControl, WeightSnapshot } from './callbacks';
import { BestCheckpoint, CallbackList, EarlyStopping, LearningRateScheduler, ReduceLROnPlateau } from './callbacks';
import { shuffled } from './splits';
import { tf, type TF } from '../engine/tf';
import { CancelledError } from '../common/errors';

/** A loss or metric that is NaN or infinite: the run would only report nulls, so it fails instead. */
export class NonFiniteError extends Error {
  constructor(what: string) {
    super(`Training stopped: ${what}. The learning rate may be too high, or the backbone's features are not finite numbers`);
  }
}

export interface HeadTrainingInput {
  /** Row-major [rows, dim] backbone features. */
  features: Float32Array;
  dim: number;
  /** Stage 2 passes its own model (cut activations → logits) and the activations' shape. */
  model?: TF.LayersModel;
  sampleShape?: number[];
  labels: Int32Array;
  classCount: number;
  /** Rows to train on, repeats included when oversampling. */
  trainRows: number[];
  valRows: number[];
  /** What the valRows are called in the logs: `val` (`val_loss`, …), or `holdout` for the small CNN's inner holdout. */
  heldOut?: HeldOutName;
  classWeights?: number[];
  config: TrainingConfig;
  callbacks?: Callback[];
  isCancelled?: () => boolean;
  /** Called when the monitored metric improves, with the model holding that epoch's weights (to save a checkpoint). */
  onBestEpoch?: (epoch: number, logs: Logs, monitor: string, model: TF.LayersModel) => Promise<void>;
}

export interface HeadTrainingResult {
  model: TF.LayersModel;
  history: Logs[];
  stopReason: string | null;
  bestEpoch: number;
}

export function buildHead(dim: number, classCount: number, dropout: number, seed: number): TF.Sequential {
  return tf.sequential({
    layers: [
      tf.layers.dropout({ inputShape: [dim], rate: dropout, seed, name: 'head_dropout' }),
      // Logits out: softmax is applied with the loss (stable) and at prediction time.
      tf.layers.dense({ units: classCount, kernelInitializer: tf.initializers.glorotUniform({ seed }), name: 'head_dense' }),
    ],
  });
}

export function makeOptimizer(config: TrainingConfig): TF.Optimizer {
  switch (config.optimizer) {
    case 'sgd':
      return config.momentum > 0 ? tf.train.momentum(config.learningRate, config.momentum, config.nesterov) : tf.train.sgd(config.learningRate);
    case 'adam':
      return tf.train.adam(config.learningRate);
    case 'rmsprop':
      return tf.train.rmsprop(config.learningRate);
  }
}

/** tfjs' SGD caches -lr in a tensor (setLearningRate); Adam and RMSProp read the field each step. */
export function setLearningRate(optimizer: TF.Optimizer, lr: number): void {
  const target = optimizer as unknown as { setLearningRate?: (lr: number) => void; learningRate: number };
  if (typeof target.setLearningRate === 'function') target.setLearningRate(lr);
  else target.learningRate = lr;
}

export async function trainHead(input: HeadTrainingInput): Promise<HeadTrainingResult> {
  const { config, dim, classCount } = input;
  if (input.trainRows.length === 0) throw new Error('The train split is empty');
  const random = seededRandom(config.seed);
  const ownsModel = !input.model;
  const model = input.model ?? buildHead(dim, classCount, config.dropout, config.seed);
  const optimizer = makeOptimizer(config);
  const features = tf.tensor(input.features, [input.features.length / dim, ...(input.sampleShape ?? [dim])]);
  // Only this model's trainable weights: other models alive in the process must not move.
  const trainable = model.trainableWeights.map((w) => w.read() as TF.Variable);
  const labels = tf.tensor1d(input.labels, 'int32');
  const weights = input.classWeights ? tf.tensor1d(input.classWeights) : null;
  const batchSize = config.batchSize;
  const batchesPerEpoch = Math.ceil(input.trainRows.length / batchSize);
  const history: Logs[] = [];
  let bestWeights: WeightSnapshot | null = null;

  const control: TrainingControl = {
    stopTraining: false,
    getLearningRate: () => (optimizer as unknown as { learningRate: number }).learningRate,
    setLearningRate: (lr) => setLearningRate(optimizer, lr),
    snapshotWeights: () => snapshot(model),
    restoreWeights: (s) => restore(model, s as Snapshot),
  };
  const checkpoint = new BestCheckpoint(
    async (epoch, logs) => {
      bestWeights?.dispose();
      bestWeights = snapshot(model);
      await input.onBestEpoch?.(epoch, logs, checkpoint.monitor, model);
    },
    { monitor: input.valRows.length > 0 ? config.checkpointMonitor : 'loss' },
  );
  const callbacks = new CallbackList([
    ...(config.schedule.kind !== 'constant' ? [new LearningRateScheduler(config.learningRate, config.schedule)] : []),
    ...(config.reduceLrOnPlateau ? [new ReduceLROnPlateau(config.reduceLrOnPlateau)] : []),
    checkpoint,
    ...(config.earlyStopping ? [new EarlyStopping(config.earlyStopping)] : []),
    ...(input.callbacks ?? []),
  ]);

  try {
    await callbacks.onTrainBegin(control);
    let step = 0;
    for (let epoch = 0; epoch < config.epochs && !control.stopTraining; epoch++) {
      await callbacks.onEpochBegin(epoch, control);
      const order = shuffled(input.trainRows, random);
      let lossSum = 0;
      let correct = 0;
      for (let b = 0; b < batchesPerEpoch; b++) {
        if (input.isCancelled?.()) throw new CancelledError();
        await callbacks.onBatchBegin(step, control);
        const rows = order.slice(b * batchSize, (b + 1) * batchSize);
        const [loss, hits] = trainStep(model, optimizer, trainable, features, labels, weights, rows, classCount);
        if (!Number.isFinite(loss)) throw new NonFiniteError(`the loss became ${loss} at epoch ${epoch + 1}, batch ${b + 1}`);
        lossSum += loss * rows.length;
        correct += hits;
        await callbacks.onBatchEnd(step, { loss, size: rows.length }, control);
        step++;
        // Let the worker's message loop run between batches (cancel, status).
        await new Promise((resolve) => setImmediate(resolve));
      }
      const logs: Logs = { loss: lossSum / order.length, accuracy: correct / order.length };
      if (input.valRows.length > 0) Object.assign(logs, evaluate(model, features, labels, input.valRows, classCount, input.heldOut));
      const broken = Object.entries(logs).find(([, value]) => !Number.isFinite(value));
      if (broken) throw new NonFiniteError(`${broken[0]} became ${broken[1]} at epoch ${epoch + 1}`);
      history.push(logs);
      await callbacks.onEpochEnd(epoch, logs, control);
    }
    await callbacks.onTrainEnd(history.at(-1) ?? {}, control);
    // The run keeps the best epoch's weights, whatever happened after it.
    if (bestWeights) restore(model, bestWeights);
    return { model, history, stopReason: control.stopReason ?? null, bestEpoch: checkpoint.bestEpoch };
  } catch (error) {
    if (ownsModel) model.dispose();
    throw error;
  } finally {
    (bestWeights as WeightSnapshot | null)?.dispose();
    tf.dispose([features, labels]);
    weights?.dispose();
    disposeOptimizer(optimizer);
  }
}

/** tfjs' MomentumOptimizer.dispose forgets the -lr scalar its SGD parent keeps: free it too. */
function disposeOptimizer(optimizer: TF.Optimizer): void {
  optimizer.dispose();
  const scalar = (optimizer as unknown as { c?: TF.Tensor }).c;
  if (scalar && !scalar.isDisposed) scalar.dispose();
}

function trainStep(
  model: TF.LayersModel,
  optimizer: TF.Optimizer,
  trainable: TF.Variable[],
  features: TF.Tensor,
  labels: TF.Tensor1D,
  weights: TF.Tensor1D | null,
  rows: number[],
  classCount: number,
): [number, number] {
  return tf.tidy(() => {
    const index = tf.tensor1d(rows, 'int32');
    const x = tf.gather(features, index);
    const y = tf.gather(labels, index);
    const oneHot = tf.oneHot(y, classCount);
    let predictions: TF.Tensor | null = null;
    const loss = optimizer.minimize(() => {
      const logits = model.apply(x, { training: true }) as TF.Tensor2D;
      predictions = tf.keep(tf.argMax(logits, 1));
      const sampleWeights = weights ? tf.gather(weights, y) : undefined;
      return tf.losses.softmaxCrossEntropy(oneHot, logits, sampleWeights) as TF.Scalar;
    }, true, trainable) as TF.Scalar;
    const hits = tf.sum(tf.cast(tf.equal(predictions as unknown as TF.Tensor, y), 'int32'));
    const result: [number, number] = [loss.dataSync()[0] as number, hits.dataSync()[0] as number];
    (predictions as TF.Tensor | null)?.dispose();
    return result;
  });
}

export type HeldOutName = 'val' | 'holdout';

/** Loss and accuracy on some rows, in inference mode (dropout off), logged as `<name>_loss` and `<name>_accuracy`. */
export function evaluate(model: TF.LayersModel, features: TF.Tensor, labels: TF.Tensor1D, rows: number[], classCount: number, name: HeldOutName = 'val'): Logs {
  return tf.tidy(() => {
    const index = tf.tensor1d(rows, 'int32');
    const logits = predictInBatches(model, tf.gather(features, index));
    const y = tf.gather(labels, index);
    const loss = tf.losses.softmaxCrossEntropy(tf.oneHot(y, classCount), logits);
    const accuracy = tf.mean(tf.cast(tf.equal(tf.argMax(logits, 1), y), 'float32'));
    return { [`${name}_loss`]: loss.dataSync()[0] as number, [`${name}_accuracy`]: accuracy.dataSync()[0] as number };
  });
}

/** Inference in slices, so a large stage-2 validation set never needs one huge activation. */
export function predictInBatches(model: TF.LayersModel, x: TF.Tensor, batchSize = 64): TF.Tensor2D {
  return tf.tidy(() => {
    const parts: TF.Tensor2D[] = [];
    for (let start = 0; start < x.shape[0]; start += batchSize) {
      const size = Math.min(batchSize, x.shape[0] - start);
      parts.push(model.predict(tf.slice(x, start, size)) as TF.Tensor2D);
    }
    return parts.length === 1 ? (parts[0] as TF.Tensor2D) : tf.concat(parts);
  });
}

type Snapshot = WeightSnapshot & { tensors: TF.Tensor[] };

function snapshot(model: TF.LayersModel): Snapshot {
  const tensors = model.getWeights().map((w) => tf.keep(w.clone()));
  return { tensors, dispose: () => tf.dispose(tensors) };
}

function restore(model: TF.LayersModel, snap: Snapshot): void {
  model.setWeights(snap.tensors);
}
