// NaN or Infinity never turns into a "Finished" run with null metrics: damaged cached features are
// embedded again (and the run says so), and a loss or metric that stops being finite fails the run.
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LabelLoopApp } from '../../../../src/main/app';
import { generateDemoProject } from '../../../../src/main/project/demo';
import { selectBackend } from '../../../../src/main/engine/backend';
import { EmbeddingCache } from '../../../../src/main/training/embeddingCache';
import type { FrozenModelRunner } from '../../../../src/main/engine/onnx/frozenRunner';
import type { JobSample } from '../../../../src/main/training/job';
import { embedSamples } from '../../../../src/main/training/embedding';
import { trainHead } from '../../../../src/main/training/trainHead';
import { TrainingConfig } from '../../../../src/shared/contract';
import { tempDir } from '../../../helpers/fixtures';

/** Overwrites every float of a cache file with `value`, keeping its size (what a bad disk or copy leaves). */
async function poison(file: string, value: number): Promise<void> {
  const size = (await readFile(file)).byteLength;
  await writeFile(file, Buffer.from(new Float32Array(size / 4).fill(value).buffer));
}

describe('non-finite features and metrics', () => {
  let dir: string;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir());
    await selectBackend('wasm');
  });
  afterAll(async () => {
    await cleanup();
  });

  it('drops cached rows that hold NaN or Infinity, and refuses to cache them', async () => {
    const cacheDir = path.join(dir, 'cache');
    const cache = await EmbeddingCache.open(cacheDir, 'k', 4);
    cache.set('a', Float32Array.from([1, 2, 3, 4]));
    cache.set('b', Float32Array.from([5, 6, 7, 8]));
    await cache.save();
    const floats = new Float32Array((await readFile(path.join(cacheDir, 'k.f32'))).buffer.slice(0));
    floats[5] = Infinity;
    await writeFile(path.join(cacheDir, 'k.f32'), Buffer.from(floats.buffer));
    const reopened = await EmbeddingCache.open(cacheDir, 'k', 4);
    expect(reopened.get('a')).toEqual(Float32Array.from([1, 2, 3, 4]));
    expect(reopened.get('b')).toBeUndefined();
    expect(reopened.discarded).toBe(1);
    expect(() => reopened.set('c', Float32Array.from([0, NaN, 0, 0]))).toThrow(/NaN or Infinity/);
    // The repaired cache is written back without the damaged row.
    await reopened.save();
    expect((await EmbeddingCache.open(cacheDir, 'k', 4)).discarded).toBe(0);
  });

  it('fails training with a clear message when the loss is not finite', async () => {
    const features = new Float32Array(40 * 8).fill(NaN);
    const labels = Int32Array.from({ length: 40 }, (_, i) => i % 2);
    const rows = Array.from({ length: 40 }, (_, i) => i);
    const run = trainHead({ features, dim: 8, labels, classCount: 2, trainRows: rows.slice(0, 30), valRows: rows.slice(30), config: TrainingConfig.parse({ epochs: 3, batchSize: 8 }) });
    await expect(run).rejects.toThrow(/Training stopped: the loss became NaN at epoch 1, batch 1/);
  });

  it('fails training with a clear message when a val metric is not finite, though the loss is', async () => {
    const features = Float32Array.from({ length: 40 * 8 }, (_, i) => ((i * 7) % 11) / 11);
    // One val image's features are infinite: training batches stay finite, val_loss does not.
    features.fill(Infinity, 35 * 8, 36 * 8);
    const labels = Int32Array.from({ length: 40 }, (_, i) => i % 2);
    const rows = Array.from({ length: 40 }, (_, i) => i);
    const run = trainHead({ features, dim: 8, labels, classCount: 2, trainRows: rows.slice(0, 30), valRows: rows.slice(30), config: TrainingConfig.parse({ epochs: 3, batchSize: 8 }) });
    await expect(run).rejects.toThrow(/Training stopped: val_loss became NaN at epoch 1/);
  });

  it('embeds again, and says so, when the cache file is full of NaN', async () => {
    const project = path.join(dir, 'project');
    await generateDemoProject(project, { perClass: 12, size: 96 });
    const app = new LabelLoopApp({ host: 'web', version: 'test', configDir: path.join(dir, 'config'), projectOptions: { watchIntervalMs: 0, backgroundValidation: false } });
    try {
      const opened = await app.handle('project.open', { path: project });
      if (!opened.ok) throw new Error(opened.error.message);
      const train = async () => {
        const started = await app.handle('training.start', { config: { backend: 'wasm', inputSize: 96, epochs: 2, earlyStopping: null } });
        if (!started.ok) throw new Error(started.error.message);
        return app.training.whenDone((started.result as { runId: string }).runId);
      };
      expect((await train()).report?.timing.embedded).toBe(24);

      const cacheDir = path.join(project, '.labelloop/cache/embeddings');
      for (const name of (await readdir(cacheDir)).filter((n) => n.endsWith('.f32'))) await poison(path.join(cacheDir, name), NaN);
      const { status, report } = await train();
      expect(status.state).toBe('finished');
      expect(report?.timing.embedded).toBe(24);
      expect(report?.valAccuracy).toEqual(expect.any(Number));
      expect(report?.epochs.every((e) => Object.values(e).every(Number.isFinite))).toBe(true);
      expect(report?.notes).toEqual(['24 cached feature row(s) held NaN or Infinity (a damaged cache file) and were computed again', expect.stringMatching(/^CNN branch: not tried: 0% of the train images are grayscale/)]);
      expect(status.ended?.details).toMatch(/24 cached feature row\(s\) held NaN/);
      // The live run's status carries the engine and a finish message for people (item 24's wiring).
      expect(status.engine).toMatchObject({ name: 'wasm', label: 'WebAssembly (CPU)' });
      // A small project with a converged head: the accuracy comes from cross-validation over all its images.
      expect(status.ended?.message).toMatch(
        /^Finished in \d+ s · accuracy \d+\.\d% \(95% CI \d+\.\d–\d+\.\d%\) on \d-fold cross-validation over all 24 labeled images, each judged by a model that never saw it · head fitted to convergence \(L2 [\d.e-]+ chosen by cross-validation on the train split\)$/,
      );
    } finally {
      await app.dispose();
    }
  }, 120_000);

  it('leaves out an augmented copy with non-finite features on its own, keeping its original', async () => {
    const project = path.join(dir, 'copies');
    await generateDemoProject(project, { perClass: 2, size: 64 });
    const original: JobSample = { path: 'OK/' + (await readdir(path.join(project, 'OK')))[0], label: 0, hash: 'h', split: 'train' };
    const copy: JobSample = { ...original, hash: 'h|aug:k:0', augmentSeed: 'h:k:0' };
    // A backbone stand-in whose second row (the copy) is NaN: one value per image.
    const runner: FrozenModelRunner = { engine: 'tfjs', description: 'stand-in', notUsed: [], run: async () => Float32Array.from([1, NaN]) };
    const cache = await EmbeddingCache.open(path.join(dir, 'copies-cache'), 'k', 1);
    const skipped: { path: string; reason: string }[] = [];
    const augmentation = TrainingConfig.parse({}).augmentation;
    await embedSamples([original, copy], project, runner, { inputSize: 32, scale: '0,1', resize: 'stretch', interpolation: 'bilinear' as const }, { ...augmentation, copies: 1 }, cache, skipped, () => false, () => undefined);
    expect(skipped).toEqual([]);
    expect(cache.get('h')).toEqual(Float32Array.from([1]));
    expect(cache.get('h|aug:k:0')).toBeUndefined();
  });
});
