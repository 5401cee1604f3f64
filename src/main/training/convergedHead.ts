// Stage 1 by default: the head is a softmax regression on the cached features, fitted to
// convergence (full-batch L-BFGS on the L2-regularised cross-entropy) rather than for a fixed
// number of epochs, with its L2 strength chosen by k-fold cross-validation on the train rows
// alone. Nothing here looks at the val split except to report it, so val accuracy stays honest.
import { assignFolds, classWeights } from './splits';
import { tf, type TF } from '../engine/tf';
import type { Logs } from './callbacks';
import { buildHead, NonFiniteError } from './trainHead';
import { CancelledError } from '../common/errors';

/**
 * L2 strengths tried on standardised features, strongest first (each fit starts from the previous
 * one's solution): for a few hundred images, from heavy smoothing to nearly none.
 */
export const L2_GRID = [1, 1e-1, 1e-2, 1e-3, 1e-4] as const;

/** Inner-fold fits only rank the L2 strengths: fewer iterations are plenty for that. */
const INNER_MAX_ITERATIONS = 150;

/**
 * Features scaled to zero mean and unit variance over `rows` (constant features left at 0): the
 * problem is then well conditioned, so L-BFGS needs a fraction of the iterations, and the L2
 * penalty treats every feature alike. Uses no labels.
 */
function standardize(all: TF.Tensor2D, rows: readonly number[]): { scaled: TF.Tensor2D; mean: Float32Array; std: Float32Array } {
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(tf.gather(all, tf.tensor1d(Int32Array.from(rows), 'int32')), 0);
    const std = tf.where(tf.greater(variance, 1e-12), tf.sqrt(variance), tf.onesLike(variance));
    return { scaled: tf.keep(tf.div(tf.sub(all, mean), std)) as TF.Tensor2D, mean: mean.dataSync() as Float32Array, std: std.dataSync() as Float32Array };
  });
}

/** Weights fitted on standardised features, as weights on the raw ones: W/σ, and b − Σ μ·W/σ. */
function unstandardize(theta: Float64Array, dim: number, classCount: number, mean: Float32Array, std: Float32Array): Float64Array {
  const raw = new Float64Array(theta.length);
  for (let c = 0; c < classCount; c++) {
    let shift = 0;
    for (let d = 0; d < dim; d++) {
      const w = (theta[d * classCount + c] as number) / (std[d] as number);
      raw[d * classCount + c] = w;
      shift += (mean[d] as number) * w;
    }
    raw[dim * classCount + c] = (theta[dim * classCount + c] as number) - shift;
  }
  return raw;
}

export interface FitOptions {
  l2: number;
  /** Stop when the largest gradient component is below this. */
  gradientTolerance?: number;
  maxIterations?: number;
  /** Solution to start from (weights then bias, as `SoftmaxFit.theta`). */
  start?: Float64Array;
  isCancelled?: () => boolean;
  /** Called every few iterations and at the end, with the current solution. */
  onIteration?: (iteration: number, loss: number, theta: Float64Array) => void | Promise<void>;
}

export interface SoftmaxFit {
  /** [dim × classes] weights row-major, then the classes' biases. */
  theta: Float64Array;
  loss: number;
  iterations: number;
  converged: boolean;
}

/** The rows of one fit: features gathered once, one-hot labels, per-row weights summing to 1. */
export interface FitData {
  x: TF.Tensor2D;
  /** x transposed once: the gradient's matMul is far faster without a transpose flag each call. */
  xT: TF.Tensor2D;
  y: TF.Tensor2D;
  w: TF.Tensor2D;
  dim: number;
  classCount: number;
  dispose(): void;
}

/** `all`: every row's features [rows, dim]; `rows` (repeats allowed) are gathered from it. */
export function fitData(all: TF.Tensor2D, labels: Int32Array, classCount: number, rows: readonly number[], rowWeights?: (row: number) => number): FitData {
  const dim = all.shape[1];
  const x = tf.tidy(() => tf.gather(all, tf.tensor1d(Int32Array.from(rows), 'int32'))) as TF.Tensor2D;
  const y = tf.tidy(() => tf.oneHot(tf.tensor1d(Int32Array.from(rows, (r) => labels[r] as number), 'int32'), classCount).toFloat()) as TF.Tensor2D;
  const raw = Float32Array.from(rows, (r) => rowWeights?.(r) ?? 1);
  const total = raw.reduce((a, b) => a + b, 0);
  const w = tf.tensor2d(raw.map((v) => v / total), [rows.length, 1]);
  const xT = tf.transpose(x) as TF.Tensor2D;
  return { x, xT, y, w, dim, classCount, dispose: () => tf.dispose([x, xT, y, w]) };
}

