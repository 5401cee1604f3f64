// splits.preview gives the Data tab example images per split, a few of every class, each from its split.
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LabelLoopApp } from '../../../../src/main/app';
import { sampleByClass } from '../../../../src/main/training/splits';
import type { SplitPreview } from '../../../../src/shared/contract';
import { tempDir, writeJpeg } from '../../../helpers/fixtures';

describe('split preview examples', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let app: LabelLoopApp;

  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir());
    const project = path.join(dir, 'project');
    // Distinct colours: every image has its own content hash, so each gets its own split.
    for (let i = 0; i < 12; i++) await writeJpeg(path.join(project, `OK/ok${i}.jpg`), `#${(i * 16 + 15).toString(16).padStart(2, '0')}4080`);
    for (let i = 0; i < 6; i++) await writeJpeg(path.join(project, `NG/ng${i}.jpg`), `#80${(i * 32 + 15).toString(16).padStart(2, '0')}40`);
    app = new LabelLoopApp({ host: 'web', version: 'test', configDir: path.join(dir, 'config'), projectOptions: { watchIntervalMs: 0, backgroundValidation: false } });
    const opened = await app.handle('project.open', { path: project });
    if (!opened.ok) throw new Error(opened.error.message);
  });
  afterEach(async () => {
    await app.dispose();
    await cleanup();
  });

  it('lists up to four images of each class per split, matching the counts', async () => {
    const answer = await app.handle('splits.preview', { val: 0.5, test: 0, seed: 7, balancing: 'none' });
    if (!answer.ok) throw new Error(answer.error.message);
    const preview = answer.result as SplitPreview;
    expect(preview.counts.train).toEqual({ NG: 3, OK: 6 });
    for (const split of ['train', 'val'] as const) {
      const examples = preview.examples[split];
      expect(examples.filter((e) => e.label === 'NG')).toHaveLength(3);
      expect(examples.filter((e) => e.label === 'OK')).toHaveLength(4);
      for (const example of examples) expect(example.path.startsWith(`${example.label}/`)).toBe(true);
    }
    // Train and val examples never share an image.
    const train = new Set(preview.examples.train.map((e) => e.path));
    expect(preview.examples.val.filter((e) => train.has(e.path))).toEqual([]);
    expect(preview.examples.test).toEqual([]);
  });
});

describe('sampleByClass', () => {
  it('takes the classes in turn, so a short sample still shows every class', () => {
    const items = [...['a', 'b', 'c'].map((n) => ({ label: 'NG', n })), ...['d', 'e'].map((n) => ({ label: 'OK', n }))];
    expect(sampleByClass(items, 2).map((i) => i.n)).toEqual(['a', 'd', 'b', 'e']);
    expect(sampleByClass(items, 2, 3).map((i) => i.label)).toEqual(['NG', 'OK', 'NG']);
  });
});
