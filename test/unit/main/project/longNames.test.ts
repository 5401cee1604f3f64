// Names at and past the file-system limit (255 bytes), and names with control characters: an
// import or a prediction keeps the image under a valid name instead of failing with ENAMETOOLONG.
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventBus } from '../../../../src/main/common/events';
import { PredictionService } from '../../../../src/main/inference/predictions';
import { moveFile, partialPath, uniqueName } from '../../../../src/main/project/fileMove';
import { fitFileName, MAX_NAME_BYTES, truncateUtf8 } from '../../../../src/main/project/fileNames';
import { ProjectSession } from '../../../../src/main/project/project';
import { jpeg, tempDir, writeJpeg } from '../../../helpers/fixtures';

const bytes = (name: string) => Buffer.byteLength(name);

describe('file names at the file-system limit', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => ({ dir, cleanup } = await tempDir()));
  afterEach(() => cleanup());

  it('cuts UTF-8 on character boundaries and keeps the extension and the tail', () => {
    expect(truncateUtf8('ééé', 5)).toBe('éé');
    expect(truncateUtf8('a😀b', 4)).toBe('a');
    const long = `${'é'.repeat(200)}.jpeg`;
    const fitted = fitFileName(long, ' (12)');
    expect(bytes(fitted)).toBeLessThanOrEqual(MAX_NAME_BYTES);
    expect(fitted).toMatch(/^é+ \(12\)\.jpeg$/);
    expect(fitFileName('short.jpg', ' (2)')).toBe('short (2).jpg');
  });

  it('finds free names for a 255-byte name that already exists, and partial names stay valid', async () => {
    const name = `${'x'.repeat(MAX_NAME_BYTES - 4)}.jpg`;
    await writeJpeg(path.join(dir, name));
    const second = await uniqueName(dir, name, new Set());
    expect(second).toMatch(/^x+ \(2\)\.jpg$/);
    expect(bytes(second)).toBe(MAX_NAME_BYTES);
    expect(bytes(path.basename(partialPath(path.join(dir, second))))).toBeLessThanOrEqual(MAX_NAME_BYTES);
    // The full move path writes nothing longer either.
    await moveFile(path.join(dir, name), path.join(dir, second));
    expect(await readdir(dir)).toEqual([second]);
  });

  it('imports a 300-character name and a name with NUL and control characters under valid names', async () => {
    await mkdir(path.join(dir, 'NG'));
    const project = await ProjectSession.open(dir, new EventBus(), { watchIntervalMs: 0, backgroundValidation: false });
    try {
      const long = `${'ü'.repeat(300)}.jpg`;
      const first = await project.importFile('NG', long, await jpeg('#101'));
      expect(first.rejected).toEqual([]);
      const [stored] = first.imported;
      expect(stored).toMatch(/^NG\/ü+\.jpg$/);
      expect(bytes(path.basename(stored ?? ''))).toBeLessThanOrEqual(MAX_NAME_BYTES);
      // The same long name again needs a " (2)", which must still fit.
      const second = await project.importFile('NG', long, await jpeg('#202'));
      expect(second.imported[0]).toMatch(/^NG\/ü+ \(2\)\.jpg$/);
      const control = await project.importFile('NG', 'a\u0000b\u0007c\n.jpg', await jpeg('#303'));
      expect(control).toEqual({ imported: ['NG/a_b_c_.jpg'], duplicates: [], rejected: [] });
      expect((await readdir(path.join(dir, 'NG'))).filter((n) => n.startsWith('.'))).toEqual([]);
    } finally {
      await project.close();
    }
  });

  it('predicts files with over-long names and NUL in them', async () => {
    const runDir = path.join(dir, '.labelloop/runs/20261123-120000-abcd');
    await mkdir(path.join(runDir, 'model'), { recursive: true });
    await writeFile(path.join(runDir, 'model/labelloop.json'), JSON.stringify({}));
    const service = new PredictionService({
      loadPredictor: async () => ({
        classes: ['NG', 'OK'],
        preprocessing: { inputSize: 96, scale: '0,1', resize: 'stretch', interpolation: 'bilinear' as const, threshold: null },
        engine: { engine: 'onnx', label: 'ONNX Runtime (CPU, 2 threads)', notUsed: [] },
        predict: async (files) => files.map(() => ({ probabilities: [0.9, 0.1], error: null })),
        dispose: async () => undefined,
      }),
    });
    const session = await service.open(dir, '20261123-120000-abcd', runDir);
    try {
      for (const name of [`${'p'.repeat(300)}.png`, `${'é'.repeat(200)}.jpg`, 'nul\u0000name.jpg']) {
        const row = await service.predictFile(session.sessionId, name, await jpeg());
        expect(row).toMatchObject({ name, predicted: 'NG', error: null });
        expect(bytes(path.basename(row.path ?? ''))).toBeLessThanOrEqual(MAX_NAME_BYTES);
      }
    } finally {
      await service.close();
    }
  });
});
