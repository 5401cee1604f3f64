// The CNN branch beside the frozen head: its pooling, when Auto tries it, and real runs where it
// wins (a glyph among clutter, which frozen ImageNet features barely see) and where it is not
// tried (colour faces); the saved model, its export and its heatmaps all average the two branches.
import path from 'node:path';
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { TrainingConfig, type TrainingConfigInput } from '../../../../src/shared/contract';
import type { TrainingReport } from '../../../../src/shared/report';
import { LabelLoopApp } from '../../../../src/main/app';
import { selectBackend } from '../../../../src/main/engine/backend';
import { tf } from '../../../../src/main/engine/tf';
import { exportRun } from '../../../../src/main/inference/export';
import { loadPredictor } from '../../../../src/main/inference/predictor';
import { explainFiles } from '../../../../src/main/inspection/heatmaps';
import { generateDemoProject } from '../../../../src/main/project/demo';
import { RunStore } from '../../../../src/main/training/runs';
import { branchPool, branchUnsuited, pooledPixels, trainCnnBranch } from '../../../../src/main/training/cnnBranch';
import { DEFAULT_PREPROCESSING } from '../../../../src/main/engine/preprocess';
import { seededRandom } from '../../../../src/main/project/demo';
import { logLossAndAccuracy } from '../../../../src/shared/metrics';
import { tempDir } from '../../../helpers/fixtures';
import { glyphProject } from '../../../helpers/glyphs';

async function trainedRun(app: LabelLoopApp, project: string, config: TrainingConfigInput): Promise<{ report: TrainingReport; runDir: string }> {
  const opened = await app.handle('project.open', { path: project });
  if (!opened.ok) throw new Error(opened.error.message);
  const started = await app.handle('training.start', { config });
  if (!started.ok) throw new Error(started.error.message);
  const { runId } = started.result as { runId: string };
  const done = await app.training.whenDone(runId);
  if (!done.report) throw new Error(`the run did not finish: ${done.status.ended?.message}`);
  return { report: done.report, runDir: path.join(project, '.labelloop', 'runs', runId) };
}

