// The model kind with no pretrained backbone: a small CNN trained from scratch on the pixels, the
// classic Keras tutorial's recipe (Conv–Pool stacks of 32/64/128 filters, dropout, a dense layer),
// for small or grayscale images far from ImageNet, where it beats frozen ImageNet features (README).
// Its "features" are the scaled pixels themselves, decoded and cached like embeddings.
import type { EngineInfo, TrainingConfig } from '../../shared/contract';
import type { FrozenModelRunner } from '../engine/onnx/frozenRunner';
import { DEFAULT_PREPROCESSING, type Preprocessing } from '../engine/preprocess';
import { tf, type TF } from '../engine/tf';
import { seededRandom } from '../project/demo';
import { shuffled } from './splits';
import type { Callback, Logs } from './callbacks';
import { monitorsOnHoldout } from './holdoutMonitors';
import { type HeadTrainingResult, trainHead } from './trainHead';
import { registerWasmGradients } from '../engine/wasmGradients';

export type SmallCnnSpec = { kind: 'small_cnn'; inputSize: number; decayPerEpoch: number };

/** Share of each class's train images held out to drive early stopping and the kept epoch. */
export const HOLDOUT_SHARE = 0.15;

/** What the run stores as its "backbone": the pixels, at the CNN's input size. */
export function pixelStage(spec: SmallCnnSpec, resize: Preprocessing['resize']) {
  const preprocessing: Preprocessing = { ...DEFAULT_PREPROCESSING, inputSize: spec.inputSize, resize, scale: '0,1' };
  return {
    id: `pixels:${spec.inputSize}`,
    cutLayer: 'pixels',
    featureSize: spec.inputSize * spec.inputSize * 3,
    shape: [spec.inputSize, spec.inputSize, 3],
    preprocessing,
  };
}

/** What runs the backbone, for the engine line: nothing. */
export const NO_BACKBONE: EngineInfo['backbone'] = { engine: 'none', label: 'none (a small CNN trained from scratch)', notUsed: [] };

/** Passes the decoded, scaled pixels through unchanged: the embedding pipeline then caches pixels. */
export const PIXELS: FrozenModelRunner = {
  engine: 'tfjs',
  description: 'none (the scaled pixels themselves)',
  notUsed: [],
  run: async (input) => input,
};

/**
 * Conv(32)–Pool, Conv(64)–Pool, Conv(128)–Pool, Dropout 0.25, Dense 128, Dropout 0.5, logits.
 * `prefix` names the layers apart from a backbone's when both share one graph (a Keras backbone may have a `flatten`).
 */
export function buildSmallCnn(inputSize: number, classCount: number, seed: number, prefix = ''): TF.Sequential {
  let n = 0;
  const init = () => tf.initializers.glorotUniform({ seed: seed + n++ });
  const block = (filters: number, first: boolean): TF.layers.Layer[] => [
    tf.layers.conv2d({ ...(first ? { inputShape: [inputSize, inputSize, 3] } : {}), filters, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(), name: `${prefix}conv_${filters}` }),
    tf.layers.maxPooling2d({ poolSize: 2, name: `${prefix}pool_${filters}` }),
  ];
  return tf.sequential({
    name: `${prefix}small_cnn`,
    layers: [
      ...block(32, true),
      ...block(64, false),
      ...block(128, false),
      tf.layers.dropout({ rate: 0.25, seed, name: `${prefix}conv_dropout` }),
      tf.layers.flatten({ name: `${prefix}flatten` }),
      tf.layers.dense({ units: 128, activation: 'relu', kernelInitializer: init(), name: `${prefix}dense_128` }),
      tf.layers.dropout({ rate: 0.5, seed: seed + 1, name: `${prefix}dense_dropout` }),
      // Logits out: softmax is applied with the loss (stable) and at prediction time.
      tf.layers.dense({ units: classCount, kernelInitializer: init(), name: `${prefix}logits` }),
    ],
  });
}

/**
 * The tutorial's ExponentialDecay, once an epoch, unless the config names its own schedule or
 * lowers the rate on a plateau (a per-batch schedule would overwrite what that callback set);
 * a factor of 1 keeps the rate constant.
 */
