// Background validation judges an image by decoding it, and by nothing else: not by a relabel that
// moved the file while the check was queued, and not by a thumbnail cache that cannot be written.
import { mkdir, readdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { EventBus } from '../../../../src/main/common/events';
import { ProjectSession } from '../../../../src/main/project/project';
import { type Probe, ThumbnailService } from '../../../../src/main/project/thumbnails';
import { TrainingService } from '../../../../src/main/training/session';
import { FaultyFs } from '../../../helpers/faultyFs';
import { tempDir, writeAwkwardImages, writeJpeg } from '../../../helpers/fixtures';

const color = (i: number) => `#${((i * 2654435761) % 0xffffff).toString(16).padStart(6, '0')}`;

/** A cache write on a full disk: the file is created, nothing lands in it, the write fails. */
async function fullDiskWrite(file: string): Promise<void> {
  await writeFile(file, '');
  throw Object.assign(new Error(`ENOSPC: no space left on device, write '${file}'`), { code: 'ENOSPC' });
}

/** A good JPEG and two cut short: enough to tell the image's problems from the cache's. */
async function writeGoodAndTruncated(folder: string): Promise<Record<'good' | 'truncatedJpeg' | 'truncatedPng', string>> {
  await mkdir(folder, { recursive: true });
  const jpeg = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#8a5' } }).jpeg().toBuffer();
  const png = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#8a5' } }).png().toBuffer();
  const files = { good: jpeg, truncatedJpeg: jpeg.subarray(0, jpeg.length >> 1), truncatedPng: png.subarray(0, png.length - 40) };
  const paths = { good: '', truncatedJpeg: '', truncatedPng: '' };
  for (const [name, data] of Object.entries(files) as [keyof typeof files, Buffer][]) {
    paths[name] = path.join(folder, `${name}.${name === 'truncatedPng' ? 'png' : 'jpg'}`);
    await writeFile(paths[name], data);
  }
  return paths;
}

/**
 * A cache whose first write waits for `release`: with one decode slot, every later check stays
 * queued until then. `heldFile` is the cache file being written, which says whose check holds the slot.
 */
function cacheHeldAtFirstWrite(): { release: () => void; heldFile: Promise<string>; writeFile: (file: string, data: Buffer | string) => Promise<void> } {
  let release = () => {};
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  let holding = (_file: string) => {};
  const heldFile = new Promise<string>((resolve) => {
    holding = resolve;
  });
  let first = true;
  return {
    release,
    heldFile,
    writeFile: async (file, data) => {
      if (first) {
        first = false;
        holding(file);
        await held;
      }
      await writeFile(file, data);
    },
  };
}

async function filesUnder(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => e.name);
}