describe('CNN branch', () => {
  it('pools the backbone input down to 32 px, as the saved graph does', async () => {
    expect([224, 192, 160, 128, 96].map(branchPool)).toEqual([7, 6, 5, 4, 3]);
    // Two 6×6 images pooled 3×3: each output pixel is the mean of its block, channel by channel.
    const input = Float32Array.from({ length: 2 * 6 * 6 * 3 }, (_, i) => (i * 7) % 11);
    const output = await pooledPixels(6, 3).run(input, 2);
    expect(output).toHaveLength(2 * 2 * 2 * 3);
    const at = (image: number, y: number, x: number, c: number) => input[((image * 6 + y) * 6 + x) * 3 + c] as number;
    let block = 0;
    for (let y = 3; y < 6; y++) for (let x = 0; x < 3; x++) block += at(1, y, x, 2);
    // Image 1, output row 1, column 0, channel 2.
    expect(output[((1 * 2 + 1) * 2 + 0) * 3 + 2]).toBeCloseTo(block / 9, 5);
  });

  it('is tried on mostly grayscale images only, and says why not on the others', () => {
    expect(branchUnsuited(0.95, 50)).toBeNull();
    expect(branchUnsuited(0.9, 50)).toBeNull();
    expect(branchUnsuited(0.4, 50)).toBe('not tried: 40% of the train images are grayscale (it is tried from 90%), and on colour images ImageNet features alone do better');
    expect(branchUnsuited(0, 0)).toBe('not tried: no train image could be read for it');
  });

  it('scores log-loss and accuracy of probability rows against the rows\' labels', () => {
    const labels = Int32Array.from([0, 1, 1]);
    // Rows 2 and 0, in that order: the first right (0.8 on class 1), the second wrong (0.25 on class 0).
    const score = logLossAndAccuracy(Float32Array.from([0.2, 0.8, 0.25, 0.75]), labels, [2, 0], 2);
    expect(score.accuracy).toBe(0.5);
    expect(score.logLoss).toBeCloseTo(-(Math.log(0.8) + Math.log(0.25)) / 2, 6);
  });

  it('auto stops the CNN at its time budget, keeping its best epoch so far, and says so', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      await selectBackend('wasm');
      const samples = await glyphProject(dir, 20, { stroke: 2 });
      const config = TrainingConfig.parse({ backend: 'wasm', inputSize: 96 });
      const labels = Int32Array.from(samples, (s) => s.label);
      const trainRows = samples.flatMap((s, i) => (s.split === 'train' ? [i] : []));
      const random = seededRandom(3);
      const branch = await trainCnnBranch({
        setting: 'auto',
        config,
        projectRoot: dir,
        cacheDir: path.join(dir, 'cache'),
        preprocessing: { ...DEFAULT_PREPROCESSING, inputSize: 96, scale: '-1,1' },
        rows: samples,
        labels,
        classCount: 2,
        trainRows,
        imageOf: (row) => row,
        headFeatures: Float32Array.from({ length: samples.length * 4 }, () => random()),
        headDim: 4,
        backendName: 'wasm',
        fineTuned: false,
        budgetSeconds: 0,
        emit: () => undefined,
        memory: () => ({ numTensors: 0, numBytes: 0 }),
        isCancelled: () => false,
      });
      expect(branch.report).toMatchObject({ epochs: 1, bestEpoch: 0, pool: 3, inputSize: 32, reason: expect.stringMatching(/; the CNN stopped at the 0 s budget after 1 epoch$/) });
      branch.model?.dispose();
    } finally {
      await cleanup();
    }
  }, 120_000);

  it('on a glyph among clutter the branch wins on the train holdout and goes into the model; predict, export (ONNX) and heatmaps average both', async () => {
    const { dir, cleanup } = await tempDir();
    const app = new LabelLoopApp({ host: 'web', version: 'test', configDir: dir, projectOptions: { watchIntervalMs: 0, backgroundValidation: false } });
    try {
      await selectBackend('wasm');
      const project = path.join(dir, 'glyphs');
      // Strokes 2 px wide: the branch sees the glyph through the backbone's decode, upsampled to 96 px and pooled back to 32.
      await glyphProject(project, 150, { stroke: 2 });
      const { report, runDir } = await trainedRun(app, project, { backend: 'wasm', inputSize: 96, backbone: { kind: 'mobilenet_v2' } });
      const branch = report.cnnBranch;
      expect(branch).toMatchObject({ used: true, pool: 3, inputSize: 32, reason: expect.stringMatching(/^added: on \d+ train images held out of both: the head alone/) });
      expect(branch?.holdout?.mean.logLoss).toBeLessThan((branch?.holdout?.head.logLoss ?? 0) * 0.98);
      // The holdout is train images: val chose nothing, and cross-validation (which refits the head alone) is not what judges it.
      expect(report.accuracy).toMatchObject({ on: 'val', honest: true });
      expect(report.notes).toContain(`CNN branch: ${branch?.reason}.`);

      // The saved model, as Predict runs it, gives the report's probabilities: the mean of both branches.
      const val = report.samples.filter((s) => s.split === 'val');
      const files = val.map((s) => path.join(project, s.path));
      const fromRun = await loadPredictor(runDir, { engine: 'tfjs' });
      const predicted = await fromRun.predict(files);
      await fromRun.dispose();
      for (const [i, s] of val.entries()) {
        expect(predicted[i]?.probabilities?.[0]).toBeCloseTo(s.probabilities[report.classes[0] as string] as number, 4);
      }
      // The export's model.onnx is the same graph on ONNX Runtime.
      const exportDir = path.join(dir, 'export');
      const exported = await exportRun(runDir, exportDir);
      expect(exported.notes).toEqual([]);
      await access(path.join(exportDir, 'model.onnx'));
      const fromExport = await loadPredictor(exportDir, { engine: 'onnx' });
      expect(fromExport.engine.engine).toBe('onnx');
      const onnxPredicted = await fromExport.predict(files.slice(0, 8));
      await fromExport.dispose();
      for (const [i, outcome] of onnxPredicted.entries()) expect(outcome.probabilities?.[0]).toBeCloseTo((predicted[i]?.probabilities as number[])[0] as number, 4);
      // Heatmaps explain the head's branch (a class activation map) and report the whole model's prediction.
      const explained = await explainFiles(runDir, files.slice(0, 4));
      expect(explained.method).toBe('cam');
      expect(explained.entries.map((e) => e.predicted)).toEqual(val.slice(0, 4).map((s) => s.predicted));
      expect(tf.memory().numTensors).toBeLessThan(10_000);
    } finally {
      await app.dispose();
      await cleanup();
    }
  }, 300_000);

  it('on colour faces auto does not try it and says why; off leaves it out of the report; on adds it', async () => {
    const { dir, cleanup } = await tempDir();
    const app = new LabelLoopApp({ host: 'web', version: 'test', configDir: dir, projectOptions: { watchIntervalMs: 0, backgroundValidation: false } });
    try {
      await selectBackend('wasm');
      const project = path.join(dir, 'faces');
      await generateDemoProject(project, { perClass: 30, size: 48 });
      const base = { backend: 'wasm', inputSize: 96, backbone: { kind: 'mobilenet_v2' } } as const;
      const auto = await trainedRun(app, project, base);
      expect(auto.report.cnnBranch).toMatchObject({ used: false, holdout: null, reason: expect.stringMatching(/^not tried: 0% of the train images are grayscale/) });
      // Retrain repeats the decision instead of making it again: auto that left it out becomes off.
      const retrained = await app.handle('runs.retrain', { runId: path.basename(auto.runDir) });
      if (!retrained.ok) throw new Error(retrained.error.message);
      const againId = (retrained.result as { runId: string }).runId;
      await app.handle('training.cancel', { runId: againId });
      await app.training.whenDone(againId);
      expect(JSON.parse(await readFile(path.join(project, '.labelloop/runs', againId, 'config.json'), 'utf8')).cnnBranch).toBe('off');
      const off = await trainedRun(app, project, { ...base, cnnBranch: 'off' });
      expect(off.report.cnnBranch).toBeUndefined();
      const on = await trainedRun(app, project, { ...base, cnnBranch: 'on', epochs: 3 });
      expect(on.report.cnnBranch).toMatchObject({ used: true, reason: expect.stringMatching(/^added, as the settings ask; on \d+ train images/), epochs: 3 });
      const fromRun = await loadPredictor(on.runDir, { engine: 'tfjs' });
      const sample = on.report.samples[0] as TrainingReport['samples'][number];
      const [outcome] = await fromRun.predict([path.join(project, sample.path)]);
      await fromRun.dispose();
      expect(outcome?.probabilities?.[0]).toBeCloseTo(sample.probabilities[on.report.classes[0] as string] as number, 4);
    } finally {
      await app.dispose();
      await cleanup();
    }
  }, 300_000);
});

