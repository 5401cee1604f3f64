import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PathConfinement } from '../../../../src/main/project/confine';
import { scanProject } from '../../../../src/main/project/scan';
import { gridOrder } from '../../../../src/shared/images';
import { makeProject, tempDir, writeJpeg } from '../../../helpers/fixtures';

describe('scanProject', () => {
  let root: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => {
    ({ dir: root, cleanup } = await tempDir());
    await makeProject(root);
  });
  afterEach(() => cleanup());

  it('treats subfolders as classes, recurses inside them and lists root images as unlabeled', async () => {
    const result = await scanProject(await PathConfinement.create(root));
    expect(result.classes).toEqual(['NG', 'OK']);
    expect(result.items.sort(gridOrder).map((i) => [i.path, i.label])).toEqual([
      ['NG/a.jpg', 'NG'],
      ['OK/a.jpg', 'OK'],
      ['OK/b.JPG', 'OK'],
      ['OK/day1/c.jpeg', 'OK'],
      ['NG/d.jpg', 'NG'],
      ['loose.jpg', null],
    ]);
  });

  it('accepts every image extension in any case and ignores other files and hidden entries', async () => {
    for (const name of ['x.PNG', 'x.webp', 'x.Bmp', 'x.gif', 'x.TIF', 'x.tiff']) await writeFile(path.join(root, 'OK', name), 'x');
    await writeFile(path.join(root, 'OK/notes.txt'), 'x');
    await writeFile(path.join(root, 'OK/.hidden.jpg'), 'x');
    await mkdir(path.join(root, '.labelloop/thumbs'), { recursive: true });
    await writeJpeg(path.join(root, '.labelloop/thumbs/t.jpg'));
    const result = await scanProject(await PathConfinement.create(root));
    const ok = result.items.filter((i) => i.label === 'OK').map((i) => path.basename(i.path));
    expect(ok).toEqual(expect.arrayContaining(['x.PNG', 'x.webp', 'x.Bmp', 'x.gif', 'x.TIF', 'x.tiff']));
    expect(ok).not.toContain('notes.txt');
    expect(ok).not.toContain('.hidden.jpg');
    expect(result.classes).not.toContain('.labelloop');
  });

  it('marks zero-byte files unreadable at once', async () => {
    await writeFile(path.join(root, 'NG/empty.jpg'), '');
    const result = await scanProject(await PathConfinement.create(root));
    expect(result.items.find((i) => i.path === 'NG/empty.jpg')).toMatchObject({ status: 'unreadable', problem: 'Empty file (0 bytes)' });
  });

  it('skips links that point outside the project, with a warning', async () => {
    const outside = await tempDir();
    try {
      await writeJpeg(path.join(outside.dir, 'x.jpg'));
      await symlink(outside.dir, path.join(root, 'Linked'));
      await symlink(path.join(outside.dir, 'x.jpg'), path.join(root, 'OK/out.jpg'));
      const result = await scanProject(await PathConfinement.create(root));
      expect(result.classes).not.toContain('Linked');
      expect(result.items.map((i) => i.path)).not.toContain('OK/out.jpg');
      expect(result.warnings.join('\n')).toMatch(/outside the project/);
    } finally {
      await outside.cleanup();
    }
  });

  it('gives each file a version that changes with its content', async () => {
    const before = (await scanProject(await PathConfinement.create(root))).items.find((i) => i.path === 'OK/a.jpg');
    await new Promise((r) => setTimeout(r, 20));
    await writeJpeg(path.join(root, 'OK/a.jpg'), '#fff', 50, 50);
    const after = (await scanProject(await PathConfinement.create(root))).items.find((i) => i.path === 'OK/a.jpg');
    expect(after?.version).not.toBe(before?.version);
  });
});
