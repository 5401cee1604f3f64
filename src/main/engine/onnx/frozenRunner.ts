// Which engine runs a frozen model (a backbone up to its features, a stage-2 cut, or a whole trained
// model for prediction): ONNX Runtime where the model converts and a provider starts, TensorFlow.js
// otherwise, with every reason said.
import os from 'node:os';
import type { FrozenEngine } from '../../../shared/contract';
import { tf, type TF } from '../tf';
import { encodeModel } from './protobuf';
import { convertCached, type ConvertedModel } from './modelCache';
import { onnxRuntime, type OnnxModel, type OnnxProvider, openOnnxModel, PROVIDER_LABELS, providerUnavailable } from './runtime';

export type { FrozenEngine };

export interface EngineChoiceNote {
  name: string;
  reason: string;
}

/** Runs a batch: `count` NHWC images back to back → their `count` outputs back to back. */
export interface BatchRunner {
  run(input: Float32Array, count: number): Promise<Float32Array>;
}

export interface FrozenModelRunner extends BatchRunner {
  engine: 'onnx' | 'tfjs';
  /** In words, e.g. "ONNX Runtime (CPU, 2 threads)". */
  description: string;
  /** Each faster engine that was tried and not used, with why. */
  notUsed: EngineChoiceNote[];
}

/** The ONNX Runtime providers a preference tries, best first; the GPU routes fall back to the CPU. */
function providersFor(preference: FrozenEngine): OnnxProvider[] {
  switch (preference) {
    case 'tfjs':
      return [];
    case 'onnx':
      return ['cpu'];
    case 'onnx-webgpu':
      return ['webgpu', 'cpu'];
    case 'onnx-cuda':
    case 'auto':
      return ['cuda', 'cpu'];
  }
}

/** "ONNX Runtime (CPU, 2 threads)", "ONNX Runtime (CUDA)", "ONNX Runtime (WebGPU, experimental)". */
export function describeOnnx(model: Pick<OnnxModel, 'provider' | 'threads'>): string {
  if (model.provider === 'cpu') return `ONNX Runtime (CPU, ${model.threads} thread${model.threads === 1 ? '' : 's'})`;
  return `ONNX Runtime (${PROVIDER_LABELS[model.provider]}${model.provider === 'webgpu' ? ', experimental' : ''})`;
}

/** ONNX Runtime's errors start with a source location and a C++ signature: keep what a person can read. */
function readableOrtError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const afterCheck = message.split(' was false. ').at(-1) ?? message;
  return (afterCheck.split('\n')[0] ?? afterCheck).replace(/^Error: /, '').trim();
}

/**
 * Opens `convert()`'s model on the first provider of `preference` that starts. `onnx` fails with
 * the reasons instead of falling back; every other preference returns null for TF.js to run it.
 */
async function chooseOnnx(preference: FrozenEngine, convert: () => Promise<ConvertedModel>): Promise<{ model: OnnxModel | null; notUsed: EngineChoiceNote[] }> {
  const notUsed: EngineChoiceNote[] = [];
  if (preference === 'tfjs') return { model: null, notUsed: [{ name: 'ONNX Runtime', reason: 'the engine is set to tfjs' }] };
  let converted: ConvertedModel;
  try {
    converted = await convert();
  } catch (error) {
    notUsed.push({ name: 'ONNX Runtime', reason: error instanceof Error ? error.message : String(error) });
    return failOrFallBack(preference, notUsed);
  }
  const model = await firstProvider(preference, (provider) => openOnnxModel(converted, provider), notUsed);
  return model ? { model, notUsed } : failOrFallBack(preference, notUsed);
}

/** `open` on each provider of `preference` in turn, noting why each one that fails is not used; null when none starts. */
async function firstProvider<T>(preference: FrozenEngine, open: (provider: OnnxProvider) => Promise<T>, notUsed: EngineChoiceNote[]): Promise<T | null> {
  for (const provider of providersFor(preference)) {
    try {
      return await open(provider);
    } catch (error) {
      notUsed.push({ name: `ONNX Runtime ${PROVIDER_LABELS[provider]}`, reason: readableOrtError(error) });
    }
  }
  return null;
}

