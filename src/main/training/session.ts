// The main process owns training: one run at a time, started from the open project, computed
// in a worker thread, streamed to every window as events, resumable by status() after a reload.
import { mkdir, writeFile } from 'node:fs/promises';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import sharp from 'sharp';
import type { EngineInfo, FrozenEngine, SplitPreview, TrainingConfig, TrainingEnded, TrainingStatus } from '../../shared/contract';
import { CancelledError, UserError } from '../common/errors';
import type { EventBus } from '../common/events';
import type { ProjectSession } from '../project/project';
import { DATA_DIR } from '../project/scan';
import type { JobEvent, TrainingJob, TrainingReport } from './job';
import type { Split, SplitSettings } from './splits';
import { assignSplits, classWeights, readSplits, sampleByClass, writeSplits } from './splits';
import { type Augmentation, augmentBatch, drawAugmentation } from './augment';
import { type BackendPreference, engineInfo, selectBackend } from '../engine/backend';
import { probeFrozenEngine } from '../engine/onnx/frozenRunner';
import { NO_BACKBONE } from './smallCnn';
import { decodeForModel, DEFAULT_PREPROCESSING } from '../engine/preprocess';
import { tf, type TF } from '../engine/tf';
import { finishMessage } from './endMessage';
import { HEARTBEAT_MS, writeRunProgress } from './runs';
import { removeCheckpoint } from './checkpoint';

/** Thumbnails per class and split in the Data tab's strips: enough to spot a wrong image, cheap to send. */
const EXAMPLES_PER_CLASS = 4;

let backendReady: Promise<unknown> | null = null;
/** The preview runs a few tensor ops in this process; training itself runs in the worker. */
function ensureBackend(): Promise<unknown> {
  backendReady ??= selectBackend('auto');
  return backendReady;
}

let backendQueue: Promise<unknown> = Promise.resolve();
/** Picking a backend switches TensorFlow.js for the whole process: never while a preview computes. */
function withProcessBackend<T>(work: () => Promise<T>): Promise<T> {
  const run = backendQueue.then(work, work);
  backendQueue = run.catch(() => undefined);
  return run;
}

export interface TrainingServiceOptions {
  /** The built worker (out/main/worker.js); without it the run happens in-process (tests). */
  workerFile?: string;
}

interface ActiveRun {
  status: TrainingStatus;
  cancel(): void;
  done: Promise<TrainingStatus>;
  report: TrainingReport | null;
  /** Rewrites progress.json now (also done every HEARTBEAT_MS). */
  heartbeat(): void;
}

type WorkerMessage = { type: 'event'; event: JobEvent } | { type: 'done'; report: TrainingReport } | { type: 'cancelled' } | { type: 'failed'; message: string; stack?: string };

export class TrainingService {
  private current: ActiveRun | null = null;

  constructor(
    private readonly events: EventBus,
    private readonly options: TrainingServiceOptions = {},
  ) {}

  status(): TrainingStatus | null {
    return this.current ? structuredClone(this.current.status) : null;
  }

  /** Resolves with the final status of the run (for the CLI and tests). */
  async whenDone(runId: string): Promise<{ status: TrainingStatus; report: TrainingReport | null }> {
    const run = this.current;
    if (!run || run.status.runId !== runId) throw new UserError('no-such-run', `No run ${runId}`);
    const status = await run.done;
    return { status, report: run.report };
  }

  cancel(runId: string): boolean {
    if (!this.current || this.current.status.runId !== runId || this.current.status.state !== 'running') return false;
    this.current.cancel();
    return true;
  }

  /** Which engine a run with this preference would use, and why not a faster one (no model is loaded); `none`: no backbone runs. */
  engine(preference: BackendPreference, frozen: FrozenEngine | 'none' = 'auto'): Promise<EngineInfo> {
    return withProcessBackend(async () => {
      try {
        return engineInfo(await selectBackend(preference), frozen === 'none' ? NO_BACKBONE : await probeFrozenEngine(frozen));
      } catch (error) {
        throw new UserError('no-backend', error instanceof Error ? error.message : String(error));
      } finally {
        // Probing switched this process's backend: the next preview picks the best one again.
        backendReady = null;
      }
    });
  }

