// Auto's model choice: the sample it compares on (train images only), the decision rule on
// hand-made scores, which images the small CNN is tried on, and real runs of the candidates on
// generated projects: faces (a backbone wins), a glyph among clutter (only the CNN can see it),
// with a budget that lets them all run and one that stops after the first.
import path from 'node:path';
import { readdir, readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TrainingConfig } from '../../../../src/shared/contract';
import type { ModelChoice, TrainingReport } from '../../../../src/shared/report';
import { LabelLoopApp } from '../../../../src/main/app';
import { selectBackend } from '../../../../src/main/engine/backend';
import { generateDemoProject } from '../../../../src/main/project/demo';
import type { JobEvent, JobSample, TrainingJob } from '../../../../src/main/training/job';
import { AUTO_CANDIDATES, chooseModel, cnnUnsuited, decide, isGrayscale, probeSamples } from '../../../../src/main/training/modelChoice';
import { tempDir } from '../../../helpers/fixtures';
import { glyphProject } from '../../../helpers/glyphs';

async function demoSamples(project: string): Promise<JobSample[]> {
  const samples: JobSample[] = [];
  for (const [label, name] of ['NG', 'OK'].entries()) {
    for (const [i, file] of (await readdir(path.join(project, name))).sort().entries()) {
      samples.push({ path: `${name}/${file}`, hash: `${name}-${file}`, label, split: i % 5 === 0 ? 'val' : 'train' });
    }
  }
  return samples;
}

const noMemory = () => ({ numTensors: 0, numBytes: 0 });

const candidate = (backbone: ModelChoice['chosen'], logLoss: number | null, accuracy: number | null = null): ModelChoice['candidates'][number] => ({
  backbone,
  logLoss,
  accuracy,
  seconds: 1,
  skipped: logLoss === null ? 'over the budget' : null,
});

