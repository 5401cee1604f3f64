// ONNX Runtime (onnxruntime-node, CPU) running converted models: one inference session per model
// and process, its intra-op threads matched to the cores, fed by sharp decoding ahead.
import os from 'node:os';
import type * as Ort from 'onnxruntime-node';
import { mapLimit } from '../../common/concurrency';
import { decodeForModel, scalePixels, type Preprocessing } from '../preprocess';
import { nodeRequire } from '../tf';
import type { ConvertedModel } from './modelCache';

/** ONNX Runtime cannot be loaded here (its native library is missing or refuses this machine). */
export class OnnxRuntimeUnavailableError extends Error {
  constructor(cause: unknown) {
    super(`ONNX Runtime is not available: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'OnnxRuntimeUnavailableError';
  }
}

export interface OnnxModel {
  key: string;
  inputShape: number[];
  outputShape: number[];
  threads: number;
  /** `count` images, NHWC floats back to back → `count` outputs back to back. */
  run(images: Float32Array, count: number): Promise<Float32Array>;
  /** Frees the session; the next openOnnxModel for this key creates a new one. */
  release(): Promise<void>;
}

let runtime: typeof Ort | null = null;
const sessions = new Map<string, Promise<OnnxModel>>();

/** Loaded on first use, so a machine where it fails still runs everything on TF.js. */
export function onnxRuntime(): typeof Ort {
  try {
    runtime ??= nodeRequire('onnxruntime-node') as typeof Ort;
    return runtime;
  } catch (error) {
    throw new OnnxRuntimeUnavailableError(error);
  }
}

/** The session for `model`, created once per process. */
export function openOnnxModel(model: ConvertedModel): Promise<OnnxModel> {
  let session = sessions.get(model.key);
  if (!session) {
    session = createModel(model);
    sessions.set(model.key, session);
    // A failed creation is not cached: the caller falls back, and a later call may retry.
    session.catch(() => sessions.delete(model.key));
  }
  return session;
}

async function createModel(model: ConvertedModel): Promise<OnnxModel> {
  const ort = onnxRuntime();
  const threads = os.availableParallelism();
  const session = await ort.InferenceSession.create(model.file, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
  });
  const [inputName, outputName] = [session.inputNames[0] as string, session.outputNames[0] as string];
  const imageSize = model.inputShape.reduce((a, b) => a * b, 1);
  return {
    key: model.key,
    inputShape: model.inputShape,
    outputShape: model.outputShape,
    threads,
    async run(images, count) {
      if (images.length !== count * imageSize) throw new Error(`${images.length} input values for ${count} images of [${model.inputShape}]`);
      const input = new ort.Tensor('float32', images, [count, ...model.inputShape]);
      const result = await session.run({ [inputName]: input });
      const output = result[outputName] as Ort.Tensor;
      const data = output.data as Float32Array;
      input.dispose();
      return data;
    },
    async release() {
      sessions.delete(model.key);
      await session.release();
    },
  };
}

export type EmbedResult = { file: string; features: Float32Array } | { file: string; error: string };

/**
 * Embeds image files in batches, yielding each batch's results in file order: an unreadable
 * file gives its reason instead of features. The next batch decodes while this one runs.
 */
export async function* embedImageFiles(
  model: OnnxModel,
  files: readonly string[],
  prep: Preprocessing,
  options: { batchSize?: number; decodeConcurrency?: number } = {},
): AsyncGenerator<EmbedResult[]> {
  const batchSize = options.batchSize ?? 16;
  const expected = [prep.inputSize, prep.inputSize, 3];
  if (model.inputShape.join() !== expected.join()) throw new Error(`The model takes [${model.inputShape}] images, the preprocessing gives [${expected}]`);
  const pixelsPerImage = prep.inputSize * prep.inputSize * 3;
  const decode = (batch: readonly string[]) =>
    mapLimit(batch, options.decodeConcurrency ?? 4, async (file): Promise<{ file: string; pixels: Uint8Array } | { file: string; error: string }> => {
      try {
        return { file, pixels: await decodeForModel(file, prep) };
      } catch (error) {
        return { file, error: error instanceof Error ? error.message : String(error) };
      }
    });
  let next = files.length > 0 ? decode(files.slice(0, batchSize)) : null;
  for (let start = 0; next; start += batchSize) {
    const decoded = await next;
    const following = start + batchSize;
    next = following < files.length ? decode(files.slice(following, following + batchSize)) : null;
    const readable = decoded.flatMap((d) => ('pixels' in d ? [d] : []));
    const input = new Float32Array(readable.length * pixelsPerImage);
    readable.forEach((d, i) => scalePixels(d.pixels, prep, input, i * pixelsPerImage));
    const output = readable.length > 0 ? await model.run(input, readable.length) : new Float32Array(0);
    const size = output.length / Math.max(readable.length, 1);
    const features = new Map(readable.map((d, i) => [d, output.slice(i * size, (i + 1) * size)]));
    yield decoded.map((d) => ('pixels' in d ? { file: d.file, features: features.get(d) as Float32Array } : d));
  }
}