describe('background validation while images are relabeled', () => {
  it('follows moves: relabeling during the first check leaves every image readable and in training', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const count = 80;
      for (let i = 0; i < count; i++) await writeJpeg(path.join(dir, 'NG', `${i}.jpg`), color(i), 480, 360);
      await writeJpeg(path.join(dir, 'OK', 'keep.jpg'));
      const project = await ProjectSession.open(dir, new EventBus(), { watchIntervalMs: 0 });
      try {
        const moved = project.snapshot().items.filter((i) => i.label === 'NG').map((i) => i.path);
        // While the first check is still running: move them all, take it back, move them again.
        await project.relabel(moved, 'OK');
        await project.undo();
        await project.redo();
        await project.whenValidated();
        const unreadable = (items: { status: string }[]) => items.filter((i) => i.status === 'unreadable');
        expect(unreadable(project.snapshot().items)).toEqual([]);
        expect(project.snapshot().items.filter((i) => i.label === 'OK' && i.status === 'ok')).toHaveLength(count + 1);
        // Verdicts are kept per file version: a rescan must not bring back a miss as a problem.
        await project.rescan();
        await project.whenValidated();
        expect(unreadable(project.snapshot().items)).toEqual([]);
        const preview = await new TrainingService(new EventBus()).previewSplits(project, { val: 0.2, test: 0, seed: 1, balancing: 'none' });
        expect(preview.excluded).toBe(0);
        expect(preview.counts.train.OK! + preview.counts.val.OK!).toBe(count + 1);
      } finally {
        await project.close();
      }
    } finally {
      await cleanup();
    }
  });

  it('a file deleted before its check, with no relabel running, is a miss at once: no verdict, and the next scan drops it', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      for (let i = 0; i < 5; i++) await writeJpeg(path.join(dir, 'OK', `${i}.jpg`), color(i));
      const cache = cacheHeldAtFirstWrite();
      const project = await ProjectSession.open(dir, new EventBus(), { watchIntervalMs: 0, thumbnails: { slots: 1, writeFile: cache.writeFile } });
      try {
        for (let i = 0; i < 5; i++) await unlink(path.join(dir, 'OK', `${i}.jpg`));
        cache.release();
        const started = Date.now();
        await project.whenValidated();
        // Nothing could bring the files back, so nothing is waited for (it used to be 30 s).
        expect(Date.now() - started).toBeLessThan(5_000);
        expect(project.snapshot().items.filter((i) => i.status === 'unreadable')).toEqual([]);
        expect(project.snapshot().items.filter((i) => i.status === 'pending').length).toBeGreaterThanOrEqual(4);
        await project.rescan();
        expect(project.snapshot().items).toEqual([]);
      } finally {
        await project.close();
      }
    } finally {
      await cleanup();
    }
  }, 60_000);

  it('a class folder replaced by a file before its images are checked is a miss, never a crash', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      for (let i = 0; i < 5; i++) await writeJpeg(path.join(dir, 'OK', `${i}.jpg`), color(i));
      const cache = cacheHeldAtFirstWrite();
      const project = await ProjectSession.open(dir, new EventBus(), { watchIntervalMs: 0, thumbnails: { slots: 1, writeFile: cache.writeFile } });
      try {
        // Looking up OK/1.jpg now fails with ENOTDIR, not ENOENT.
        await rename(path.join(dir, 'OK'), path.join(dir, 'moved-away'));
        await writeFile(path.join(dir, 'OK'), 'not a folder any more');
        cache.release();
        await expect(project.whenValidated()).resolves.toBeUndefined();
        expect(project.snapshot().items.filter((i) => i.status === 'unreadable')).toEqual([]);
        expect(project.snapshot().items.filter((i) => i.status === 'pending').length).toBeGreaterThanOrEqual(4);
        expect(await project.thumbnails.get(path.join(dir, 'OK', '1.jpg'), 'other', 'thumb')).toMatchObject({ ok: false, missing: true });
      } finally {
        await project.close();
      }
    } finally {
      await cleanup();
    }
  });

  it('a file a refused relabel took away and put back is checked where it is back, not left pending', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      await writeJpeg(path.join(dir, 'A', 'one.jpg'), color(1));
      await writeJpeg(path.join(dir, 'A', 'two.jpg'), color(2));
      await mkdir(path.join(dir, 'B'));
      const cache = cacheHeldAtFirstWrite();
      const faulty = new FaultyFs();
      const project = await ProjectSession.open(dir, new EventBus(), { watchIntervalMs: 0, fs: faulty.fs, thumbnails: { slots: 1, writeFile: cache.writeFile } });
      try {
        // Relabel the image whose check is still queued behind the held one.
        const heldFile = path.basename(await cache.heldFile);
        const queued = project.snapshot().items.find((item) => !heldFile.startsWith(project.thumbnails.cacheKey(item.version, 'thumb')));
        if (!queued) throw new Error('no queued check');
        // Each check that misses a file is seen here, so the test knows the queued one missed.
        const service = project.thumbnails as unknown as { make: (...args: unknown[]) => Promise<Probe> };
        const make = service.make.bind(service);
        let missedOne = () => {};
        const missed = new Promise<void>((resolve) => {
          missedOne = resolve;
        });
        service.make = async (...args) => {
          const probe = await make(...args);
          if (!probe.ok && probe.missing) missedOne();
          return probe;
        };
        // Writes of the relabel: begin (write, sync), the move (link, unlink), then the commit, which the full disk refuses.
        faulty.arm(5, 'ENOSPC', false);
        const commit = faulty.pauseAt(5);
        const refused = project.relabel([queued.path], 'B');
        await commit.reached;
        cache.release();
        await missed;
        commit.resume();
        await expect(refused).rejects.toThrow(/^The disk is full: nothing was moved$/);
        await project.whenValidated();
        expect(project.snapshot().items.find((item) => item.path === queued.path)).toMatchObject({ label: 'A', status: 'ok' });
      } finally {
        await project.close();
      }
    } finally {
      await cleanup();
    }
  }, 60_000);

  it('a file missing at the path looked at is a miss, not a verdict: nothing is cached for its version', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      await writeJpeg(path.join(dir, 'NG', 'a.jpg'));
      const service = new ThumbnailService(path.join(dir, 'cache'));
      expect(await service.get(path.join(dir, 'OK', 'a.jpg'), 'v1', 'thumb')).toMatchObject({ ok: false, missing: true });
      expect(await service.get(path.join(dir, 'NG', 'a.jpg'), 'v1', 'thumb')).toMatchObject({ ok: true });
    } finally {
      await cleanup();
    }
  });
});

