// An interrupted run keeps the best model it had saved: training writes it to checkpoint/ as the
// monitored metric improves (whole or not at all), a killed run is listed with the epoch it kept,
// Predict and Export use it, Evaluate says there is no report, and a run that ends leaves none.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import { cp, mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LabelLoopApp } from '../../../../src/main/app';
import { selectBackend } from '../../../../src/main/engine/backend';
import { tf } from '../../../../src/main/engine/tf';
import { generateDemoProject } from '../../../../src/main/project/demo';
import { CheckpointWriter, keptCheckpoint, runModelDir } from '../../../../src/main/training/checkpoint';
import { buildHead } from '../../../../src/main/training/trainHead';
import { RunStore } from '../../../../src/main/training/runs';
import { loadLayersModelFromDir } from '../../../../src/main/inference/export';
import type { PredictionSession, RunSummary } from '../../../../src/shared/contract';
import { tempDir } from '../../../helpers/fixtures';

const MINUTE = 60_000;

/** A pid that existed a moment ago and no longer does. */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '0']).pid as number;
}

/** What a killed trainer leaves besides its checkpoint: a heartbeat of a dead process, no ended.json, no report. */
function markKilled(runDir: string, epochs: Record<string, number>[] = []): void {
  writeFileSync(path.join(runDir, 'progress.json'), JSON.stringify({ pid: deadPid(), seenAt: new Date(Date.now() - 10 * MINUTE).toISOString(), epochs }));
}

async function listRuns(app: LabelLoopApp): Promise<RunSummary[]> {
  const listed = await app.handle('runs.list', {});
  if (!listed.ok) throw new Error(listed.error.message);
  return (listed.result as { runs: RunSummary[] }).runs;
}

const DESCRIPTION = {
  classes: ['NG', 'OK'],
  backbone: { kind: 'mobilenet_v2' as const, cutLayer: 'global_average_pooling2d_1', id: 'test', featureSize: 8 },
  preprocessing: { inputSize: 96, scale: '0,1' as const, resize: 'stretch' as const, interpolation: 'bilinear' as const },
};

