// `npm run bench`, model quality on real images (bench/realData.ts builds them from Debian
// packages): on each dataset, one split chosen by the app (60/20/20, by content hash), and on its
// test images, which chose nothing: Auto, each bundled backbone pinned, logistic regression fitted
// to convergence on raw 32×32 pixels, our small CNN from scratch, and PyTorch's on the same split.
// `BENCH_REAL=cnn` runs the two small CNNs only; `BENCH_DATASETS=a,b` only the datasets named.
// Every accuracy comes with its 95% Wilson interval. Each run starts with an empty feature cache.
// A 200-image test split cannot tell a point from luck, so the sets where a CNN from scratch can
// win (`BENCH_SPLIT_DATASETS`, the two grayscale sets by default) are also measured over
// `BENCH_SPLIT_SEEDS` (3) different splits, the test predictions of all of them pooled.
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, it } from 'vitest';
import { LabelLoopApp } from '../src/main/app';
import { decodeForModel } from '../src/main/engine/preprocess';
import { selectBackend } from '../src/main/engine/backend';
import { DATA_DIR } from '../src/main/project/scan';
import { fitConvergedHead, innerFoldScore } from '../src/main/training/convergedHead';
import { tf, type TF } from '../src/main/engine/tf';
import { accuracyEstimate, type AccuracyEstimate } from '../src/shared/metrics';
import type { TrainingReport } from '../src/shared/report';
import { benchDatasets, cappedCopy, runFeatures } from './realData';

/** Images per dataset (a fixed, evenly spaced pick per class where a set is larger): keeps each dataset within minutes. */
const MAX_IMAGES = 1000;
const cnnOnly = process.env.BENCH_REAL === 'cnn';
const lines: string[] = [];
const report = (line: string) => {
  lines.push(line);
  console.log(line);
};
const interval = (e: AccuracyEstimate) => `${(e.value * 100).toFixed(1)}% (${(e.low * 100).toFixed(1)}–${(e.high * 100).toFixed(1)})`;

async function timedRun(app: LabelLoopApp, project: string, config: Record<string, unknown>, { cold = true } = {}) {
  if (cold) await rm(path.join(project, DATA_DIR, 'cache'), { recursive: true, force: true });
  const started = performance.now();
  const result = await app.handle('training.start', { config });
  if (!result.ok) throw new Error(result.error.message);
  const done = await app.training.whenDone((result.result as { runId: string }).runId);
  if (!done.report) throw new Error(`run ${done.status.state}: ${done.status.ended?.message}`);
  return { seconds: (performance.now() - started) / 1000, report: done.report };
}

/**
 * A steadier comparison of backbones than one test split: 5-fold cross-validation of the converged
 * head over every image of the set, on the run's cached features, for three fold assignments.
 */
async function wholeSetCv(project: string, run: TrainingReport): Promise<string> {
  const dim = run.backbone.featureSize;
  const features = await runFeatures(project, run);
  const labels = Int32Array.from(run.samples, (s) => run.classes.indexOf(s.label));
  const rows = run.samples.map((_, i) => i);
  const scores: string[] = [];
  for (const seed of [1, 2, 3]) {
    const score = await innerFoldScore({ features, dim, labels, classCount: run.classes.length, trainRows: rows, imageOf: (r) => r, seed, folds: 5 });
    scores.push(score ? `${(score.accuracy * 100).toFixed(1)}%` : '—');
  }
  return `5-fold CV over all ${rows.length} images ${scores.join(' / ')}`;
}

