// A loaded model that predicts image files: from a run folder (the window, `labelloop predict
// <runDir|runId>`) or an export folder. In the app it lives in a worker thread, so loading the
// backbone and running it never block the window's process.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { OperatingPoint } from '../../shared/report';
import { UserError } from '../common/errors';
import type { Preprocessing } from '../engine/preprocess';
import type { PredictionOutcome } from './export';
import { runModelDir } from '../training/checkpoint';

export interface PredictorInfo {
  classes: string[];
  preprocessing: Preprocessing & { threshold: OperatingPoint | null };
}

export interface Predictor extends PredictorInfo {
  predict(files: string[]): Promise<PredictionOutcome[]>;
  dispose(): Promise<void>;
}

/** A run folder with a model: model/ of a finished run, or the checkpoint an interrupted run kept. */
export async function isRunFolder(dir: string): Promise<boolean> {
  return (await runModelDir(dir)) !== null;
}

/** Loads a run folder (model/labelloop.json) or an export folder (preprocessing.json) in this thread. */
export async function loadPredictor(source: string): Promise<Predictor> {
  const { buildRunModel, loadLayersModelFromDir, predictFiles } = await import('./export');
  let loaded: PredictorInfo & { model: Awaited<ReturnType<typeof loadLayersModelFromDir>> };
  if (await isRunFolder(source)) {
    loaded = await buildRunModel(source);
  } else {
    const text = await readFile(path.join(source, 'preprocessing.json'), 'utf8').catch(() => null);
    if (text === null) throw new UserError('no-model', `${source} is neither an export folder (preprocessing.json) nor a run folder (model/labelloop.json)`);
    const preprocessing = JSON.parse(text) as PredictorInfo['preprocessing'];
    const classes = JSON.parse(await readFile(path.join(source, 'labels.json'), 'utf8')) as string[];
    loaded = { model: await loadLayersModelFromDir(source, 'model.json'), classes, preprocessing: { ...preprocessing, threshold: preprocessing.threshold ?? null } };
  }
  const { model, classes, preprocessing } = loaded;
  return {
    classes,
    preprocessing,
    predict: (files) => predictFiles(model, preprocessing, files),
    dispose: async () => {
      model.dispose();
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
