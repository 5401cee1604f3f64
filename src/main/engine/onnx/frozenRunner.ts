// Which engine runs a frozen model (a backbone up to its features or a stage-2 cut): ONNX Runtime
// where the model converts and the runtime loads, TensorFlow.js otherwise, with the reason said.
import { tf, type TF } from '../tf';
import { convertCached } from './modelCache';
import { openOnnxModel } from './runtime';

export type EnginePreference = 'auto' | 'onnx' | 'tfjs';

export interface FrozenModelRunner {
  engine: 'onnx' | 'tfjs';
  /** In words, e.g. "ONNX Runtime (CPU, 2 threads)". */
  description: string;
  /** Why ONNX Runtime does not run it, when it does not. */
  fallbackReason: string | null;
  /** Images [N, S, S, 3] → the N outputs back to back. Leaves `images` to the caller. */
  run(images: TF.Tensor): Promise<Float32Array>;
}

/**
 * `auto` tries ONNX Runtime and falls back to TF.js with the reason; `onnx` fails with the reason
 * instead; `tfjs` never converts. `cacheDir` keeps the converted models; the session stays open
 * for the process's later runs.
 */
export async function frozenModelRunner(model: TF.LayersModel, preference: EnginePreference, cacheDir: string): Promise<FrozenModelRunner> {
  if (preference === 'tfjs') return tfjsRunner(model, 'the engine is set to tfjs');
  try {
    const onnx = await openOnnxModel(await convertCached(model, cacheDir));
    return {
      engine: 'onnx',
      description: `ONNX Runtime (CPU, ${onnx.threads} thread${onnx.threads === 1 ? '' : 's'})`,
      fallbackReason: null,
      async run(images) {
        return onnx.run((await images.data()) as Float32Array, images.shape[0] as number);
      },
    };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    if (preference === 'onnx') throw new Error(`ONNX Runtime was asked for but cannot run this model: ${reason}`, { cause: error });
    return tfjsRunner(model, reason);
  }
}

function tfjsRunner(model: TF.LayersModel, fallbackReason: string): FrozenModelRunner {
  return {
    engine: 'tfjs',
    description: `TensorFlow.js (${tf.getBackend()})`,
    fallbackReason,
    async run(images) {
      const output = model.predict(images) as TF.Tensor;
      const values = (await output.data()) as Float32Array;
      output.dispose();
      return values;
    },
  };
}
