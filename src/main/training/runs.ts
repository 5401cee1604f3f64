// Runs kept under .labelloop/runs/<id>/: config.json, progress.json (while it trains), report.json,
// ended.json and model/ (checkpoint/ while it trains). A run without ended.json whose trainer stopped
// giving signs of life was interrupted (its process was killed or crashed): listing the runs says so,
// once and for good, and what its checkpoint kept.
import { readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { RunSummary } from '../../shared/contract';
import { AutoCandidate, backboneOfChoice, TrainingConfig } from '../../shared/contract';
import { describeKeptModel } from '../../shared/keptModel';
import type { OperatingPoint, TrainingReport } from '../../shared/report';
import { UserError } from '../common/errors';
import { keptCheckpoint, removeCheckpoint } from './checkpoint';

export const RUN_ID = /^[0-9]{8}-[0-9]{6}-[0-9a-f]{4}$/;

/** How often a training process rewrites progress.json, and how long a silent one is still believed alive. */
export const HEARTBEAT_MS = 5_000;
const SILENT_FOR_DEAD_MS = 30_000;

/** What progress.json holds: who trains the run, when it was last seen alive, the epochs so far. */
interface RunProgress {
  pid: number;
  seenAt: string;
  epochs: Record<string, number>[];
}

/** Written by the process that trains the run; atomic, so a reader never sees half a file. */
export async function writeRunProgress(runDir: string, epochs: Record<string, number>[]): Promise<void> {
  const progress: RunProgress = { pid: process.pid, seenAt: new Date().toISOString(), epochs };
  await writeJson(path.join(runDir, 'progress.json'), progress);
}

export class RunStore {
  constructor(private readonly runsDir: string) {}

  /** The folder of a run, after checking the id is ours (never a path from the window). */
  runDir(runId: string): string {
    return this.dir(runId);
  }

  private dir(runId: string): string {
    // Run ids come from the window: only our own id format, never a path.
    if (!RUN_ID.test(runId)) throw new UserError('no-such-run', `"${runId}" is not a run id`);
    return path.join(this.runsDir, runId);
  }

  /** Every run, newest first; `liveRunId` is the run this process is training (never interrupted). */
  async list(liveRunId: string | null): Promise<RunSummary[]> {
    const names = await readdir(this.runsDir).catch(() => [] as string[]);
    const runs = await Promise.all(names.filter((n) => RUN_ID.test(n)).map((runId) => this.summary(runId, liveRunId)));
    return runs.sort((a, b) => (a.runId < b.runId ? 1 : -1));
  }

  async report(runId: string): Promise<TrainingReport> {
    const text = await readFile(path.join(this.dir(runId), 'report.json'), 'utf8').catch(() => null);
    if (!text) {
      const ended = await readJson(path.join(this.dir(runId), 'ended.json')).catch(() => ({}) as Record<string, unknown>);
      const kept = ended.reason === 'interrupted' ? await keptCheckpoint(this.dir(runId)) : null;
      if (kept) throw new UserError('no-report', `Run ${runId} was interrupted before its report was made: there is nothing to evaluate. It ${describeKeptModel(kept.kept)}, which Predict and Export model use`);
      throw new UserError('no-report', `Run ${runId} has no report (it was cancelled, failed or is still running)`);
    }
    return JSON.parse(text) as TrainingReport;
  }

  /** The configuration a run was started with, validated again as if it came from the window. */
  async config(runId: string): Promise<TrainingConfig> {
    // config.json also records the classes of the run; the config proper is everything else.
    const config = await readJson(path.join(this.dir(runId), 'config.json'));
    delete config.classes;
    const parsed = TrainingConfig.safeParse(config);
    if (!parsed.success) throw new UserError('bad-config', `Run ${runId} has no usable config.json`);
    return parsed.data;
  }

  /**
   * What Retrain runs: the run's config with its automatic choices repeated, not made again: the
   * backbone Auto chose, and whether the CNN branch went in (auto becomes on or off).
   */
  async retrainConfig(runId: string): Promise<TrainingConfig> {
    const config = await this.config(runId);
    if (config.backbone.kind !== 'auto' && config.cnnBranch !== 'auto') return config;
    const report = await readJson(path.join(this.dir(runId), 'report.json')).catch(() => null);
    const chosen = AutoCandidate.safeParse((report?.modelChoice as { chosen?: unknown } | undefined)?.chosen);
    // A run saved before the branch existed has none in its report: it is repeated without one.
    const finished = report?.backbone !== undefined;
    const branchUsed = finished ? ((report?.cnnBranch as { used?: unknown } | undefined)?.used ?? false) : undefined;
    return {
      ...config,
      ...(config.backbone.kind === 'auto' && chosen.success ? { backbone: backboneOfChoice(chosen.data) } : {}),
      ...(config.cnnBranch === 'auto' && typeof branchUsed === 'boolean' ? { cnnBranch: branchUsed ? 'on' : 'off' } : {}),
    };
  }

  async rename(runId: string, name: string): Promise<void> {
    const dir = this.dir(runId);
    const meta = await readJson(path.join(dir, 'meta.json'));
    await readdir(dir).catch(() => {
      throw new UserError('no-such-run', `No run ${runId}`);
    });
    await writeJson(path.join(dir, 'meta.json'), { ...meta, name });
  }

  async delete(runId: string, runningId: string | null): Promise<void> {
    if (runId === runningId) throw new UserError('busy', 'That run is still training: cancel it first');
    await rm(this.dir(runId), { recursive: true, force: true });
  }

  /** Saves where a two-class model says "positive", in the report and beside the model. */
  async setOperatingPoint(runId: string, point: OperatingPoint): Promise<void> {
    const report = await this.report(runId);
    if (report.classes.length !== 2 || !report.classes.includes(point.positiveClass)) {
      throw new UserError('bad-operating-point', 'An operating point needs a two-class run and one of its classes as positive');
    }
    await writeJson(path.join(this.dir(runId), 'report.json'), { ...report, operatingPoint: point });
    const modelInfo = path.join(this.dir(runId), 'model', 'labelloop.json');
    const info = JSON.parse(await readFile(modelInfo, 'utf8')) as Record<string, unknown>;
    await writeJson(modelInfo, { ...info, operatingPoint: point });
  }

  private async summary(runId: string, liveRunId: string | null): Promise<RunSummary> {
    const dir = path.join(this.runsDir, runId);
    const read = async (file: string) => {
      const text = await readFile(path.join(dir, file), 'utf8').catch(() => null);
      try {
        return text ? (JSON.parse(text) as Record<string, unknown>) : null;
      } catch {
        return null;
      }
    };
    const [storedEnd, report, meta, progress] = await Promise.all([read('ended.json'), read('report.json'), read('meta.json'), read('progress.json')]);
    const ended = storedEnd ?? (runId === liveRunId ? null : await this.endIfAbandoned(dir, runId, report, progress as Partial<RunProgress> | null));
    const epochs = Array.isArray(report?.epochs) ? report.epochs : Array.isArray(progress?.epochs) ? progress.epochs : [];
    const interrupted = ended?.reason === 'interrupted';
    return {
      runId,
      name: typeof meta?.name === 'string' ? meta.name : null,
      epochs: epochs as Record<string, number>[],
      state: (ended?.reason as RunSummary['state'] | undefined) ?? 'running',
      interruptedAt: interrupted && typeof ended.interruptedAt === 'string' ? ended.interruptedAt : null,
      keptModel: interrupted ? ((await keptCheckpoint(dir))?.kept ?? null) : null,
      valAccuracy: typeof report?.valAccuracy === 'number' ? report.valAccuracy : null,
      hasReport: report !== null,
    };
  }

  /**
   * A run nobody has ended: when its trainer is gone, records how it ended in ended.json. With a
   * report the model was saved whole before the process died, so the run counts as finished.
   */
  private async endIfAbandoned(dir: string, runId: string, report: Record<string, unknown> | null, progress: Partial<RunProgress> | null): Promise<Record<string, unknown> | null> {
    const seen = typeof progress?.seenAt === 'string' ? Date.parse(progress.seenAt) : NaN;
    const lastSeen = Number.isFinite(seen) ? seen : await modifiedAt(dir);
    const trainerAlive = Date.now() - lastSeen < SILENT_FOR_DEAD_MS && (typeof progress?.pid !== 'number' || processExists(progress.pid));
    if (trainerAlive) return null;
    const interruptedAt = new Date(lastSeen).toISOString();
    // Killed between saving its model and saying it ended: the checkpoint is of no more use.
    if (report) await removeCheckpoint(dir).catch(() => undefined);
    const kept = report ? null : await keptCheckpoint(dir);
    const ended = report
      ? {
          runId,
          reason: report.stopReason ? 'early-stopped' : 'finished',
          message: 'Finished; the app stopped before it could say so',
          details: null,
          valAccuracy: typeof report.valAccuracy === 'number' ? report.valAccuracy : null,
        }
      : {
          runId,
          reason: 'interrupted',
          message: kept
            ? `Interrupted: the app stopped while this run was training. It ${describeKeptModel(kept.kept)}; earlier runs and their models are untouched`
            : 'Interrupted: the app stopped while this run was training, before its first epoch ended, so it kept no model; earlier runs and their models are untouched',
          details: null,
          valAccuracy: null,
          interruptedAt,
        };
    await writeJson(path.join(dir, 'ended.json'), ended).catch(() => undefined);
    return ended;
  }
}

/** When a run folder last changed: config.json is written as the run starts. */
async function modifiedAt(dir: string): Promise<number> {
  const info = await stat(path.join(dir, 'config.json')).catch(() => stat(dir).catch(() => null));
  // A folder that vanished while being listed is nobody's business here: treat it as alive.
  return info?.mtimeMs ?? Date.now();
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, it is just not ours to signal.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readJson(file: string): Promise<Record<string, unknown>> {
  const text = await readFile(file, 'utf8').catch(() => null);
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

async function writeJson(file: string, value: unknown): Promise<void> {
  await writeFile(`${file}.tmp`, JSON.stringify(value, null, 2));
  await rename(`${file}.tmp`, file);
}