/** Logistic regression (the converged head) on raw 32×32 RGB pixels, fitted on the train split, scored on test. */
async function rawPixels(project: string, samples: TrainingReport['samples'], classes: string[]): Promise<{ estimate: AccuracyEstimate; seconds: number }> {
  const started = performance.now();
  const prep = { inputSize: 32, scale: '0,1', resize: 'stretch', interpolation: 'bilinear' } as const;
  const dim = 32 * 32 * 3;
  const features = new Float32Array(samples.length * dim);
  for (const [i, s] of samples.entries()) {
    const pixels = await decodeForModel(path.join(project, s.path), prep);
    for (let k = 0; k < dim; k++) features[i * dim + k] = (pixels[k] as number) / 255;
  }
  const labels = Int32Array.from(samples, (s) => classes.indexOf(s.label));
  const rows = (split: string) => samples.flatMap((s, i) => (s.split === split ? [i] : []));
  const head = await fitConvergedHead({ features, dim, labels, classCount: classes.length, trainRows: rows('train'), imageOf: (r) => r, valRows: [], dropout: 0, seed: 42 });
  const test = rows('test');
  const predicted = tf.tidy(() => (head.model.predict(tf.tensor2d(features, [samples.length, dim]).gather(test)) as TF.Tensor).argMax(1).dataSync());
  head.model.dispose();
  const hits = test.filter((row, i) => predicted[i] === labels[row]).length;
  return { estimate: accuracyEstimate('test', hits, test.length, true), seconds: (performance.now() - started) / 1000 };
}

