import { appendFile, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventBus } from '../../../../src/main/common/events';
import type { CrashPoints } from '../../../../src/main/project/journal';
import { ProjectSession } from '../../../../src/main/project/project';
import { gridOrder } from '../../../../src/shared/images';
import { makeProject, tempDir, writeJpeg } from '../../../helpers/fixtures';
import { contentByPath } from '../../../helpers/inventory';

class SimulatedCrash extends Error {}

const contents = (inv: Map<string, string>) => [...inv.values()].sort();

describe('relabel journal', () => {
  let root: string;
  let cleanup: () => Promise<void>;
  const open = (crashPoints?: CrashPoints) =>
    ProjectSession.open(root, new EventBus(), { watchIntervalMs: 0, backgroundValidation: false, crashPoints });

  beforeEach(async () => {
    ({ dir: root, cleanup } = await tempDir());
    await makeProject(root);
  });
  afterEach(() => cleanup());

  it('moves files into the class folder and records begin + commit', async () => {
    const project = await open();
    const result = await project.relabel(['OK/a.jpg', 'OK/day1/c.jpeg'], 'NG');
    // NG/a.jpg exists already: the collision gets a new name, never an overwrite.
    expect(result.moves).toEqual([
      { from: 'OK/a.jpg', to: 'NG/a (2).jpg' },
      { from: 'OK/day1/c.jpeg', to: 'NG/c.jpeg' },
    ]);
    expect(result.failed).toEqual([]);
    const labels = Object.fromEntries(project.snapshot().items.map((i) => [i.path, i.label]));
    expect(labels['NG/a (2).jpg']).toBe('NG');
    expect(labels['OK/a.jpg']).toBeUndefined();
    // Moves must not disturb the listing order a reloaded window sees.
    const listed = project.snapshot().items;
    expect(listed).toEqual([...listed].sort(gridOrder));
    await project.close();
    const lines = (await readFile(path.join(root, '.labelloop/journal.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.t)).toEqual(['begin', 'commit']);
  });

  it('keeps every image: same bytes before and after relabel, undo and redo', async () => {
    const before = await contentByPath(root);
    const project = await open();
    await project.relabel(['OK/a.jpg', 'NG/a.jpg', 'loose.jpg'], 'OK');
    expect(contents(await contentByPath(root))).toEqual(contents(before));
    await project.undo();
    expect(await contentByPath(root)).toEqual(before);
    await project.redo();
    expect(contents(await contentByPath(root))).toEqual(contents(before));
    await project.close();
  });

  it('moves to unlabeled (the project root) and back', async () => {
    const project = await open();
    const result = await project.relabel(['NG/d.jpg'], null);
    expect(result.moves).toEqual([{ from: 'NG/d.jpg', to: 'd.jpg' }]);
    await project.undo();
    expect(project.snapshot().items.find((i) => i.path === 'NG/d.jpg')?.label).toBe('NG');
    await project.close();
  });

  it('undoes and redoes across a restart', async () => {
    let project = await open();
    await project.relabel(['OK/a.jpg'], 'NG');
    await project.relabel(['OK/b.JPG'], 'NG');
    await project.undo();
    await project.close();

    project = await open();
    expect(project.snapshot().history).toEqual({ canUndo: true, canRedo: true });
    await project.undo(); // the first relabel
    expect((await contentByPath(root)).has('OK/a.jpg')).toBe(true);
    await project.redo();
    await project.redo();
    expect((await contentByPath(root)).has('NG/b.JPG')).toBe(true);
    expect(project.snapshot().history).toEqual({ canUndo: true, canRedo: false });
    await project.close();
  });

  it('a new relabel clears the redo stack', async () => {
    const project = await open();
    await project.relabel(['OK/a.jpg'], 'NG');
    await project.undo();
    await project.relabel(['OK/b.JPG'], 'NG');
    expect(project.snapshot().history.canRedo).toBe(false);
    await expect(project.redo()).rejects.toThrow(/Nothing to redo/);
    await project.close();
  });

  it('undo puts a file back under a new name if its old name was taken meanwhile', async () => {
    const project = await open();
    await project.relabel(['OK/a.jpg'], 'NG');
    await writeJpeg(path.join(root, 'OK/a.jpg'), '#abc'); // a new file takes the old name
    const result = await project.undo();
    expect(result.moves).toEqual([{ from: 'NG/a (2).jpg', to: 'OK/a (2).jpg' }]);
    expect((await contentByPath(root)).size).toBe(7);
    await project.close();
  });

  it('rolls back a relabel that crashed after the journal entry and before any move', async () => {
    const before = await contentByPath(root);
    const crashing = await open({
      afterBegin: () => {
        throw new SimulatedCrash();
      },
    });
    await expect(crashing.relabel(['OK/a.jpg', 'OK/b.JPG'], 'NG')).rejects.toBeInstanceOf(SimulatedCrash);
    // The process "died": the next start finds an open transaction.
    const project = await open();
    expect(project.snapshot().recovered[0]).toMatch(/interrupted relabel of 2 image\(s\) was rolled back/);
    expect(await contentByPath(root)).toEqual(before);
    expect(project.snapshot().history.canUndo).toBe(false);
    await project.close();
    await crashing.close();
  });

  it('rolls back a relabel that crashed after moving a file and before the commit', async () => {
    const before = await contentByPath(root);
    const crashing = await open({
      afterMove: (index) => {
        if (index === 0) throw new SimulatedCrash();
      },
    });
    await expect(crashing.relabel(['OK/a.jpg', 'OK/b.JPG'], 'NG')).rejects.toBeInstanceOf(SimulatedCrash);
    expect((await contentByPath(root)).has('NG/a (2).jpg')).toBe(true); // half done on disk
    const project = await open();
    expect(project.snapshot().recovered[0]).toMatch(/rolled back \(1 moved back\)/);
    expect(await contentByPath(root)).toEqual(before);
    // Recovery is final: a third start has nothing left to do.
    await project.close();
    const again = await open();
    expect(again.snapshot().recovered).toEqual([]);
    await again.close();
    await crashing.close();
  });

  it('rolls back a move caught between link and unlink (both names present, same file)', async () => {
    const journal = path.join(root, '.labelloop/journal.jsonl');
    const project = await open();
    await project.close();
    // What a crash between the hard link and the unlink of the source leaves behind.
    await appendFile(journal, `${JSON.stringify({ t: 'begin', id: 'x1', kind: 'do', moves: [{ from: 'OK/a.jpg', to: 'NG/a (2).jpg' }], at: '' })}\n`);
    const { link } = await import('node:fs/promises');
    await link(path.join(root, 'OK/a.jpg'), path.join(root, 'NG/a (2).jpg'));
    const reopened = await open();
    const inv = await contentByPath(root);
    expect(inv.has('OK/a.jpg')).toBe(true);
    expect(inv.has('NG/a (2).jpg')).toBe(false);
    await reopened.close();
  });

  it('survives a torn last journal line and a leftover partial copy', async () => {
    const project = await open();
    await project.relabel(['OK/a.jpg'], 'NG');
    await project.close();
    await appendFile(path.join(root, '.labelloop/journal.jsonl'), '{"t":"begin","id":"torn","mo');
    await writeFile(path.join(root, 'NG/.x.jpg.labelloop-partial'), 'half');
    const reopened = await open();
    expect(reopened.snapshot().history.canUndo).toBe(true);
    expect(reopened.snapshot().recovered.join('\n')).toMatch(/unfinished copy/);
    await reopened.undo();
    expect((await contentByPath(root)).has('OK/a.jpg')).toBe(true);
    await reopened.close();
    expect(await readdir(path.join(root, 'NG'))).not.toContain('.x.jpg.labelloop-partial');
  });

  it('keeps undo working after a class is renamed', async () => {
    const project = await open();
    await project.relabel(['OK/a.jpg'], 'NG');
    await project.renameClass('NG', 'Bad');
    await project.close();
    const reopened = await open();
    await reopened.undo();
    const inv = await contentByPath(root);
    expect(inv.has('OK/a.jpg')).toBe(true);
    expect(inv.has('Bad/a.jpg')).toBe(true);
    await reopened.close();
  });

  it('reports files that vanished instead of failing the whole batch', async () => {
    const project = await open();
    const { unlink } = await import('node:fs/promises');
    await unlink(path.join(root, 'OK/b.JPG'));
    const result = await project.relabel(['OK/a.jpg', 'OK/b.JPG'], 'NG');
    expect(result.moves).toHaveLength(1);
    expect(result.failed).toEqual([{ path: 'OK/b.JPG', message: expect.stringMatching(/does not exist/) }]);
    await project.close();
  });

  it('drops an undo step whose files were all deleted outside the app, saying which', async () => {
    const project = await open();
    await project.relabel(['OK/a.jpg'], 'NG');
    const { unlink } = await import('node:fs/promises');
    await unlink(path.join(root, 'NG/a (2).jpg'));
    const result = await project.undo();
    expect(result.failed).toEqual([{ path: 'NG/a (2).jpg', message: expect.stringMatching(/does not exist/) }]);
    expect(project.snapshot().history).toEqual({ canUndo: false, canRedo: false });
    await project.close();
    // The journal, read again after a restart, must not bring the dead step back.
    const reopened = await open();
    expect(reopened.snapshot().history).toEqual({ canUndo: false, canRedo: false });
    await reopened.close();
  });

  it('drops a redo step whose files were all deleted, also after a restart, keeping the steps below it', async () => {
    const project = await open();
    await project.relabel(['OK/b.JPG'], 'NG');
    await project.relabel(['OK/a.jpg'], 'NG');
    await project.undo();
    const { unlink } = await import('node:fs/promises');
    await unlink(path.join(root, 'OK/a.jpg'));
    expect((await project.redo()).failed).toEqual([{ path: 'OK/a.jpg', message: expect.stringMatching(/does not exist/) }]);
    expect(project.snapshot().history).toEqual({ canUndo: true, canRedo: false });
    await project.close();
    const reopened = await open();
    expect(reopened.snapshot().history).toEqual({ canUndo: true, canRedo: false });
    await reopened.undo();
    expect((await contentByPath(root)).has(path.join('OK', 'b.JPG'))).toBe(true);
    await reopened.close();
  });

  it('refuses to relabel into a class that does not exist or outside the project', async () => {
    const project = await open();
    await expect(project.relabel(['OK/a.jpg'], 'Nope')).rejects.toThrow(/no class "Nope"/);
    const result = await project.relabel(['../etc/passwd'], 'NG');
    expect(result.failed[0]?.message).toMatch(/leaves the project/);
    await project.close();
  });
});