  async start(project: ProjectSession, config: TrainingConfig): Promise<string> {
    if (this.current?.status.state === 'running') throw new UserError('busy', 'A training run is already in progress: wait for it or cancel it');
    const job = await this.prepare(project, config);
    await mkdir(job.runDir, { recursive: true });
    // Before anything else: a run folder without a live trainer is listed as interrupted.
    await writeRunProgress(job.runDir, []);
    await writeFile(path.join(job.runDir, 'config.json'), JSON.stringify({ ...config, classes: job.classes }, null, 2));
    const counts: TrainingStatus['counts'] = { train: {}, val: {}, test: {} };
    for (const sample of job.samples) {
      const split = counts[sample.split] as Record<string, number>;
      const name = job.classes[sample.label] as string;
      split[name] = (split[name] ?? 0) + 1;
    }
    const status: TrainingStatus = {
      runId: job.runId,
      state: 'running',
      config,
      backend: null,
      engine: null,
      classes: job.classes,
      counts,
      epochs: [],
      progress: null,
      ended: null,
      startedAt: new Date().toISOString(),
      result: null,
    };
    this.launch(job, status);
    return job.runId;
  }

  /** A few images of the project, each with augmented copies, as PNG data URLs for the window. */
  previewAugmentation(project: ProjectSession, augmentation: Augmentation, inputSize: number): Promise<{ images: { path: string; label: string; original: string; variants: string[] }[] }> {
    return withProcessBackend(() => this.renderAugmentationPreview(project, augmentation, inputSize));
  }

  private async renderAugmentationPreview(project: ProjectSession, augmentation: Augmentation, inputSize: number) {
    await ensureBackend();
    const labeled = project.snapshot().items.flatMap((i) => (i.label !== null && i.status !== 'unreadable' ? [{ path: i.path, label: i.label }] : []));
    // Two images of each class (at most six in all), so the preview shows what every class will look like.
    const chosen = sampleByClass(labeled, 2, 6);
    const size = Math.min(inputSize, 160);
    const prep = { inputSize: size, ...DEFAULT_PREPROCESSING };
    const images = [];
    for (const item of chosen) {
      const pixels = await decodeForModel(path.join(project.root, item.path), prep);
      const copies = Math.max(1, Math.min(augmentation.copies || 4, 6));
      const batch = tf.tidy(() => tf.tile(tf.div(tf.tensor4d(pixels, [1, size, size, 3], 'float32'), 255), [copies, 1, 1, 1]) as TF.Tensor4D);
      const augmented = augmentBatch(batch, Array.from({ length: copies }, (_, k) => drawAugmentation(augmentation, `preview:${item.path}:${k}`)));
      const bytes = Uint8Array.from(await augmented.mul(255).data(), (v) => Math.round(v));
      tf.dispose([batch, augmented]);
      const frame = size * size * 3;
      const png = async (data: Uint8Array) => `data:image/png;base64,${(await sharp(data, { raw: { width: size, height: size, channels: 3 } }).png().toBuffer()).toString('base64')}`;
      const variants = [];
      for (let k = 0; k < copies; k++) variants.push(await png(bytes.subarray(k * frame, (k + 1) * frame)));
      images.push({ path: item.path, label: item.label, original: await png(pixels), variants });
    }
    return { images };
  }

  /** What the split and balancing settings would give, without training or saving anything. */
  async previewSplits(project: ProjectSession, settings: SplitSettings & { balancing: TrainingConfig['balancing'] }): Promise<SplitPreview> {
    const { classes, samples, excluded, excludedByList } = await this.labeledSamples(project, false);
    const splits = assignSplits(samples, await readSplits(path.join(project.root, DATA_DIR)), settings);
    const counts: SplitPreview['counts'] = { train: {}, val: {}, test: {} };
    for (const split of ['train', 'val', 'test'] as const) for (const c of classes) counts[split][c] = 0;
    for (const s of samples) (counts[splits.assignments[s.hash] ?? 'train'] as Record<string, number>)[s.label]! += 1;
    const trainCounts = classes.map((c) => counts.train[c] ?? 0);
    const largest = Math.max(0, ...trainCounts);
    const examplesOf = (split: Split) =>
      sampleByClass(
        samples.flatMap((s) => ((splits.assignments[s.hash] ?? 'train') === split ? [{ path: s.path, label: s.label }] : [])),
        EXAMPLES_PER_CLASS,
      );
    return {
      classes,
      counts,
      balancedTrain: Object.fromEntries(classes.map((c, i) => [c, settings.balancing === 'oversample' && (trainCounts[i] ?? 0) > 0 ? largest : (trainCounts[i] ?? 0)])),
      classWeights: settings.balancing === 'class-weights' ? Object.fromEntries(classes.map((c, i) => [c, classWeights(trainCounts)[i] as number])) : null,
      excluded,
      excludedByList,
      examples: { train: examplesOf('train'), val: examplesOf('val'), test: examplesOf('test') },
    };
  }

