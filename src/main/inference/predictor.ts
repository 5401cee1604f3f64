// A loaded model that predicts image files: from a run folder (the window, `labelloop predict
// <runDir|runId>`) or an export folder, on ONNX Runtime where it can. In the app it lives in a
// worker thread, so loading the model and running it never block the window's process.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { FrozenEngine, ModelEngine } from '../../shared/contract';
import type { OperatingPoint } from '../../shared/report';
import { UserError } from '../common/errors';
import { userCacheDir } from '../common/userDirs';
import { runImageFiles } from '../engine/imageBatches';
import { type BatchRunner, convertedModelRunner, type FrozenModelRunner, frozenModelRunner } from '../engine/onnx/frozenRunner';
import { savedPreprocessing, type Preprocessing } from '../engine/preprocess';
import type { TF } from '../engine/tf';
import { buildRunModel, EXPORTED_ONNX, loadLayersModelFromDir } from './export';
import { runModelDir } from '../training/checkpoint';

export interface PredictorInfo {
  classes: string[];
  preprocessing: Preprocessing & { threshold: OperatingPoint | null };
  /** What runs the model: "ONNX Runtime (CPU, 2 threads)", and why nothing faster does. */
  engine: ModelEngine;
}

export interface Predictor extends PredictorInfo {
  predict(files: string[]): Promise<PredictionOutcome[]>;
  dispose(): Promise<void>;
}

export type PredictionOutcome = { probabilities: number[]; error: null } | { probabilities: null; error: string };

/** A run folder with a model: model/ of a finished run, or the checkpoint an interrupted run kept. */
export async function isRunFolder(dir: string): Promise<boolean> {
  return (await runModelDir(dir)) !== null;
}

/**
 * Class probabilities for image files, following preprocessing.json exactly as an export user would.
 * An unreadable file gets its reason and never stops the others.
 */
export async function predictFiles(runner: BatchRunner, preprocessing: Preprocessing, files: readonly string[]): Promise<PredictionOutcome[]> {
  const outcomes: PredictionOutcome[] = [];
  for await (const batch of runImageFiles(runner, files, preprocessing)) {
    for (const result of batch) outcomes.push('output' in result ? { probabilities: Array.from(result.output), error: null } : { probabilities: null, error: result.error });
  }
  return outcomes;
}

/**
 * Loads a run folder (model/labelloop.json) or an export folder (preprocessing.json) in this thread.
 * The whole model (backbone, fine-tuned blocks, head) runs on ONNX Runtime where it can: a run's
 * model is converted once into the run's model folder, an export brings its model.onnx.
 */
export async function loadPredictor(source: string, options: { engine?: FrozenEngine } = {}): Promise<Predictor> {
  const engine = options.engine ?? 'auto';
  let classes: string[];
  let preprocessing: PredictorInfo['preprocessing'];
  let runner: FrozenModelRunner;
  let tfjsModel: TF.LayersModel | null;
  const modelDir = await runModelDir(source);
  if (modelDir) {
    const built = await buildRunModel(source);
    ({ classes, preprocessing } = built);
    runner = await frozenModelRunner(built.model, engine, path.join(modelDir, 'onnx')).catch((error: unknown) => {
      built.model.dispose();
      throw error;
    });
    tfjsModel = runner.engine === 'tfjs' ? built.model : null;
    if (!tfjsModel) built.model.dispose();
  } else {
    const text = await readFile(path.join(source, 'preprocessing.json'), 'utf8').catch(() => null);
    if (text === null) throw new UserError('no-model', `${source} is neither an export folder (preprocessing.json) nor a run folder (model/labelloop.json)`);
    const saved = JSON.parse(text) as PredictorInfo['preprocessing'];
    classes = JSON.parse(await readFile(path.join(source, 'labels.json'), 'utf8')) as string[];
    preprocessing = { ...savedPreprocessing(saved), threshold: saved.threshold ?? null };
    const loadTfjs = () => loadLayersModelFromDir(source, 'model.json');
    const onnxFile = path.join(source, EXPORTED_ONNX);
    const onnxBytes = await readFile(onnxFile).catch(() => null);
    if (onnxBytes) {
      const key = createHash('sha256').update(onnxBytes).digest('hex').slice(0, 32);
      const converted = { file: onnxFile, key, inputShape: [preprocessing.inputSize, preprocessing.inputSize, 3], outputShape: [classes.length] };
      ({ tfjsModel, ...runner } = await convertedModelRunner(converted, engine, loadTfjs));
    } else {
      // An export made before model.onnx existed: converted once into this user's cache.
      const model = await loadTfjs();
      runner = await frozenModelRunner(model, engine, path.join(userCacheDir(), 'labelloop', 'onnx')).catch((error: unknown) => {
        model.dispose();
        throw error;
      });
      tfjsModel = runner.engine === 'tfjs' ? model : null;
      if (!tfjsModel) model.dispose();
    }
  }
  return {
    classes,
    preprocessing,
    engine: { engine: runner.engine, label: runner.description, notUsed: runner.notUsed },
    predict: (files) => predictFiles(runner, preprocessing, files),
    dispose: async () => {
      // ONNX sessions stay open for the process (one per model); a worker's end frees them.
      tfjsModel?.dispose();
    },
  };
}

type WorkerReply =
  | { type: 'ready'; info: PredictorInfo }
  | { type: 'predicted'; id: number; outcomes: PredictionOutcome[] }
  | { type: 'failed'; id?: number; message: string };

/** The same predictor, in a worker thread running `workerFile` (out/main/worker.js). */
export function startPredictorWorker(source: string, workerFile: string): Promise<Predictor> {
  const worker = new Worker(workerFile, { workerData: { kind: 'predict', source } });
  const waiting = new Map<number, { resolve: (o: PredictionOutcome[]) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let stopped: Error | null = null;
  return new Promise((resolve, reject) => {
    const fail = (error: Error) => {
      stopped = error;
      reject(error);
      for (const call of waiting.values()) call.reject(error);
      waiting.clear();
    };
    worker.on('message', (reply: WorkerReply) => {
      if (reply.type === 'ready') {
        resolve({
          ...reply.info,
          predict: (files) =>
            new Promise((resolveCall, rejectCall) => {
              if (stopped) return rejectCall(stopped);
              const id = nextId++;
              waiting.set(id, { resolve: resolveCall, reject: rejectCall });
              worker.postMessage({ type: 'predict', id, files });
            }),
          dispose: async () => {
            stopped = new Error('The prediction session was closed');
            await worker.terminate();
          },
        });
      } else if (reply.type === 'predicted') {
        waiting.get(reply.id)?.resolve(reply.outcomes);
        waiting.delete(reply.id);
      } else if (reply.id !== undefined) {
        waiting.get(reply.id)?.reject(new Error(reply.message));
        waiting.delete(reply.id);
      } else {
        fail(new UserError('no-model', reply.message));
      }
    });
    worker.on('error', fail);
    worker.on('exit', (code) => {
      if (!stopped) fail(new Error(`The prediction worker stopped unexpectedly (exit code ${code})`));
    });
  });
}