/** `theta` as the Dense layer's kernel [dim, classes] and bias [classes]. */
function thetaTensors(theta: Float64Array, dim: number, classCount: number): [TF.Tensor2D, TF.Tensor1D] {
  return [tf.tensor2d(Float32Array.from(theta.subarray(0, dim * classCount)), [dim, classCount]), tf.tensor1d(Float32Array.from(theta.subarray(dim * classCount)))];
}

/** Weighted mean cross-entropy + l2·|W|², and its gradient, at `theta`. */
function objective(data: FitData, theta: Float64Array, l2: number): { loss: number; gradient: Float64Array } {
  const { dim, classCount } = data;
  const [loss, gradW, gradB] = tf.tidy(() => {
    const [W, b] = thetaTensors(theta, dim, classCount);
    const logits = tf.add(tf.matMul(data.x, W), b);
    const logP = tf.logSoftmax(logits);
    const crossEntropy = tf.neg(tf.sum(tf.mul(tf.mul(data.y, logP), data.w)));
    const value = tf.add(crossEntropy, tf.mul(l2, tf.sum(tf.square(W))));
    const residual = tf.mul(tf.sub(tf.exp(logP), data.y), data.w);
    return [value.dataSync()[0] as number, tf.add(tf.matMul(data.xT, residual), tf.mul(2 * l2, W)).dataSync(), tf.sum(residual, 0).dataSync()];
  });
  const gradient = new Float64Array(theta.length);
  gradient.set(gradW);
  gradient.set(gradB, dim * classCount);
  return { loss, gradient };
}

const dot = (a: Float64Array, b: Float64Array) => a.reduce((sum, v, i) => sum + v * (b[i] as number), 0);
const maxAbs = (a: Float64Array) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

/**
 * Minimises the L2-regularised weighted cross-entropy with L-BFGS (10 corrections, backtracking
 * Armijo line search). The problem is strictly convex, so it converges to the one optimum.
 */
export async function fitSoftmaxRegression(data: FitData, options: FitOptions): Promise<SoftmaxFit> {
  const size = data.dim * data.classCount + data.classCount;
  const tolerance = options.gradientTolerance ?? 1e-5;
  const maxIterations = options.maxIterations ?? 500;
  let theta = options.start ? Float64Array.from(options.start) : new Float64Array(size);
  let { loss, gradient } = objective(data, theta, options.l2);
  const history: { s: Float64Array; y: Float64Array; rho: number }[] = [];
  let iteration = 0;
  let converged = maxAbs(gradient) < tolerance;
  while (!converged && iteration < maxIterations) {
    if (iteration % 10 === 0) {
      if (options.isCancelled?.()) throw new CancelledError();
      // Lets the worker's message loop run (cancel, status) between chunks of iterations.
      await new Promise((resolve) => setImmediate(resolve));
    }
    // Two-loop recursion: the search direction -H·g.
    const q = Float64Array.from(gradient);
    const alphas: number[] = [];
    for (let k = history.length - 1; k >= 0; k--) {
      const { s, y, rho } = history[k] as (typeof history)[number];
      const alpha = rho * dot(s, q);
      alphas[k] = alpha;
      for (let i = 0; i < size; i++) q[i] = (q[i] as number) - alpha * (y[i] as number);
    }
    const last = history.at(-1);
    const scale = last ? dot(last.s, last.y) / dot(last.y, last.y) : 1 / Math.max(maxAbs(gradient), 1);
    for (let i = 0; i < size; i++) q[i] = (q[i] as number) * scale;
    for (let k = 0; k < history.length; k++) {
      const { s, y, rho } = history[k] as (typeof history)[number];
      const beta = rho * dot(y, q);
      for (let i = 0; i < size; i++) q[i] = (q[i] as number) + (s[i] as number) * ((alphas[k] as number) - beta);
    }
    const direction = q.map((v) => -v);
    let slope = dot(gradient, direction);
    if (slope >= 0) {
      // Not a descent direction (curvature information went stale): restart from steepest descent.
      history.length = 0;
      for (let i = 0; i < size; i++) direction[i] = -(gradient[i] as number) / Math.max(maxAbs(gradient), 1);
      slope = dot(gradient, direction);
    }
    let step = 1;
    let next: { loss: number; gradient: Float64Array } | null = null;
    let candidate = theta;
    for (let tries = 0; tries < 40; tries++) {
      candidate = theta.map((v, i) => v + step * (direction[i] as number));
      const trial = objective(data, candidate, options.l2);
      if (Number.isFinite(trial.loss) && trial.loss <= loss + 1e-4 * step * slope) {
        next = trial;
        break;
      }
      step /= 2;
    }
    if (!next) {
      // No decrease left to find at float32 precision: as good as it gets.
      converged = maxAbs(gradient) < tolerance * 100;
      break;
    }
    const s = candidate.map((v, i) => v - (theta[i] as number));
    const y = next.gradient.map((v, i) => v - (gradient[i] as number));
    const sy = dot(s, y);
    if (sy > 1e-12) {
      history.push({ s, y, rho: 1 / sy });
      if (history.length > 10) history.shift();
    }
    const improvement = loss - next.loss;
    theta = candidate;
    ({ loss, gradient } = next);
    iteration++;
    if (!Number.isFinite(loss)) throw new NonFiniteError(`the loss became ${loss} at iteration ${iteration}`);
    converged = maxAbs(gradient) < tolerance || improvement <= 1e-10 * Math.max(1, Math.abs(loss));
    if (options.onIteration && (iteration % 5 === 0 || converged)) await options.onIteration(iteration, loss, theta);
  }
  return { theta, loss, iterations: iteration, converged };
}

