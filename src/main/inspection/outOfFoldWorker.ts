// The label-error folds on the machine's other core. The worker starts with the run (loading
// TensorFlow.js while the backbone embeds), takes the features as soon as they exist, and computes
// beside the head's fit (one wasm thread) instead of after it. Without a worker file (tests,
// in-process runs) the folds run here, when awaited. This module stays light: TensorFlow.js is
// loaded only by whoever computes.
import { Worker } from 'node:worker_threads';
import type { BackendPreference } from '../engine/backend';
import { CancelledError } from '../common/errors';

export interface OutOfFoldJob {
  features: Float32Array;
  dim: number;
  labels: Int32Array;
  classCount: number;
  seed: number;
}

export interface OutOfFoldHelper {
  /** Hands the features over: the folds start now where there is a worker. */
  start(job: OutOfFoldJob): void;
  /** The probabilities of the started job, once computed; `onFold` reports progress while they are. */
  wait(isCancelled: () => boolean, onFold: (done: number, total: number) => void): Promise<Float32Array>;
  /** Ends the worker (the run is over, however it ended). */
  stop(): void;
}

export function prepareOutOfFold(backend: BackendPreference, workerFile?: string): OutOfFoldHelper {
  if (!workerFile) {
    let started: OutOfFoldJob | null = null;
    return {
      start: (job) => void (started = job),
      async wait(isCancelled, onFold) {
        if (!started) throw new Error('The label-error folds were not started');
        const { outOfFoldProbabilities } = await import('./labelErrors');
        return outOfFoldProbabilities(started.features, started.dim, started.labels, started.classCount, { seed: started.seed, isCancelled, onFold });
      },
      stop: () => undefined,
    };
  }
  const worker = new Worker(workerFile, { workerData: { kind: 'outOfFold', backend } });
  let onFold: (done: number, total: number) => void = () => undefined;
  const result = new Promise<Float32Array>((resolve, reject) => {
    worker.on('message', (message: { type: string; done?: number; total?: number; probabilities?: Float32Array; message?: string }) => {
      if (message.type === 'fold') onFold(message.done ?? 0, message.total ?? 0);
      else if (message.type === 'outOfFold' && message.probabilities) resolve(message.probabilities);
      else if (message.type === 'failed') reject(new Error(message.message ?? 'the label-error folds failed'));
    });
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`The label-error worker stopped (exit code ${code})`)));
  });
  // A run that stops before it needs the folds never awaits them: that rejection is no error.
  result.catch(() => undefined);
  return {
    // A copy of just these rows: a view's whole buffer would be cloned otherwise.
    start: (job) => worker.postMessage({ type: 'compute', ...job, features: new Float32Array(job.features) }),
    async wait(isCancelled, report) {
      onFold = report;
      // A cancel is heard while the folds compute elsewhere, as the in-process folds hear it between steps.
      let poll: NodeJS.Timeout | undefined;
      const cancelled = new Promise<never>((_, reject) => {
        poll = setInterval(() => {
          if (isCancelled()) reject(new CancelledError());
        }, 100);
      });
      try {
        return await Promise.race([result, cancelled]);
      } finally {
        clearInterval(poll);
      }
    },
    stop: () => void worker.terminate(),
  };
}
