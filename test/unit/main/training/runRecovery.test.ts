// A run whose process was killed mid-training is listed as interrupted (when it was last seen
// alive), once and for good; a run still trained by a live process stays running.
import { spawnSync } from 'node:child_process';
import { mkdir, readFile, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LabelLoopApp } from '../../../../src/main/app';
import { RunStore, writeRunProgress } from '../../../../src/main/training/runs';
import { makeProject, tempDir } from '../../../helpers/fixtures';

const MINUTE = 60_000;

/** A pid that existed a moment ago and no longer does. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '0']);
  return child.pid as number;
}

/** What a killed training process leaves: config.json and progress.json, no ended.json, no report. */
async function killedRun(runsDir: string, runId: string, options: { pid: number; seenAt: Date; epochs?: Record<string, number>[] }) {
  const dir = path.join(runsDir, runId);
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'config.json'), JSON.stringify({ epochs: 20, classes: ['NG', 'OK'] }));
  await writeFile(path.join(dir, 'progress.json'), JSON.stringify({ pid: options.pid, seenAt: options.seenAt.toISOString(), epochs: options.epochs ?? [] }));
  return dir;
}

describe('runs whose process died', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let runsDir: string;

  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir());
    runsDir = path.join(dir, 'project', '.labelloop', 'runs');
  });
  afterEach(async () => {
    await cleanup();
  });

  it('are listed as interrupted with when they were last seen, and that is saved', async () => {
    const seenAt = new Date(Date.now() - 10 * MINUTE);
    const runDir = await killedRun(runsDir, '20260101-120000-abcd', { pid: deadPid(), seenAt, epochs: [{ loss: 0.9 }, { loss: 0.5 }] });
    const [run] = await new RunStore(runsDir).list(null);
    expect(run).toMatchObject({ runId: '20260101-120000-abcd', state: 'interrupted', interruptedAt: seenAt.toISOString(), hasReport: false });
    expect(run?.epochs).toEqual([{ loss: 0.9 }, { loss: 0.5 }]);
    const ended = JSON.parse(await readFile(path.join(runDir, 'ended.json'), 'utf8'));
    expect(ended).toMatchObject({ reason: 'interrupted', interruptedAt: seenAt.toISOString(), message: expect.stringMatching(/Interrupted/) });
    // Listing again reads what was saved, even once the heartbeat file is gone.
    await writeFile(path.join(runDir, 'progress.json'), '');
    expect((await new RunStore(runsDir).list(null))[0]).toMatchObject({ state: 'interrupted', interruptedAt: seenAt.toISOString() });
  });

  it('count as interrupted when their process is gone, even with a fresh heartbeat', async () => {
    await killedRun(runsDir, '20260101-120000-abcd', { pid: deadPid(), seenAt: new Date() });
    expect((await new RunStore(runsDir).list(null))[0]?.state).toBe('interrupted');
  });

  it('stay running while a live process trains them, or this process does', async () => {
    await killedRun(runsDir, '20260101-120000-aaaa', { pid: process.pid, seenAt: new Date() });
    const stale = await killedRun(runsDir, '20260101-120000-bbbb', { pid: process.pid, seenAt: new Date(Date.now() - 10 * MINUTE) });
    const runs = await new RunStore(runsDir).list('20260101-120000-bbbb');
    expect(runs.map((r) => [r.runId, r.state, r.interruptedAt])).toEqual([
      ['20260101-120000-bbbb', 'running', null],
      ['20260101-120000-aaaa', 'running', null],
    ]);
    await expect(readFile(path.join(stale, 'ended.json'))).rejects.toThrow();
  });

  it('without a heartbeat (older runs) are dated by their config.json', async () => {
    const runDir = path.join(runsDir, '20250101-120000-abcd');
    await mkdir(runDir, { recursive: true });
    await writeFile(path.join(runDir, 'config.json'), '{}');
    const then = new Date('2025-01-01T12:05:00Z');
    await utimes(path.join(runDir, 'config.json'), then, then);
    expect((await new RunStore(runsDir).list(null))[0]).toMatchObject({ state: 'interrupted', interruptedAt: then.toISOString() });
  });

  it('killed after saving the model and report count as finished, and keep their model', async () => {
    const runDir = await killedRun(runsDir, '20260101-120000-abcd', { pid: deadPid(), seenAt: new Date(Date.now() - 10 * MINUTE) });
    await writeFile(path.join(runDir, 'report.json'), JSON.stringify({ valAccuracy: 0.9, stopReason: null, epochs: [{ loss: 0.4 }] }));
    const [run] = await new RunStore(runsDir).list(null);
    expect(run).toMatchObject({ state: 'finished', valAccuracy: 0.9, hasReport: true, interruptedAt: null, epochs: [{ loss: 0.4 }] });
  });

  it('are listed, refused a report and deleted through the app without breaking anything', async () => {
    await makeProject(path.join(dir, 'project'));
    const app = new LabelLoopApp({ host: 'web', version: 'test', configDir: path.join(dir, 'config'), projectOptions: { watchIntervalMs: 0, backgroundValidation: false } });
    try {
      await app.handle('project.open', { path: path.join(dir, 'project') });
      await killedRun(runsDir, '20260101-120000-abcd', { pid: deadPid(), seenAt: new Date(Date.now() - MINUTE) });
      expect(await app.handle('runs.list', {})).toMatchObject({ ok: true, result: { runs: [{ runId: '20260101-120000-abcd', state: 'interrupted' }] } });
      expect(await app.handle('runs.report', { runId: '20260101-120000-abcd' })).toMatchObject({ ok: false, error: { code: 'no-report' } });
      expect(await app.handle('runs.delete', { runId: '20260101-120000-abcd' })).toEqual({ ok: true, result: { deleted: true } });
      expect(await app.handle('runs.list', {})).toEqual({ ok: true, result: { runs: [] } });
    } finally {
      await app.dispose();
    }
  });

  it('the training process writes the heartbeat that keeps its run alive', async () => {
    const runDir = path.join(runsDir, '20260101-120000-abcd');
    await mkdir(runDir, { recursive: true });
    await writeRunProgress(runDir, [{ loss: 1 }]);
    const progress = JSON.parse(await readFile(path.join(runDir, 'progress.json'), 'utf8'));
    expect(progress).toMatchObject({ pid: process.pid, epochs: [{ loss: 1 }] });
    expect(Date.now() - Date.parse(progress.seenAt)).toBeLessThan(MINUTE);
    expect((await new RunStore(runsDir).list(null))[0]?.state).toBe('running');
  });
});
