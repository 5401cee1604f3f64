// `npm run bench`, training part: embedding and fine-tuning images/s, and click → first trained
// model on 1,000 images, each beside the same work in PyTorch (Debian python3-torch, 2 threads).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, it } from 'vitest';
import { LabelLoopApp } from '../src/main/app';
import { startWebServer } from '../src/main/web/server';
import { generateDemoProject, seededRandom } from '../src/main/project/demo';
import { generateParts } from './parts';
import { describeAccuracy } from '../src/shared/metrics';

const INPUT_SIZE = 224;
const lines: string[] = [];
const report = (line: string) => {
  lines.push(line);
  console.log(line);
};

async function timedRun(app: LabelLoopApp, config: Record<string, unknown>) {
  let fineTuneSpeed = 0;
  const stop = app.events.subscribe((event, payload) => {
    const p = payload as { phase?: string; imagesPerSecond?: number };
    if (event === 'training.progress' && p.phase === 'fine-tuning') fineTuneSpeed = p.imagesPerSecond ?? 0;
  });
  const started = performance.now();
  const result = await app.handle('training.start', { config });
  if (!result.ok) throw new Error(result.error.message);
  const done = await app.training.whenDone((result.result as { runId: string }).runId);
  stop();
  if (!done.report) throw new Error(`run ${done.status.state}: ${done.status.ended?.message}`);
  return { seconds: (performance.now() - started) / 1000, report: done.report, backend: done.status.backend ?? '', fineTuneSpeed };
}