describe('the checkpoint writer', () => {
  let dir: string;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir());
    await selectBackend('wasm');
  });
  afterAll(async () => {
    await cleanup();
  });

  it('saves an improvement at once, one that comes too soon at the stage end, with the weights of that epoch', async () => {
    const runDir = path.join(dir, 'throttled');
    await mkdir(runDir);
    let now = 0;
    const writer = new CheckpointWriter(runDir, DESCRIPTION, { intervalMs: 3_000, now: () => now });
    const head = buildHead(8, 2, 0, 1);
    const onBest = writer.stage(0, null);
    await onBest(0, { val_loss: 0.9 }, 'val_loss', head);
    expect((await keptCheckpoint(runDir))?.kept).toEqual({ epoch: 0, stage: 1, monitor: 'val_loss', value: 0.9 });
    now = 1_000;
    head.setWeights(head.getWeights().map((w) => tf.onesLike(w)));
    await onBest(1, { val_loss: 0.5 }, 'val_loss', head);
    expect((await keptCheckpoint(runDir))?.kept.epoch).toBe(0);
    await writer.settle(head);
    const kept = await keptCheckpoint(runDir);
    expect(kept?.kept).toEqual({ epoch: 1, stage: 1, monitor: 'val_loss', value: 0.5 });
    const saved = await loadLayersModelFromDir(kept?.dir as string, 'classifier.json');
    expect(saved.getWeights().map((w) => Array.from(w.dataSync()).every((v) => v === 1))).toEqual([true, true]);
    saved.dispose();
    // Stage 2 counts its epochs after stage 1's and says where its classifier starts.
    now = 10_000;
    await writer.stage(3, { cutLayer: 'block_15_add', cutShape: [3, 3, 8] })(1, { val_loss: 0.4 }, 'val_loss', head);
    const info = JSON.parse(await readFile(path.join(runDir, 'checkpoint', 'labelloop.json'), 'utf8'));
    expect(info).toMatchObject({ classes: ['NG', 'OK'], preprocessing: DESCRIPTION.preprocessing, input: { layer: 'block_15_add', shape: [3, 3, 8] }, checkpoint: { epoch: 4, stage: 2 } });
    expect((await readdir(runDir)).sort()).toEqual(['checkpoint']);
    head.dispose();
  });

  it('never takes a half-written checkpoint for one, and keeps the last whole one', async () => {
    const runsDir = path.join(dir, 'runs');
    const runDir = path.join(runsDir, '20260101-120000-abcd');
    await mkdir(runDir, { recursive: true });
    await writeFile(path.join(runDir, 'config.json'), '{}');
    markKilled(runDir);
    const head = buildHead(8, 2, 0, 1);
    await new CheckpointWriter(runDir, DESCRIPTION).stage(0, null)(2, { val_loss: 0.3 }, 'val_loss', head);
    // A kill while the next one was written: a complete-looking epoch 5 still in checkpoint.partial/.
    await cp(path.join(runDir, 'checkpoint'), path.join(runDir, 'checkpoint.partial'), { recursive: true });
    const partialInfo = path.join(runDir, 'checkpoint.partial', 'labelloop.json');
    const info = JSON.parse(await readFile(partialInfo, 'utf8'));
    await writeFile(partialInfo, JSON.stringify({ ...info, checkpoint: { ...info.checkpoint, epoch: 5 } }));
    expect((await new RunStore(runsDir).list(null))[0]).toMatchObject({ state: 'interrupted', keptModel: { epoch: 2, monitor: 'val_loss', value: 0.3 } });

    // A kill between the two renames: the previous checkpoint is still whole and is used.
    await rename(path.join(runDir, 'checkpoint'), path.join(runDir, 'checkpoint.previous'));
    expect(await runModelDir(runDir)).toBe(path.join(runDir, 'checkpoint.previous'));
    expect((await new RunStore(runsDir).list(null))[0]?.keptModel).toMatchObject({ epoch: 2 });

    // Only the partial one: no model at all.
    rmSync(path.join(runDir, 'checkpoint.previous'), { recursive: true });
    expect(await runModelDir(runDir)).toBeNull();
    expect((await new RunStore(runsDir).list(null))[0]).toMatchObject({ state: 'interrupted', keptModel: null });
    head.dispose();
  });

  it('is dropped from a run killed after its model and report were saved, which counts as finished', async () => {
    const runsDir = path.join(dir, 'saved-runs');
    const runDir = path.join(runsDir, '20260101-120000-abcd');
    await mkdir(runDir, { recursive: true });
    await writeFile(path.join(runDir, 'config.json'), '{}');
    await writeFile(path.join(runDir, 'report.json'), JSON.stringify({ valAccuracy: 0.9, stopReason: null, epochs: [{ loss: 0.4 }] }));
    markKilled(runDir);
    const head = buildHead(8, 2, 0, 1);
    await new CheckpointWriter(runDir, DESCRIPTION).stage(0, null)(0, { val_loss: 0.3 }, 'val_loss', head);
    head.dispose();
    expect((await new RunStore(runsDir).list(null))[0]).toMatchObject({ state: 'finished', keptModel: null });
    expect(existsSync(path.join(runDir, 'checkpoint'))).toBe(false);
  });
});