/** PyTorch's small CNN from scratch on the same split (bench/torch_reference.py `cnn`). */
function torchCnn(splitFile: string, size: number): { estimate: AccuracyEstimate; seconds: number; epochs: number } | string {
  const python = '/usr/bin/python3';
  if (spawnSync(python, ['-c', 'import torch'], { encoding: 'utf8' }).status !== 0) return 'not run: apt-get install python3-torch python3-torchvision';
  const run = spawnSync(python, [path.join(import.meta.dirname, 'torch_reference.py'), 'cnn', splitFile, String(size)], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (run.status !== 0) return `failed: ${run.stderr.trim().split('\n').slice(-1)[0]}`;
  const result = JSON.parse(run.stdout.trim().split('\n').slice(-1)[0] as string) as { correct: number; images: number; seconds: number; epochs: number };
  return { estimate: accuracyEstimate('test', result.correct, result.images, true), seconds: result.seconds, epochs: result.epochs };
}

/** The test accuracy of two runs on one split with their class probabilities averaged. */
function meanOfTwo(a: TrainingReport, b: TrainingReport): AccuracyEstimate {
  const other = new Map(b.samples.map((s) => [s.path, s.probabilities]));
  const test = a.samples.filter((s) => s.split === 'test');
  const hits = test.filter((s) => {
    const mean = a.classes.map((c) => (s.probabilities[c] ?? 0) + (other.get(s.path)?.[c] ?? 0));
    return a.classes[mean.indexOf(Math.max(...mean))] === s.label;
  }).length;
  return accuracyEstimate('test', hits, test.length, true);
}

/** Hits over test images, summed over splits. */
type Tally = { hits: number; images: number };
const pooled = (tally: Tally) => interval(accuracyEstimate('test', tally.hits, tally.images, true));

describe('model quality on real datasets', () => {
  let work = '';
  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
    console.log(`\n=== LabelLoop on real datasets (${os.cpus().length} cores; test split of a 60/20/20 split; 95% intervals) ===\n${lines.join('\n')}\n`);
  });

  it('Auto and each backbone against raw-pixel logistic regression and a small CNN, on the same split', async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'labelloop-bench-real-'));
    const datasets = await benchDatasets(report);
    await selectBackend('wasm');
    for (const dataset of datasets) {
      const project = path.join(work, dataset.name);
      await cappedCopy(dataset.dir, project, MAX_IMAGES);
      const app = new LabelLoopApp({ host: 'web', version: 'bench', configDir: path.join(work, `config-${dataset.name}`), projectOptions: { watchIntervalMs: 0, backgroundValidation: false } });
      try {
        const opened = await app.handle('project.open', { path: project });
        if (!opened.ok) throw new Error(opened.error.message);
        const base = { backend: 'wasm', val: 0.2, test: 0.2 };
        // Our small CNN: early stopping and the kept epoch on an inner holdout of the train split.
        const ours = await timedRun(app, project, { ...base, backbone: { kind: 'small_cnn', inputSize: 32 } });
        const { samples, classes } = ours.report;
        const cells: string[] = [];
        let autoTable = '';
        if (!cnnOnly) {
          const auto = await timedRun(app, project, { ...base, backbone: { kind: 'auto' } });
          cells.push(`Auto → ${auto.report.modelChoice?.chosen}: ${interval(auto.report.accuracy as AccuracyEstimate)}, ${auto.seconds.toFixed(0)} s`);
          autoTable = `  Auto's table: ${auto.report.modelChoice?.candidates.map((c) => (c.skipped ? `${c.backbone} skipped (${c.skipped})` : `${c.backbone} ${((c.accuracy ?? 0) * 100).toFixed(1)}%, log-loss ${(c.logLoss ?? 0).toFixed(3)}, ${c.seconds.toFixed(0)} s`)).join('; ')}`;
          for (const kind of ['mobilenet_v2', 'mobilenet_v2_depths', 'inception_v3']) {
            const pinned = await timedRun(app, project, { ...base, backbone: { kind } });
            cells.push(`${kind}: ${interval(pinned.report.accuracy as AccuracyEstimate)}, ${pinned.seconds.toFixed(0)} s, ${await wholeSetCv(project, pinned.report)}`);
          }
          const pixels = await rawPixels(project, samples, classes);
          cells.push(`LR on raw 32×32 pixels: ${interval(pixels.estimate)}, ${pixels.seconds.toFixed(0)} s`);
        }
        cells.push(`LabelLoop small CNN (32 px, ${ours.report.epochs.length} epochs): ${interval(ours.report.accuracy as AccuracyEstimate)}, ${ours.seconds.toFixed(0)} s`);
        const splitFile = path.join(work, `${dataset.name}-split.json`);
        await writeFile(splitFile, JSON.stringify(samples.map((s) => ({ file: path.join(project, s.path), label: s.label, split: s.split }))));
        for (const size of cnnOnly ? [32] : [32, 64]) {
          const cnn = torchCnn(splitFile, size);
          cells.push(typeof cnn === 'string' ? `PyTorch small CNN ${cnn}` : `PyTorch small CNN (${size} px, ${cnn.epochs} epochs): ${interval(cnn.estimate)}, ${cnn.seconds.toFixed(0)} s`);
        }
        const test = samples.filter((s) => s.split === 'test').length;
        report(`${dataset.name} (${samples.length} images, ${classes.length} classes, ${test} test; ${dataset.source}): ${cells.join('; ')}`);
        if (autoTable) report(autoTable);
      } finally {
        await app.dispose();
      }
    }
  }, 3_600_000);

  it('over several splits: the default against raw-pixel logistic regression and PyTorch CNNs, test predictions pooled', async () => {
    if (cnnOnly) return;
    work ||= await mkdtemp(path.join(os.tmpdir(), 'labelloop-bench-real-'));
    const only = (process.env.BENCH_SPLIT_DATASETS ?? 'sklearn-digits,fashion-mnist').split(',');
    const seeds = [42, 1, 2, 3, 4].slice(0, Number(process.env.BENCH_SPLIT_SEEDS ?? 3));
    // BENCH_SPLIT_BRANCH=on measures the CNN branch where auto would not try it (colour sets);
    // BENCH_SPLIT_BASELINES=0 leaves out the CNN runs, LR and PyTorch (the branch against the head alone only).
    const branchSetting = process.env.BENCH_SPLIT_BRANCH ?? 'auto';
    const baselines = process.env.BENCH_SPLIT_BASELINES !== '0';
    await selectBackend('wasm');
    for (const dataset of (await benchDatasets(report)).filter((d) => only.includes(d.name))) {
      const tallies: Record<string, Tally> = {};
      const add = (method: string, estimate: AccuracyEstimate) => {
        const tally = (tallies[method] ??= { hits: 0, images: 0 });
        tally.hits += Math.round(estimate.value * estimate.images);
        tally.images += estimate.images;
      };
      const perSplit: string[] = [];
      for (const seed of seeds) {
        // A fresh copy per split: no saved split, no cached features, no earlier run.
        const project = path.join(work, `${dataset.name}-split-${seed}`);
        await cappedCopy(dataset.dir, project, MAX_IMAGES);
        const app = new LabelLoopApp({ host: 'web', version: 'bench', configDir: path.join(work, `config-${dataset.name}-${seed}`), projectOptions: { watchIntervalMs: 0, backgroundValidation: false } });
        try {
          const opened = await app.handle('project.open', { path: project });
          if (!opened.ok) throw new Error(opened.error.message);
          const run = await timedRun(app, project, { backend: 'wasm', val: 0.2, test: 0.2, seed, cnnBranch: branchSetting });
          const { samples, classes } = run.report;
          const branch = run.report.cnnBranch;
          const cells = [`default (${run.report.backbone.kind}, CNN branch ${branch?.used ? 'added' : 'not added'}) ${interval(run.report.accuracy as AccuracyEstimate)}, ${run.seconds.toFixed(0)} s (branch: ${branch?.reason ?? 'off'})`];
          add(branchSetting === 'auto' ? 'default' : `default with --cnn-branch ${branchSetting}`, run.report.accuracy as AccuracyEstimate);
          // The head alone on the same features (cached by the run above): what the branch adds.
          const headAlone = await timedRun(app, project, { backend: 'wasm', val: 0.2, test: 0.2, seed, cnnBranch: 'off' }, { cold: false });
          add('the default without the CNN branch', headAlone.report.accuracy as AccuracyEstimate);
          cells.push(`without the branch ${interval(headAlone.report.accuracy as AccuracyEstimate)}`);
          if (!baselines) {
            perSplit.push(`  split seed ${seed}: ${cells.join('; ')}`);
            continue;
          }
          const cnn = await timedRun(app, project, { backend: 'wasm', val: 0.2, test: 0.2, seed, backbone: { kind: 'small_cnn', inputSize: 32 } });
          add('LabelLoop small CNN 32 px', cnn.report.accuracy as AccuracyEstimate);
          cells.push(`LabelLoop small CNN 32 px ${interval(cnn.report.accuracy as AccuracyEstimate)}`);
          // Two separate runs, averaged after the fact: the branch's CNN decodes straight to 32 px here instead of pooling the backbone's 224.
          const both = meanOfTwo(headAlone.report, cnn.report);
          add('mean of the head alone and the small CNN run', both);
          cells.push(`mean of those two runs ${interval(both)}`);
          const pixels = await rawPixels(project, samples, classes);
          add('LR raw pixels', pixels.estimate);
          cells.push(`LR raw pixels ${interval(pixels.estimate)}`);
          const splitFile = path.join(work, `${dataset.name}-split-${seed}.json`);
          await writeFile(splitFile, JSON.stringify(samples.map((s) => ({ file: path.join(project, s.path), label: s.label, split: s.split }))));
          for (const size of [32, 64]) {
            const torch = torchCnn(splitFile, size);
            if (typeof torch === 'string') cells.push(`PyTorch CNN ${size} px ${torch}`);
            else {
              add(`PyTorch CNN ${size} px`, torch.estimate);
              cells.push(`PyTorch CNN ${size} px ${interval(torch.estimate)}`);
            }
          }
          perSplit.push(`  split seed ${seed}: ${cells.join('; ')}`);
        } finally {
          await app.dispose();
          await rm(project, { recursive: true, force: true });
        }
      }
      report(`${dataset.name}, ${seeds.length} splits (60/20/20, seeds ${seeds.join(', ')}), test predictions pooled: ${Object.entries(tallies).map(([method, tally]) => `${method} ${pooled(tally)} of ${tally.images}`).join('; ')}`);
      for (const line of perSplit) report(line);
    }
  }, 3_600_000);
});