  /**
   * Labeled, readable images with their content hash, less the exclusion list's; refuses (when
   * training) datasets that cannot train.
   */
  private async labeledSamples(project: ProjectSession, strict: boolean) {
    const snapshot = await project.settledSnapshot();
    const labeled = snapshot.items.filter((i) => i.label !== null && i.status !== 'unreadable');
    const classes = snapshot.classes;
    const [hashes, excluded] = await Promise.all([project.contentHashes(labeled), project.excludedHashes()]);
    const readable = labeled.flatMap((i) => {
      const hash = hashes.get(i.path);
      return hash ? [{ path: i.path, label: i.label as string, hash }] : [];
    });
    const samples = readable.filter((s) => !excluded.has(s.hash));
    if (strict) {
      if (classes.length === 0) throw new UserError('no-classes', 'The project has no classes: make one subfolder per class (OK/, NG/, …)');
      if (classes.length === 1) throw new UserError('one-class', `Only one class ("${classes[0]}"): a classifier needs at least two`);
      const empty = classes.filter((c) => !samples.some((s) => s.label === c));
      if (empty.length > 0) {
        const onlyExcluded = empty.filter((c) => readable.some((s) => s.label === c));
        const why = onlyExcluded.length > 0 ? ` (${onlyExcluded.map((c) => `"${c}"`).join(', ')}: every image is on the exclusion list; the Check tab takes them back)` : '';
        throw new UserError('empty-class', `Class${empty.length > 1 ? 'es' : ''} ${empty.map((c) => `"${c}"`).join(', ')} ha${empty.length > 1 ? 've' : 's'} no readable images to train on${why}`);
      }
    }
    const unlabeled = snapshot.items.filter((i) => i.label === null && i.status !== 'unreadable').map((i) => i.path);
    return { classes, samples, unlabeled, excluded: snapshot.items.length - readable.length, excludedByList: readable.length - samples.length };
  }

  /** The run's samples with their split; the split assignment is saved for the next run. */
  private async prepare(project: ProjectSession, config: TrainingConfig): Promise<TrainingJob> {
    const { classes, samples, unlabeled } = await this.labeledSamples(project, true);
    const dataDir = path.join(project.root, DATA_DIR);
    const splits = assignSplits(samples, await readSplits(dataDir), { val: config.val, test: config.test, seed: config.seed });
    await writeSplits(dataDir, splits);
    const runId = `${new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)}-${randomBytes(2).toString('hex')}`;
    return {
      runId,
      projectRoot: project.root,
      runDir: path.join(dataDir, 'runs', runId),
      cacheDir: path.join(dataDir, 'cache', 'embeddings'),
      classes,
      samples: samples.map((s) => ({ path: s.path, hash: s.hash, label: classes.indexOf(s.label), split: splits.assignments[s.hash] ?? 'train' })),
      unlabeled,
      config,
    };
  }

