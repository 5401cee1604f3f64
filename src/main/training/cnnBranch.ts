// The CNN branch: a small CNN from scratch trained beside the frozen head, on the backbone's own
// decode average-pooled to 32×32, whose softmax the saved model averages with the head's. On
// grayscale sets far from ImageNet the two err on different images: over three splits of digits
// and Fashion-MNIST the mean of the two beat either alone by 1–1.5 points (README). Reading the
// same input keeps the model one graph, one preprocessing, one ONNX file.
import type { TrainingConfig } from '../../shared/contract';
import type { CnnBranchReport } from '../../shared/report';
import type { FrozenModelRunner } from '../engine/onnx/frozenRunner';
import type { Preprocessing } from '../engine/preprocess';
import { tf, type TF } from '../engine/tf';
import { epochReporter, TimeStopping } from './callbacks';
import { fitConvergedHead } from './convergedHead';
import { EmbeddingCache } from './embeddingCache';
import { embeddingProgress, embedSamples, uniqueByHash } from './embedding';
import type { JobEvent, JobSample, Memory } from './job';
import { isGrayscale } from './modelChoice';
import { fitSmallCnn, type SmallCnnSpec } from './smallCnn';
import { shuffled } from './splits';
import { seededRandom } from '../project/demo';
import { predictInBatches } from './trainHead';
import { logLossAndAccuracy } from '../../shared/metrics';

/** The CNN's input side: the tutorial's size, where it trains in seconds per epoch on wasm. */
export const BRANCH_SIZE = 32;
/** `auto` adds the branch where at least this share of the train images is grayscale. */
export const BRANCH_GRAYSCALE_SHARE = 0.9;
/** `auto` keeps the branch only where the mean beats the head alone by this share of its holdout log-loss (the CNN's epoch was also picked there, which flatters it a little). */
export const BRANCH_MARGIN = 0.02;
/**
 * The CNN's training stops here (keeping its best epoch so far): on a large project it would
 * otherwise add hours on WebAssembly (about 125 images/s at 32 px). Under `on` too, so that a
 * Retrain that repeats an `auto` decision as `on` takes as long.
 */
export const BRANCH_BUDGET_SECONDS = 300;
/** Train images whose colour decides whether `auto` tries the branch. */
const TRAIT_IMAGES = 50;

/** The pooling that takes the backbone's input side to the CNN's (224 → 7, 160 → 5, 96 → 3). */
export function branchPool(inputSize: number): number {
  return Math.max(1, Math.floor(inputSize / BRANCH_SIZE));
}

/** A "backbone" that average-pools the decoded batch by `pool`: the pixels the branch trains on, exactly as the saved graph makes them. */
export function pooledPixels(inputSize: number, pool: number): FrozenModelRunner {
  return {
    engine: 'tfjs',
    description: `the decode average-pooled ${pool}×${pool}`,
    notUsed: [],
    run: async (input, count) => tf.tidy(() => tf.avgPool(tf.tensor4d(input, [count, inputSize, inputSize, 3]), pool, pool, 'valid').dataSync() as Float32Array),
  };
}

/** Why `auto` does not try the branch on these images, or null where it does. */
export function branchUnsuited(grayscaleShare: number, images: number): string | null {
  if (images === 0) return 'not tried: no train image could be read for it';
  if (grayscaleShare >= BRANCH_GRAYSCALE_SHARE) return null;
  return `not tried: ${Math.round(grayscaleShare * 100)}% of the train images are grayscale (it is tried from ${Math.round(BRANCH_GRAYSCALE_SHARE * 100)}%), and on colour images ImageNet features alone do better`;
}

export interface CnnBranchInput {
  setting: Exclude<TrainingConfig['cnnBranch'], 'off'>;
  config: TrainingConfig;
  projectRoot: string;
  cacheDir: string;
  preprocessing: Preprocessing;
  /** Every row of the run: its images first, then augmented copies (as the head's features). */
  rows: JobSample[];
  labels: Int32Array;
  classCount: number;
  trainRows: number[];
  imageOf: (row: number) => number;
  /** The head's features, row for row, to refit the head without the holdout. */
  headFeatures: Float32Array;
  headDim: number;
  classWeights?: number[];
  backendName: string;
  /** Stage 2 fine-tuned the backbone: the branch goes beside a frozen one only. */
  fineTuned: boolean;
  /** The time for the CNN's training; BRANCH_BUDGET_SECONDS unless a test says otherwise. */
  budgetSeconds?: number;
  emit: (event: JobEvent) => void;
  memory: Memory;
  isCancelled: () => boolean;
}