function torchReference(project: string, fineTuneProject: string): Record<string, number> | string {
  const python = '/usr/bin/python3';
  const check = spawnSync(python, ['-c', 'import torch, torchvision'], { encoding: 'utf8' });
  if (check.status !== 0) return 'PyTorch reference not run: apt-get install python3-torch python3-torchvision';
  const run = spawnSync(python, [path.join(import.meta.dirname, 'torch_reference.py'), project, fineTuneProject, String(INPUT_SIZE)], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (run.status !== 0) return `PyTorch reference failed: ${run.stderr.trim().split('\n').slice(-1)[0]}`;
  return JSON.parse(run.stdout.trim().split('\n').slice(-1)[0] as string) as Record<string, number>;
}

describe('training benchmarks', () => {
  let work = '';
  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
    console.log(`\n=== LabelLoop training benchmarks (${os.cpus().length} cores, input ${INPUT_SIZE} px) ===\n${lines.join('\n')}\n`);
  });

  it('embedding, fine-tuning and click-to-model against PyTorch', async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'labelloop-bench-train-'));
    const worker = path.resolve('out/main/worker.js');
    if (!existsSync(worker)) throw new Error('Build first: npm run build');
    const big = path.join(work, 'faces-1000');
    const small = path.join(work, 'faces-200');
    await generateDemoProject(big, { perClass: 500, seed: 11 });
    await generateDemoProject(small, { perClass: 100, seed: 12 });
    const app = new LabelLoopApp({ host: 'web', version: 'bench', configDir: path.join(work, 'config'), workerFile: worker, projectOptions: { watchIntervalMs: 0, backgroundValidation: false } });
    try {
      await app.handle('project.open', { path: big });
      // On MobileNetV2, as the PyTorch reference: the default head (converged) and, like for like,
      // 20 Keras-style epochs; then the default backbone (InceptionV3's trunk) from an empty cache.
      const mobileNet = { inputSize: INPUT_SIZE, backbone: { kind: 'mobilenet_v2' } };
      const first = await timedRun(app, mobileNet);
      const twentyEpochs = await timedRun(app, { ...mobileNet, headFit: 'epochs', epochs: 20, earlyStopping: null });
      await rm(path.join(big, '.labelloop', 'cache'), { recursive: true, force: true });
      const defaults = await timedRun(app, { inputSize: INPUT_SIZE });
      await app.handle('project.open', { path: small });
      const tuned = await timedRun(app, { ...mobileNet, epochs: 1, earlyStopping: null, fineTuneBlocks: 2, fineTuneEpochs: 2 });
      const torch = torchReference(big, small);
      const ratio = (ours: number, theirs: number | undefined) => (theirs ? `; ratio ${(ours / theirs).toFixed(2)}× PyTorch` : '');
      const t = typeof torch === 'string' ? undefined : torch;
      report(`backend: ${first.backend}`);
      report(
        `embedding (decode + MobileNetV2, batch 16): ${first.report.timing.imagesPerSecond.toFixed(1)} images/s; PyTorch ${t ? `${t.embedImagesPerSecond?.toFixed(1)} eager, ${t.embedImagesPerSecondFrozen?.toFixed(1)} frozen` : '—'} images/s${ratio(first.report.timing.imagesPerSecond, t?.embedImagesPerSecond)} eager${ratio(first.report.timing.imagesPerSecond, t?.embedImagesPerSecondFrozen)} frozen`,
      );
      report(`fine-tuning block_16 + Conv_1 on cached block_15 outputs (batch 32): ${tuned.fineTuneSpeed.toFixed(1)} images/s; PyTorch ${t ? t.fineTuneImagesPerSecond?.toFixed(1) : '—'} images/s${ratio(tuned.fineTuneSpeed, t?.fineTuneImagesPerSecond)}`);
      // PyTorch eager (the plain loop) and frozen (TorchScript optimised for inference, its fastest CPU path).
      const vsTorch = (seconds: number) =>
        t?.clickToModelSeconds && t.clickToModelSecondsFrozen ? `; ratio ${(seconds / t.clickToModelSeconds).toFixed(2)}× PyTorch eager's time, ${(seconds / t.clickToModelSecondsFrozen).toFixed(2)}× frozen` : '';
      report(
        `click → first trained model, 1,000 images, MobileNetV2 (embed + converged head + label errors): ${first.seconds.toFixed(1)} s, accuracy ${first.report.accuracy ? describeAccuracy(first.report.accuracy) : 'n/a'}${vsTorch(first.seconds)}`,
      );
      report(`the same with the defaults (InceptionV3 trunk): ${defaults.seconds.toFixed(1)} s, accuracy ${defaults.report.accuracy ? describeAccuracy(defaults.report.accuracy) : 'n/a'}${vsTorch(defaults.seconds)}`);
      report(
        `retrain with 20 head epochs instead (features cached): ${twentyEpochs.seconds.toFixed(1)} s (val accuracy ${((twentyEpochs.report.valAccuracy ?? 0) * 100).toFixed(1)}%); PyTorch embed + 20 head epochs ${t ? `${t.clickToModelSeconds?.toFixed(1)} s eager, ${t.clickToModelSecondsFrozen?.toFixed(1)} s frozen` : '—'}`,
      );
      if (typeof torch === 'string') report(torch);
      else report(`PyTorch ${torch.torch}, ${torch.threads} threads, same images, same batch sizes`);
    } finally {
      await app.dispose();
    }
  });

  async function labelErrorPrecision(name: string, make: (dir: string) => Promise<void>, perClass: number, config: Record<string, unknown>) {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'labelloop-bench-noisy-'));
    const project = path.join(dir, 'data');
    await make(project);
    // Flip 5% at random: move the file into the other class folder (its name keeps its true class).
    const random = seededRandom(99);
    const all = ['OK', 'NG'].flatMap((c) => Array.from({ length: perClass }, (_, i) => `${c}/${c.toLowerCase()}_${String(i + 1).padStart(4, '0')}.jpg`));
    const flipped = new Set<string>();
    while (flipped.size < Math.round(all.length * 0.05)) flipped.add(all[Math.floor(random() * all.length)] as string);
    for (const file of flipped) await rename(path.join(project, file), path.join(project, file.startsWith('OK/') ? 'NG' : 'OK', path.basename(file)));
    const app = new LabelLoopApp({ host: 'web', version: 'bench', configDir: path.join(dir, 'config'), workerFile: path.resolve('out/main/worker.js'), projectOptions: { watchIntervalMs: 0, backgroundValidation: false } });
    try {
      await app.handle('project.open', { path: project });
      const { report: run, seconds } = await timedRun(app, config);
      const isFlipped = (p: string) => flipped.has(`${p.startsWith('OK/') ? 'NG' : 'OK'}/${path.basename(p)}`);
      const ranked = [...run.samples].sort((a, b) => b.mislabelScore - a.mislabelScore).slice(0, flipped.size);
      const hits = ranked.filter((s) => isFlipped(s.path)).length;
      const flagged = run.samples.filter((s) => s.likelyMislabeled);
      report(
        `label errors, ${name} with ${flipped.size} of ${all.length} labels flipped: precision@${flipped.size} ${(hits / flipped.size).toFixed(2)} (${hits}/${flipped.size}); ` +
          `estimated ${run.labelErrorEstimate?.count ?? '—'} wrong, flags ${flagged.length}, ${flagged.filter((s) => isFlipped(s.path)).length} of them flipped; val accuracy ${((run.valAccuracy ?? 0) * 100).toFixed(1)}% (head: ${run.head?.fit === "converged" ? `converged, L2 ${run.head.l2}` : "epochs"}); run ${seconds.toFixed(0)} s`,
      );
    } finally {
      await app.dispose();
      await rm(dir, { recursive: true, force: true });
    }
  }

  it('label-error precision@k on two generated datasets with 5% of labels flipped', async () => {
    await labelErrorPrecision('demo faces', (dir) => generateDemoProject(dir, { perClass: 300, seed: 31 }).then(() => undefined), 300, { inputSize: 160 });
    await labelErrorPrecision('washers (scratch/chip defects)', (dir) => generateParts(dir, 300, 5), 300, { inputSize: 224 });
  });

  it('retrain after relabeling 1% of a 5,000-image project, against the first training', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'labelloop-bench-retrain-'));
    const project = path.join(dir, 'faces');
    await generateDemoProject(project, { perClass: 2500, seed: 41, size: 128 });
    const app = new LabelLoopApp({ host: 'web', version: 'bench', configDir: path.join(dir, 'config'), workerFile: path.resolve('out/main/worker.js'), projectOptions: { watchIntervalMs: 0, backgroundValidation: false } });
    try {
      await app.handle('project.open', { path: project });
      const config = { inputSize: 128 };
      const first = await timedRun(app, config);
      const moved = Array.from({ length: 50 }, (_, i) => `NG/ng_${String(i * 50 + 1).padStart(4, '0')}.jpg`);
      const relabel = await app.handle('dataset.relabel', { paths: moved, to: 'OK' });
      if (!relabel.ok) throw new Error(relabel.error.message);
      const second = await timedRun(app, config);
      report(
        `retrain after relabeling 50 of 5,000 images (128 px, defaults): ${second.seconds.toFixed(1)} s (embedded ${second.report.timing.embedded}) against ${first.seconds.toFixed(1)} s for the first training (embedded ${first.report.timing.embedded}); ratio ${(second.seconds / first.seconds).toFixed(2)}×`,
      );
    } finally {
      await app.dispose();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('predicting new images in the window (web mode: upload + worker) against `labelloop predict`', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'labelloop-bench-predict-'));
    const project = path.join(dir, 'faces');
    const inbox = path.join(dir, 'inbox');
    await generateDemoProject(project, { perClass: 100, seed: 51 });
    await generateDemoProject(inbox, { perClass: 150, seed: 52 });
    const files = ['OK', 'NG'].flatMap((c) => Array.from({ length: 150 }, (_, i) => path.join(inbox, c, `${c.toLowerCase()}_${String(i + 1).padStart(4, '0')}.jpg`)));
    const app = new LabelLoopApp({ host: 'web', version: 'bench', configDir: path.join(dir, 'config'), workerFile: path.resolve('out/main/worker.js'), projectOptions: { watchIntervalMs: 0, backgroundValidation: false } });
    const server = await startWebServer({ app, rendererDir: path.resolve('out/renderer') });
    try {
      await app.handle('project.open', { path: project });
      const { report: run } = await timedRun(app, { inputSize: INPUT_SIZE, epochs: 5, earlyStopping: null });
      // The browser's way in: the token for a cookie, then one POST per file, 8 in flight.
      const login = await fetch(server.url, { redirect: 'manual' });
      const headers = { Cookie: (login.headers.get('set-cookie') ?? '').split(';')[0] as string, Origin: `http://127.0.0.1:${server.port}` };
      const started = performance.now();
      const opened = await app.handle('predict.open', { runId: run.runId });
      if (!opened.ok) throw new Error(opened.error.message);
      const { sessionId } = opened.result as { sessionId: string };
      const queue = [...files];
      let failed = 0;
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          for (let file = queue.shift(); file; file = queue.shift()) {
            const response = await fetch(`http://127.0.0.1:${server.port}/predict?session=${sessionId}&name=${path.basename(file)}`, { method: 'POST', headers, body: await readFile(file) });
            const reply = (await response.json()) as { ok: boolean; result?: { error: string | null } };
            if (!reply.ok || reply.result?.error) failed++;
          }
        }),
      );
      const windowSeconds = (performance.now() - started) / 1000;
      if (failed > 0) throw new Error(`${failed} predictions failed`);
      // The window converted the run's model to ONNX on open: the CLI converts it again, so both figures include that.
      await rm(path.join(project, '.labelloop/runs', run.runId, 'model/onnx'), { recursive: true, force: true });
      const cliStarted = performance.now();
      const cli = spawnSync(process.execPath, [path.resolve('out/main/cli.js'), 'predict', path.join(project, '.labelloop/runs', run.runId), inbox, '--csv', path.join(dir, 'p.csv')], { encoding: 'utf8' });
      const cliSeconds = (performance.now() - cliStarted) / 1000;
      if (cli.status !== 0) throw new Error(cli.stderr);
      report(
        `predict ${files.length} new images at ${INPUT_SIZE} px in the window (web mode: upload, worker, model load and ONNX conversion included): ${windowSeconds.toFixed(1)} s = ${(files.length / windowSeconds).toFixed(1)} images/s; ` +
          `\`labelloop predict\` (process start, model load and conversion included): ${cliSeconds.toFixed(1)} s = ${(files.length / cliSeconds).toFixed(1)} images/s; ratio ${(windowSeconds / cliSeconds).toFixed(2)}× the time`,
      );
    } finally {
      await server.close();
      await app.dispose();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