describe('Auto: choosing the backbone', () => {
  it('compares on a stratified sample of the train split alone: never val, test or augmented copies, the same for the same seed', () => {
    const samples: JobSample[] = [];
    for (let i = 0; i < 1000; i++) samples.push({ path: `p${i}.jpg`, hash: `h${String(i).padStart(4, '0')}`, label: i % 10 === 0 ? 1 : 0, split: i % 5 === 0 ? 'val' : i % 7 === 0 ? 'test' : 'train' });
    samples.push({ path: 'p1.jpg', hash: 'h0001|aug:x:0', label: 0, split: 'train', augmentSeed: 'x' });
    const probe = probeSamples(samples, 2, 200, 42);
    expect(probe.every((s) => s.split === 'train' && !s.augmentSeed)).toBe(true);
    const train = samples.filter((s) => s.split === 'train' && !s.augmentSeed);
    const share = (list: JobSample[]) => list.filter((s) => s.label === 1).length / list.length;
    expect(probe.length).toBeGreaterThanOrEqual(195);
    expect(probe.length).toBeLessThanOrEqual(205);
    expect(Math.abs(share(probe) - share(train))).toBeLessThan(0.01);
    expect(probeSamples(samples, 2, 200, 42)).toEqual(probe);
    expect(probeSamples(samples, 2, 200, 43)).not.toEqual(probe);
    // A small project is compared on all its train images.
    expect(probeSamples(samples.slice(0, 100), 2, 200, 42)).toEqual(samples.slice(0, 100).filter((s) => s.split === 'train' && !s.augmentSeed));
  });

  it('picks the lowest held-out log-loss; within 1% or 0.005 of it the cheaper, earlier candidate wins; with nothing scored, the default', () => {
    expect(decide([candidate('mobilenet_v2', 0.3, 0.9), candidate('mobilenet_v2_depths', 0.25, 0.92), candidate('inception_v3', 0.2, 0.95)], 400, 120)).toMatchObject({
      chosen: 'inception_v3',
      reason: expect.stringMatching(/^inception_v3 scored best on inner folds of 400 train images: 95\.0%, log-loss 0\.200 \(against mobilenet_v2 90\.0%, log-loss 0\.300; mobilenet_v2_depths 92\.0%, log-loss 0\.250\)$/),
    });
    // 0.2015 is within 1% of 0.2: the cheaper MobileNetV2 wins the tie, and says so.
    expect(decide([candidate('mobilenet_v2', 0.2015), candidate('mobilenet_v2_depths', 0.3), candidate('inception_v3', 0.2)], 400, 120)).toMatchObject({ chosen: 'mobilenet_v2', reason: expect.stringMatching(/within 1% \(or 0\.005\) of the best and no slower, so it is preferred$/) });
    expect(decide([candidate('mobilenet_v2', 0.206), candidate('inception_v3', 0.2)], 400, 120).chosen).toBe('inception_v3');
    // Near zero a relative margin means nothing: 0.004 against 0.0001 is a tie, and the cheaper backbone wins it.
    expect(decide([candidate('inception_v3', 0.004), candidate('small_cnn', 0.0001)], 400, 120).chosen).toBe('inception_v3');
    expect(decide([candidate('inception_v3', 0.3, 0.88), candidate('small_cnn', 0.1, 0.97)], 400, 120)).toMatchObject({ chosen: 'small_cnn', reason: expect.stringMatching(/^small_cnn scored best on a held-out third of 400 train images: 97\.0%/) });
    expect(decide([candidate('mobilenet_v2', null), candidate('inception_v3', null)], 400, 120)).toMatchObject({ chosen: 'inception_v3', reason: expect.stringMatching(/nothing could be scored \(over the budget\), so the default backbone, inception_v3, is used$/) });
  });

  it('tries the small CNN on mostly grayscale or small images, and says why not on the others', () => {
    expect(cnnUnsuited({ images: 50, grayscaleShare: 0.95, medianShortSide: 512 })).toBeNull();
    expect(cnnUnsuited({ images: 50, grayscaleShare: 0, medianShortSide: 64 })).toBeNull();
    expect(cnnUnsuited({ images: 50, grayscaleShare: 0.5, medianShortSide: 160 })).toBe('not tried: the images are in colour (50% grayscale) and 160 px on their shorter side (median), where ImageNet features do better');
    expect(cnnUnsuited({ images: 0, grayscaleShare: 0, medianShortSide: 0 })).toBe('no image could be read');
    // Grayscale: the channels agree within JPEG's noise (a mean spread under 0.02), whatever the file stores.
    const gray = Float32Array.from({ length: 300 }, (_, i) => 0.5 + (i % 3 === 0 ? 0.01 : 0));
    const tinted = Float32Array.from({ length: 300 }, (_, i) => (i % 3 === 0 ? 0.6 : 0.5));
    expect(isGrayscale(gray)).toBe(true);
    expect(isGrayscale(tinted)).toBe(false);
  });

  describe('on a generated project', () => {
    let dir: string;
    let cleanup: () => Promise<void>;
    let job: TrainingJob;
    beforeAll(async () => {
      ({ dir, cleanup } = await tempDir());
      await selectBackend('wasm');
      const project = path.join(dir, 'faces');
      await generateDemoProject(project, { perClass: 30, size: 96 });
      const samples = await demoSamples(project);
      job = { runId: 'r1', projectRoot: project, runDir: path.join(dir, 'run'), cacheDir: path.join(dir, 'cache'), classes: ['NG', 'OK'], samples, unlabeled: [], config: TrainingConfig.parse({ inputSize: 96, backbone: { kind: 'auto' } }) };
    });
    afterAll(() => cleanup());

    it('scores every candidate within the budget and picks by the decision rule', async () => {
      const phases: string[] = [];
      const choice = await chooseModel(job, 600, (e) => e.type === 'progress' && phases.push(e.progress.phase), () => false, noMemory, []);
      expect(choice.probeImages).toBe(48);
      expect(choice.candidates.map((c) => c.backbone)).toEqual([...AUTO_CANDIDATES.map((c) => c.backbone), 'small_cnn']);
      // 96-px colour photos: the CNN is not tried, and the table says why.
      expect(choice.candidates[3]?.skipped).toMatch(/^not tried: the images are in colour \(0% grayscale\) and 96 px/);
      for (const c of choice.candidates.slice(0, 3)) {
        expect(c.skipped).toBeNull();
        expect(c.logLoss).toBeGreaterThan(0);
        expect(c.accuracy).toBeGreaterThan(0.5);
      }
      expect(choice.chosen).toBe(decide(choice.candidates, 48, 600).chosen);
      expect(new Set(phases)).toEqual(new Set(['choosing']));
    }, 120_000);

    it('a candidate that cannot run is skipped with its reason; with none left, the default backbone is used', async () => {
      const odd = { ...job, config: { ...job.config, inputSize: 100 as 96 } };
      const choice = await chooseModel(odd, 600, () => undefined, () => false, () => ({ numTensors: 0, numBytes: 0 }), []);
      expect(choice.candidates.slice(0, 3).every((c) => /^failed: Input size must be one of/.test(c.skipped ?? ''))).toBe(true);
      expect(choice.chosen).toBe('inception_v3');
    });

    it('skips the candidates that would overrun the budget, says why, and keeps the first', async () => {
      // From an empty cache: with every sample cached, each candidate costs only its scoring, and none is skipped.
      const choice = await chooseModel({ ...job, cacheDir: path.join(dir, 'cold-cache') }, 0.01, () => undefined, () => false, () => ({ numTensors: 0, numBytes: 0 }), []);
      expect(choice.candidates[0]).toMatchObject({ backbone: 'mobilenet_v2', skipped: null });
      expect(choice.candidates.slice(1, 3).every((c) => /^over the 0\.01 s budget \(about \d+ s more after \d+ s\)$/.test(c.skipped ?? ''))).toBe(true);
      expect(choice.candidates[3]).toMatchObject({ backbone: 'small_cnn', skipped: 'over the 0.01 s budget' });
      expect(choice.chosen).toBe('mobilenet_v2');
    }, 60_000);
  });

  it('on small faces the CNN is tried and a frozen backbone wins', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      await selectBackend('wasm');
      const project = path.join(dir, 'faces');
      await generateDemoProject(project, { perClass: 40, size: 48 });
      const job: TrainingJob = { runId: 'r', projectRoot: project, runDir: path.join(dir, 'run'), cacheDir: path.join(dir, 'cache'), classes: ['NG', 'OK'], samples: await demoSamples(project), unlabeled: [], config: TrainingConfig.parse({ inputSize: 96, backbone: { kind: 'auto' } }) };
      const choice = await chooseModel(job, 600, () => undefined, () => false, noMemory, []);
      const cnn = choice.candidates.find((c) => c.backbone === 'small_cnn');
      expect(cnn).toMatchObject({ skipped: null, note: expect.stringMatching(/^trained on \d+ of the images \(\d+ more chose its epoch\), scored on the other 22$/) });
      expect(choice.chosen).not.toBe('small_cnn');
      expect(choice.chosen).toBe(decide(choice.candidates, choice.probeImages, 600).chosen);
    } finally {
      await cleanup();
    }
  }, 120_000);

  it('on a glyph among clutter only the CNN can win: Auto picks it, trains it, and Retrain repeats the choice', async () => {
    const { dir, cleanup } = await tempDir();
    const app = new LabelLoopApp({ host: 'web', version: 'test', configDir: dir, projectOptions: { watchIntervalMs: 0, backgroundValidation: false } });
    try {
      await selectBackend('wasm');
      const project = path.join(dir, 'glyphs');
      const samples = await glyphProject(project, 150);
      // The choice alone, on the job as a run would build it: the candidates' epochs never reach the run's curves.
      const events: JobEvent[] = [];
      const job: TrainingJob = { runId: 'r', projectRoot: project, runDir: path.join(dir, 'run'), cacheDir: path.join(dir, 'cache'), classes: ['plus', 'cross'], samples, unlabeled: [], config: TrainingConfig.parse({ inputSize: 96, backbone: { kind: 'auto' } }) };
      const choice = await chooseModel(job, 600, (e) => events.push(e), () => false, noMemory, []);
      expect(choice.chosen).toBe('small_cnn');
      const heads = choice.candidates.filter((c) => c.backbone !== 'small_cnn');
      const cnn = choice.candidates.find((c) => c.backbone === 'small_cnn');
      expect(cnn?.accuracy).toBeGreaterThan(Math.max(...heads.map((c) => c.accuracy ?? 0)) + 0.1);
      expect(events.filter((e) => e.type === 'epoch')).toEqual([]);
      expect(new Set(events.map((e) => (e.type === 'progress' ? e.progress.phase : e.type)))).toEqual(new Set(['choosing']));

      // The run proper, through the app: the CNN trains with its defaults and the report holds the table.
      const opened = await app.handle('project.open', { path: project });
      if (!opened.ok) throw new Error(opened.error.message);
      const started = await app.handle('training.start', { config: { backend: 'wasm', inputSize: 96, backbone: { kind: 'auto' } } });
      if (!started.ok) throw new Error(started.error.message);
      const { runId } = started.result as { runId: string };
      const done = await app.training.whenDone(runId);
      const report = done.report as TrainingReport;
      expect(report.modelChoice?.chosen).toBe('small_cnn');
      expect(report.backbone).toMatchObject({ kind: 'small_cnn', inputSize: 32, cutLayer: 'pixels' });
      expect(report.head).toMatchObject({ fit: 'scratch' });
      expect(report.accuracy).toMatchObject({ on: 'val', honest: true });
      expect(report.accuracy?.value).toBeGreaterThan(0.8);
      expect(done.status.result?.modelChoice?.chosen).toBe('small_cnn');
      // Retrain repeats the CNN (its config says so) instead of choosing again.
      const retrained = await app.handle('runs.retrain', { runId });
      if (!retrained.ok) throw new Error(retrained.error.message);
      const againId = (retrained.result as { runId: string }).runId;
      await app.handle('training.cancel', { runId: againId });
      await app.training.whenDone(againId);
      const config = JSON.parse(await readFile(path.join(project, '.labelloop/runs', againId, 'config.json'), 'utf8'));
      expect(config.backbone).toEqual({ kind: 'small_cnn', inputSize: 32, decayPerEpoch: 0.96 });
    } finally {
      await app.dispose();
      await cleanup();
    }
  }, 300_000);
});