/** Weighted mean log-loss of `theta` on some rows (no L2 term): what the inner folds compare. */
export function logLoss(data: FitData, theta: Float64Array): number {
  return objective(data, theta, 0).loss;
}

/** Class probabilities of `rows` of `all` under `theta`, back to back. */
export function softmaxAt(all: TF.Tensor2D, rows: readonly number[], theta: Float64Array, dim: number, classCount: number): Float32Array {
  return tf.tidy(() => {
    const [W, b] = thetaTensors(theta, dim, classCount);
    return tf.softmax(tf.add(tf.matMul(tf.gather(all, tf.tensor1d(Int32Array.from(rows), 'int32')), W), b)).dataSync() as Float32Array;
  });
}

/** Share of the rows whose most probable class is their label. */
export function accuracyOf(data: FitData, theta: Float64Array): number {
  const { dim, classCount } = data;
  return tf.tidy(() => {
    const [W, b] = thetaTensors(theta, dim, classCount);
    return tf.mean(tf.cast(tf.equal(tf.argMax(tf.add(tf.matMul(data.x, W), b), 1), tf.argMax(data.y, 1)), 'float32')).dataSync()[0] as number;
  });
}

export interface ConvergedHeadInput {
  /** Row-major [rows, dim] features. */
  features: Float32Array;
  dim: number;
  labels: Int32Array;
  classCount: number;
  /** Rows to fit, repeats included when oversampling, augmented copies included. */
  trainRows: number[];
  /** The row of the image a row is, or is a copy of: all of an image's rows fall in the same inner fold. */
  imageOf: (row: number) => number;
  valRows: number[];
  classWeights?: number[];
  dropout: number;
  seed: number;
  folds?: number;
  isCancelled?: () => boolean;
  /** Fits done of fits planned: the inner folds' fits, then the final one. */
  onProgress?: (done: number, total: number) => void;
  /** Each few iterations of the final fit: loss and accuracy on the train rows, and on val when there is one. */
  onLogs?: (iteration: number, logs: Logs) => void | Promise<void>;
}

export interface ConvergedHeadResult {
  model: TF.Sequential;
  l2: number;
  /** Mean held-out log-loss and accuracy per L2 strength, from the inner folds of the train rows. */
  l2Scores: { l2: number; logLoss: number; accuracy: number }[];
  iterations: number;
  converged: boolean;
  history: Logs[];
}

/**
 * Chooses the L2 strength by k-fold cross-validation on the train rows (folds by image, so copies
 * and repeats never straddle a fold), then fits the head on all train rows with it.
 */
export async function fitConvergedHead(input: ConvergedHeadInput): Promise<ConvergedHeadResult> {
  const { features, dim } = input;
  if (input.trainRows.length === 0) throw new Error('The train split is empty');
  const raw = tf.tensor2d(features, [features.length / dim, dim]);
  const { scaled, mean, std } = standardize(raw, input.trainRows);
  raw.dispose();
  try {
    const progress = { done: 0, total: 0 };
    const { l2, l2Scores } = await chooseL2(scaled, input, progress);
    return { ...(await fitFinal(scaled, input, l2, progress, (theta) => unstandardize(theta, dim, input.classCount, mean, std))), l2, l2Scores };
  } finally {
    scaled.dispose();
  }
}