describe('a thumbnail cache that cannot be written', () => {
  it('is the cache’s problem: good images decode, bad ones keep their reason, nothing half-written stays', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const files = await writeGoodAndTruncated(path.join(dir, 'images'));
      const cacheDir = path.join(dir, 'cache');
      const full = new ThumbnailService(cacheDir, { writeFile: fullDiskWrite });
      const good = await full.get(files.good, 'good', 'thumb');
      if (!good.ok || !('webp' in good)) throw new Error(`expected the thumbnail from memory, got ${JSON.stringify(good)}`);
      expect((await sharp(good.webp).metadata()).format).toBe('webp');
      expect(await full.get(files.truncatedPng, 'bad', 'thumb')).toEqual({ ok: false, problem: 'Truncated file (PNG)' });
      // No .err, no empty .err, no .webp.tmp: a failed write leaves nothing a later run could misread.
      expect(await filesUnder(cacheDir)).toEqual([]);

      const healthy = new ThumbnailService(cacheDir);
      expect(await healthy.get(files.good, 'good', 'thumb')).toMatchObject({ ok: true, file: expect.stringMatching(/\.webp$/) });
      expect(await healthy.get(files.truncatedPng, 'bad', 'thumb')).toEqual({ ok: false, problem: 'Truncated file (PNG)' });
      const errFiles = (await readdir(cacheDir, { recursive: true })).filter((name) => name.endsWith('.err'));
      expect(errFiles).toHaveLength(1);
      expect(await readFile(path.join(cacheDir, errFiles[0]!), 'utf8')).toBe('Truncated file (PNG)');
    } finally {
      await cleanup();
    }
  });

  it('reads an empty .err left by an earlier full disk as no verdict, never as an empty reason', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const files = await writeGoodAndTruncated(path.join(dir, 'images'));
      const cacheDir = path.join(dir, 'cache');
      const service = new ThumbnailService(cacheDir);
      for (const version of ['good', 'bad']) {
        const key = service.cacheKey(version, 'thumb');
        await mkdir(path.join(cacheDir, key.slice(0, 2)), { recursive: true });
        await writeFile(path.join(cacheDir, key.slice(0, 2), `${key}.err`), '');
      }
      expect(await service.get(files.good, 'good', 'thumb')).toMatchObject({ ok: true });
      expect(await service.get(files.truncatedJpeg, 'bad', 'thumb')).toEqual({ ok: false, problem: 'Truncated file (JPEG)' });
    } finally {
      await cleanup();
    }
  });

  it('leaves a project on a full disk with every good image readable, and every bad one with a reason', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      await writeAwkwardImages(path.join(dir, 'OK'));
      const expectVerdicts = (project: ProjectSession) => {
        const byName = new Map(project.snapshot().items.map((i) => [path.basename(i.path), i]));
        for (const name of ['good.jpg', 'alpha.png', 'cmyk.jpg', 'deep16.png', 'gray.png', 'rotated.jpg']) expect(byName.get(name)?.status, name).toBe('ok');
        for (const name of ['truncated.jpg', 'truncated.png', 'text.jpg', 'random.png', 'bomb.png', 'zero.jpg']) {
          expect(byName.get(name), name).toMatchObject({ status: 'unreadable', problem: expect.stringMatching(/\S/) });
        }
      };
      const onFullDisk = await ProjectSession.open(dir, new EventBus(), { watchIntervalMs: 0, thumbnails: { writeFile: fullDiskWrite } });
      await onFullDisk.whenValidated();
      expectVerdicts(onFullDisk);
      await onFullDisk.close();
      // Space freed: the next open judges the same way, from a cache with nothing misleading in it.
      const afterwards = await ProjectSession.open(dir, new EventBus(), { watchIntervalMs: 0 });
      await afterwards.whenValidated();
      expectVerdicts(afterwards);
      await afterwards.close();
    } finally {
      await cleanup();
    }
  });
});
