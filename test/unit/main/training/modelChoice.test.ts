// Auto's backbone choice: the sample it compares on (train images only), the decision rule on
// hand-made scores, and real runs of the candidates on a small generated project, with a budget
// that lets them all run and one that stops after the first.
import path from 'node:path';
import { readdir } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TrainingConfig } from '../../../../src/shared/contract';
import type { ModelChoice } from '../../../../src/shared/report';
import { selectBackend } from '../../../../src/main/engine/backend';
import { generateDemoProject } from '../../../../src/main/project/demo';
import type { JobSample, TrainingJob } from '../../../../src/main/training/job';
import { AUTO_CANDIDATES, chooseBackbone, decide, probeSamples } from '../../../../src/main/training/modelChoice';
import { tempDir } from '../../../helpers/fixtures';

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

  it('picks the lowest inner log-loss; within 1% of it the cheaper, earlier candidate wins; with nothing scored, the default', () => {
    expect(decide([candidate('mobilenet_v2', 0.3, 0.9), candidate('mobilenet_v2_depths', 0.25, 0.92), candidate('inception_v3', 0.2, 0.95)], 400, 120)).toMatchObject({
      chosen: 'inception_v3',
      reason: expect.stringMatching(/^inception_v3 scored best on inner folds of 400 train images: 95\.0%, log-loss 0\.200 \(against mobilenet_v2 90\.0%, log-loss 0\.300; mobilenet_v2_depths 92\.0%, log-loss 0\.250\)$/),
    });
    // 0.2015 is within 1% of 0.2: the cheaper MobileNetV2 wins the tie, and says so.
    expect(decide([candidate('mobilenet_v2', 0.2015), candidate('mobilenet_v2_depths', 0.3), candidate('inception_v3', 0.2)], 400, 120)).toMatchObject({ chosen: 'mobilenet_v2', reason: expect.stringMatching(/within 1% of the best and no slower, so it is preferred$/) });
    expect(decide([candidate('mobilenet_v2', 0.203), candidate('inception_v3', 0.2)], 400, 120).chosen).toBe('inception_v3');
    expect(decide([candidate('mobilenet_v2', null), candidate('inception_v3', null)], 400, 120)).toMatchObject({ chosen: 'inception_v3', reason: expect.stringMatching(/nothing could be scored \(over the budget\), so the default backbone, inception_v3, is used$/) });
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
      const samples: JobSample[] = [];
      for (const [label, name] of ['NG', 'OK'].entries()) {
        for (const [i, file] of (await readdir(path.join(project, name))).sort().entries()) {
          samples.push({ path: `${name}/${file}`, hash: `${name}-${file}`, label, split: i % 5 === 0 ? 'val' : 'train' });
        }
      }
      job = { runId: 'r1', projectRoot: project, runDir: path.join(dir, 'run'), cacheDir: path.join(dir, 'cache'), classes: ['NG', 'OK'], samples, unlabeled: [], config: TrainingConfig.parse({ inputSize: 96, backbone: { kind: 'auto' } }) };
    });
    afterAll(() => cleanup());

    it('scores every candidate within the budget and picks by the decision rule', async () => {
      const phases: string[] = [];
      const choice = await chooseBackbone(job, 600, (e) => e.type === 'progress' && phases.push(e.progress.phase), () => false, () => ({ numTensors: 0, numBytes: 0 }), []);
      expect(choice.probeImages).toBe(48);
      expect(choice.candidates.map((c) => c.backbone)).toEqual(AUTO_CANDIDATES.map((c) => c.backbone));
      for (const c of choice.candidates) {
        expect(c.skipped).toBeNull();
        expect(c.logLoss).toBeGreaterThan(0);
        expect(c.accuracy).toBeGreaterThan(0.5);
      }
      expect(choice.chosen).toBe(decide(choice.candidates, 48, 600).chosen);
      expect(new Set(phases)).toEqual(new Set(['choosing']));
    }, 120_000);

    it('a candidate that cannot run is skipped with its reason; with none left, the default backbone is used', async () => {
      const odd = { ...job, config: { ...job.config, inputSize: 100 as 96 } };
      const choice = await chooseBackbone(odd, 600, () => undefined, () => false, () => ({ numTensors: 0, numBytes: 0 }), []);
      expect(choice.candidates.every((c) => /^failed: Input size must be one of/.test(c.skipped ?? ''))).toBe(true);
      expect(choice.chosen).toBe('inception_v3');
    });

    it('skips the candidates that would overrun the budget, says why, and keeps the first', async () => {
      // From an empty cache: with every sample cached, each candidate costs only its scoring, and none is skipped.
      const choice = await chooseBackbone({ ...job, cacheDir: path.join(dir, 'cold-cache') }, 0.01, () => undefined, () => false, () => ({ numTensors: 0, numBytes: 0 }), []);
      expect(choice.candidates[0]).toMatchObject({ backbone: 'mobilenet_v2', skipped: null });
      expect(choice.candidates.slice(1).every((c) => /^over the 0\.01 s budget \(about \d+ s more after \d+ s\)$/.test(c.skipped ?? ''))).toBe(true);
      expect(choice.chosen).toBe('mobilenet_v2');
    }, 60_000);
  });
});
