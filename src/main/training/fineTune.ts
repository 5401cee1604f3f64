// Stage 2: unfreeze the top MobileNetV2 blocks and fine-tune them with a small learning rate.
// The frozen part runs once per image (its output at the cut is cached, as embeddings are), and
// only the top sub-model trains: cheap per epoch, and within wasm's memory. BatchNormalization
// layers stay frozen and in inference mode — tfjs-layers would otherwise use batch statistics and
// update the moving averages during fit even with trainable = false (unlike Keras since TF 2).
import { type TF, tf } from '../engine/tf';

/** Where the frozen part ends for N unfrozen blocks, counted from the top (MobileNetV2 layer names). */
export const MOBILENET_FINE_TUNE_CUTS: Record<number, string> = {
  1: 'block_16_project_BN',
  2: 'block_15_add',
  3: 'block_14_add',
  4: 'block_13_project_BN',
};

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
  const bottom = tf.model({ inputs: features.inputs, outputs: cutOutput });
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
