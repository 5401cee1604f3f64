// Pretrained feature extractors. Three ship inside nsfwjs@4.3.0 (MIT) and load offline: its Keras
// MobileNetV2 (top features, or features pooled from three depths) and the ImageNet trunk of its
// InceptionV3 up to mixed5. Any Keras-converted model.json (file or URL) also works, cut at a layer
// the user picks. Each cut output is pooled over the image to one vector: its mean per channel, and
// for InceptionV3 its maximum beside it (FeaturePooling).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { INPUT_SIZES, type BundledBackbone, type FeaturePooling } from '../../shared/contract';
import type { Preprocessing } from './preprocess';
import { nodeRequire, tf, type TF } from './tf';

export type BackboneSpec =
  | { kind: BundledBackbone }
  /** `source`: a path to model.json or an http(s) URL; `cutLayer`: where features are taken. */
  | { kind: 'keras'; source: string; cutLayer?: string };

export interface Backbone {
  /** Stable identity of weights + cut + input size: keys the embedding cache. */
  id: string;
  /** Maps [N, S, S, 3] images to [N, featureSize] features, in inference mode. */
  extractor: TF.LayersModel;
  featureSize: number;
  preprocessing: Preprocessing;
  /** Where the features are taken: one layer, or several joined by "+" (each pooled, then concatenated). */
  cutLayer: string;
  /** How each cut output becomes a vector: saved with the run, so its model is rebuilt the same way. */
  pooling: FeaturePooling;
  /** Layer names of the full model, for the UI's cut-layer picker. */
  layerNames: string[];
  dispose(): void;
}

export const MOBILENET_CUT = 'out_relu';
export { INPUT_SIZES } from '../../shared/contract';

/**
 * The bundled backbones: which nsfwjs model, the layers whose pooled outputs are the features, and
 * the pixel range its weights expect (a property of the weights, so it is not the user's to set).
 * nsfwjs retrained MobileNetV2 from block_11 on for its own task, so its middle blocks are plain
 * ImageNet features; its InceptionV3 was retrained from conv2d_56 on, so up to mixed5 it is ImageNet.
 */
const BUNDLED: Record<BundledBackbone, { folder: string; outputs: string[]; scale: Preprocessing['scale']; pooling: FeaturePooling }> = {
  mobilenet_v2: { folder: 'mobilenet_v2', outputs: [MOBILENET_CUT], scale: '0,1', pooling: 'avg' },
  mobilenet_v2_depths: { folder: 'mobilenet_v2', outputs: ['block_6_expand_relu', 'block_10_expand_relu', MOBILENET_CUT], scale: '0,1', pooling: 'avg' },
  inception_v3: { folder: 'inception_v3', outputs: ['mixed5'], scale: '-1,1', pooling: 'avg+max' },
};

/** The pooling a saved run's backbone used: runs from before it was stored pooled by the mean. */
export function savedPooling(backbone: { pooling?: FeaturePooling }): FeaturePooling {
  return backbone.pooling ?? 'avg';
}

type ModelJson = {
  modelTopology: { model_config?: { config: KerasConfig }; config?: KerasConfig; [key: string]: unknown };
  weightsManifest: { paths: string[]; weights: TF.io.WeightsManifestEntry[] }[];
};
type KerasLayer = { name?: string; class_name: string; config: Record<string, unknown>; inbound_nodes?: unknown[] };

/** Functional models name layers at the top level, Sequential ones inside their config. */
const layerName = (layer: KerasLayer): string => layer.name ?? String(layer.config.name);
type KerasConfig = { layers: KerasLayer[]; input_layers?: unknown[]; output_layers?: unknown[]; name?: string };

/**
 * A model.json and its weights bundled in nsfwjs (UMD modules, resolved past its exports map). The
 * shards are read as text, not required, so their base64 does not stay in the module cache.
 */
export async function nsfwjsModelFiles(folder: string): Promise<{ modelJson: ModelJson; weights: ArrayBuffer }> {
  const dir = path.join(path.dirname(nodeRequire.resolve('nsfwjs')), '../models', folder);
  const modelJson = nodeRequire(path.join(dir, 'model.min.js')) as ModelJson;
  const shards = await Promise.all(
    modelJson.weightsManifest.flatMap((group) =>
      group.paths.map(async (name) => {
        const text = await readFile(path.join(dir, `${name}.min.js`), 'utf8');
        // The weights are the module's one long string literal, its last one (base64 holds no quotes).
        const end = text.lastIndexOf('"');
        const base64 = text.slice(text.lastIndexOf('"', end - 1) + 1, end);
        if (base64.length < 64 || !/^[A-Za-z0-9+/]+={0,2}$/.test(base64.slice(-64))) throw new Error(`nsfwjs ${folder}/${name}.min.js holds no weights: is the nsfwjs package damaged?`);
        return Buffer.from(base64, 'base64');
      }),
    ),
  );
  return { modelJson, weights: toArrayBuffer(Buffer.concat(shards)) };
}

