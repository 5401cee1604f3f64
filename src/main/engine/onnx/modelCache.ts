// Converted models on disk, keyed by what decides the graph: the model's topology and weights,
// where it is cut, its input size and the converter's version. A second run of the same backbone
// loads the .onnx file instead of converting again.
import { createHash } from 'node:crypto';
import { mkdir, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CONVERTER_VERSION, convertLayersModel } from './convert';
import type { TF } from '../tf';

export interface ConvertedModel {
  /** The .onnx file. */
  file: string;
  /** Content key: the same model, cut and input size give the same key. */
  key: string;
  /** One image's input, NHWC without the batch, e.g. [224, 224, 3]. */
  inputShape: number[];
  /** One image's output without the batch, e.g. [1280] or [7, 7, 160]. */
  outputShape: number[];
}

/** Converts `model` (cut at `outputLayer`, default its output) unless the cache already has it. */
export async function convertCached(model: TF.LayersModel, cacheDir: string, options: { outputLayer?: string } = {}): Promise<ConvertedModel> {
  if (model.inputs.length !== 1) throw new Error(`Only single-input models run on ONNX Runtime here; this one has ${model.inputs.length}`);
  const output = options.outputLayer ? (model.getLayer(options.outputLayer).output as TF.SymbolicTensor) : (model.outputs[0] as TF.SymbolicTensor);
  const inputShape = (model.inputs[0] as TF.SymbolicTensor).shape.slice(1) as number[];
  const outputShape = output.shape.slice(1) as number[];
  const key = modelKey(model, options.outputLayer ?? null, inputShape);
  const file = path.join(cacheDir, `${key}.onnx`);
  const cached = await stat(file).catch(() => null);
  if (!cached?.isFile()) {
    await mkdir(cacheDir, { recursive: true });
    const temporary = `${file}.${process.pid}.tmp`;
    await writeFile(temporary, convertLayersModel(model, options));
    // Rename last: a crash mid-write never leaves a truncated model under the real name.
    await rename(temporary, file);
  }
  return { file, key, inputShape, outputShape };
}

function modelKey(model: TF.LayersModel, outputLayer: string | null, inputShape: number[]): string {
  const hash = createHash('sha256');
  hash.update(JSON.stringify({ converter: CONVERTER_VERSION, topology: model.toJSON(null, false), outputLayer, inputShape }));
  for (const weight of model.weights) {
    const values = weight.read().dataSync();
    hash.update(weight.originalName).update(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
  }
  return hash.digest('hex').slice(0, 32);
}