describe('Retrain and the CNN branch', () => {
  it('repeats auto\'s decision as on or off; a run saved before the branch existed is repeated without one', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const runs = new RunStore(dir);
      const save = async (runId: string, config: Record<string, unknown>, report: Record<string, unknown> | null) => {
        await mkdir(path.join(dir, runId), { recursive: true });
        await writeFile(path.join(dir, runId, 'config.json'), JSON.stringify({ ...config, classes: ['a', 'b'] }));
        if (report) await writeFile(path.join(dir, runId, 'report.json'), JSON.stringify(report));
      };
      // Kept (auto, in the model), left out (auto), saved before the branch, pinned on, unfinished (no report).
      const [kept, leftOut, before, pinned, unfinished] = ['a', 'b', 'c', 'd', 'e'].map((k) => `20261206-120000-000${k}`) as [string, string, string, string, string];
      const backbone = { kind: 'inception_v3' };
      await save(kept, { cnnBranch: 'auto' }, { backbone, cnnBranch: { used: true } });
      await save(leftOut, { cnnBranch: 'auto' }, { backbone, cnnBranch: { used: false } });
      await save(before, {}, { backbone });
      await save(pinned, { cnnBranch: 'on' }, { backbone, cnnBranch: { used: true } });
      await save(unfinished, { cnnBranch: 'auto' }, null);
      expect(await Promise.all([kept, leftOut, before, pinned, unfinished].map(async (id) => (await runs.retrainConfig(id)).cnnBranch))).toEqual(['on', 'off', 'off', 'on', 'auto']);
    } finally {
      await cleanup();
    }
  });
});
