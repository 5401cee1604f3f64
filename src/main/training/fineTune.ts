// Stage 2: unfreeze the top MobileNetV2 blocks and fine-tune them with a small learning rate.
// The frozen part runs once per image (its output at the cut is cached, as embeddings are), and
// only the top sub-model trains: cheap per epoch, and within wasm's memory. BatchNormalization
// layers stay frozen and in inference mode — tfjs-layers would otherwise use batch statistics and
// update the moving averages during fit even with trainable = false (unlike Keras since TF 2).
import { type TF, tf } from '../engine/tf';

/**
 * Where the frozen part ends for N unfrozen units, counted from the top (MobileNetV2 layer names):
 * 1 = Conv_1, 2 = + block_16, … 17 = every block, 18 = + the first block (expanded_conv). With
 * WHOLE_NETWORK nothing stays frozen: the whole network trains from the pixels, as a Keras user
 * fine-tunes with every layer trainable.
 */
export const MOBILENET_FINE_TUNE_CUTS: Record<number, string> = {
  1: 'block_16_project_BN',
  2: 'block_15_add',
  3: 'block_14_add',
  4: 'block_13_project_BN',
  5: 'block_12_add',
  6: 'block_11_add',
  7: 'block_10_project_BN',
  8: 'block_9_add',
  9: 'block_8_add',
  10: 'block_7_add',
  11: 'block_6_project_BN',
  12: 'block_5_add',
  13: 'block_4_add',
  14: 'block_3_project_BN',
  15: 'block_2_add',
  16: 'block_1_project_BN',
  17: 'expanded_conv_project_BN',
  18: 'Conv1_relu',
};
export const WHOLE_NETWORK = 19;

/** The layer stage 2 starts after for N units: the network's input layer for the whole network. */
export function fineTuneCut(features: TF.LayersModel, units: number): string {
  if (units === WHOLE_NETWORK) return (features.layers[0] as TF.layers.Layer).name;
  const cut = MOBILENET_FINE_TUNE_CUTS[units];
  if (!cut) throw new Error(`Fine-tuning takes 1 to ${WHOLE_NETWORK} units, not ${units}`);
  return cut;
}

/**
 * Bytes a training step keeps per activation value (each layer's output, its gradient and what the
 * kernels save for the backward pass), measured on wasm: 1.46 GB for 4 images through the whole
 * MobileNetV2 at 224 px, whose layers output 22 M values per image.
 */
export const TRAINING_BYTES_PER_VALUE = 16;
/** What a fit may use of WebAssembly's 32-bit memory (4 GiB), leaving room for the rest of the process. */
export const WASM_FIT_BYTES = 3 * 2 ** 30;

/**
 * Memory a stage-2 fit needs when it starts after `cutLayer`: every image's cached activations at
 * the cut (one tensor), a batch's training-mode activations above it, and the trainable weights
 * with their gradients and two optimizer moments.
 */
export function fineTuneBytes(features: TF.LayersModel, cutLayer: string, images: number, batchSize: number): number {
  const layers = features.layers;
  const cutIndex = layers.findIndex((l) => l.name === cutLayer);
  if (cutIndex < 0) throw new Error(`No layer "${cutLayer}" to fine-tune from`);
  const values = (layer: TF.layers.Layer) => {
    const shapes = (Array.isArray(layer.outputShape[0]) ? layer.outputShape : [layer.outputShape]) as (number | null)[][];
    return shapes.reduce((sum, shape) => sum + shape.slice(1).reduce((a: number, b) => a * (b ?? 1), 1), 0);
  };
  const above = layers.slice(cutIndex + 1);
  const activations = above.reduce((sum, layer) => sum + values(layer), 0);
  const weights = above.reduce((sum, layer) => sum + layer.countParams(), 0);
  return images * values(layers[cutIndex] as TF.layers.Layer) * 4 + batchSize * activations * TRAINING_BYTES_PER_VALUE + weights * 4 * 4;
}

export interface FineTunePlan {
  units: number;
  cutLayer: string;
  bytes: number;
  /** Why fewer units than asked were fine-tuned, in words; null when the request fits. */
  note: string | null;
}

const gigabytes = (bytes: number) => `${(bytes / 1e9).toFixed(1)} GB`;

/** What bounds a fit's memory, in bytes, and how to say so. */
export interface MemoryLimit {
  bytes: number;
  /** "on WebAssembly, which addresses at most 4 GiB" */
  where: string;
  /** Said after "a smaller batch size or input size goes deeper". */
  advice: string;
}

export const WASM_LIMIT: MemoryLimit = { bytes: WASM_FIT_BYTES, where: 'on WebAssembly, which addresses at most 4 GiB', advice: '; native TensorFlow (tfjs-node, see the README\'s GPU section) has no such limit' };

/** Native TensorFlow and the cpu backend: the machine's memory, of which a fit may take 60%. */
export function hostLimit(totalBytes: number): MemoryLimit {
  return { bytes: 0.6 * totalBytes, where: `with ${gigabytes(totalBytes)} of memory here (a fit may take 60% of it)`, advice: '' };
}

