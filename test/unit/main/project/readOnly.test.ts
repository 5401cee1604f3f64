// A project whose .labelloop cannot be written (read-only disk, full disk, no permission) opens
// read-only: browsing and runs work, and every change is refused in plain words.
import { createHash } from 'node:crypto';
import { appendFile, chmod, chown, lstat, mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LabelLoopApp } from '../../../../src/main/app';
import { EventBus } from '../../../../src/main/common/events';
import { ProjectSession } from '../../../../src/main/project/project';
import { FaultyFs } from '../../../helpers/faultyFs';
import { jpeg, makeProject, tempDir } from '../../../helpers/fixtures';
import { contentByPath } from '../../../helpers/inventory';

describe('a project that cannot be written', () => {
  let root: string;
  let cleanup: () => Promise<void>;
  let faulty: FaultyFs;
  let cacheHome: string;
  let cleanCache: () => Promise<void>;
  const savedCacheHome = process.env.XDG_CACHE_HOME;
  const open = () => ProjectSession.open(root, new EventBus(), { watchIntervalMs: 0, fs: faulty.fs });

  beforeEach(async () => {
    ({ dir: root, cleanup } = await tempDir());
    await makeProject(root);
    faulty = new FaultyFs();
    ({ dir: cacheHome, cleanup: cleanCache } = await tempDir('labelloop-cache-home-'));
    process.env.XDG_CACHE_HOME = cacheHome;
  });
  afterEach(async () => {
    if (savedCacheHome === undefined) delete process.env.XDG_CACHE_HOME;
    else process.env.XDG_CACHE_HOME = savedCacheHome;
    await cleanCache();
    await cleanup();
  });

  const projectKey = () => createHash('sha1').update(root).digest('hex').slice(0, 16);
  const privateThumbs = () => path.join(cacheHome, 'labelloop', 'read-only-thumbs', projectKey());

  /** Puts a false "unreadable" verdict for OK/a.jpg's thumbnail into `cacheDir`, as another local user could. */
  const plantVerdict = async (project: ProjectSession, cacheDir: string) => {
    const version = project.snapshot().items.find((item) => item.path === 'OK/a.jpg')?.version ?? '';
    const key = project.thumbnails.cacheKey(version, 'thumb');
    await mkdir(path.join(cacheDir, key.slice(0, 2)), { recursive: true });
    await writeFile(path.join(cacheDir, key.slice(0, 2), `${key}.err`), 'Planted by another user');
  };
  const openReadOnlyUnchecked = () => {
    faulty.readOnly('EROFS');
    return ProjectSession.open(root, new EventBus(), { watchIntervalMs: 0, backgroundValidation: false, fs: faulty.fs });
  };

  it('caches thumbnails in a folder of this user alone, never in the shared temporary folder', async () => {
    const project = await openReadOnlyUnchecked();
    // Where every read-only project's thumbnails used to go, under a name anyone could work out.
    const shared = path.join(os.tmpdir(), 'labelloop-thumbs', projectKey());
    try {
      await plantVerdict(project, shared);
      expect(await project.thumbnail('OK/a.jpg', 'thumb')).toMatchObject({ ok: true, file: expect.stringContaining(privateThumbs()) });
      expect((await lstat(privateThumbs())).mode & 0o777).toBe(0o700);
    } finally {
      await project.close();
      await rm(shared, { recursive: true, force: true });
    }
  });

  it('tightens a private thumbnail folder that others could write, and follows no link put in its place', async () => {
    await mkdir(privateThumbs(), { recursive: true, mode: 0o777 });
    await chmod(privateThumbs(), 0o777); // mkdir's mode is cut by the umask
    let project = await openReadOnlyUnchecked();
    expect((await lstat(privateThumbs())).mode & 0o777).toBe(0o700);
    await project.close();

    const elsewhere = path.join(cacheHome, 'elsewhere');
    await mkdir(elsewhere);
    await rm(privateThumbs(), { recursive: true });
    await symlink(elsewhere, privateThumbs());
    project = await openReadOnlyUnchecked();
    expect((await project.thumbnail('OK/a.jpg', 'thumb')).ok).toBe(true);
    await project.close();
    expect(await readdir(elsewhere)).toEqual([]);
  });

  it.runIf(process.getuid?.() === 0)('ignores a private thumbnail folder that another user owns', async () => {
    const project = await openReadOnlyUnchecked();
    await project.close();
    await plantVerdict(project, privateThumbs());
    await chown(privateThumbs(), 4321, 4321);
    const reopened = await openReadOnlyUnchecked();
    expect((await reopened.thumbnail('OK/a.jpg', 'thumb')).ok).toBe(true);
    await reopened.close();
  });

  it('on a read-only disk opens read-only: images, thumbnails and details work, every change is refused', async () => {
    const before = await contentByPath(root);
    faulty.readOnly('EROFS');
    const project = await open();
    await project.whenValidated();
    const snapshot = project.snapshot();
    expect(snapshot.readOnly).toBe('The project is on a read-only disk');
    expect(snapshot.items).toHaveLength(6);
    expect(snapshot.items.every((item) => item.status === 'ok')).toBe(true);
    expect((await project.thumbnail('OK/a.jpg', 'thumb')).ok).toBe(true);
    expect((await project.details('OK/a.jpg')).width).toBe(40);
    expect((await project.contentHashes(snapshot.items)).size).toBe(6);

    const refused = /^The project is on a read-only disk: (.+) \(browsing images and inspecting runs still work\)$/;
    await expect(project.relabel(['OK/a.jpg'], 'NG')).rejects.toThrow(/read-only disk: images cannot be relabeled/);
    await expect(project.undo()).rejects.toThrow(/read-only disk: nothing can be undone/);
    await expect(project.importFile('OK', 'new.jpg', await jpeg('#999'))).rejects.toThrow(/read-only disk: images cannot be imported/);
    await expect(project.createClass('New')).rejects.toThrow(refused);
    await expect(project.renameClass('NG', 'Bad')).rejects.toThrow(/classes cannot be renamed/);
    await expect(project.deleteClass('NG')).rejects.toThrow(/classes cannot be deleted/);
    expect(await contentByPath(root)).toEqual(before);
    await project.close();
  });

  it('on a full disk opens read-only instead of failing with ENOSPC', async () => {
    faulty.readOnly('ENOSPC');
    const project = await open();
    expect(project.snapshot().readOnly).toBe('The disk is full');
    await expect(project.relabel(['OK/a.jpg'], 'NG')).rejects.toThrow(/^The disk is full: images cannot be relabeled/);
    await project.close();

    // Through the app (what the web server and Electron call), opening answers, read-only, with no ENOSPC escaping.
    const { dir: configDir, cleanup: cleanConfig } = await tempDir();
    const app = new LabelLoopApp({ host: 'web', version: 'test', configDir, projectOptions: { watchIntervalMs: 0, fs: faulty.fs } });
    expect(await app.handle('project.open', { path: root })).toMatchObject({ ok: true, result: { readOnly: 'The disk is full', items: expect.any(Array) } });
    expect(await app.handle('dataset.relabel', { paths: ['OK/a.jpg'], to: 'NG' })).toMatchObject({ ok: false, error: { code: 'read-only', message: expect.stringMatching(/^The disk is full: images cannot be relabeled/) } });
    await app.dispose();
    await cleanConfig();
  });

  it('leaves an interrupted relabel for later, and rolls it back once the disk can be written', async () => {
    let project = await ProjectSession.open(root, new EventBus(), { watchIntervalMs: 0, backgroundValidation: false });
    await project.close();
    await appendFile(
      path.join(root, '.labelloop/journal.jsonl'),
      `${JSON.stringify({ t: 'begin', id: 'x', kind: 'do', moves: [{ from: 'OK/a.jpg', to: 'NG/a (2).jpg' }], at: '' })}\n{"t":"comm`,
    );
    const { rename } = await import('node:fs/promises');
    await rename(path.join(root, 'OK/a.jpg'), path.join(root, 'NG/a (2).jpg'));
    const journalBefore = await readFile(path.join(root, '.labelloop/journal.jsonl'));

    faulty.readOnly('EROFS');
    project = await open();
    expect(project.snapshot().recovered.join('\n')).toMatch(/1 interrupted relabel\(s\) could not be rolled back yet: The project is on a read-only disk/);
    expect(project.snapshot().recovered.join('\n')).toMatch(/will be cut away when the project can be written/);
    await project.close();
    expect(await readFile(path.join(root, '.labelloop/journal.jsonl'))).toEqual(journalBefore);

    faulty.heal();
    project = await open();
    expect(project.snapshot().readOnly).toBeNull();
    expect(project.snapshot().recovered.join('\n')).toMatch(/rolled back \(1 moved back\)/);
    expect((await contentByPath(root)).has('OK/a.jpg')).toBe(true);
    await project.close();
  });

  it('the app refuses training and changes to runs, in words, on a read-only project', async () => {
    const { dir: configDir, cleanup: cleanConfig } = await tempDir();
    faulty.readOnly('EROFS');
    const app = new LabelLoopApp({ host: 'web', version: 'test', configDir, projectOptions: { watchIntervalMs: 0, fs: faulty.fs } });
    const opened = await app.handle('project.open', { path: root });
    expect(opened).toMatchObject({ ok: true, result: { readOnly: 'The project is on a read-only disk' } });
    const relabel = await app.handle('dataset.relabel', { paths: ['OK/a.jpg'], to: 'NG' });
    expect(relabel).toMatchObject({ ok: false, error: { code: 'read-only', message: expect.stringMatching(/images cannot be relabeled/) } });
    const rename = await app.handle('runs.rename', { runId: '20240101-000000-abcd', name: 'x' });
    expect(rename).toMatchObject({ ok: false, error: { code: 'read-only', message: expect.stringMatching(/runs cannot be renamed/) } });
    expect(await app.handle('runs.list', {})).toMatchObject({ ok: true, result: { runs: [] } });
    await app.dispose();
    await cleanConfig();
  });
});
