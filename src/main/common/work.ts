// Long work that is not training (the data check, the embedding map) runs in a worker thread, so the
// app's event loop stays free: the worker (worker.ts, by `kind`) posts progress and then its result.
// A cancel asks the worker to stop at its next step (so caches it writes are left whole) and ends it
// if it has not within a few seconds. Without a worker file (tests) the same work runs here.
import { randomBytes } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { CancelledError, UserError } from './errors';

export type WorkOutcome<R> = { result: R } | { state: 'cancelled' | 'failed'; message: string };

/** What a worker doing such work posts. */
export type WorkMessage<R, P> = { type: 'progress'; progress: P } | { type: 'done'; result: R } | { type: 'cancelled' } | { type: 'failed'; message: string };

export interface WorkHooks<P> {
  onProgress: (progress: P) => void;
  isCancelled: () => boolean;
}

export interface RunningWork<R> {
  outcome: Promise<WorkOutcome<R>>;
  cancel(): void;
}

const failure = (error: unknown) => ({ state: 'failed' as const, message: error instanceof Error ? error.message : String(error) });

export function startWork<R, P>(options: {
  workerFile?: string;
  /** What the worker gets as workerData: its `kind` says which work. */
  workerData: { kind: string; [field: string]: unknown };
  /** The same work in this thread, for runs without a worker file. */
  inProcess: (hooks: WorkHooks<P>) => Promise<R>;
  onProgress: (progress: P) => void;
  cancelledMessage: string;
}): RunningWork<R> {
  const cancelled = { state: 'cancelled' as const, message: options.cancelledMessage };
  if (!options.workerFile) {
    let stop = false;
    const outcome = options.inProcess({ onProgress: options.onProgress, isCancelled: () => stop }).then(
      (result): WorkOutcome<R> => ({ result }),
      (error: unknown): WorkOutcome<R> => (error instanceof CancelledError ? cancelled : failure(error)),
    );
    return { outcome, cancel: () => void (stop = true) };
  }
  const worker = new Worker(options.workerFile, { workerData: options.workerData });
  let settle!: (outcome: WorkOutcome<R>) => void;
  const outcome = new Promise<WorkOutcome<R>>((resolve) => {
    let settled = false;
    settle = (value) => {
      if (settled) return;
      settled = true;
      void worker.terminate();
      resolve(value);
    };
  });
  worker.on('message', (message: WorkMessage<R, P>) => {
    if (message.type === 'progress') options.onProgress(message.progress);
    else if (message.type === 'done') settle({ result: message.result });
    else if (message.type === 'cancelled') settle(cancelled);
    else settle({ state: 'failed', message: message.message });
  });
  worker.once('error', (error) => settle(failure(error)));
  worker.once('exit', (code) => settle({ state: 'failed', message: `The worker stopped unexpectedly (exit code ${code})` }));
  return {
    outcome,
    cancel: () => {
      worker.postMessage('cancel');
      setTimeout(() => settle(cancelled), CANCEL_GRACE_MS).unref();
    },
  };
}

/** How long a cancelled worker may take to reach its next step before it is ended. */
const CANCEL_GRACE_MS = 5_000;

/** The worker's side: runs the work and posts its progress and its end as `startWork` reads them. */
export function serveWork<R, P>(port: { postMessage(message: WorkMessage<R, P>): void }, work: (hooks: WorkHooks<P>) => Promise<R>, isCancelled: () => boolean): Promise<void> {
  return work({ onProgress: (progress) => port.postMessage({ type: 'progress', progress }), isCancelled }).then(
    (result) => port.postMessage({ type: 'done', result }),
    (error: unknown) => port.postMessage(error instanceof CancelledError ? { type: 'cancelled' } : { type: 'failed', message: failure(error).message }),
  );
}

/** A session id that sorts by start time: "20261206-083102-4fa1". */
export function sessionId(): string {
  return `${new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)}-${randomBytes(2).toString('hex')}`;
}

/** Progress events at most this often: 50,000 images would otherwise send 50,000. */
const PROGRESS_EVERY_MS = 200;

/** Calls `emit` for the first step, then at most every 200 ms, and always for the last (`done === total`). */
export function throttled<P extends { done: number; total: number }>(emit: (progress: P) => void): (progress: P) => void {
  let last = -Infinity;
  return (progress) => {
    const now = performance.now();
    if (progress.done < progress.total && now - last < PROGRESS_EVERY_MS) return;
    last = now;
    emit(progress);
  };
}

interface Slot<S> {
  status: S;
  root: string;
  cancel(): void;
  done: Promise<S>;
}

/**
 * One piece of a kind of long work at a time (one data check, one map): its status for a reloaded
 * window, cancel by id, its end awaited; a project that closes stops its work.
 */
export class WorkSlot<S extends { state: 'running' | 'finished' | 'cancelled' | 'failed' }> {
  private current: Slot<S> | null = null;

  constructor(
    private readonly idOf: (status: S) => string,
    private readonly busy: string,
  ) {}

  /**
   * Takes the slot for new work (refused while other work runs). The work's own cancel comes later
   * (after its input is gathered): a cancel before that is kept and run as soon as it comes, and
   * `cancelled` says so to the work in between. `finish` settles whenDone.
   */
  begin(root: string, status: S): { cancelled(): boolean; setCancel(cancel: () => void): void; finish(): void } {
    if (this.current?.status.state === 'running') throw new UserError('busy', this.busy);
    let finish!: (status: S) => void;
    let cancelRequested = false;
    let cancelWork: (() => void) | null = null;
    const slot: Slot<S> = {
      status,
      root,
      cancel: () => {
        cancelRequested = true;
        cancelWork?.();
      },
      done: new Promise((resolve) => (finish = resolve)),
    };
    this.current = slot;
    return {
      cancelled: () => cancelRequested,
      setCancel: (cancel) => {
        cancelWork = cancel;
        if (cancelRequested) cancel();
      },
      finish: () => finish(status),
    };
  }

  /** Whether work of this kind is running (for any project). */
  get running(): boolean {
    return this.current?.status.state === 'running';
  }

  /** The work of this project, if it is the last started. */
  statusOf(root: string): S | null {
    return this.current?.root === root ? this.current.status : null;
  }

  cancel(id: string): boolean {
    if (!this.current || this.idOf(this.current.status) !== id || this.current.status.state !== 'running') return false;
    this.current.cancel();
    return true;
  }

  async whenDone(id: string): Promise<S> {
    if (!this.current || this.idOf(this.current.status) !== id) throw new UserError('no-such-work', `No work ${id} in progress or just ended`);
    return this.current.done;
  }

  async closeProject(root: string): Promise<void> {
    const slot = this.current;
    if (!slot || slot.root !== root) return;
    slot.cancel();
    await slot.done;
    if (this.current === slot) this.current = null;
  }
}