/**
 * How well a converged head does on these features, judged by the inner folds of `trainRows` alone
 * (the L2 choice's own folds): the best L2's mean held-out log-loss and accuracy. Candidates for
 * the model (backbones, say) are compared by it without looking at val or test.
 */
export async function innerFoldScore(input: Omit<ConvergedHeadInput, 'valRows' | 'onLogs' | 'dropout'>): Promise<{ l2: number; logLoss: number; accuracy: number } | null> {
  const { features, dim } = input;
  const raw = tf.tensor2d(features, [features.length / dim, dim]);
  const { scaled } = standardize(raw, input.trainRows);
  raw.dispose();
  try {
    const { l2, l2Scores } = await chooseL2(scaled, { ...input, valRows: [], dropout: 0 }, { done: 0, total: 0 });
    const best = l2Scores.find((score) => score.l2 === l2);
    return best ?? null;
  } finally {
    scaled.dispose();
  }
}

function weightOf(input: ConvergedHeadInput): (row: number) => number {
  return (row) => input.classWeights?.[input.labels[row] as number] ?? 1;
}

/** The L2 strength with the best mean held-out log-loss over the inner folds (the middle one when a class is too small to fold). */
async function chooseL2(all: TF.Tensor2D, input: ConvergedHeadInput, progress: { done: number; total: number }): Promise<{ l2: number; l2Scores: ConvergedHeadResult['l2Scores'] }> {
  const { labels, classCount } = input;
  const images = [...new Set(input.trainRows.map(input.imageOf))];
  const imageLabels = Int32Array.from(images, (image) => labels[image] as number);
  const smallestClass = Math.min(...Array.from({ length: classCount }, (_, c) => imageLabels.filter((l) => l === c).length));
  const folds = Math.min(input.folds ?? 3, smallestClass);
  progress.total = (folds >= 2 ? folds * L2_GRID.length : 0) + 1;
  if (folds < 2) return { l2: L2_GRID[2], l2Scores: [] };
  const assigned = assignFolds(imageLabels, folds, input.seed + 3);
  const foldOfImage = new Map(images.map((image, i) => [image, assigned[i] as number]));
  const sums = new Array<number>(L2_GRID.length).fill(0);
  const accuracies = new Array<number>(L2_GRID.length).fill(0);
  for (let f = 0; f < folds; f++) {
    const fitSet = fitData(all, labels, classCount, input.trainRows.filter((r) => foldOfImage.get(input.imageOf(r)) !== f), weightOf(input));
    // Each held-out image is scored once, on its own row (not its copies or repeats).
    const heldSet = fitData(all, labels, classCount, images.filter((image) => foldOfImage.get(image) === f), weightOf(input));
    try {
      let start: Float64Array | undefined;
      for (const [k, l2] of L2_GRID.entries()) {
        const fit = await fitSoftmaxRegression(fitSet, { l2, start, maxIterations: INNER_MAX_ITERATIONS, isCancelled: input.isCancelled });
        start = fit.theta;
        sums[k] = (sums[k] as number) + logLoss(heldSet, fit.theta) / folds;
        accuracies[k] = (accuracies[k] as number) + accuracyOf(heldSet, fit.theta) / folds;
        input.onProgress?.(++progress.done, progress.total);
      }
    } finally {
      fitSet.dispose();
      heldSet.dispose();
    }
  }
  const broken = sums.findIndex((v) => !Number.isFinite(v));
  if (broken >= 0) throw new NonFiniteError(`the held-out loss at L2 ${L2_GRID[broken]} became ${sums[broken]}`);
  // The strongest regularisation within a hair of the best score (the grid runs strongest first).
  const best = Math.min(...sums);
  return { l2: L2_GRID[sums.findIndex((s) => s <= best + 1e-6)] as number, l2Scores: L2_GRID.map((l2, k) => ({ l2, logLoss: sums[k] as number, accuracy: accuracies[k] as number })) };
}

