// `npm run bench`, heatmaps: how long a map takes per image, for the three kinds of run (CAM on
// MobileNetV2 and on InceptionV3's trunk at 224 px, Grad-CAM on the small CNN), beside a plain
// TF.js prediction of the same model on the same images (what a map adds to a prediction).
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, it } from 'vitest';
import { LabelLoopApp } from '../src/main/app';
import { selectBackend } from '../src/main/engine/backend';
import { tfjsRunner } from '../src/main/engine/onnx/frozenRunner';
import { buildRunModel } from '../src/main/inference/export';
import { predictFiles } from '../src/main/inference/predictor';
import { explainFiles } from '../src/main/inspection/heatmaps';
import { generateDemoProject } from '../src/main/project/demo';

const IMAGES = 50;
const lines: string[] = [];

describe('heatmap latency', () => {
  let work = '';
  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
    console.log(`\n=== Heatmaps (${os.cpus().length} cores, TF.js wasm, ${IMAGES} images of 160 px) ===\n${lines.join('\n')}\n`);
  });

  it('CAM and Grad-CAM per image against a plain prediction', async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'labelloop-bench-heat-'));
    const project = path.join(work, 'faces');
    await generateDemoProject(project, { perClass: 100, seed: 51 });
    const files = (await readdir(path.join(project, 'OK'))).slice(0, IMAGES).map((f) => path.join(project, 'OK', f));
    await selectBackend('wasm');
    const app = new LabelLoopApp({ host: 'web', version: 'bench', configDir: path.join(work, 'config'), projectOptions: { watchIntervalMs: 0, backgroundValidation: false } });
    try {
      await app.handle('project.open', { path: project });
      for (const [what, config] of [
        ['CAM, MobileNetV2 at 224 px', { backbone: { kind: 'mobilenet_v2' }, inputSize: 224 }],
        ['CAM, InceptionV3 trunk at 224 px', { backbone: { kind: 'inception_v3' }, inputSize: 224 }],
        ['Grad-CAM, small CNN at 32 px', { backbone: { kind: 'small_cnn', inputSize: 32 }, epochs: 5 }],
      ] as const) {
        const started = await app.handle('training.start', { config: { backend: 'wasm', ...config } });
        if (!started.ok) throw new Error(started.error.message);
        const { runId } = started.result as { runId: string };
        await app.training.whenDone(runId);
        const runDir = path.join(project, '.labelloop/runs', runId);
        // Warm both paths once (model load, wasm kernels), then time the images.
        await explainFiles(runDir, files.slice(0, 2));
        let t = performance.now();
        const result = await explainFiles(runDir, files);
        const explainSeconds = (performance.now() - t) / 1000;
        const built = await buildRunModel(runDir);
        const runner = tfjsRunner(built.model);
        await predictFiles(runner, built.preprocessing, files.slice(0, 2));
        t = performance.now();
        await predictFiles(runner, built.preprocessing, files);
        const predictSeconds = (performance.now() - t) / 1000;
        built.model.dispose();
        const grid = result.entries[0]?.grid;
        lines.push(
          `${what} (${result.method}, ${grid?.length}×${grid?.[0]?.length} grid): ${((explainSeconds / IMAGES) * 1000).toFixed(0)} ms per image (one call for all, its model load included); ` +
            `plain TF.js prediction ${((predictSeconds / IMAGES) * 1000).toFixed(0)} ms per image (batched); ratio ${(explainSeconds / predictSeconds).toFixed(1)}×`,
        );
      }
    } finally {
      await app.dispose();
    }
  });
});