export interface CnnBranch {
  /** The CNN (pooled pixels in, logits out), or null where the branch is not in the model. */
  model: TF.LayersModel | null;
  /** Its input for every row, row-major [rows, 32, 32, 3]. */
  pixels: Float32Array | null;
  report: CnnBranchReport;
}

/** Trains the branch where the setting and the images call for it, and says why it is or is not in the model. */
export async function trainCnnBranch(input: CnnBranchInput): Promise<CnnBranch> {
  const started = performance.now();
  const pool = branchPool(input.preprocessing.inputSize);
  const side = Math.floor(input.preprocessing.inputSize / pool);
  const dim = side * side * 3;
  const without = (reason: string, extra: Partial<CnnBranchReport> = {}): CnnBranch => ({
    model: null,
    pixels: null,
    report: { used: false, reason, pool, inputSize: side, holdout: null, bestEpoch: null, epochs: 0, seconds: (performance.now() - started) / 1000, ...extra },
  });
  if (input.fineTuned) return without('not added: stage 2 fine-tunes the backbone, and the branch goes beside a frozen one');
  const cache = await EmbeddingCache.open(input.cacheDir, EmbeddingCache.key(`pooled:${pool}`, input.preprocessing), dim);
  const runner = pooledPixels(input.preprocessing.inputSize, pool);
  const decode = async (samples: JobSample[]) => {
    const missing = uniqueByHash(samples.filter((s) => !cache.get(s.hash)));
    try {
      await embedSamples(missing, input.projectRoot, runner, input.preprocessing, input.config.augmentation.copies > 0 ? input.config.augmentation : null, cache, [], input.isCancelled, embeddingProgress(missing.length, input.emit, input.memory, 'decoding'));
    } finally {
      await cache.save();
    }
  };
  if (input.setting === 'auto') {
    // A seeded sample of the train images themselves (the rows come class by class, with copies and repeats).
    const traitRows = shuffled([...new Set(input.trainRows.map(input.imageOf))].sort((a, b) => a - b), seededRandom(input.config.seed + 13)).slice(0, TRAIT_IMAGES);
    await decode(traitRows.map((row) => input.rows[row] as JobSample));
    const pixels = traitRows.flatMap((row) => cache.get((input.rows[row] as JobSample).hash) ?? []);
    const span = input.preprocessing.scale === '-1,1' ? 2 : 1;
    const unsuited = branchUnsuited(pixels.length > 0 ? pixels.filter((p) => isGrayscale(p, span)).length / pixels.length : 0, pixels.length);
    if (unsuited) return without(unsuited);
  }
  await decode(input.rows);
  const unread = input.rows.filter((s) => !cache.get(s.hash));
  if (unread.length > 0) return without(`not added: ${unread.length} image(s) could not be decoded again for it (first: ${unread[0]?.path})`);
  const pixels = new Float32Array(input.rows.length * dim);
  input.rows.forEach((s, i) => pixels.set(cache.get(s.hash) as Float32Array, i * dim));

  const spec: SmallCnnSpec = { kind: 'small_cnn', inputSize: side, decayPerEpoch: 0.96 };
  const { config } = input;
  const budgetSeconds = input.budgetSeconds ?? BRANCH_BUDGET_SECONDS;
  const budget = new TimeStopping(performance.now() + budgetSeconds * 1000);
  const trained = await fitSmallCnn({
    spec,
    features: pixels,
    dim,
    sampleShape: [side, side, 3],
    labels: input.labels,
    classCount: input.classCount,
    trainRows: input.trainRows,
    imageOf: input.imageOf,
    classWeights: input.classWeights,
    config,
    backendName: input.backendName,
    callbacks: (fitRows) => [
      budget,
      // The head's fit is the run's curve; the branch's epochs are summed up in the report.
      epochReporter('training', config.epochs, fitRows, config.batchSize, input.emit, input.memory, null),
    ],
    isCancelled: input.isCancelled,
    layerPrefix: 'cnn_branch_',
  });
  const trainedFacts = { bestEpoch: trained.bestEpoch, epochs: trained.history.length };
  try {
    const holdout = trained.holdoutRows.length > 0 ? await scoreOnHoldout(input, trained.model, pixels, [side, side, 3], trained.fitRows, trained.holdoutRows) : null;
    const percent = (value: number) => `${(value * 100).toFixed(1)}%`;
    const { stoppedAt } = budget;
    const stopped = stoppedAt !== null ? `; the CNN stopped at the ${budgetSeconds} s budget after ${stoppedAt + 1} epoch${stoppedAt === 0 ? '' : 's'}` : '';
    const scores = holdout ? `on ${holdout.images} train images held out of both: the head alone ${percent(holdout.head.accuracy)} (log-loss ${holdout.head.logLoss.toFixed(3)}), the mean with the CNN ${percent(holdout.mean.accuracy)} (${holdout.mean.logLoss.toFixed(3)})${stopped}` : '';
    const keep = input.setting === 'on' || (holdout !== null && holdout.mean.logLoss < holdout.head.logLoss * (1 - BRANCH_MARGIN));
    const reason =
      input.setting === 'on'
        ? `added, as the settings ask${holdout ? `; ${scores}` : ''}`
        : holdout === null
          ? 'not added: no class has enough train images to hold some out and check it'
          : keep
            ? `added: ${scores}`
            : `not added: it did not beat the head alone by ${BRANCH_MARGIN * 100}% of its log-loss ${scores}`;
    if (!keep) {
      trained.model.dispose();
      return without(reason, { holdout, ...trainedFacts });
    }
    return { model: trained.model, pixels, report: { used: true, reason, pool, inputSize: side, holdout, ...trainedFacts, seconds: (performance.now() - started) / 1000 } };
  } catch (error) {
    trained.model.dispose();
    throw error;
  }
}

