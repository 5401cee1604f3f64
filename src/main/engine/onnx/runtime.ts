// ONNX Runtime (onnxruntime-node) running converted models: one inference session per model,
// provider and process, its intra-op threads matched to the cores.
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type * as Ort from 'onnxruntime-node';
import { nodeRequire } from '../tf';
import type { ConvertedModel } from './modelCache';

/** ONNX Runtime cannot be loaded here (its native library is missing or refuses this machine). */
export class OnnxRuntimeUnavailableError extends Error {
  constructor(cause: unknown) {
    super(`ONNX Runtime is not available: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'OnnxRuntimeUnavailableError';
  }
}

/** Where ONNX Runtime computes: its CPU provider ships in the npm package; CUDA and WebGPU are the GPU routes. */
export type OnnxProvider = 'cpu' | 'cuda' | 'webgpu';

export const PROVIDER_LABELS: Record<OnnxProvider, string> = { cpu: 'CPU', cuda: 'CUDA', webgpu: 'WebGPU' };

export interface OnnxModel {
  key: string;
  provider: OnnxProvider;
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

/**
 * Why `provider` cannot run here before ONNX Runtime is asked (so it logs nothing), or null. The
 * CUDA provider's libraries are not in the npm package: onnxruntime-node's install step downloads
 * them from outside the npm registry, which LabelLoop skips (README "GPU").
 */
export function providerUnavailable(provider: OnnxProvider): string | null {
  if (provider !== 'cuda') return null;
  const library = process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so';
  const binary = path.join(path.dirname(nodeRequire.resolve('onnxruntime-node')), '..', 'bin', 'napi-v6', process.platform, process.arch);
  if (process.platform === 'darwin') return 'ONNX Runtime has no CUDA provider for macOS';
  return existsSync(path.join(binary, library))
    ? null
    : `its CUDA provider is not installed (${library}: see README "GPU", ONNXRUNTIME_NODE_INSTALL=cuda12)`;
}

/** The session for `model` on `provider`, created once per process. */
export function openOnnxModel(model: ConvertedModel, provider: OnnxProvider = 'cpu'): Promise<OnnxModel> {
  const key = `${provider}:${model.key}`;
  let session = sessions.get(key);
  if (!session) {
    session = createModel(model, provider);
    sessions.set(key, session);
    // A failed creation is not cached: the caller falls back, and a later call may retry.
    session.catch(() => sessions.delete(key));
  }
  return session;
}

async function createModel(model: ConvertedModel, provider: OnnxProvider): Promise<OnnxModel> {
  const ort = onnxRuntime();
  const missing = providerUnavailable(provider);
  if (missing) throw new Error(missing);
  const threads = os.availableParallelism();
  const session = await ort.InferenceSession.create(model.file, {
    executionProviders: [provider],
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    // Idle pool threads sleep instead of spinning: on few cores, sharp decodes the next batch on
    // the cores a spinning pool would hold (1,000 images at 224 px: 182–190 images/s against 172–178).
    extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
  });
  const [inputName, outputName] = [session.inputNames[0] as string, session.outputNames[0] as string];
  const imageSize = model.inputShape.reduce((a, b) => a * b, 1);
  return {
    key: model.key,
    provider,
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
      sessions.delete(`${provider}:${model.key}`);
      await session.release();
    },
  };
}
