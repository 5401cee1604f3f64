import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { generateDemoProject, seededRandom } from '../../../../src/main/project/demo';
import { tempDir } from '../../../helpers/fixtures';

describe('demo project', () => {
  it('is deterministic for a seed and different for another', async () => {
    const a = await tempDir();
    const b = await tempDir();
    const c = await tempDir();
    try {
      await generateDemoProject(a.dir, { perClass: 4, seed: 7 });
      await generateDemoProject(b.dir, { perClass: 4, seed: 7 });
      await generateDemoProject(c.dir, { perClass: 4, seed: 8 });
      for (const file of ['OK/ok_0001.jpg', 'NG/ng_0004.jpg']) {
        expect(await readFile(path.join(a.dir, file))).toEqual(await readFile(path.join(b.dir, file)));
        expect(await readFile(path.join(a.dir, file))).not.toEqual(await readFile(path.join(c.dir, file)));
      }
      expect((await readdir(path.join(a.dir, 'OK'))).length).toBe(4);
      const meta = await sharp(path.join(a.dir, 'OK/ok_0001.jpg')).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 160, 160]);
    } finally {
      await Promise.all([a.cleanup(), b.cleanup(), c.cleanup()]);
    }
  });

  it('draws a mask on OK faces: the lower face is mask-coloured, not skin', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      await generateDemoProject(dir, { perClass: 1, seed: 3 });
      const stats = async (file: string) => (await sharp(path.join(dir, file)).stats()).channels.map((c) => c.mean);
      expect(await stats('OK/ok_0001.jpg')).not.toEqual(await stats('NG/ng_0001.jpg'));
    } finally {
      await cleanup();
    }
  });

  it('seededRandom repeats its sequence', () => {
    const x = seededRandom(42);
    const y = seededRandom(42);
    expect(Array.from({ length: 5 }, x)).toEqual(Array.from({ length: 5 }, y));
  });
});
