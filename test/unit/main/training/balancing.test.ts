// Oversampling touches the train split only: val keeps its images, train's minority is repeated.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TrainingConfig } from '../../../../src/shared/contract';
import { generateDemoProject } from '../../../../src/main/project/demo';
import { EventBus } from '../../../../src/main/common/events';
import { ProjectSession } from '../../../../src/main/project/project';
import { TrainingService } from '../../../../src/main/training/session';
import { tempDir } from '../../../helpers/fixtures';
import { rm } from 'node:fs/promises';
import path from 'node:path';

describe('balancing in a real run', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir());
    await generateDemoProject(dir, { perClass: 40, seed: 21, size: 64 });
    // Make NG the minority: 10 NG against 40 OK.
    for (let i = 11; i <= 40; i++) await rm(path.join(dir, 'NG', `ng_${String(i).padStart(4, '0')}.jpg`));
  });
  afterAll(() => cleanup());

  it('oversamples NG in train only; val and the reported counts are the real images', async () => {
    const events = new EventBus();
    const totals: number[] = [];
    events.subscribe((event, payload) => {
      const p = payload as { phase?: string; total?: number };
      if (event === 'training.progress' && p.phase === 'training') totals.push(p.total ?? 0);
    });
    const project = await ProjectSession.open(dir, events, { watchIntervalMs: 0, backgroundValidation: false });
    const service = new TrainingService(events);
    const preview = await service.previewSplits(project, { val: 0.2, test: 0, seed: 1, balancing: 'oversample' });
    expect(preview.counts).toEqual({ train: { NG: 8, OK: 32 }, val: { NG: 2, OK: 8 }, test: { NG: 0, OK: 0 } });
    expect(preview.balancedTrain).toEqual({ NG: 32, OK: 32 });
    const runId = await service.start(project, TrainingConfig.parse({ backend: 'wasm', inputSize: 96, headFit: 'epochs', epochs: 1, batchSize: 8, balancing: 'oversample', earlyStopping: null, seed: 1 }));
    const { report } = await service.whenDone(runId);
    expect(report?.counts).toEqual(preview.counts);
    // 32 OK + 32 NG (8 real, repeated) = 64 train rows: 8 batches of 8 in the one epoch.
    expect(totals.at(-1)).toBe(8);
    expect(report?.samples.filter((s) => s.split === 'val')).toHaveLength(10);
    await project.close();
  }, 120_000);

  it('with the converged default, oversampling and class weights both train, and a one-image class does not break cross-validation', async () => {
    const project = await ProjectSession.open(dir, new EventBus(), { watchIntervalMs: 0, backgroundValidation: false });
    const service = new TrainingService(new EventBus());
    try {
      for (const balancing of ['oversample', 'class-weights'] as const) {
        const { report } = await service.whenDone(await service.start(project, TrainingConfig.parse({ backend: 'wasm', inputSize: 96, balancing, seed: 1 })));
        // 50 images with a 10-image val split: a small project, so the whole recipe is cross-validated.
        expect(report?.accuracy, balancing).toMatchObject({ on: 'cv', images: 50, honest: true });
        expect(report?.head, balancing).toMatchObject({ fit: 'converged' });
      }
    } finally {
      await project.close();
    }
    // One NG image left: too few to fold, so the val split carries the accuracy instead.
    const { dir: lonely, cleanup: cleanLonely } = await tempDir();
    await generateDemoProject(lonely, { perClass: 12, seed: 22, size: 64 });
    for (let i = 2; i <= 12; i++) await rm(path.join(lonely, 'NG', `ng_${String(i).padStart(4, '0')}.jpg`));
    const small = await ProjectSession.open(lonely, new EventBus(), { watchIntervalMs: 0, backgroundValidation: false });
    try {
      const { status, report } = await service.whenDone(await service.start(small, TrainingConfig.parse({ backend: 'wasm', inputSize: 96, seed: 1 })));
      expect(status.state, status.ended?.message).toBe('finished');
      expect(report?.accuracy?.on).toBe('val');
    } finally {
      await small.close();
      await cleanLonely();
    }
  }, 120_000);
});
