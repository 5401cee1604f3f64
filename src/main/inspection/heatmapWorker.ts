// Heatmaps run off the main thread: building the model loads the backbone's weights, and the maps
// take a pass each. This module stays light (no TensorFlow.js) so the app can import it.
import { Worker } from 'node:worker_threads';
import { UserError } from '../common/errors';
import type { ExplainResult } from './heatmaps';

/** explainFiles in a worker thread (the app's), or here when there is no worker file (tests, the CLI). */
export async function explainInWorker(source: string, files: string[], options: { className?: string; scale: 'shared' | 'per-image' }, workerFile?: string): Promise<ExplainResult> {
  if (!workerFile) {
    const [{ selectBackend }, { explainFiles }] = await Promise.all([import('../engine/backend'), import('./heatmaps')]);
    await selectBackend('auto');
    return explainFiles(source, files, options);
  }
  return new Promise((resolve, reject) => {
    const worker = new Worker(workerFile, { workerData: { kind: 'explain', source, files, ...options } });
    worker.once('message', (message: { type: string; result?: ExplainResult; message?: string; code?: string }) => {
      void worker.terminate();
      if (message.type === 'explained' && message.result) resolve(message.result);
      else reject(message.code ? new UserError(message.code, message.message ?? 'explain failed') : new Error(message.message ?? 'explain failed'));
    });
    worker.once('error', reject);
  });
}
