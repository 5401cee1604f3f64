// Runs kept under .labelloop/runs/<id>/: config.json, report.json, ended.json and model/.
import { readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { RunSummary } from '../../shared/contract';
import { TrainingConfig } from '../../shared/contract';
import type { OperatingPoint, TrainingReport } from '../../shared/report';
import { UserError } from '../common/errors';

export const RUN_ID = /^[0-9]{8}-[0-9]{6}-[0-9a-f]{4}$/;

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

  async list(): Promise<RunSummary[]> {
    const names = await readdir(this.runsDir).catch(() => [] as string[]);
    const runs = await Promise.all(names.filter((n) => RUN_ID.test(n)).map((runId) => this.summary(runId)));
    return runs.sort((a, b) => (a.runId < b.runId ? 1 : -1));
  }

  async report(runId: string): Promise<TrainingReport> {
    const text = await readFile(path.join(this.dir(runId), 'report.json'), 'utf8').catch(() => null);
    if (!text) throw new UserError('no-report', `Run ${runId} has no report (it was cancelled, failed or is still running)`);
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

  private async summary(runId: string): Promise<RunSummary> {
    const read = async (file: string) => {
      const text = await readFile(path.join(this.runsDir, runId, file), 'utf8').catch(() => null);
      try {
        return text ? (JSON.parse(text) as Record<string, unknown>) : null;
      } catch {
        return null;
      }
    };
    const [ended, report, meta] = await Promise.all([read('ended.json'), read('report.json'), read('meta.json')]);
    return {
      runId,
      name: typeof meta?.name === 'string' ? meta.name : null,
      epochs: Array.isArray(report?.epochs) ? (report.epochs as Record<string, number>[]) : [],
      state: (ended?.reason as RunSummary['state'] | undefined) ?? 'running',
      valAccuracy: typeof report?.valAccuracy === 'number' ? report.valAccuracy : null,
      hasReport: report !== null,
    };
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