describe('training a small demo project', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let app: LabelLoopApp;
  let project: string;

  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir());
    project = path.join(dir, 'project');
    await generateDemoProject(project, { perClass: 30, size: 96 });
    app = new LabelLoopApp({ host: 'web', version: 'test', configDir: path.join(dir, 'config'), projectOptions: { watchIntervalMs: 0, backgroundValidation: false } });
    const opened = await app.handle('project.open', { path: project });
    if (!opened.ok) throw new Error(opened.error.message);
  });
  afterAll(async () => {
    await app.dispose();
    await cleanup();
  });

  it('keeps a checkpoint while it trains, which a killed copy of the run lists, predicts with and exports; the finished run has none left', async () => {
    const runsDir = path.join(project, '.labelloop', 'runs');
    const killedId = '20200101-000000-dead';
    const checkpointSeen: boolean[] = [];
    // In-process training emits each epoch right after its checkpoint is written: copying the run
    // folder then is what a kill at that moment would leave behind.
    const unsubscribe = app.events.subscribe((event, payload) => {
      if (event !== 'training.epoch') return;
      const { runId, epoch } = payload as { runId: string; epoch: number };
      const runDir = path.join(runsDir, runId);
      checkpointSeen.push(existsSync(path.join(runDir, 'checkpoint', 'labelloop.json')));
      if (epoch === 0) {
        cpSync(runDir, path.join(runsDir, killedId), { recursive: true });
        markKilled(path.join(runsDir, killedId));
      }
    });
    const started = await app.handle('training.start', { config: { backend: 'wasm', inputSize: 96, headFit: 'epochs', epochs: 3, earlyStopping: null, learningRate: 0.003 } });
    if (!started.ok) throw new Error(started.error.message);
    const { runId } = started.result as { runId: string };
    const { status } = await app.training.whenDone(runId);
    unsubscribe();
    expect(status.state).toBe('finished');
    expect(checkpointSeen).toEqual([true, true, true]);
    // The finished run keeps model/ only.
    expect((await readdir(path.join(runsDir, runId))).filter((name) => name.startsWith('checkpoint'))).toEqual([]);
    expect(existsSync(path.join(runsDir, runId, 'model', 'labelloop.json'))).toBe(true);

    const killed = (await listRuns(app)).find((r) => r.runId === killedId);
    expect(killed).toMatchObject({ state: 'interrupted', hasReport: false, keptModel: { epoch: 0, stage: 1, monitor: 'val_loss' } });
    const ended = JSON.parse(await readFile(path.join(runsDir, killedId, 'ended.json'), 'utf8'));
    expect(ended.message).toMatch(/It kept the model of epoch 1 \(val_loss \d\.\d+\);/);
    expect(await app.handle('runs.report', { runId: killedId })).toMatchObject({ ok: false, error: { code: 'no-report', message: expect.stringMatching(/interrupted.*nothing to evaluate.*epoch 1/) } });

    const opened = await app.handle('predict.open', { runId: killedId });
    expect(opened).toMatchObject({ ok: true, result: { runId: killedId, classes: ['NG', 'OK'], inputSize: 96, operatingPoint: null } });
    const session = (opened as { result: PredictionSession }).result;
    const image = await readFile(path.join(project, 'OK', (await readdir(path.join(project, 'OK')))[0] as string));
    const row = await app.predictFile(session.sessionId, 'face.png', image);
    expect(row.error).toBeNull();
    expect(row.probabilities?.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);

    const exported = await app.handle('runs.export', { runId: killedId });
    expect(exported).toMatchObject({ ok: true, result: { files: expect.arrayContaining(['model.json', 'weights.bin', 'labels.json', 'preprocessing.json']) } });
  }, 120_000);

  it('keeps the fine-tuned classifier of stage 2, which starts at the cut, and predicts with it', async () => {
    const runsDir = path.join(project, '.labelloop', 'runs');
    const killedId = '20200101-000000-beef';
    let copied = false;
    // Once evaluation starts, stage 2 has settled its best epoch: a kill now keeps that one.
    const unsubscribe = app.events.subscribe((event, payload) => {
      const progress = payload as { runId: string; phase?: string };
      if (event !== 'training.progress' || progress.phase !== 'evaluating' || copied) return;
      copied = true;
      cpSync(path.join(runsDir, progress.runId), path.join(runsDir, killedId), { recursive: true });
      markKilled(path.join(runsDir, killedId));
    });
    const started = await app.handle('training.start', { config: { backend: 'wasm', inputSize: 96, epochs: 2, earlyStopping: null, fineTuneBlocks: 1, fineTuneEpochs: 2, backbone: { kind: 'mobilenet_v2' } } });
    if (!started.ok) throw new Error(started.error.message);
    const { status, report } = await app.training.whenDone((started.result as { runId: string }).runId);
    unsubscribe();
    expect(status.state).toBe('finished');

    const killed = (await listRuns(app)).find((r) => r.runId === killedId);
    expect(killed).toMatchObject({ state: 'interrupted', keptModel: { epoch: report?.bestEpoch, stage: 2 } });
    const info = JSON.parse(await readFile(path.join(runsDir, killedId, 'checkpoint', 'labelloop.json'), 'utf8'));
    expect(info.input).toEqual({ layer: 'block_16_project_BN', shape: [3, 3, 320] });
    const opened = await app.handle('predict.open', { runId: killedId });
    if (!opened.ok) throw new Error(opened.error.message);
    const image = await readFile(path.join(project, 'NG', (await readdir(path.join(project, 'NG')))[0] as string));
    const row = await app.predictFile((opened.result as PredictionSession).sessionId, 'face.png', image);
    expect(row.error).toBeNull();
    expect(row.probabilities?.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
  }, 120_000);
});
