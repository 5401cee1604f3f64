// The training worker thread: the whole run happens here, so the window's process never blocks.
// The same file also serves exports and prediction sessions (one bundle, one worker entry).
import { parentPort, workerData } from 'node:worker_threads';
import type { BackendPreference } from './engine/backend';
import type { CheckProgress, CheckReport } from '../shared/contract';
import { serveWork } from './common/work';
import type { CheckInput } from './inspection/dataCheck';
import type { MapInput, MapLayout, MapPhase } from './inspection/embeddingMap';
import type { OutOfFoldJob } from './inspection/outOfFoldWorker';
import type { TrainingJob } from './training/job';
import { runTrainingJob } from './training/job';
import { CancelledError } from './common/errors';

if (!parentPort) throw new Error('The compute worker must run as a worker thread');
const port = parentPort;
let cancelled = false;
port.on('message', (message) => {
  if (message === 'cancel') cancelled = true;
});

const request = workerData as TrainingJob | { kind: 'check'; input: CheckInput } | { kind: 'map'; input: MapInput } | { kind: 'outOfFold'; backend: BackendPreference } | { kind: 'export'; runDir: string; outDir: string } | { kind: 'explain'; source: string; files: string[]; className?: string; scale: 'shared' | 'per-image' } | { kind: 'predict'; source: string } | { kind: 'faces' };
if ('kind' in request && request.kind === 'check') {
  void import('./inspection/dataCheck').then(({ checkImages }) =>
    serveWork<CheckReport, CheckProgress>(port, (hooks) => checkImages(request.input, { onProgress: hooks.onProgress, isCancelled: hooks.isCancelled }), () => cancelled),
  );
} else if ('kind' in request && request.kind === 'map') {
  void Promise.all([import('./engine/backend'), import('./inspection/embeddingMap')]).then(([{ selectBackend }, { layoutMap }]) =>
    serveWork<MapLayout, { phase: MapPhase; done: number; total: number }>(
      port,
      async (hooks) => {
        await selectBackend('auto');
        return layoutMap(request.input, { onProgress: (phase, done, total) => hooks.onProgress({ phase, done, total }), isCancelled: hooks.isCancelled });
      },
      () => cancelled,
    ),
  );
} else if ('kind' in request && request.kind === 'faces') {
  void import('./inference/faces/faceWorker').then(({ serveFaceCrops }) => serveFaceCrops(port));
} else if ('kind' in request && request.kind === 'predict') {
  void servePredictions(request.source);
} else if ('kind' in request && request.kind === 'outOfFold') {
  // Ready (TensorFlow.js loaded) before the run's features exist; computes once they come.
  const ready = Promise.all([import('./engine/backend'), import('./inspection/labelErrors')]).then(async ([{ selectBackend }, labelErrors]) => {
    await selectBackend(request.backend);
    return labelErrors;
  });
  port.once('message', (job: { type: string } & OutOfFoldJob) => {
    void ready
      .then(async ({ outOfFoldProbabilities }) => {
        const probabilities = await outOfFoldProbabilities(job.features, job.dim, job.labels, job.classCount, { seed: job.seed, onFold: (done, total) => port.postMessage({ type: 'fold', done, total }) });
        port.postMessage({ type: 'outOfFold', probabilities }, [probabilities.buffer as ArrayBuffer]);
      })
      .catch((error: unknown) => port.postMessage({ type: 'failed', message: error instanceof Error ? error.message : String(error) }));
  });
} else if ('kind' in request && request.kind === 'explain') {
  void (async () => {
    try {
      const [{ selectBackend }, { explainFiles }] = await Promise.all([import('./engine/backend'), import('./inspection/heatmaps')]);
      await selectBackend('auto');
      port.postMessage({ type: 'explained', result: await explainFiles(request.source, request.files, { className: request.className, scale: request.scale }) });
    } catch (error) {
      port.postMessage({ type: 'failed', message: error instanceof Error ? error.message : String(error), code: (error as { code?: string }).code });
    }
  })();
} else if ('kind' in request && request.kind === 'export') {
  void (async () => {
    try {
      const [{ selectBackend }, { exportRun }] = await Promise.all([import('./engine/backend'), import('./inference/export')]);
      await selectBackend('auto');
      port.postMessage({ type: 'exported', result: await exportRun(request.runDir, request.outDir) });
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

/** Loads the model once, then answers { type: 'predict', id, files } until terminated. */
async function servePredictions(source: string): Promise<void> {
  try {
    const [{ selectBackend }, { loadPredictor }] = await Promise.all([import('./engine/backend'), import('./inference/predictor')]);
    await selectBackend('auto');
    const predictor = await loadPredictor(source);
    // Requests run one after another: the model is not re-entrant on one backend.
    let queue = Promise.resolve();
    port.on('message', (message: { type?: string; id?: number; files?: string[] }) => {
      if (message.type !== 'predict') return;
      queue = queue.then(() =>
        predictor.predict(message.files ?? []).then(
          (outcomes) => port.postMessage({ type: 'predicted', id: message.id, outcomes }),
          (error: unknown) => port.postMessage({ type: 'failed', id: message.id, message: error instanceof Error ? error.message : String(error) }),
        ),
      );
    });
    port.postMessage({ type: 'ready', info: { classes: predictor.classes, preprocessing: predictor.preprocessing, engine: predictor.engine } });
  } catch (error) {
    port.postMessage({ type: 'failed', message: error instanceof Error ? error.message : String(error) });
  }
}
