// Heatmaps run off the main thread: building the model loads the backbone's weights, and the maps
// take a pass each. This module stays light (no TensorFlow.js) so the app can import it.
import { Worker } from 'node:worker_threads';
import { UserError } from '../common/errors';
import type { ExplainResult } from './heatmaps';

/** The ask being computed: a newer one stops it (the window has moved on to another image or class). */
let running: { worker: Worker; superseded: () => void } | null = null;

/**
 * explainFiles in a worker thread (the app's), or here when there is no worker file (tests, the
 * CLI). Null when a newer ask stopped this one before it finished.
 */
export async function explainInWorker(source: string, files: string[], options: { className?: string; scale: 'shared' | 'per-image' }, workerFile?: string): Promise<ExplainResult | null> {
  if (!workerFile) {
    const [{ selectBackend }, { explainFiles }] = await Promise.all([import('../engine/backend'), import('./heatmaps')]);
    await selectBackend('auto');
    return explainFiles(source, files, options);
  }
  running?.superseded();
  return new Promise((resolve, reject) => {
    const worker = new Worker(workerFile, { workerData: { kind: 'explain', source, files, ...options } });
    const mine = {
      worker,
      superseded: () => {
        void worker.terminate();
        resolve(null);
      },
    };
    running = mine;
    const done = () => {
      if (running === mine) running = null;
      void worker.terminate();
    };
    worker.once('message', (message: { type: string; result?: ExplainResult; message?: string; code?: string }) => {
      done();
      if (message.type === 'explained' && message.result) resolve(message.result);
      else reject(message.code ? new UserError(message.code, message.message ?? 'explain failed') : new Error(message.message ?? 'explain failed'));
    });
    worker.once('error', (error) => {
      done();
      reject(error);
    });
  });
}
