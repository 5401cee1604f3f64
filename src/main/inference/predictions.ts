// Predicting new images in the window. A session loads one run's model (in a worker in the app);
// each dropped or uploaded image is written under .labelloop/predict/<session>/ so its thumbnail
// comes from the usual image route whatever the format, then predicted in batches with the run's
// saved operating point. One session at a time; its scratch folder goes when it closes.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { PredictionRow, PredictionSession } from '../../shared/contract';
import type { OperatingPoint } from '../../shared/report';
import { decideLabel } from '../../shared/predictions';
import { UserError } from '../common/errors';
import { DATA_DIR, fileVersion } from '../project/scan';
import { fitFileName } from '../project/fileNames';
import { uploadBaseName, uploadProblem } from '../project/uploads';
import { isRunFolder, loadPredictor, type PredictionOutcome, type Predictor, startPredictorWorker } from './predictor';
import { runModelDir } from '../training/checkpoint';

/** Images predicted in one go: large enough to keep the backend busy, small enough to stream results. */
const BATCH = 16;

interface Queued {
  file: string;
  resolve: (outcome: PredictionOutcome) => void;
}

interface OpenSession {
  info: PredictionSession;
  predictor: Predictor;
  dir: string;
  projectRoot: string;
  queue: Queued[];
  busy: boolean;
  count: number;
  /** The model stopped answering (its worker died): the next open loads it again. */
  broken: boolean;
}

export class PredictionService {
  private session: OpenSession | null = null;
  private opening: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: { workerFile?: string; loadPredictor?: (runDir: string) => Promise<Predictor> } = {}) {}

  /** Loads a run's model, closing the session of another run; the same run keeps its session. */
  open(projectRoot: string, runId: string, runDir: string): Promise<PredictionSession> {
    const opened = this.opening.then(() => this.openNow(projectRoot, runId, runDir));
    this.opening = opened.catch(() => undefined);
    return opened;
  }

  private async openNow(projectRoot: string, runId: string, runDir: string): Promise<PredictionSession> {
    const same = this.session;
    if (same && !same.broken && same.info.runId === runId && same.projectRoot === projectRoot) {
      // The same model stays loaded; only the operating point may have been saved again since.
      same.info.operatingPoint = await readOperatingPoint(runDir);
      return same.info;
    }
    await this.close();
    if (!(await isRunFolder(runDir))) throw new UserError('no-model', `Run ${runId} has no saved model: it was cancelled or failed before the end`);
    const scratch = path.join(projectRoot, DATA_DIR, 'predict');
    // Leftovers of a session that never closed (the app was killed) are of no use to anyone.
    await rm(scratch, { recursive: true, force: true });
    const sessionId = randomBytes(6).toString('hex');
    const dir = path.join(scratch, sessionId);
    await mkdir(dir, { recursive: true });
    const predictor = await this.loadPredictor(runDir).catch(async (error: unknown) => {
      await rm(dir, { recursive: true, force: true });
      throw error;
    });
    const info: PredictionSession = {
      sessionId,
      runId,
      classes: predictor.classes,
      operatingPoint: predictor.preprocessing.threshold,
      inputSize: predictor.preprocessing.inputSize,
      engine: predictor.engine,
    };
    this.session = { info, predictor, dir, projectRoot, queue: [], busy: false, count: 0, broken: false };
    return info;
  }

  private async loadPredictor(runDir: string): Promise<Predictor> {
    if (this.options.loadPredictor) return this.options.loadPredictor(runDir);
    if (this.options.workerFile) return startPredictorWorker(runDir, this.options.workerFile);
    const { selectBackend } = await import('../engine/backend');
    await selectBackend('auto');
    return loadPredictor(runDir);
  }

  current(): PredictionSession | null {
    return this.session?.info ?? null;
  }

  /** The open session with this id; refuses a closed or replaced one. */
  requireSession(sessionId: string): OpenSession {
    const session = this.session;
    if (!session || session.info.sessionId !== sessionId) {
      throw new UserError('no-session', 'This prediction session is closed: choose a model again');
    }
    return session;
  }

  /** Stores one image in the session and predicts it; bad files come back as rows with an error. */
  async predictFile(sessionId: string, fileName: string, data: Uint8Array): Promise<PredictionRow> {
    const session = this.requireSession(sessionId);
    const name = fileName.replace(/\\/g, '/');
    const base = uploadBaseName(name);
    const problem = uploadProblem(base, data.byteLength);
    if (problem) return { name, path: null, version: null, predicted: null, probabilities: null, error: problem };
    // A running number keeps same-named files from different folders apart.
    const stored = path.join(session.dir, fitFileName(`${String(++session.count).padStart(6, '0')}-${base.replace(/[^\w.-]+/g, '_')}`));
    await writeFile(stored, data, { flag: 'wx' });
    const relative = path.relative(session.projectRoot, stored).split(path.sep).join('/');
    const version = fileVersion(await stat(stored));
    const outcome = await new Promise<PredictionOutcome>((resolve) => {
      session.queue.push({ file: stored, resolve });
      this.pump(session);
    });
    return {
      name,
      path: relative,
      version,
      predicted: outcome.probabilities ? decideLabel(outcome.probabilities, session.info.classes, session.info.operatingPoint) : null,
      probabilities: outcome.probabilities,
      error: outcome.error,
    };
  }

  private pump(session: OpenSession): void {
    if (session.busy || session.queue.length === 0) return;
    session.busy = true;
    const batch = session.queue.splice(0, BATCH);
    session.predictor
      .predict(batch.map((q) => q.file))
      .then(
        (outcomes) => batch.forEach((q, i) => q.resolve(outcomes[i] ?? { probabilities: null, error: 'No prediction came back' })),
        (error: unknown) => {
          session.broken = true;
          const message = `${error instanceof Error ? error.message : String(error)}: choose the model again`;
          batch.forEach((q) => q.resolve({ probabilities: null, error: message }));
        },
      )
      .finally(() => {
        session.busy = false;
        if (this.session === session) this.pump(session);
      });
  }

  /** Stops the model and deletes the session's copies; queued images get an error row. */
  async close(sessionId?: string): Promise<boolean> {
    const session = this.session;
    if (!session || (sessionId !== undefined && session.info.sessionId !== sessionId)) return false;
    this.session = null;
    for (const queued of session.queue.splice(0)) queued.resolve({ probabilities: null, error: 'The prediction session was closed' });
    await session.predictor.dispose();
    await rm(session.dir, { recursive: true, force: true });
    return true;
  }
}

async function readOperatingPoint(runDir: string): Promise<OperatingPoint | null> {
  const modelDir = await runModelDir(runDir);
  if (!modelDir) return null;
  const info = JSON.parse(await readFile(path.join(modelDir, 'labelloop.json'), 'utf8')) as { operatingPoint?: OperatingPoint };
  return info.operatingPoint ?? null;
}
