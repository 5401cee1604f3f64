// The window's face import: one uploaded photo at a time through LabelLoopApp.importFaces (the
// upload channels of both transports call it), settings validated, crops into the open project.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFile, readFile, symlink } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabelLoopApp } from '../../../../src/main/app';
import { MAX_IMPORT_BYTES } from '../../../../src/shared/contract';
import { faceModelDir } from '../../../../src/main/inference/faces/detector';
import { openDemoApp } from '../../../helpers/fixtures';

describe('importing faces from the window', () => {
  let dir: string;
  let close: () => Promise<void>;
  let app: LabelLoopApp;
  const settings = { minConfidence: 0.5, minSize: 32, margin: 0.25, align: false };

  beforeAll(async () => ({ dir, app, close } = await openDemoApp()));
  afterAll(async () => close());

  it('cuts an uploaded photo\'s faces into a class, says what it could not read, and refuses bad settings and unknown classes', async () => {
    const photo = await readFile(path.join(faceModelDir(), '..', 'demo', 'sample4.jpg'));
    const summary = await app.importFaces('OK', settings, 'line 2/group.jpg', photo);
    expect(summary).toMatchObject({ photos: 1, facesFound: 4, imported: [1, 2, 3, 4].map((n) => `OK/group__face${n}.jpg`), noFace: [], unreadable: [] });
    const records = (await readFile(path.join(dir, 'demo-project/.labelloop/faces.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { crop: string; source: string });
    expect(records.map((r) => [r.crop, r.source])).toEqual([1, 2, 3, 4].map((n) => [`OK/group__face${n}.jpg`, 'group.jpg']));
    expect((await app.importFaces('OK', settings, 'group.jpg', photo)).duplicates).toHaveLength(4);
    expect(await app.importFaces(null, settings, 'notes.jpg', Buffer.from('not a photo'))).toMatchObject({ photos: 1, imported: [], unreadable: [{ path: 'notes.jpg', reason: expect.stringMatching(/Not an image/) }] });
    expect((await app.importFaces(null, settings, 'empty.jpg', Buffer.alloc(0))).unreadable).toEqual([{ path: 'empty.jpg', reason: 'The file is empty (0 bytes)' }]);
    await expect(app.importFaces(null, { ...settings, margin: 5 }, 'group.jpg', photo)).rejects.toThrow(/Invalid face import settings: margin/);
    await expect(app.importFaces(null, { ...settings, extra: 1 }, 'group.jpg', photo)).rejects.toThrow(/Invalid face import settings/);
    await expect(app.importFaces('Masked', settings, 'group.jpg', photo)).rejects.toThrow(/There is no class "Masked"/);

    // In context: the crop's photo (its preview), this face and the photo's others, found by content even after a relabel moved it.
    const moved = await app.handle('dataset.relabel', { paths: ['OK/group__face2.jpg'], to: 'NG' });
    if (!moved.ok) throw new Error(moved.error.message);
    const context = await app.handle('faces.context', { path: 'NG/group__face2.jpg' });
    expect(context).toMatchObject({ ok: true, result: { source: 'group.jpg', face: 2, width: 1920, height: 1448, photo: expect.stringMatching(/^data:image\/jpeg;base64,/) } });
    const faces = (context as { result: { faces: { face: number; path: string | null; box: { width: number } }[] } }).result.faces;
    expect(faces.map((f) => [f.face, f.path])).toEqual([
      [1, 'OK/group__face1.jpg'],
      [2, 'NG/group__face2.jpg'],
      [3, 'OK/group__face3.jpg'],
      [4, 'OK/group__face4.jpg'],
    ]);
    expect(faces.every((f) => f.box.width > 50)).toBe(true);
    const preview = Buffer.from(((context as { result: { photo: string } }).result.photo).split(',')[1] as string, 'base64');
    expect((await sharp(preview).metadata()).width).toBe(1600);
    expect(await app.handle('faces.context', { path: 'OK/ok_0001.jpg' })).toEqual({ ok: true, result: null });
    // A hand-edited record whose source "hash" is a path is ignored: it would name a file outside .labelloop/faces/sources.
    const plainHash = createHash('sha256').update(await readFile(path.join(dir, 'demo-project/OK/ok_0001.jpg'))).digest('hex');
    const forged = { crop: 'OK/ok_0001.jpg', cropHash: plainHash, source: 'x.jpg', sourceHash: '../../../../escape', face: 1, box: { x: 0, y: 0, width: 9, height: 9 } };
    await appendFile(path.join(dir, 'demo-project/.labelloop/faces.jsonl'), `${JSON.stringify(forged)}\n`);
    expect(await app.handle('faces.context', { path: 'OK/ok_0001.jpg' })).toEqual({ ok: true, result: null });
    expect(await app.handle('faces.photos', {})).toEqual({ ok: true, result: { photos: [{ sourceHash: expect.any(String), source: 'group.jpg', paths: ['NG/group__face2.jpg', 'OK/group__face1.jpg', 'OK/group__face3.jpg', 'OK/group__face4.jpg'] }] } });

    // The same photo again with a wider margin: new crops, yet the photo still has four faces, not eight.
    expect((await app.importFaces('NG', { ...settings, margin: 0.5 }, 'group.jpg', photo)).imported).toHaveLength(4);
    const again = await app.handle('faces.context', { path: 'NG/group__face2.jpg' });
    expect((again as { result: { faces: { face: number; path: string }[] } }).result.faces.map((f) => [f.face, f.path])).toEqual([
      [1, 'OK/group__face1.jpg'],
      [2, 'NG/group__face2.jpg'],
      [3, 'OK/group__face3.jpg'],
      [4, 'OK/group__face4.jpg'],
    ]);
    // Over the upload size limit: refused in the upload's words before anything decodes it.
    expect((await app.importFaces(null, settings, 'huge.jpg', new Uint8Array(MAX_IMPORT_BYTES + 1))).unreadable).toEqual([{ path: 'huge.jpg', reason: `The file is over ${MAX_IMPORT_BYTES / 1024 / 1024} MB` }]);
  }, 120_000);

  it('predicts a photo per face in a prediction session, as `labelloop predict --faces` does on the same run', async () => {
    const { loadFaceDetector } = await import('../../../../src/main/inference/faces/detector');
    const { predictFaces } = await import('../../../../src/main/inference/faces/predictFaces');
    const { loadPredictor } = await import('../../../../src/main/inference/predictor');
    const started = await app.handle('training.start', { config: { backend: 'wasm', epochs: 2, backbone: { kind: 'small_cnn', inputSize: 32 } } });
    if (!started.ok) throw new Error(started.error.message);
    const { runId } = started.result as { runId: string };
    await app.training.whenDone(runId);
    const opened = await app.handle('predict.open', { runId });
    if (!opened.ok) throw new Error(opened.error.message);
    const { sessionId } = opened.result as { sessionId: string };
    const file = path.join(faceModelDir(), '..', 'demo', 'sample4.jpg');
    const rows = await app.predictFaces(sessionId, { minConfidence: 0.5, margin: 0.25 }, 'inbox\\sample4.jpg', await readFile(file));
    expect(rows.map((r) => [r.name, r.face?.photo, r.face?.face, r.face?.photoWidth, r.face?.photoHeight, r.error])).toEqual([1, 2, 3, 4].map((n) => [`inbox/sample4__face${n}.jpg`, 'inbox/sample4.jpg', n, 1920, 1448, null]));
    expect(rows.every((r) => r.path?.startsWith('.labelloop/predict/') && r.probabilities?.length === 2)).toBe(true);
    const predictor = await loadPredictor(path.join(dir, 'demo-project/.labelloop/runs', runId));
    const cli = await predictFaces(predictor, await loadFaceDetector(), [file], { minConfidence: 0.5, margin: 0.25, align: false });
    rows.forEach((row, i) => {
      expect(Math.abs((row.face?.box.x as number) - (cli[i]?.box?.x as number))).toBeLessThan(0.1);
      expect(Math.abs((row.probabilities?.[1] as number) - (cli[i]?.probabilities?.[1] as number))).toBeLessThan(1e-4);
    });
    // The export's two-step pipeline (predict-faces.mjs, run as its README says) gives the same faces and probabilities.
    const out = path.join(dir, 'export');
    const { exportRun } = await import('../../../../src/main/inference/export');
    expect((await exportRun(path.join(dir, 'demo-project/.labelloop/runs', runId), out)).files).toContain('predict-faces.mjs');
    expect(await readFile(path.join(out, 'README.md'), 'utf8')).toMatch(/## Photos with faces \(`predict-faces\.mjs`\)[\s\S]*faceapi\.detectAllFaces/);
    await symlink(path.resolve('node_modules'), path.join(out, 'node_modules'), 'dir');
    const script = spawnSync(process.execPath, [path.join(out, 'predict-faces.mjs'), file, '--margin', '0.25'], { encoding: 'utf8', timeout: 120_000 });
    expect(script.status, script.stderr).toBe(0);
    const exported = script.stdout.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { face: number; box: { x: number; width: number }; probabilities: number[] });
    expect(exported.map((f) => f.face)).toEqual([1, 2, 3, 4]);
    rows.forEach((row, i) => {
      expect(Math.abs((row.face?.box.x as number) - (exported[i]?.box.x as number))).toBeLessThan(0.1);
      expect(Math.abs((row.probabilities?.[0] as number) - (exported[i]?.probabilities[0] as number))).toBeLessThan(1e-4);
      expect(Math.abs((row.probabilities?.[1] as number) - (exported[i]?.probabilities[1] as number))).toBeLessThan(1e-4);
    });

    // Levelled crops (a model trained on "Level the eyes" imports): the window, the CLI and the export turn them alike.
    const levelled = await app.predictFaces(sessionId, { minConfidence: 0.5, margin: 0.25, align: true }, 'sample4.jpg', await readFile(file));
    const cliLevelled = await predictFaces(predictor, await loadFaceDetector(), [file], { minConfidence: 0.5, margin: 0.25, align: true });
    const scriptLevelled = spawnSync(process.execPath, [path.join(out, 'predict-faces.mjs'), file, '--align'], { encoding: 'utf8', timeout: 120_000 });
    expect(scriptLevelled.status, scriptLevelled.stderr).toBe(0);
    const exportedLevelled = scriptLevelled.stdout.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { probabilities: number[] });
    levelled.forEach((row, i) => {
      expect(Math.abs((row.probabilities?.[1] as number) - (cliLevelled[i]?.probabilities?.[1] as number))).toBeLessThan(1e-4);
      expect(Math.abs((row.probabilities?.[1] as number) - (exportedLevelled[i]?.probabilities[1] as number))).toBeLessThan(1e-4);
    });
    // Turning changes what the model sees, so some face's verdict moves.
    expect(Math.max(...levelled.map((row, i) => Math.abs((row.probabilities?.[1] as number) - (rows[i]?.probabilities?.[1] as number))))).toBeGreaterThan(1e-4);
    await predictor.dispose();
    // A flag without its value is refused in words, not read as NaN.
    const bad = spawnSync(process.execPath, [path.join(out, 'predict-faces.mjs'), file, '--margin'], { encoding: 'utf8', timeout: 120_000 });
    expect([bad.status, bad.stderr.trim()]).toEqual([2, '--margin needs a number from 0 to 2']);

    expect(await app.predictFaces(sessionId, { minConfidence: 0.5, margin: 0.25 }, 'notes.jpg', Buffer.from('text'))).toEqual([expect.objectContaining({ name: 'notes.jpg', probabilities: null, error: expect.stringMatching(/Not an image/) })]);
    await expect(app.predictFaces(sessionId, { minConfidence: 2, margin: 0.25 }, 'x.jpg', Buffer.from('text'))).rejects.toThrow(/Invalid face settings: minConfidence/);
    await expect(app.predictFaces('closed-session', { minConfidence: 0.5, margin: 0.25 }, 'x.jpg', await readFile(file))).rejects.toThrow(/prediction session is closed/);
  }, 180_000);
});
