import { chmod, mkdir, readdir, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventName } from '../../../../src/shared/contract';
import { describeFsError } from '../../../../src/main/common/errors';
import { EventBus } from '../../../../src/main/common/events';
import { moveFile, NameTakenError } from '../../../../src/main/project/fileMove';
import { ProjectSession } from '../../../../src/main/project/project';
import type { Probe } from '../../../../src/main/project/thumbnails';
import { jpeg, tempDir, writeAwkwardImages, writeJpeg } from '../../../helpers/fixtures';

/** The cached thumbnail file a probe points at; fails the test if there is none. */
function cachedFile(probe: Probe): string {
  if (!probe.ok) throw new Error(probe.problem);
  if (!('file' in probe)) throw new Error('the thumbnail was not cached');
  return probe.file;
}

describe('bad and unusual images', () => {
  let root: string;
  let cleanup: () => Promise<void>;
  let project: ProjectSession;

  beforeAll(async () => {
    ({ dir: root, cleanup } = await tempDir());
    await writeAwkwardImages(path.join(root, 'OK'));
    project = await ProjectSession.open(root, new EventBus(), { watchIntervalMs: 0 });
    await project.whenValidated();
  });
  afterAll(async () => {
    await project.close();
    await cleanup();
  });

  const item = (name: string) => project.snapshot().items.find((i) => i.path === `OK/${name}`);

  it.each([
    ['zero.jpg', 'Empty file (0 bytes)'],
    ['truncated.jpg', 'Truncated file (JPEG)'],
    ['truncated.png', 'Truncated file (PNG)'],
    ['text.jpg', 'Not an image (text)'],
    ['random.png', 'Not an image'],
    ['bomb.png', 'Over the 100 MP limit (12000×12000, 144 MP)'],
  ])('%s is flagged unreadable with a short, stable reason', (name, reason) => {
    expect(item(name)).toMatchObject({ status: 'unreadable', problem: reason });
  });

  it.each(['alpha.png', 'cmyk.jpg', 'deep16.png', 'gray.png', 'rotated.jpg', 'good.jpg'])('%s is readable and gets a thumbnail', (name) => {
    expect(item(name)).toMatchObject({ status: 'ok' });
  });

  it('notes CMYK, 16-bit, grayscale and alpha in the details', async () => {
    expect((await project.details('OK/cmyk.jpg')).notes.join()).toMatch(/CMYK/);
    expect((await project.details('OK/deep16.png')).notes.join()).toMatch(/16-bit/);
    expect((await project.details('OK/gray.png')).notes.join()).toMatch(/Grayscale/);
    expect((await project.details('OK/alpha.png')).notes.join()).toMatch(/transparency/);
    expect(await project.details('OK/bomb.png')).toMatchObject({ status: 'unreadable', problem: expect.stringMatching(/100 MP/) });
  });

  it('applies EXIF orientation: a 64×32 image tagged "rotate 90" becomes a 32×64 thumbnail', async () => {
    const details = await project.details('OK/rotated.jpg');
    expect([details.width, details.height]).toEqual([32, 64]);
    const meta = await sharp(cachedFile(await project.thumbnail('OK/rotated.jpg', 'thumb'))).metadata();
    expect([meta.width, meta.height]).toEqual([32, 64]);
  });

  it('converts CMYK and 16-bit to 8-bit sRGB thumbnails', async () => {
    for (const name of ['cmyk.jpg', 'deep16.png']) {
      const meta = await sharp(cachedFile(await project.thumbnail(`OK/${name}`, 'thumb'))).metadata();
      expect(meta).toMatchObject({ space: 'srgb', depth: 'uchar', format: 'webp' });
    }
  });

  it('caches thumbnails on disk and remakes one when the file changes', async () => {
    const first = cachedFile(await project.thumbnail('OK/good.jpg', 'thumb'));
    expect(cachedFile(await project.thumbnail('OK/good.jpg', 'thumb'))).toBe(first);
    const madeAt = (await stat(first)).mtimeMs;
    await writeJpeg(path.join(root, 'OK/good.jpg'), '#00f', 80, 20);
    await utimes(path.join(root, 'OK/good.jpg'), new Date(), new Date(Date.now() + 5000));
    const changed = cachedFile(await project.thumbnail('OK/good.jpg', 'thumb'));
    expect(changed).not.toBe(first);
    expect((await sharp(changed).metadata()).width).toBe(80);
    expect((await stat(first)).mtimeMs).toBe(madeAt);
  });

  it('refuses thumbnails for paths outside the project', async () => {
    await expect(project.thumbnail('../../etc/passwd', 'thumb')).rejects.toThrow(/leaves the project/);
  });
});