function failOrFallBack(preference: FrozenEngine, notUsed: EngineChoiceNote[]): { model: null; notUsed: EngineChoiceNote[] } {
  if (preference === 'onnx') throw new Error(`ONNX Runtime was asked for but cannot run this model: ${notUsed.map((n) => n.reason).join('; ')}`);
  return { model: null, notUsed };
}

function onnxRunner(model: OnnxModel, notUsed: EngineChoiceNote[]): FrozenModelRunner {
  return { engine: 'onnx', description: describeOnnx(model), notUsed, run: (input, count) => model.run(input, count) };
}

/**
 * `auto` tries ONNX Runtime (its CUDA provider where installed, then the CPU) and falls back to
 * TF.js with the reasons; `onnx` fails with them instead; `tfjs` never converts. `cacheDir` keeps
 * the converted models; the session stays open for the process's later runs.
 */
export async function frozenModelRunner(model: TF.LayersModel, preference: FrozenEngine, cacheDir: string): Promise<FrozenModelRunner> {
  const chosen = await chooseOnnx(preference, () => convertCached(model, cacheDir));
  return chosen.model ? onnxRunner(chosen.model, chosen.notUsed) : tfjsRunner(model, chosen.notUsed);
}

/**
 * The same choice for a model already converted (an export's model.onnx); `loadTfjs` gives the
 * TF.js model only when ONNX Runtime cannot run it.
 */
export async function convertedModelRunner(converted: ConvertedModel, preference: FrozenEngine, loadTfjs: () => Promise<TF.LayersModel>): Promise<FrozenModelRunner & { tfjsModel: TF.LayersModel | null }> {
  const chosen = await chooseOnnx(preference, async () => converted);
  if (chosen.model) return { ...onnxRunner(chosen.model, chosen.notUsed), tfjsModel: null };
  const model = await loadTfjs();
  return { ...tfjsRunner(model, chosen.notUsed), tfjsModel: model };
}

/** A TF.js model as a runner; `notUsed` says why ONNX Runtime does not run it. */
export function tfjsRunner(model: TF.LayersModel, notUsed: EngineChoiceNote[] = []): FrozenModelRunner {
  return {
    engine: 'tfjs',
    description: `TensorFlow.js (${tf.getBackend()})`,
    notUsed,
    async run(input, count) {
      const shape = (model.inputs[0] as TF.SymbolicTensor).shape.slice(1) as number[];
      const output = tf.tidy(() => model.predict(tf.tensor(input, [count, ...shape])) as TF.Tensor);
      const values = (await output.data()) as Float32Array;
      output.dispose();
      return values;
    },
  };
}

/** A one-node graph: enough for a provider to show it starts, without loading any real model. */
const PROBE_MODEL = encodeModel(
  { name: 'probe', nodes: [{ opType: 'Relu', name: 'relu', inputs: ['x'], outputs: ['y'], attributes: [] }], initializers: [], inputs: [{ name: 'x', dims: ['batch', 4] }], outputs: [{ name: 'y', dims: ['batch', 4] }] },
  { name: 'labelloop-probe', version: '1' },
);

/**
 * Which engine a frozen backbone would run on with this preference, known before a run starts: the
 * first ONNX Runtime provider whose session starts (on a one-node graph), else TF.js. A backbone
 * that does not convert still falls back when the run starts, and the run then says so.
 */
export async function probeFrozenEngine(preference: FrozenEngine): Promise<{ engine: 'onnx' | 'tfjs'; label: string; notUsed: EngineChoiceNote[] }> {
  const notUsed: EngineChoiceNote[] = [];
  if (preference === 'tfjs') return { engine: 'tfjs', label: 'TensorFlow.js', notUsed: [{ name: 'ONNX Runtime', reason: 'the engine is set to tfjs' }] };
  const label = await firstProvider(
    preference,
    async (provider) => {
      const missing = providerUnavailable(provider);
      if (missing) throw new Error(missing);
      const session = await onnxRuntime().InferenceSession.create(PROBE_MODEL, { executionProviders: [provider], intraOpNumThreads: 1 });
      await session.release();
      return describeOnnx({ provider, threads: os.availableParallelism() });
    },
    notUsed,
  );
  if (label) return { engine: 'onnx', label, notUsed };
  if (preference === 'onnx') throw new Error(`ONNX Runtime was asked for but cannot start: ${notUsed.map((n) => n.reason).join('; ')}`);
  return { engine: 'tfjs', label: 'TensorFlow.js', notUsed };
}
