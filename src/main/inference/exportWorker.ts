// Exports run off the main thread too: building the full model loads the backbone's weights.
import { Worker } from 'node:worker_threads';
import type { ExportResult } from './export';

export async function exportRunInWorker(runDir: string, outDir: string, workerFile?: string): Promise<ExportResult> {
  if (!workerFile) {
    const [{ selectBackend }, { exportRun }] = await Promise.all([import('../engine/backend'), import('./export')]);
    await selectBackend('auto');
    return exportRun(runDir, outDir);
  }
  return new Promise((resolve, reject) => {
    const worker = new Worker(workerFile, { workerData: { kind: 'export', runDir, outDir } });
    worker.once('message', (message: { type: string; result?: ExportResult; message?: string }) => {
      void worker.terminate();
      if (message.type === 'exported' && message.result) resolve(message.result);
      else reject(new Error(message.message ?? 'export failed'));
    });
    worker.once('error', reject);
  });
}
