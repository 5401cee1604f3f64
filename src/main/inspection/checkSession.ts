// The data check as a session of the app: one at a time, computed in a worker thread (each image
// is decoded and measured), progress and end sent as events with its id, a status snapshot for a
// reloaded window, cancel. The last finished report is kept in .labelloop/check.json, so the Check
// view shows it after a restart.
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type CheckProgress, type CheckReport, CheckStatus } from '../../shared/contract';
import { sessionId, startWork, throttled, WorkSlot } from '../common/work';
import type { EventBus } from '../common/events';
import type { ProjectSession } from '../project/project';
import { DATA_DIR } from '../project/scan';
import { checkImages, checkInput, describeCheck } from './dataCheck';

export const CHECK_FILE = 'check.json';
const CANCELLED = 'The data check was cancelled; the last finished check (if any) is still on disk';

export class CheckService {
  private readonly slot = new WorkSlot<CheckStatus>((status) => status.checkId, 'A data check is already running: wait for it or cancel it');

  constructor(
    private readonly events: EventBus,
    private readonly options: { workerFile?: string } = {},
  ) {}

  /** Starts checking the project and returns at once with the check's id; refuses while a check runs. */
  start(project: ProjectSession): string {
    const checkId = sessionId();
    const status: CheckStatus = { checkId, state: 'running', progress: { phase: 'measuring', done: 0, total: 0 }, startedAt: new Date().toISOString(), report: null, message: null };
    const slot = this.slot.begin(project.root, status);
    const emitProgress = throttled((progress: CheckProgress) => this.events.emit('check.progress', { checkId, ...progress }));
    const run = async (): Promise<{ report: CheckReport } | { state: 'cancelled' | 'failed'; message: string }> => {
      // The content hashes of a large project opened for the first time take a while: a cancel meanwhile is heard after.
      const input = await checkInput(project);
      if (slot.cancelled()) return { state: 'cancelled', message: CANCELLED };
      status.progress = { phase: 'measuring', done: 0, total: input.items.length };
      const work = startWork<CheckReport, CheckProgress>({
        workerFile: this.options.workerFile,
        workerData: { kind: 'check', input },
        inProcess: (hooks) => checkImages(input, { onProgress: hooks.onProgress, isCancelled: hooks.isCancelled }),
        onProgress: (progress) => {
          status.progress = progress;
          emitProgress(progress);
        },
        cancelledMessage: CANCELLED,
      });
      slot.setCancel(work.cancel);
      const outcome = await work.outcome;
      return 'result' in outcome ? { report: outcome.result } : outcome;
    };
    void run()
      .catch((error: unknown) => ({ state: 'failed' as const, message: error instanceof Error ? error.message : String(error) }))
      .then(async (outcome) => {
        try {
          if ('report' in outcome) {
            status.state = 'finished';
            status.report = outcome.report;
            await saveStatus(project, status);
          } else {
            status.state = outcome.state;
            status.message = outcome.message;
          }
          this.events.emit('check.ended', { checkId, state: status.state as 'finished' | 'cancelled' | 'failed', message: 'report' in outcome ? (describeCheck(outcome.report)[0] as string) : outcome.message });
        } finally {
          slot.finish();
        }
      });
    return checkId;
  }

  /**
   * The check in progress for this project, else its last finished one (from check.json), else
   * null. A cancelled or failed check said so in its end event; its window goes on showing the last findings.
   */
  async status(project: ProjectSession): Promise<CheckStatus | null> {
    const current = this.slot.statusOf(project.root);
    if (current && (current.state === 'running' || current.state === 'finished')) return structuredClone(current);
    return readStatus(project);
  }

  cancel(checkId: string): boolean {
    return this.slot.cancel(checkId);
  }

  /** Resolves with the check's final status (tests, the CLI). */
  whenDone(checkId: string): Promise<CheckStatus> {
    return this.slot.whenDone(checkId);
  }

  /** The project is closing: its running check stops. */
  closeProject(root: string): Promise<void> {
    return this.slot.closeProject(root);
  }
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