/** The head refitted on the CNN's fit rows, then both scored on the CNN's inner holdout: the head alone against the mean of the two. */
async function scoreOnHoldout(input: CnnBranchInput, cnn: TF.LayersModel, pixels: Float32Array, shape: number[], fitRows: number[], holdoutRows: number[]): Promise<NonNullable<CnnBranchReport['holdout']>> {
  const head = await fitConvergedHead({
    features: input.headFeatures,
    dim: input.headDim,
    labels: input.labels,
    classCount: input.classCount,
    trainRows: fitRows,
    imageOf: input.imageOf,
    valRows: [],
    classWeights: input.classWeights,
    dropout: input.config.dropout,
    seed: input.config.seed,
    isCancelled: input.isCancelled,
  });
  try {
    // The holdout's rows copied out first: a tensor of every row would be the whole project's pixels.
    const probabilities = (model: TF.LayersModel, rows: Float32Array, rowShape: number[]) => {
      const size = rowShape.reduce((a, b) => a * b, 1);
      const picked = new Float32Array(holdoutRows.length * size);
      holdoutRows.forEach((row, k) => picked.set(rows.subarray(row * size, (row + 1) * size), k * size));
      return tf.tidy(() => tf.softmax(predictInBatches(model, tf.tensor(picked, [holdoutRows.length, ...rowShape]))).dataSync() as Float32Array);
    };
    const fromHead = probabilities(head.model, input.headFeatures, [input.headDim]);
    const fromCnn = probabilities(cnn, pixels, shape);
    const mean = fromHead.map((p, i) => (p + (fromCnn[i] as number)) / 2);
    return { images: holdoutRows.length, head: logLossAndAccuracy(fromHead, input.labels, holdoutRows, input.classCount), mean: logLossAndAccuracy(mean, input.labels, holdoutRows, input.classCount) };
  } finally {
    head.model.dispose();
  }
}
