// `npm run bench`, label errors on real images (bench/realData.ts builds them from Debian packages):
// on each dataset, 5% of the labels flipped to another class at random (the file moves to that
// class's folder), one default run, and its ranking against the cleanlab-style reference
// (bench/cleanlab_reference.py: scikit-learn's logistic regression, 5-fold out-of-fold
// probabilities, self-confidence, the confident joint) on the very same cached features. Then the
// same images with their true labels: how many each flags on clean data.
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, it } from 'vitest';
import { LabelLoopApp } from '../src/main/app';
import { selectBackend } from '../src/main/engine/backend';
import { seededRandom } from '../src/main/project/demo';
import type { TrainingReport } from '../src/shared/report';
import { benchDatasets, cappedCopy, runFeatures } from './realData';

const MAX_IMAGES = 1000;
const FLIP_SHARE = 0.05;
const lines: string[] = [];
const report = (line: string) => {
  lines.push(line);
  console.log(line);
};

async function train(app: LabelLoopApp): Promise<{ report: TrainingReport; seconds: number }> {
  const started = performance.now();
  const result = await app.handle('training.start', { config: { backend: 'wasm', val: 0.2, test: 0 } });
  if (!result.ok) throw new Error(result.error.message);
  const done = await app.training.whenDone((result.result as { runId: string }).runId);
  if (!done.report) throw new Error(`run ${done.status.state}: ${done.status.ended?.message}`);
  return { report: done.report, seconds: (performance.now() - started) / 1000 };
}

async function reference(work: string, features: Float32Array, labels: number[]): Promise<{ order: number[]; flagged: number } | string> {
  const python = '/usr/bin/python3';
  if (spawnSync(python, ['-c', 'import sklearn'], { encoding: 'utf8' }).status !== 0) return 'not run: apt-get install python3-sklearn';
  const featureFile = path.join(work, 'features.f32');
  const labelFile = path.join(work, 'labels.json');
  await writeFile(featureFile, Buffer.from(features.buffer, features.byteOffset, features.byteLength));
  await writeFile(labelFile, JSON.stringify(labels));
  const run = spawnSync(python, [path.join(import.meta.dirname, 'cleanlab_reference.py'), featureFile, labelFile], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (run.status !== 0) return `failed: ${run.stderr.trim().split('\n').slice(-1)[0]}`;
  return JSON.parse(run.stdout.trim().split('\n').slice(-1)[0] as string) as { order: number[]; flagged: number };
}

describe('label errors on real datasets', () => {
  let work = '';
  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
    console.log(`\n=== Label errors on real datasets (${os.cpus().length} cores; ${FLIP_SHARE * 100}% of labels flipped; default run) ===\n${lines.join('\n')}\n`);
  });

  it('precision@k against the cleanlab-style reference, and flags on clean data', async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'labelloop-bench-labels-'));
    const datasets = await benchDatasets(report);
    await selectBackend('wasm');
    for (const dataset of datasets) {
      const project = path.join(work, dataset.name);
      await cappedCopy(dataset.dir, project, MAX_IMAGES);
      const files = (await Promise.all(dataset.classes.map(async (c) => (await readdir(path.join(project, c))).filter((f) => !f.startsWith('.')).sort().map((f) => `${c}/${f}`)))).flat();
      // Flip: a seeded pick of 5% of the images, each moved to another class chosen at random.
      const random = seededRandom(2026);
      const flips = new Map<string, string>(); // where the file is now → where it belongs
      while (flips.size < Math.round(files.length * FLIP_SHARE)) {
        const file = files[Math.floor(random() * files.length)] as string;
        if ([...flips.values()].includes(file)) continue;
        const [from, name] = file.split('/') as [string, string];
        const others = dataset.classes.filter((c) => c !== from);
        const to = others[Math.floor(random() * others.length)] as string;
        const moved = `${to}/flipped-from-${from}-${name}`;
        await rename(path.join(project, file), path.join(project, moved));
        flips.set(moved, file);
      }
      const app = new LabelLoopApp({ host: 'web', version: 'bench', configDir: path.join(work, `config-${dataset.name}`), projectOptions: { watchIntervalMs: 0, backgroundValidation: false } });
      try {
        const opened = await app.handle('project.open', { path: project });
        if (!opened.ok) throw new Error(opened.error.message);
        const noisy = await train(app);
        const k = flips.size;
        const samples = noisy.report.samples;
        const isFlipped = (p: string) => flips.has(p);
        const ours = [...samples.keys()].sort((a, b) => (samples[b]?.mislabelScore ?? 0) - (samples[a]?.mislabelScore ?? 0));
        const ourHits = ours.slice(0, k).filter((i) => isFlipped(samples[i]?.path ?? '')).length;
        const ourFlags = samples.filter((s) => s.likelyMislabeled);
        const labels = samples.map((s) => noisy.report.classes.indexOf(s.label));
        const features = await runFeatures(project, noisy.report);
        const ref = await reference(work, features, labels);
        const refCell =
          typeof ref === 'string'
            ? `reference ${ref}`
            : `reference precision@${k} ${(ref.order.slice(0, k).filter((i) => isFlipped(samples[i]?.path ?? '')).length / k).toFixed(2)}, flags ${ref.flagged}`;
        // The same images with their true labels: what each flags when nothing is wrong.
        for (const [now, was] of flips) await rename(path.join(project, now), path.join(project, was));
        await app.handle('project.open', { path: project });
        const clean = await train(app);
        const cleanRef = await reference(work, await runFeatures(project, clean.report), clean.report.samples.map((s) => clean.report.classes.indexOf(s.label)));
        report(
          `${dataset.name} (${samples.length} images, ${dataset.classes.length} classes, ${k} flipped; val accuracy on the noisy labels ${((noisy.report.valAccuracy ?? 0) * 100).toFixed(1)}%): ` +
            `ours precision@${k} ${(ourHits / k).toFixed(2)}, estimates ${noisy.report.labelErrorEstimate?.count ?? '—'} wrong, flags ${ourFlags.length} (${ourFlags.filter((s) => isFlipped(s.path)).length} flipped); ${refCell}; ` +
            `clean labels: ours flags ${clean.report.samples.filter((s) => s.likelyMislabeled).length} (estimate ${clean.report.labelErrorEstimate?.count ?? '—'}), reference flags ${typeof cleanRef === 'string' ? cleanRef : cleanRef.flagged}; runs ${noisy.seconds.toFixed(0)} s + ${clean.seconds.toFixed(0)} s`,
        );
      } finally {
        await app.dispose();
      }
    }
  }, 3_600_000);
});
