// The training worker thread: the whole run happens here, so the window's process never blocks.
import { parentPort, workerData } from 'node:worker_threads';
import type { TrainingJob } from './job';
import { runTrainingJob } from './job';
import { CancelledError } from './trainHead';

if (!parentPort) throw new Error('trainWorker must run as a worker thread');
const port = parentPort;
let cancelled = false;
port.on('message', (message) => {
  if (message === 'cancel') cancelled = true;
});

const request = workerData as TrainingJob | { kind: 'export'; runDir: string; outDir: string };
if ('kind' in request && request.kind === 'export') {
  void (async () => {
    try {
      const [{ selectBackend }, { exportRun }] = await Promise.all([import('./backend'), import('./export')]);
      await selectBackend('auto');
      port.postMessage({ type: 'exported', files: await exportRun(request.runDir, request.outDir) });
    } catch (error) {
      port.postMessage({ type: 'failed', message: error instanceof Error ? error.message : String(error) });
    }
  })();
} else {
  runTrainingJob(request as TrainingJob, (event) => port.postMessage({ type: 'event', event }), () => cancelled).then(
    (report) => port.postMessage({ type: 'done', report }),
    (error: unknown) =>
      port.postMessage(
        error instanceof CancelledError
          ? { type: 'cancelled' }
          : { type: 'failed', message: error instanceof Error ? error.message : String(error), stack: error instanceof Error ? error.stack : undefined },
      ),
  );
}
