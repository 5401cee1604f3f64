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

runTrainingJob(workerData as TrainingJob, (event) => port.postMessage({ type: 'event', event }), () => cancelled).then(
  (report) => port.postMessage({ type: 'done', report }),
  (error: unknown) =>
    port.postMessage(
      error instanceof CancelledError
        ? { type: 'cancelled' }
        : { type: 'failed', message: error instanceof Error ? error.message : String(error), stack: error instanceof Error ? error.stack : undefined },
    ),
);