describe('moveFile', () => {
  it('never overwrites an existing file', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      await writeJpeg(path.join(dir, 'a.jpg'), '#111');
      await writeJpeg(path.join(dir, 'b.jpg'), '#222');
      await expect(moveFile(path.join(dir, 'a.jpg'), path.join(dir, 'b.jpg'))).rejects.toBeInstanceOf(NameTakenError);
      expect((await readdir(dir)).sort()).toEqual(['a.jpg', 'b.jpg']);
    } finally {
      await cleanup();
    }
  });

  // /dev/shm is a separate tmpfs on Linux: a real cross-device move (copy, fsync, delete).
  const shm = '/dev/shm';
  it.skipIf(process.platform !== 'linux')('copies, syncs and deletes across file systems', async () => {
    const { dir, cleanup } = await tempDir();
    const source = path.join(shm, `labelloop-xdev-${process.pid}.jpg`);
    try {
      const bytes = await jpeg('#123');
      await writeFile(source, bytes);
      if ((await stat(shm)).dev === (await stat(dir)).dev) return expect.fail('expected /dev/shm on another device');
      await moveFile(source, path.join(dir, 'moved.jpg'));
      await expect(stat(source)).rejects.toMatchObject({ code: 'ENOENT' });
      expect(await readdir(dir)).toEqual(['moved.jpg']);
    } finally {
      await rm(source, { force: true });
      await cleanup();
    }
  });
});

describe('project lifecycle', () => {
  it('imports files, skipping exact duplicates and refusing non-images', async () => {
    const { dir, cleanup } = await tempDir();
    const events: EventName[] = [];
    const bus = new EventBus();
    bus.subscribe((event) => events.push(event));
    try {
      await writeJpeg(path.join(dir, 'OK/a.jpg'), '#111');
      await mkdir(path.join(dir, 'NG'));
      const project = await ProjectSession.open(dir, bus, { watchIntervalMs: 0, backgroundValidation: false });
      const fresh = await jpeg('#999');
      expect(await project.importFile('NG', 'new.jpg', fresh)).toEqual({ imported: ['NG/new.jpg'], duplicates: [], rejected: [] });
      // Same bytes under another name, in another class: a duplicate, not a second copy.
      expect(await project.importFile('OK', 'copy.jpg', fresh)).toMatchObject({ imported: [], duplicates: [{ name: 'copy.jpg', existing: 'NG/new.jpg' }] });
      // Same name, different bytes: imported under a free name.
      expect((await project.importFile('NG', 'new.jpg', await jpeg('#777'))).imported).toEqual(['NG/new (2).jpg']);
      expect((await project.importFile('NG', 'notes.txt', Buffer.from('hi'))).rejected[0]?.message).toMatch(/Not an image file name/);
      expect((await project.importFile('NG', 'fake.jpg', Buffer.from('hi'))).rejected[0]?.message).toMatch(/Not an image/);
      expect((await project.importFile('NG', 'empty.jpg', Buffer.alloc(0))).rejected[0]?.message).toMatch(/empty/);
      expect((await project.importFile('NG', '../../escape.jpg', await jpeg('#456'))).imported).toEqual(['NG/escape.jpg']);
      await expect(project.importFile('Nope', 'x.jpg', fresh)).rejects.toThrow(/no class/);
      expect(events).toContain('dataset.changed');
      expect((await readdir(path.join(dir, 'NG'))).sort()).toEqual(['escape.jpg', 'new (2).jpg', 'new.jpg']);
      await project.close();
    } finally {
      await cleanup();
    }
  });

  it('creates, renames and deletes classes; refuses to delete a non-empty one', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      await writeJpeg(path.join(dir, 'OK/a.jpg'));
      const project = await ProjectSession.open(dir, new EventBus(), { watchIntervalMs: 0, backgroundValidation: false });
      expect((await project.createClass('Maybe')).classes).toEqual(['Maybe', 'OK']);
      await expect(project.createClass('OK')).rejects.toThrow(/already exists/);
      expect((await project.renameClass('Maybe', 'Unsure')).classes).toEqual(['OK', 'Unsure']);
      await expect(project.renameClass('Unsure', 'OK')).rejects.toThrow(/already exists/);
      await expect(project.deleteClass('OK')).rejects.toThrow(/still holds 1 file/);
      expect((await project.deleteClass('Unsure')).classes).toEqual(['OK']);
      await project.close();
    } finally {
      await cleanup();
    }
  });

  it('reports a project folder that vanishes while open, without crashing', async () => {
    const { dir, cleanup } = await tempDir();
    const lost: string[] = [];
    const bus = new EventBus();
    bus.subscribe((event, payload) => {
      if (event === 'project.lost') lost.push((payload as { message: string }).message);
    });
    try {
      const root = path.join(dir, 'project');
      await writeJpeg(path.join(root, 'OK/a.jpg'));
      const project = await ProjectSession.open(root, bus, { watchIntervalMs: 20, backgroundValidation: false });
      await rename(root, path.join(dir, 'moved-away'));
      await expect.poll(() => lost.length, { timeout: 2000 }).toBe(1);
      expect(lost[0]).toMatch(/no longer exists/);
      await expect(project.rescan()).rejects.toThrow(/Cannot read the project folder/);
      const result = await project.relabel(['OK/a.jpg'], 'OK');
      expect(result.failed).toEqual([{ path: 'OK/a.jpg', message: expect.stringMatching(/does not exist/) }]);
      await project.close();
    } finally {
      await cleanup();
    }
  });

  it.skipIf(process.getuid?.() === 0)('reports an unreadable class folder as a warning (skipped as root: root reads everything)', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      await writeJpeg(path.join(dir, 'OK/a.jpg'));
      await writeJpeg(path.join(dir, 'NG/b.jpg'));
      await chmod(path.join(dir, 'NG'), 0o000);
      const project = await ProjectSession.open(dir, new EventBus(), { watchIntervalMs: 0, backgroundValidation: false });
      expect(project.snapshot().warnings.join()).toMatch(/No permission/);
      await project.close();
      await chmod(path.join(dir, 'NG'), 0o755);
    } finally {
      await cleanup();
    }
  });

  it('words file-system errors for a user, naming the file', () => {
    const fail = (code: string) => Object.assign(new Error(code), { code });
    expect(describeFsError(fail('EACCES'), 'NG/x.jpg')).toBe('No permission to access NG/x.jpg');
    expect(describeFsError(fail('ENOSPC'), 'NG/x.jpg')).toMatch(/disk is full/);
    expect(describeFsError(fail('EROFS'), 'NG/x.jpg')).toMatch(/read-only/);
    expect(describeFsError(fail('ENOENT'), 'NG/x.jpg')).toMatch(/no longer exists/);
  });

  it('refuses to open a file or a missing folder with a clear message', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      await writeFile(path.join(dir, 'file.txt'), 'x');
      await expect(ProjectSession.open(path.join(dir, 'file.txt'), new EventBus())).rejects.toThrow(/is a file, not a folder/);
      await expect(ProjectSession.open(path.join(dir, 'missing'), new EventBus())).rejects.toThrow(/Cannot open .*missing: the folder does not exist/);
    } finally {
      await cleanup();
    }
  });
});

