// The prediction session without a model: a stand-in predictor shows batching, bad files, a model
// that dies, and cleanup. The real model path is covered in demoTraining.test.ts and the e2e test.
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Predictor } from '../../../../src/main/inference/predictor';
import { PredictionService } from '../../../../src/main/inference/predictions';
import { jpeg, tempDir } from '../../../helpers/fixtures';

const RUN = '20261123-120000-abcd';

describe('prediction sessions', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let batches: string[][];
  let loads: number;
  let failNext: boolean;

  const fakePredictor = async (): Promise<Predictor> => {
    loads++;
    return {
      classes: ['NG', 'OK'],
      preprocessing: { inputSize: 96, scale: '0,1', resize: 'stretch', interpolation: 'bilinear' as const, threshold: { positiveClass: 'NG', threshold: 0.7 } },
      engine: { engine: 'onnx', label: 'ONNX Runtime (CPU, 2 threads)', notUsed: [] },
      predict: async (files) => {
        batches.push(files.map((f) => path.basename(f)));
        await new Promise((resolve) => setTimeout(resolve, 30));
        if (failNext) throw new Error('The prediction worker stopped unexpectedly (exit code 1)');
        // p(NG) from the name: "ng60-…" → 0.6.
        return files.map((f) => {
          const p = Number(/ng(\d+)/.exec(path.basename(f))?.[1] ?? 0) / 100;
          return { probabilities: [p, 1 - p], error: null };
        });
      },
      dispose: async () => undefined,
    };
  };

  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir());
    batches = [];
    loads = 0;
    failNext = false;
    await mkdir(path.join(dir, '.labelloop/runs', RUN, 'model'), { recursive: true });
    await writeFile(path.join(dir, '.labelloop/runs', RUN, 'model/labelloop.json'), JSON.stringify({ operatingPoint: { positiveClass: 'NG', threshold: 0.5 } }));
  });
  afterEach(() => cleanup());

  const runDir = () => path.join(dir, '.labelloop/runs', RUN);

  it('batches concurrent files, applies the operating point, and keeps same-named files apart', async () => {
    const service = new PredictionService({ loadPredictor: fakePredictor });
    const session = await service.open(dir, RUN, runDir());
    const image = await jpeg();
    const rows = await Promise.all(['a/ng80-x.jpg', 'b/ng80-x.jpg', 'ng60-y.jpg', 'ng10-z.jpg'].map((name) => service.predictFile(session.sessionId, name, image)));
    expect(rows.map((r) => [r.name, r.predicted])).toEqual([
      ['a/ng80-x.jpg', 'NG'],
      ['b/ng80-x.jpg', 'NG'],
      ['ng60-y.jpg', 'OK'], // 0.6 is under the loaded model's 0.7
      ['ng10-z.jpg', 'OK'],
    ]);
    expect(new Set(rows.map((r) => r.path)).size).toBe(4);
    expect(rows.every((r) => r.path?.startsWith(`.labelloop/predict/${session.sessionId}/`))).toBe(true);
    // Files that arrive while the model is busy wait and go together.
    expect(batches.flat()).toHaveLength(4);
    expect(batches.length).toBeLessThan(4);
  });

  it('refuses empty, non-image and unknown-session files with a reason, storing nothing', async () => {
    const service = new PredictionService({ loadPredictor: fakePredictor });
    const session = await service.open(dir, RUN, runDir());
    expect(await service.predictFile(session.sessionId, 'empty.jpg', new Uint8Array(0))).toMatchObject({ path: null, error: 'The file is empty (0 bytes)' });
    expect(await service.predictFile(session.sessionId, 'notes.txt', Buffer.from('x'))).toMatchObject({ path: null, error: expect.stringMatching(/Not an image file name/) });
    await expect(service.predictFile('other', 'a.jpg', await jpeg())).rejects.toThrow(/session is closed/);
    expect(await readdir(path.join(dir, '.labelloop/predict', session.sessionId))).toEqual([]);
    expect(batches).toEqual([]);
  });

  it('reuses the same run\'s model (rereading its operating point), and reloads it after it died', async () => {
    const service = new PredictionService({ loadPredictor: fakePredictor });
    const first = await service.open(dir, RUN, runDir());
    expect(first.operatingPoint).toEqual({ positiveClass: 'NG', threshold: 0.7 });
    const again = await service.open(dir, RUN, runDir());
    expect(again.sessionId).toBe(first.sessionId);
    expect(again.operatingPoint).toEqual({ positiveClass: 'NG', threshold: 0.5 });
    expect(loads).toBe(1);

    failNext = true;
    const row = await service.predictFile(first.sessionId, 'ng90.jpg', await jpeg());
    expect(row).toMatchObject({ predicted: null, error: expect.stringMatching(/stopped unexpectedly.*choose the model again/) });
    failNext = false;
    const reopened = await service.open(dir, RUN, runDir());
    expect(reopened.sessionId).not.toBe(first.sessionId);
    expect(loads).toBe(2);
    expect(await readdir(path.join(dir, '.labelloop/predict'))).toEqual([reopened.sessionId]);
  });

  it('refuses a run without a model, and closing deletes the copies', async () => {
    const service = new PredictionService({ loadPredictor: fakePredictor });
    await expect(service.open(dir, '20261123-130000-ffff', path.join(dir, '.labelloop/runs/20261123-130000-ffff'))).rejects.toThrow(/has no saved model/);
    const session = await service.open(dir, RUN, runDir());
    await service.predictFile(session.sessionId, 'ng10.jpg', await jpeg());
    expect(await service.close('not-this-one')).toBe(false);
    expect(await service.close(session.sessionId)).toBe(true);
    expect(await readdir(path.join(dir, '.labelloop/predict'))).toEqual([]);
    expect(service.current()).toBeNull();
  });
});