/** `pooling`: a saved run's (savedPooling); a new run takes the backbone's own. */
export async function loadBackbone(spec: BackboneSpec, inputSize: number, preprocessing: Omit<Preprocessing, 'inputSize'>, pooling?: FeaturePooling): Promise<Backbone> {
  if (spec.kind !== 'keras') {
    if (!(INPUT_SIZES as readonly number[]).includes(inputSize)) throw new Error(`Input size must be one of ${INPUT_SIZES.join(', ')}`);
    const bundled = BUNDLED[spec.kind];
    // A kind from a run's saved files, which a newer version (or a damaged file) may hold.
    if (!bundled) throw new Error(`Unknown backbone "${String(spec.kind)}": the model was made by a newer LabelLoop, or its labelloop.json is damaged`);
    const { modelJson, weights } = await nsfwjsModelFiles(bundled.folder);
    return build(modelJson, weights, bundled.outputs, pooling ?? bundled.pooling, inputSize, { ...preprocessing, scale: bundled.scale, inputSize }, `nsfwjs-4.3.0/${bundled.folder}`);
  }
  const { modelJson, weights, origin } = await readKerasModel(spec.source);
  const layers = kerasConfig(modelJson).layers.map((l) => ({ name: layerName(l), class_name: l.class_name }));
  const cut = spec.cutLayer ?? defaultCutLayer(layers);
  return build(modelJson, weights, [cut], pooling ?? 'avg', inputSize, { ...preprocessing, inputSize }, origin);
}