describe('content hash cache', () => {
  it('serves overlapping callers without racing on its file', async () => {
    const { HashCache } = await import('../../../../src/main/project/contentHash');
    const { dir, cleanup } = await tempDir();
    try {
      const files = await Promise.all(
        Array.from({ length: 20 }, async (_, i) => {
          const absolute = path.join(dir, `${i}.jpg`);
          await writeJpeg(absolute, `#${(i * 11).toString(16).padStart(2, '0')}0000`);
          return { absolute, version: `v${i}` };
        }),
      );
      const cache = new HashCache(path.join(dir, 'hashes.json'));
      const [a, b, c] = await Promise.all([cache.hashes(files), cache.hashes(files.slice(5)), cache.hashes(files)]);
      expect(a.size).toBe(20);
      expect(b.size).toBe(15);
      expect(c).toEqual(a);
      const reloaded = new HashCache(path.join(dir, 'hashes.json'));
      expect(await reloaded.hashes(files)).toEqual(a);
    } finally {
      await cleanup();
    }
  });
});

describe('thumbnail scheduling', () => {
  it('puts a thumbnail the grid asks for ahead of queued background validation', async () => {
    const { ThumbnailService } = await import('../../../../src/main/project/thumbnails');
    const { dir, cleanup } = await tempDir();
    try {
      const files = await Promise.all(
        Array.from({ length: 30 }, async (_, i) => {
          const file = path.join(dir, `${i}.jpg`);
          await writeJpeg(file, '#123456', 400, 300);
          return file;
        }),
      );
      const service = new ThumbnailService(path.join(dir, 'cache'), { slots: 1 });
      const finished: number[] = [];
      const background = files.map((file, i) => service.get(file, `v${i}`, 'thumb', false).then(() => finished.push(i)));
      // The last image, already queued in the background, is now on screen.
      await service.get(files[29] as string, 'v29', 'thumb', true);
      expect(finished.length).toBeLessThan(5);
      await Promise.all(background);
    } finally {
      await cleanup();
    }
  });

  it('closes a project while background validation is still queued, without hanging', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      for (let i = 0; i < 40; i++) await writeJpeg(path.join(dir, 'OK', `${i}.jpg`), '#654321', 400, 300);
      const project = await ProjectSession.open(dir, new EventBus(), { watchIntervalMs: 0 });
      await project.close();
      await expect(project.whenValidated()).resolves.toBeUndefined();
    } finally {
      await cleanup();
    }
  });
});