/** How deep stage 2 goes: the units asked for, or the most that fit in the memory limit, with the reason. */
export function planFineTune(features: TF.LayersModel, requested: number, images: number, batchSize: number, limit: MemoryLimit): FineTunePlan {
  const plan = (units: number) => {
    const cutLayer = fineTuneCut(features, units);
    return { units, cutLayer, bytes: fineTuneBytes(features, cutLayer, images, batchSize) };
  };
  const wanted = plan(requested);
  if (wanted.bytes <= limit.bytes) return { ...wanted, note: null };
  for (let units = requested - 1; units >= 1; units--) {
    const fits = plan(units);
    if (fits.bytes > limit.bytes) continue;
    return {
      ...fits,
      note:
        `Fine-tuning ${requested} units needs about ${gigabytes(wanted.bytes)} for ${images} images at batch ${batchSize} ${limit.where}: ` +
        `the top ${units} were fine-tuned instead (about ${gigabytes(fits.bytes)}). A smaller batch size or input size goes deeper${limit.advice}`,
    };
  }
  throw new Error(`Fine-tuning needs about ${gigabytes(plan(1).bytes)} even for one unit with ${images} images at batch ${batchSize}, more than it may take ${limit.where}: use a smaller batch or input size`);
}

export interface SplitModel {
  /** Images → activations at the cut (inference mode). */
  bottom: TF.LayersModel;
  /** Shape of one activation at the cut, e.g. [7, 7, 160] at 224 px. */
  cutShape: number[];
  /** Activations at the cut → logits: the unfrozen blocks, pooling and a copy of the head. */
  top: TF.LayersModel;
}

type BatchNormLike = TF.layers.Layer & { call: (inputs: TF.Tensor | TF.Tensor[], kwargs: Record<string, unknown>) => TF.Tensor | TF.Tensor[] };

/** Keeps a BatchNormalization layer frozen and in inference mode whatever `training` says. */
export function freezeBatchNorm(layer: TF.layers.Layer): void {
  const bn = layer as BatchNormLike;
  const call = bn.call.bind(bn);
  bn.trainable = false;
  bn.call = (inputs, kwargs) => call(inputs, { ...kwargs, training: false });
}


/**
 * Splits `features` (an image → pooled-feature model ending in out_relu + pooling) at `cutLayer`
 * and rebuilds the layers after it on a new input, with `head`'s layers on top.
 */
export function splitForFineTuning(features: TF.LayersModel, cutLayer: string, head: TF.LayersModel): SplitModel {
  const layers = features.layers;
  const cutIndex = layers.findIndex((l) => l.name === cutLayer);
  if (cutIndex < 0) throw new Error(`No layer "${cutLayer}" to fine-tune from`);
  const cut = layers[cutIndex] as TF.layers.Layer;
  const cutOutput = cut.output as TF.SymbolicTensor;
  // Cut at the input, nothing is frozen: the bottom is the identity (the run feeds pixels instead).
  const bottom = cutIndex === 0 ? identityModel(cutOutput) : tf.model({ inputs: features.inputs, outputs: cutOutput });
  const cutShape = cutOutput.shape.slice(1) as number[];

  const input = tf.input({ shape: cutShape, name: 'cut_input' });
  const top = layers.slice(cutIndex + 1);
  for (const layer of top) {
    if (layer.getClassName() === 'BatchNormalization') freezeBatchNorm(layer);
    else layer.trainable = true;
  }
  const pooled = reapplyLayers(top, cutLayer, input);
  const logits = reapplyLayers(head.layers.filter((l) => l.getClassName() !== 'InputLayer'), null, pooled);
  return { bottom, cutShape, top: tf.model({ inputs: input, outputs: logits, name: 'fine_tuned_top' }) };
}

function identityModel(input: TF.SymbolicTensor): TF.LayersModel {
  const fresh = tf.input({ shape: input.shape.slice(1) as number[], name: 'pixels' });
  return tf.model({ inputs: fresh, outputs: tf.layers.activation({ activation: 'linear', name: 'pixels_identity' }).apply(fresh) as TF.SymbolicTensor });
}

/**
 * Applies `layers` (in topological order, as a model lists them) to `input`, following each
 * layer's original inbound connections. `from` names the layer whose output `input` replaces;
 * null chains a sequential stack. The layers keep their weights: the new graph shares them.
 */
export function reapplyLayers(layers: TF.layers.Layer[], from: string | null, input: TF.SymbolicTensor): TF.SymbolicTensor {
  const symbols = new Map<string, TF.SymbolicTensor>(from ? [[from, input]] : []);
  let last = input;
  for (const layer of layers) {
    const sources = from === null ? [] : (layer.inboundNodes[0]?.inboundLayers ?? []);
    const inbound = sources.map((l) => {
      const symbol = symbols.get(l.name);
      if (!symbol) throw new Error(`Cannot rebuild from "${from}": layer ${layer.name} also reads ${l.name}, below the cut`);
      return symbol;
    });
    last = layer.apply(inbound.length > 1 ? inbound : (inbound[0] ?? last)) as TF.SymbolicTensor;
    symbols.set(layer.name, last);
  }
  return last;
}
