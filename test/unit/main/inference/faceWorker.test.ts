// The face cropper's worker: a worker that dies fails the requests it held, and the next photo
// starts a fresh one that answers (the window's import goes on after a detector crash).
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { faceCropper } from '../../../../src/main/inference/faces/faceWorker';
import { tempDir } from '../../../helpers/fixtures';

describe('the face cropper worker', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeAll(async () => ({ dir, cleanup } = await tempDir()));
  afterAll(async () => cleanup());

  it('rejects what a crashed worker held, then serves the next request from a new worker', async () => {
    const starts = path.join(dir, 'starts.txt');
    await writeFile(starts, '');
    // A stand-in for out/main/worker.js: the first one started throws on its first request.
    const script = path.join(dir, 'worker.mjs');
    await writeFile(
      script,
      `import { parentPort } from 'node:worker_threads';
import { appendFileSync, readFileSync } from 'node:fs';
appendFileSync(${JSON.stringify(starts)}, 'x');
const generation = readFileSync(${JSON.stringify(starts)}, 'utf8').length;
parentPort.on('message', (m) => {
  if (generation === 1) throw new Error('the detector crashed');
  parentPort.postMessage({ type: 'cropped', id: m.id, faces: { width: generation, height: 1, preview: null, found: 0, tooSmall: 0, faces: [] } });
});
parentPort.postMessage({ type: 'ready' });
`,
    );
    const cropper = faceCropper(script);
    const settings = { minConfidence: 0.5, minSize: 32, margin: 0.25, align: false, preview: false };
    try {
      await expect(cropper.crop(new Uint8Array(4), settings)).rejects.toThrow(/the detector crashed/);
      const [second, third] = await Promise.all([cropper.crop(new Uint8Array(4), settings), cropper.crop(new Uint8Array(4), settings)]);
      expect([second.width, third.width]).toEqual([2, 2]);
      expect(await readFile(starts, 'utf8')).toBe('xx');
    } finally {
      await cropper.dispose();
    }
  });
});
