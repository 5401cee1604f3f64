// Exports run off the main thread too: building the full model loads the backbone's weights.
import { Worker } from 'node:worker_threads';

export async function exportRunInWorker(runDir: string, outDir: string, workerFile?: string): Promise<string[]> {
  if (!workerFile) {
    const [{ selectBackend }, { exportRun }] = await Promise.all([import('../engine/backend'), import('./export')]);
    await selectBackend('auto');
    return exportRun(runDir, outDir);
  }
  return new Promise((resolve, reject) => {
    const worker = new Worker(workerFile, { workerData: { kind: 'export', runDir, outDir } });
    worker.once('message', (message: { type: string; files?: string[]; message?: string }) => {
      void worker.terminate();
      if (message.type === 'exported') resolve(message.files ?? []);
      else reject(new Error(message.message ?? 'export failed'));
    });
    worker.once('error', reject);
  });
}