async function fitFinal(
  all: TF.Tensor2D,
  input: ConvergedHeadInput,
  l2: number,
  progress: { done: number; total: number },
  toRawWeights: (theta: Float64Array) => Float64Array,
): Promise<Omit<ConvergedHeadResult, 'l2' | 'l2Scores'>> {
  const { dim, labels, classCount } = input;
  const trainSet = fitData(all, labels, classCount, input.trainRows, weightOf(input));
  const valSet = input.valRows.length > 0 ? fitData(all, labels, classCount, input.valRows) : null;
  const history: Logs[] = [];
  // Curves like Keras's, one point every few iterations: the train rows' loss (without the L2
  // term, comparable with val_loss) and accuracy, and val's, which are reported, never used.
  const log = async (iteration: number, theta: Float64Array) => {
    const logs: Logs = { loss: logLoss(trainSet, theta), accuracy: accuracyOf(trainSet, theta) };
    if (valSet) Object.assign(logs, { val_loss: logLoss(valSet, theta), val_accuracy: accuracyOf(valSet, theta) });
    for (const [name, value] of Object.entries(logs)) if (!Number.isFinite(value)) throw new NonFiniteError(`${name} became ${value} at iteration ${iteration}`);
    history.push(logs);
    await input.onLogs?.(iteration, logs);
  };
  try {
    let logged = -1;
    const fit = await fitSoftmaxRegression(trainSet, {
      l2,
      isCancelled: input.isCancelled,
      onIteration: (iteration, _loss, theta) => {
        logged = iteration;
        return log(iteration, theta);
      },
    });
    input.onProgress?.(++progress.done, progress.total);
    // The last point is the model kept, whichever way the fit ended.
    if (logged !== fit.iterations) await log(fit.iterations, fit.theta);
    const model = buildHead(dim, classCount, input.dropout, input.seed);
    const theta = toRawWeights(fit.theta);
    tf.tidy(() => model.getLayer('head_dense').setWeights(thetaTensors(theta, dim, classCount)));
    return { model, iterations: fit.iterations, converged: fit.converged, history };
  } finally {
    trainSet.dispose();
    valSet?.dispose();
  }
}

export interface CrossValidationInput extends Omit<ConvergedHeadInput, 'valRows' | 'onLogs' | 'onProgress' | 'folds' | 'classWeights'> {
  /** The images judged (each an image's own row); `trainRows` holds every row that may be fitted on. */
  images: number[];
  folds?: number;
  /** Weight classes inversely to their rows in each fold's fit, as a balanced run's head is weighted. */
  balanced?: boolean;
  onFold?: (done: number, total: number) => void;
}

/**
 * Out-of-fold class probabilities for `images` from the whole recipe (L2 chosen by inner folds,
 * then the converged fit) run on each outer fold's complement: an image is judged by a model that
 * never saw it, nor chose anything with it. Rows back to back, `classCount` per image.
 */
export async function crossValidate(input: CrossValidationInput): Promise<{ probabilities: Float32Array; folds: number }> {
  const { dim, labels, classCount } = input;
  const imageLabels = Int32Array.from(input.images, (image) => labels[image] as number);
  const smallestClass = Math.min(...Array.from({ length: classCount }, (_, c) => imageLabels.filter((l) => l === c).length));
  const folds = Math.min(input.folds ?? 5, smallestClass);
  if (folds < 2) throw new Error('Cross-validation needs at least two images of every class');
  const assigned = assignFolds(imageLabels, folds, input.seed + 5);
  const foldOfImage = new Map(input.images.map((image, i) => [image, assigned[i] as number]));
  const probabilities = new Float32Array(input.images.length * classCount);
  const raw = tf.tensor2d(input.features, [input.features.length / dim, dim]);
  try {
    for (let f = 0; f < folds; f++) {
      const fitRows = input.trainRows.filter((r) => foldOfImage.get(input.imageOf(r)) !== f);
      const rowsPerClass = Array.from({ length: classCount }, (_, c) => fitRows.filter((r) => labels[r] === c).length);
      const inner: ConvergedHeadInput = { ...input, trainRows: fitRows, valRows: [], folds: undefined, classWeights: input.balanced ? classWeights(rowsPerClass) : undefined };
      // Scaled by this fold's fitted rows alone, as the shipped head is by its train split.
      const all = standardize(raw, inner.trainRows).scaled;
      const held = input.images.flatMap((image, i) => (foldOfImage.get(image) === f ? [i] : []));
      const fitSet = fitData(all, labels, classCount, inner.trainRows, weightOf(inner));
      try {
        const { l2 } = await chooseL2(all, inner, { done: 0, total: 0 });
        const fit = await fitSoftmaxRegression(fitSet, { l2, isCancelled: input.isCancelled });
        const predicted = softmaxAt(all, held.map((i) => input.images[i] as number), fit.theta, dim, classCount);
        held.forEach((i, k) => probabilities.set(predicted.subarray(k * classCount, (k + 1) * classCount), i * classCount));
      } finally {
        fitSet.dispose();
        all.dispose();
      }
      input.onFold?.(f + 1, folds);
    }
  } finally {
    raw.dispose();
  }
  return { probabilities, folds };
}