/** Reads model.json and its weight shards from a file path or an http(s) URL. */
export async function readKerasModel(source: string): Promise<{ modelJson: ModelJson; weights: ArrayBuffer; origin: string }> {
  const isUrl = /^https?:\/\//i.test(source);
  const read = async (relative?: string): Promise<Buffer> => {
    if (isUrl) {
      const url = relative ? new URL(relative, source).href : source;
      const response = await fetch(url);
      if (!response.ok) throw new Error(`Could not fetch ${url}: HTTP ${response.status}`);
      return Buffer.from(await response.arrayBuffer());
    }
    const file = relative ? path.join(path.dirname(source), relative) : source;
    return readFile(file).catch((error: NodeJS.ErrnoException) => {
      throw new Error(error.code === 'ENOENT' ? `Model file not found: ${file}` : `Cannot read ${file}: ${error.message}`);
    });
  };
  let modelJson: ModelJson;
  try {
    modelJson = JSON.parse((await read()).toString('utf8')) as ModelJson;
  } catch (error) {
    throw new Error(`${source} is not a TensorFlow.js model.json: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (!modelJson.modelTopology || !Array.isArray(modelJson.weightsManifest)) {
    throw new Error(`${source} is not a Keras (LayersModel) model.json: it has no modelTopology/weightsManifest`);
  }
  const shards = await Promise.all(modelJson.weightsManifest.flatMap((group) => group.paths.map((p) => read(p))));
  const hash = createHash('sha1');
  for (const shard of shards) hash.update(shard);
  return { modelJson, weights: toArrayBuffer(Buffer.concat(shards)), origin: `keras:${hash.digest('hex').slice(0, 16)}` };
}

function kerasConfig(modelJson: ModelJson): KerasConfig {
  const config = modelJson.modelTopology.model_config?.config ?? modelJson.modelTopology.config;
  if (!config || !Array.isArray(config.layers)) throw new Error('Only functional/sequential Keras models with a layer list are supported');
  return config;
}

/** The usual feature layer: the last global pooling or flatten before the classifier head. */
export function defaultCutLayer(layers: { name: string; class_name: string }[]): string {
  for (let i = layers.length - 1; i >= 0; i--) {
    const layer = layers[i] as { name: string; class_name: string };
    if (/^(GlobalAveragePooling2D|GlobalMaxPooling2D|Flatten)$/.test(layer.class_name)) return layer.name;
  }
  throw new Error('Could not guess where the features are (no pooling or Flatten layer): pick a cut layer');
}

async function build(
  modelJson: ModelJson,
  weights: ArrayBuffer,
  outputs: string[],
  pooling: FeaturePooling,
  inputSize: number,
  preprocessing: Preprocessing,
  origin: string,
): Promise<Backbone> {
  const topology = structuredClone(modelJson.modelTopology);
  const config = kerasConfig({ ...modelJson, modelTopology: topology });
  const layerNames = config.layers.map(layerName);
  const indices = outputs.map((name) => layerNames.indexOf(name));
  const missing = outputs.find((_, i) => (indices[i] as number) < 0);
  if (missing !== undefined) throw new Error(`The model has no layer "${missing}". Layers: ${layerNames.slice(-12).join(', ')}, …`);
  // Keep the layers up to the last cut and resize the input: the convolutions do not depend on it,
  // but fixed-size heads (MobileNetV2's 7×7 pool) do, so they must go.
  config.layers = config.layers.slice(0, Math.max(...indices) + 1);
  const dropped = new Set(layerNames.slice(config.layers.length));
  // Functional models name their outputs; a Sequential model ends at its last layer.
  if (Array.isArray(config.output_layers)) config.output_layers = outputs.map((name) => [name, 0, 0]);
  const first = config.layers[0]?.config;
  const shape = first?.batch_input_shape as (number | null)[] | undefined;
  if (first && shape?.length === 4) first.batch_input_shape = [null, inputSize, inputSize, shape[3] ?? 3];
  const keptWeights = weightsWithout(modelJson.weightsManifest.flatMap((g) => g.weights), weights, dropped);
  const full = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: topology, ...keptWeights }), { strict: false });
  const pooled = full.outputs.flatMap((output, i) => {
    const suffix = outputs.length === 1 ? '' : `_${i}`;
    if (output.shape.length === 2) return [output];
    if (output.shape.length !== 4) throw new Error(`Layer "${outputs[i]}" gives shape [${output.shape}]: pick a layer with an image-like or vector output`);
    const mean = tf.layers.globalAveragePooling2d({ name: `labelloop_gap${suffix}` }).apply(output) as TF.SymbolicTensor;
    return pooling === 'avg' ? [mean] : [mean, tf.layers.globalMaxPooling2d({ name: `labelloop_gmp${suffix}` }).apply(output) as TF.SymbolicTensor];
  });
  const features = pooled.length === 1 ? (pooled[0] as TF.SymbolicTensor) : (tf.layers.concatenate({ name: outputs.length === 1 ? 'labelloop_mean_max' : 'labelloop_depths' }).apply(pooled) as TF.SymbolicTensor);
  const extractor = tf.model({ inputs: full.inputs, outputs: features });
  const featureSize = features.shape[1] as number;
  const cutLayer = outputs.join('+');
  // The mean alone keeps the identity it had before pooling was a choice, so cached features stay valid.
  const id = createHash('sha1').update(`${origin}|${cutLayer}|${inputSize}${pooling === 'avg' ? '' : `|${pooling}`}`).digest('hex').slice(0, 16);
  return { id, extractor, featureSize, preprocessing, cutLayer, pooling, layerNames, dispose: () => full.dispose() };
}

/**
 * The weight entries and bytes of all but the dropped layers, so a trunk cut early (InceptionV3 at
 * mixed5 keeps a fifth of its weights) never dequantises the rest.
 */
function weightsWithout(specs: TF.io.WeightsManifestEntry[], data: ArrayBuffer, droppedLayers: Set<string>): { weightSpecs: TF.io.WeightsManifestEntry[]; weightData: ArrayBuffer } {
  const bytesPerValue = { float32: 4, int32: 4, uint16: 2, float16: 2, uint8: 1, bool: 1 } as Record<string, number>;
  const keptSpecs: TF.io.WeightsManifestEntry[] = [];
  const pieces: Uint8Array[] = [];
  let offset = 0;
  for (const spec of specs) {
    const values = spec.shape.reduce((a, b) => a * b, 1);
    const dtype = spec.quantization?.dtype ?? spec.dtype;
    const bytes = values * (bytesPerValue[dtype] ?? 4);
    // Weight names start with their layer's name ("conv2d_1/kernel"); anything else is kept, to be safe.
    if (!droppedLayers.has(spec.name.split('/')[0] as string)) {
      keptSpecs.push(spec);
      pieces.push(new Uint8Array(data, offset, bytes));
    }
    offset += bytes;
  }
  if (offset !== data.byteLength) return { weightSpecs: specs, weightData: data };
  return { weightSpecs: keptSpecs, weightData: toArrayBuffer(Buffer.concat(pieces)) };
}

function toArrayBuffer(buffer: Buffer): ArrayBuffer {
  return buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength) as ArrayBuffer;
}