  private launch(job: TrainingJob, status: TrainingStatus): void {
    const lag = monitorEventLoopDelay({ resolution: 20 });
    lag.enable();
    let finish!: (status: TrainingStatus) => void;
    const done = new Promise<TrainingStatus>((resolve) => (finish = resolve));
    const run: ActiveRun = { status, cancel: () => undefined, done, report: null, heartbeat: () => undefined };
    this.current = run;
    // progress.json says "still alive" to whoever lists the runs (this or another process);
    // one write at a time, so the file is never written by two writes at once.
    let beating = Promise.resolve();
    run.heartbeat = () => void (beating = beating.then(() => writeRunProgress(job.runDir, status.epochs)).catch(() => undefined));
    const heartbeat = setInterval(run.heartbeat, HEARTBEAT_MS);
    heartbeat.unref();

    const onMessage = (message: WorkerMessage) => {
      if (message.type === 'event') return this.onJobEvent(run, message.event);
      if (status.state !== 'running') return;
      clearInterval(heartbeat);
      lag.disable();
      let ended: TrainingEnded;
      if (message.type === 'done') {
        run.report = message.report;
        const { evaluatedOn, valAccuracy, confusion, perClass } = message.report;
        status.result = { evaluatedOn, valAccuracy, accuracy: message.report.accuracy ?? null, confusion, perClass, modelChoice: message.report.modelChoice ?? null, cnnBranch: message.report.cnnBranch ? { used: message.report.cnnBranch.used, reason: message.report.cnnBranch.reason } : null };
        const elapsedSeconds = (Date.now() - Date.parse(status.startedAt)) / 1000;
        ended = {
          runId: job.runId,
          reason: message.report.stopReason !== null ? 'early-stopped' : 'finished',
          ...finishMessage(message.report, job.config, { elapsedSeconds, eventLoopLagP99Ms: lag.percentile(99) / 1e6 }),
          valAccuracy: message.report.valAccuracy,
        };
      } else if (message.type === 'cancelled') {
        ended = { runId: job.runId, reason: 'cancelled', message: 'Cancelled; the project and earlier runs are untouched', details: null, valAccuracy: null };
      } else {
        if (message.stack) console.error(`[labelloop] training run ${job.runId} failed:`, message.stack);
        ended = { runId: job.runId, reason: 'failed', message: message.message, details: null, valAccuracy: null };
      }
      status.state = ended.reason;
      status.ended = ended;
      // ended.json before anyone hears of the end: a listing in between would call the run interrupted.
      // The checkpoint goes first: a run that ended keeps model/ (finished) or no model at all.
      void beating
        .then(() => removeCheckpoint(job.runDir).catch(() => undefined))
        .then(() => writeFile(path.join(job.runDir, 'ended.json'), JSON.stringify(ended, null, 2)))
        .catch(() => undefined)
        .then(() => {
          this.events.emit('training.ended', ended);
          release();
          finish(status);
        });
    };
    // The worker holds a wasm heap and threads: end it as soon as the run is over.
    let release = () => undefined as void;

    if (this.options.workerFile) {
      const worker = new Worker(this.options.workerFile, { workerData: { ...job, workerFile: this.options.workerFile } });
      run.cancel = () => worker.postMessage('cancel');
      release = () => void worker.terminate();
      worker.on('message', onMessage);
      worker.on('error', (error) => onMessage({ type: 'failed', message: error.message, stack: error.stack }));
      worker.on('exit', (code) => {
        if (status.state === 'running') onMessage({ type: 'failed', message: `The training worker stopped unexpectedly (exit code ${code})` });
      });
    } else {
      let cancelled = false;
      run.cancel = () => (cancelled = true);
      void import('./job').then(({ runTrainingJob }) =>
        runTrainingJob(job, (event) => onMessage({ type: 'event', event }), () => cancelled).then(
          (report) => onMessage({ type: 'done', report }),
          (error: unknown) =>
            onMessage(error instanceof CancelledError ? { type: 'cancelled' } : { type: 'failed', message: error instanceof Error ? error.message : String(error), stack: error instanceof Error ? error.stack : undefined }),
        ),
      );
    }
  }

  private onJobEvent(run: ActiveRun, event: JobEvent): void {
    const runId = run.status.runId;
    if (event.type === 'backend') {
      run.status.backend = event.summary;
      run.status.engine = event.engine;
    } else if (event.type === 'progress') {
      run.status.progress = { runId, ...event.progress };
      this.events.emit('training.progress', run.status.progress);
    } else {
      run.status.epochs.push(event.logs);
      run.heartbeat();
      this.events.emit('training.epoch', { runId, epoch: event.epoch, logs: event.logs });
    }
  }
}
