// The data check as a session of the app: one at a time, computed in a worker thread (each image
// is decoded and measured, and the pair search is quadratic in the worst case), progress and end
// sent as events with its id, a status snapshot for a reloaded window, cancel. The last finished
// report is kept in .labelloop/check.json, so the Check view shows it after a restart.
import { randomBytes } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { type CheckReport, CheckStatus } from '../../shared/contract';
import { CancelledError, UserError } from '../common/errors';
import type { EventBus } from '../common/events';
import type { ProjectSession } from '../project/project';
import { DATA_DIR } from '../project/scan';
import { type CheckInput, checkImages, checkInput, describeCheck } from './dataCheck';

export const CHECK_FILE = 'check.json';
/** Progress events at most this often: a check of 50,000 images would otherwise send 50,000. */
const PROGRESS_EVERY_MS = 200;

/** What the worker sends back while it checks. */
export type CheckWorkerMessage = { type: 'progress'; done: number; total: number } | { type: 'checked'; report: CheckReport } | { type: 'cancelled' } | { type: 'failed'; message: string };

interface ActiveCheck {
  status: CheckStatus;
  root: string;
  cancel(): void;
  done: Promise<CheckStatus>;
}

export class CheckService {
  private current: ActiveCheck | null = null;

  constructor(
    private readonly events: EventBus,
    private readonly options: { workerFile?: string } = {},
  ) {}

  /** Starts checking the project; refuses while a check runs. */
  async start(project: ProjectSession): Promise<string> {
    if (this.current?.status.state === 'running') throw new UserError('busy', 'A data check is already running: wait for it or cancel it');
    const checkId = `${new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)}-${randomBytes(2).toString('hex')}`;
    const status: CheckStatus = { checkId, state: 'running', progress: { done: 0, total: 0 }, startedAt: new Date().toISOString(), report: null, message: null };
    let finish!: (status: CheckStatus) => void;
    const check: ActiveCheck = { status, root: project.root, cancel: () => undefined, done: new Promise((resolve) => (finish = resolve)) };
    this.current = check;
    let lastProgress = 0;
    const onProgress = (done: number, total: number) => {
      status.progress = { done, total };
      const now = performance.now();
      if (done < total && now - lastProgress < PROGRESS_EVERY_MS) return;
      lastProgress = now;
      this.events.emit('check.progress', { checkId, done, total });
    };
    const end = async (outcome: { report: CheckReport } | { state: 'cancelled' | 'failed'; message: string }) => {
      if ('report' in outcome) {
        status.state = 'finished';
        status.report = outcome.report;
        await saveStatus(project, status);
      } else {
        status.state = outcome.state;
        status.message = outcome.message;
      }
      const message = 'report' in outcome ? (describeCheck(outcome.report)[0] as string) : outcome.message;
      this.events.emit('check.ended', { checkId, state: status.state as 'finished' | 'cancelled' | 'failed', message });
      finish(status);
    };
    let input: CheckInput;
    try {
      input = await checkInput(project);
    } catch (error) {
      await end({ state: 'failed', message: error instanceof Error ? error.message : String(error) });
      return checkId;
    }
    status.progress = { done: 0, total: input.items.length };
    const run = this.options.workerFile ? inWorker(this.options.workerFile, input, onProgress, check) : inProcess(input, onProgress, check);
    void run.then(end);
    return checkId;
  }

  /**
   * The check in progress for this project, else its last finished one (from check.json), else
   * null. A cancelled or failed check said so in its end event; its window goes on showing the last findings.
   */
  async status(project: ProjectSession): Promise<CheckStatus | null> {
    const current = this.current?.root === project.root ? this.current.status : null;
    if (current && (current.state === 'running' || current.state === 'finished')) return structuredClone(current);
    return readStatus(project);
  }

  cancel(checkId: string): boolean {
    if (this.current?.status.checkId !== checkId || this.current.status.state !== 'running') return false;
    this.current.cancel();
    return true;
  }

  /** Resolves with the check's final status (tests, the CLI). */
  async whenDone(checkId: string): Promise<CheckStatus> {
    if (this.current?.status.checkId !== checkId) throw new UserError('no-such-check', `No data check ${checkId}`);
    return this.current.done;
  }

  /** The project is closing: its running check stops, and its status is forgotten. */
  async closeProject(root: string): Promise<void> {
    const check = this.current;
    if (!check || check.root !== root) return;
    check.cancel();
    await check.done;
    if (this.current === check) this.current = null;
  }
}

type Outcome = { report: CheckReport } | { state: 'cancelled' | 'failed'; message: string };
const CANCELLED = { state: 'cancelled', message: 'The data check was cancelled; the last finished check (if any) is still on disk' } as const;

function inProcess(input: CheckInput, onProgress: (done: number, total: number) => void, check: ActiveCheck): Promise<Outcome> {
  let cancelled = false;
  check.cancel = () => void (cancelled = true);
  return checkImages(input, { onProgress, isCancelled: () => cancelled }).then(
    (report): Outcome => ({ report }),
    (error: unknown): Outcome => (error instanceof CancelledError ? CANCELLED : { state: 'failed', message: error instanceof Error ? error.message : String(error) }),
  );
}

function inWorker(workerFile: string, input: CheckInput, onProgress: (done: number, total: number) => void, check: ActiveCheck): Promise<Outcome> {
  return new Promise((resolve) => {
    const worker = new Worker(workerFile, { workerData: { kind: 'check', input } });
    let settled = false;
    const settle = (outcome: Outcome) => {
      if (settled) return;
      settled = true;
      void worker.terminate();
      resolve(outcome);
    };
    // A cancel ends the worker at once: a check keeps nothing half-done worth waiting for.
    check.cancel = () => settle(CANCELLED);
    worker.on('message', (message: CheckWorkerMessage) => {
      if (message.type === 'progress') onProgress(message.done, message.total);
      else if (message.type === 'checked') settle({ report: message.report });
      else if (message.type === 'cancelled') settle(CANCELLED);
      else settle({ state: 'failed', message: message.message });
    });
    worker.once('error', (error) => settle({ state: 'failed', message: error.message }));
    worker.once('exit', (code) => settle({ state: 'failed', message: `The data check's worker stopped unexpectedly (exit code ${code})` }));
  });
}

const statusFile = (project: ProjectSession) => path.join(project.root, DATA_DIR, CHECK_FILE);

/** The finished check, for the next start; a read-only project keeps it in memory only. */
async function saveStatus(project: ProjectSession, status: CheckStatus): Promise<void> {
  if (project.readOnly) return;
  const file = statusFile(project);
  const partial = `${file}.${process.pid}.tmp`;
  try {
    await writeFile(partial, JSON.stringify(status));
    await rename(partial, file);
  } catch (error) {
    console.warn(`[labelloop] the data check's report could not be saved: ${error instanceof Error ? error.message : String(error)}`);
  }
}

async function readStatus(project: ProjectSession): Promise<CheckStatus | null> {
  const text = await readFile(statusFile(project), 'utf8').catch(() => null);
  if (!text) return null;
  let data: unknown = null;
  try {
    data = JSON.parse(text);
  } catch {
    // A damaged report is as good as none: the next check writes a new one.
  }
  const parsed = CheckStatus.safeParse(data);
  return parsed.success && parsed.data.state === 'finished' && parsed.data.report ? parsed.data : null;
}
