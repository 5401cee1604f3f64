// `npm run bench`, faces: photos/s for detection plus cropping at 640×480 and 4000×3000 (face-api's
// six real group photos, resized), and per-face prediction with a run on the default backbone.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, it } from 'vitest';
import { LabelLoopApp } from '../src/main/app';
import { selectBackend } from '../src/main/engine/backend';
import { cropFace, cropSquare } from '../src/main/inference/faces/crop';
import { decodePhoto, faceModelDir, loadFaceDetector } from '../src/main/inference/faces/detector';
import { predictFaces } from '../src/main/inference/faces/predictFaces';
import { loadPredictor } from '../src/main/inference/predictor';

const lines: string[] = [];

describe('faces', () => {
  let work = '';
  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
    console.log(`\n=== Faces (${os.cpus().length} cores, TF.js wasm detector) ===\n${lines.join('\n')}\n`);
  });

  it('detection + cropping photos/s at two sizes, and per-face prediction', async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'labelloop-bench-faces-'));
    await selectBackend('wasm');
    const detector = await loadFaceDetector();
    const samples = [1, 2, 3, 4, 5, 6].map((n) => path.join(faceModelDir(), '..', 'demo', `sample${n}.jpg`));
    for (const [width, height] of [
      [640, 480],
      [4000, 3000],
    ] as const) {
      const photos = await Promise.all(samples.map((file) => sharp(file).resize(width, height, { fit: 'fill' }).jpeg({ quality: 90 }).toBuffer()));
      let faces = 0;
      const started = performance.now();
      for (let round = 0; round < 2; round++) {
        for (const bytes of photos) {
          const image = await decodePhoto(bytes);
          const found = await detector.detect(image, { minConfidence: 0.5 });
          for (const face of found) await cropFace(image, cropSquare(face.box, 0.25), null);
          faces += found.length;
        }
      }
      const seconds = (performance.now() - started) / 1000;
      lines.push(`${width}×${height}: ${((2 * photos.length) / seconds).toFixed(2)} photos/s decode + detect + crop (${faces / 2} faces in ${photos.length} photos)`);
    }

    const app = new LabelLoopApp({ host: 'web', version: 'bench', configDir: path.join(work, 'config'), projectOptions: { watchIntervalMs: 0, backgroundValidation: false } });
    try {
      const opened = await app.handle('project.openDemo', {});
      if (!opened.ok) throw new Error(opened.error.message);
      const started = await app.handle('training.start', { config: { backend: 'wasm' } });
      if (!started.ok) throw new Error(started.error.message);
      const { runId } = started.result as { runId: string };
      const done = await app.training.whenDone(runId);
      if (!done.report) throw new Error(`run ${done.status.state}`);
      const runDir = path.join(work, 'config', 'demo-project', '.labelloop', 'runs', runId);
      const predictor = await loadPredictor(runDir);
      const inbox = path.join(work, 'inbox');
      await mkdir(inbox);
      const files = await Promise.all(samples.map(async (file, k) => {
        const target = path.join(inbox, `photo${k}.jpg`);
        await writeFile(target, await sharp(await readFile(file)).resize(1280).jpeg().toBuffer());
        return target;
      }));
      await predictFaces(predictor, detector, files.slice(0, 1), { minConfidence: 0.5, margin: 0.25, align: false });
      const t = performance.now();
      const predicted = await predictFaces(predictor, detector, files, { minConfidence: 0.5, margin: 0.25, align: false });
      const seconds = (performance.now() - t) / 1000;
      await predictor.dispose();
      lines.push(`predict --faces, 1280-px photos, default backbone on ${predictor.engine.label}: ${(predicted.length / seconds).toFixed(2)} faces/s, ${(files.length / seconds).toFixed(2)} photos/s (detection included)`);
    } finally {
      await app.dispose();
    }
  }, 900_000);
});
