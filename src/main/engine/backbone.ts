// Pretrained feature extractors. The default is the Keras MobileNetV2 that ships inside
// nsfwjs@4.3.0 (MIT), loaded offline; any Keras-converted model.json (file or URL) also works,
// cut at a layer the user picks. The cut output is global-average-pooled to one vector per image.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { INPUT_SIZES } from '../../shared/contract';
import type { Preprocessing } from './preprocess';
import { nodeRequire, tf, type TF } from './tf';

export type BackboneSpec =
  | { kind: 'mobilenet_v2' }
  /** `source`: a path to model.json or an http(s) URL; `cutLayer`: where features are taken. */
  | { kind: 'keras'; source: string; cutLayer?: string };

export interface Backbone {
  /** Stable identity of weights + cut + input size: keys the embedding cache. */
  id: string;
  /** Maps [N, S, S, 3] images to [N, featureSize] features, in inference mode. */
  extractor: TF.LayersModel;
  featureSize: number;
  preprocessing: Preprocessing;
  cutLayer: string;
  /** Layer names of the full model, for the UI's cut-layer picker. */
  layerNames: string[];
  dispose(): void;
}

export const MOBILENET_CUT = 'out_relu';
export { INPUT_SIZES } from '../../shared/contract';

type ModelJson = {
  modelTopology: { model_config?: { config: KerasConfig }; config?: KerasConfig; [key: string]: unknown };
  weightsManifest: { paths: string[]; weights: TF.io.WeightsManifestEntry[] }[];
};
type KerasLayer = { name?: string; class_name: string; config: Record<string, unknown>; inbound_nodes?: unknown[] };

/** Functional models name layers at the top level, Sequential ones inside their config. */
const layerName = (layer: KerasLayer): string => layer.name ?? String(layer.config.name);
type KerasConfig = { layers: KerasLayer[]; input_layers?: unknown[]; output_layers?: unknown[]; name?: string };

/** The MobileNetV2 model.json and weights bundled in nsfwjs (UMD modules, resolved past its exports map). */
export function nsfwjsMobileNetFiles(): { modelJson: ModelJson; weights: ArrayBuffer } {
  const dir = path.join(path.dirname(nodeRequire.resolve('nsfwjs')), '../models/mobilenet_v2');
  const modelJson = nodeRequire(path.join(dir, 'model.min.js')) as ModelJson;
  const weights = Buffer.from(nodeRequire(path.join(dir, 'group1-shard1of1.min.js')) as string, 'base64');
  return { modelJson, weights: toArrayBuffer(weights) };
}

export async function loadBackbone(spec: BackboneSpec, inputSize: number, preprocessing: Omit<Preprocessing, 'inputSize'>): Promise<Backbone> {
  if (spec.kind === 'mobilenet_v2') {
    if (!(INPUT_SIZES as readonly number[]).includes(inputSize)) throw new Error(`Input size must be one of ${INPUT_SIZES.join(', ')}`);
    const { modelJson, weights } = nsfwjsMobileNetFiles();
    return build(modelJson, weights, MOBILENET_CUT, inputSize, { ...preprocessing, inputSize }, 'nsfwjs-4.3.0/mobilenet_v2');
  }
  const { modelJson, weights, origin } = await readKerasModel(spec.source);
  const layers = kerasConfig(modelJson).layers.map((l) => ({ name: layerName(l), class_name: l.class_name }));
  const cut = spec.cutLayer ?? defaultCutLayer(layers);
  return build(modelJson, weights, cut, inputSize, { ...preprocessing, inputSize }, origin);
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
  cutLayer: string,
  inputSize: number,
  preprocessing: Preprocessing,
  origin: string,
): Promise<Backbone> {
  const topology = structuredClone(modelJson.modelTopology);
  const config = kerasConfig({ ...modelJson, modelTopology: topology });
  const layerNames = config.layers.map(layerName);
  const cutIndex = layerNames.indexOf(cutLayer);
  if (cutIndex < 0) throw new Error(`The model has no layer "${cutLayer}". Layers: ${layerNames.slice(-12).join(', ')}, …`);
  // Keep the layers up to the cut and resize the input: the convolutions do not depend on it,
  // but fixed-size heads (MobileNetV2's 7×7 pool) do, so they must go.
  config.layers = config.layers.slice(0, cutIndex + 1);
  // Functional models name their outputs; a Sequential model ends at its last layer.
  if (Array.isArray(config.output_layers)) config.output_layers = [[cutLayer, 0, 0]];
  const first = config.layers[0]?.config;
  const shape = first?.batch_input_shape as (number | null)[] | undefined;
  if (first && shape?.length === 4) first.batch_input_shape = [null, inputSize, inputSize, shape[3] ?? 3];
  const specs = modelJson.weightsManifest.flatMap((g) => g.weights);
  const full = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: topology, weightSpecs: specs, weightData: weights }), { strict: false });
  const output = full.outputs[0] as TF.SymbolicTensor;
  const pooled = output.shape.length === 4 ? (tf.layers.globalAveragePooling2d({ name: 'labelloop_gap' }).apply(output) as TF.SymbolicTensor) : output;
  if (pooled.shape.length !== 2) throw new Error(`Layer "${cutLayer}" gives shape [${output.shape}]: pick a layer with an image-like or vector output`);
  const extractor = tf.model({ inputs: full.inputs, outputs: pooled });
  const featureSize = pooled.shape[1] as number;
  const id = createHash('sha1').update(`${origin}|${cutLayer}|${inputSize}`).digest('hex').slice(0, 16);
  return { id, extractor, featureSize, preprocessing, cutLayer, layerNames, dispose: () => full.dispose() };
}

function toArrayBuffer(buffer: Buffer): ArrayBuffer {
  return buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength) as ArrayBuffer;
}