export function cnnSchedule(config: Pick<TrainingConfig, 'schedule' | 'reduceLrOnPlateau'>, decayPerEpoch: number, batchesPerEpoch: number): TrainingConfig['schedule'] {
  if (config.schedule.kind !== 'constant' || config.reduceLrOnPlateau || decayPerEpoch >= 1) return config.schedule;
  return { kind: 'exponential', decaySteps: batchesPerEpoch, decayRate: decayPerEpoch, staircase: true };
}

/**
 * Splits the train rows into rows to fit and an inner holdout that picks the epoch and stops
 * early, so the val split chooses nothing. Stratified by class over images: an image and its
 * augmented copies fall on one side, and a class keeps at least one image to fit on.
 */
export function innerHoldout(trainRows: number[], labels: Int32Array, imageOf: (row: number) => number, seed: number, share = HOLDOUT_SHARE): { fitRows: number[]; holdoutRows: number[] } {
  const random = seededRandom(seed);
  const imagesByClass = new Map<number, number[]>();
  for (const row of new Set(trainRows.map(imageOf))) {
    const label = labels[row] as number;
    imagesByClass.set(label, [...(imagesByClass.get(label) ?? []), row]);
  }
  const heldOut = new Set<number>();
  for (const images of [...imagesByClass.entries()].sort((a, b) => a[0] - b[0]).map(([, images]) => images.sort((a, b) => a - b))) {
    const count = images.length < 2 ? 0 : Math.max(1, Math.round(images.length * share));
    for (const image of shuffled(images, random).slice(0, count)) heldOut.add(image);
  }
  return {
    fitRows: trainRows.filter((row) => !heldOut.has(imageOf(row))),
    // The held-out images themselves, once each (not their copies, not oversampling's repeats).
    holdoutRows: [...heldOut].sort((a, b) => a - b),
  };
}

export interface SmallCnnInput {
  spec: SmallCnnSpec;
  /** Row-major scaled pixels, one row per image or augmented copy. */
  features: Float32Array;
  dim: number;
  sampleShape: number[];
  labels: Int32Array;
  classCount: number;
  trainRows: number[];
  imageOf: (row: number) => number;
  classWeights?: number[];
  config: TrainingConfig;
  backendName: string;
  /** Callbacks of this fit, given how many rows it fits on (for progress by batch). */
  callbacks: (fitRows: number) => Callback[];
  isCancelled: () => boolean;
  onBestEpoch?: (epoch: number, logs: Logs, monitor: string, model: TF.LayersModel) => Promise<void>;
  /** Prefixes the layer names (see buildSmallCnn). */
  layerPrefix?: string;
}

/** Trains the CNN on the train rows less an inner holdout, which picks the epoch and stops early. */
export async function fitSmallCnn(input: SmallCnnInput): Promise<HeadTrainingResult & { fitImages: number; holdoutImages: number; fitRows: number[]; holdoutRows: number[] }> {
  const { config } = input;
  if (input.backendName === 'wasm') registerWasmGradients();
  const { fitRows, holdoutRows } = innerHoldout(input.trainRows, input.labels, input.imageOf, config.seed + 2);
  const batchesPerEpoch = Math.ceil(fitRows.length / config.batchSize);
  const model = buildSmallCnn(input.spec.inputSize, input.classCount, config.seed, input.layerPrefix);
  try {
    const trained = await trainHead({
      features: input.features,
      dim: input.dim,
      model,
      sampleShape: input.sampleShape,
      labels: input.labels,
      classCount: input.classCount,
      trainRows: fitRows,
      valRows: holdoutRows,
      heldOut: 'holdout',
      classWeights: input.classWeights,
      config: { ...monitorsOnHoldout(config, holdoutRows.length > 0), schedule: cnnSchedule(config, input.spec.decayPerEpoch, batchesPerEpoch) },
      callbacks: input.callbacks(fitRows.length),
      isCancelled: input.isCancelled,
      onBestEpoch: input.onBestEpoch,
    });
    return { ...trained, fitImages: new Set(fitRows.map(input.imageOf)).size, holdoutImages: new Set(holdoutRows.map(input.imageOf)).size, fitRows, holdoutRows };
  } catch (error) {
    model.dispose();
    throw error;
  }
}
