// Scans and changes to the files run one at a time. A rescan that read the folders before a relabel
// or an import finished used to undo it when it landed: the window rescans after every import, so a
// user labelling at once raced it (CI caught a run that trained without a crop just labelled,
// because a late scan had put it back in Unlabeled).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { EventBus } from '../../../../src/main/common/events';
import { ProjectSession } from '../../../../src/main/project/project';
import { checkInput } from '../../../../src/main/inspection/dataCheck';
import { TrainingService } from '../../../../src/main/training/session';
import { jpeg, makeProject, tempDir } from '../../../helpers/fixtures';
import { contentByPath } from '../../../helpers/inventory';

/** While `held` is set, a scan that has read the folders waits for it before it returns. */
const gate = vi.hoisted(() => ({ held: null as Promise<void> | null, read: null as (() => void) | null }));

vi.mock('../../../../src/main/project/scan', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../../../src/main/project/scan')>();
  return {
    ...actual,
    scanProject: async (...args: Parameters<typeof actual.scanProject>) => {
      const result = await actual.scanProject(...args);
      gate.read?.();
      if (gate.held) await gate.held;
      return result;
    },
  };
});

describe('a rescan in flight', () => {
  let root: string;
  let cleanup: () => Promise<void>;
  let project: ProjectSession;

  /** Starts a rescan and resolves once it has read the folders; `land` lets it return. */
  async function scanThatHasRead() {
    let land!: () => void;
    gate.held = new Promise((resolve) => (land = resolve));
    const read = new Promise<void>((resolve) => (gate.read = resolve));
    const scan = project.rescan();
    await read;
    gate.read = null;
    return {
      land: async () => {
        gate.held = null;
        land();
        return scan;
      },
    };
  }

  beforeEach(async () => {
    ({ dir: root, cleanup } = await tempDir());
    await makeProject(root);
    project = await ProjectSession.open(root, new EventBus(), { watchIntervalMs: 0, backgroundValidation: false });
  });
  afterEach(async () => {
    gate.held = null;
    gate.read = null;
    await project.close();
    await cleanup();
  });

  const labels = () => Object.fromEntries(project.snapshot().items.map((item) => [item.path, item.label]));
  const onDisk = async () => [...(await contentByPath(root)).keys()].filter((p) => !p.startsWith('.labelloop')).sort();
  /** Whether a promise has settled after everything else ready to run has run. */
  const settled = async (promise: Promise<unknown>) => {
    let done = false;
    void promise.then(
      () => (done = true),
      () => (done = true),
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    return done;
  };

  it('a relabel, an undo, a trash and an import asked for meanwhile wait for it, then apply to what it read', async () => {
    const scan = await scanThatHasRead();
    const changes = (async () => {
      await project.relabel(['loose.jpg'], 'OK');
      await project.relabel(['OK/a.jpg', 'NG/d.jpg'], null);
      await project.undo();
      await project.redo();
      expect((await project.importFile('NG', 'new.jpg', await jpeg('#9a3'))).imported).toEqual(['NG/new.jpg']);
      await project.trash(['OK/b.JPG']);
    })();
    expect(await settled(changes)).toBe(false);
    // Nothing has moved on disk while the scan holds the folders.
    expect(await onDisk()).toEqual(['NG/a.jpg', 'NG/d.jpg', 'OK/a.jpg', 'OK/b.JPG', 'OK/day1/c.jpeg', 'loose.jpg']);
    await scan.land();
    await changes;

    const expected = { 'OK/loose.jpg': 'OK', 'a.jpg': null, 'd.jpg': null, 'OK/day1/c.jpeg': 'OK', 'NG/a.jpg': 'NG', 'NG/new.jpg': 'NG' };
    expect(labels()).toEqual(expected);
    // What the project says is what is on disk, and the next scan agrees.
    expect(await onDisk()).toEqual(Object.keys(expected).sort());
    expect(Object.fromEntries((await project.rescan()).items.map((item) => [item.path, item.label]))).toEqual(expected);
  });

  it('a class renamed or made meanwhile is in the snapshot a later scan returns, with its images', async () => {
    const scan = await scanThatHasRead();
    const renamed = project.renameClass('NG', 'Defect');
    const created = project.createClass('Unsure');
    const later = project.rescan();
    expect(await settled(renamed)).toBe(false);
    await scan.land();
    await Promise.all([renamed, created]);
    const snapshot = await later;
    expect(snapshot.classes).toEqual(['Defect', 'OK', 'Unsure']);
    expect(snapshot.items.filter((item) => item.label === 'Defect').map((item) => item.path).sort()).toEqual(['Defect/a.jpg', 'Defect/d.jpg']);
    expect(project.snapshot().items.map((item) => item.path).sort()).toEqual(await onDisk());
  });

  it('a change that fails does not stop the ones queued after it', async () => {
    const scan = await scanThatHasRead();
    const refused = project.renameClass('NG', 'OK');
    const relabel = project.relabel(['loose.jpg'], 'NG');
    await scan.land();
    await expect(refused).rejects.toThrow(/already exists/);
    expect((await relabel).moves).toEqual([{ from: 'loose.jpg', to: 'NG/loose.jpg' }]);
  });

  it('a run and a check see a relabel asked for just before them, not the picture from before it', async () => {
    const scan = await scanThatHasRead();
    const relabel = project.relabel(['loose.jpg', 'OK/a.jpg'], 'NG');
    const preview = new TrainingService(new EventBus()).previewSplits(project, { val: 0, test: 0, seed: 1, balancing: 'none' });
    const check = checkInput(project);
    await scan.land();
    await relabel;
    expect((await preview).counts.train).toEqual({ NG: 4, OK: 2 });
    expect(Object.fromEntries((await check).items.map((item) => [item.path, item.label]))).toMatchObject({ 'NG/loose.jpg': 'NG', 'NG/a (2).jpg': 'NG' });
    expect((await check).items.every((item) => item.contentHash !== '')).toBe(true);
  });

  it('closing the project lets a relabel queued behind a scan finish, journaled, so the next session undoes it', async () => {
    const scan = await scanThatHasRead();
    const relabel = project.relabel(['loose.jpg'], 'NG');
    const closed = project.close();
    expect(await settled(closed)).toBe(false);
    await scan.land();
    await closed;
    expect((await relabel).moves).toEqual([{ from: 'loose.jpg', to: 'NG/loose.jpg' }]);
    project = await ProjectSession.open(root, new EventBus(), { watchIntervalMs: 0, backgroundValidation: false });
    expect(project.snapshot().history.canUndo).toBe(true);
    await project.undo();
    expect(await onDisk()).toContain('loose.jpg');
  });

  it('a relabel into a class renamed by a change queued before it is refused as such, and nothing moves', async () => {
    const scan = await scanThatHasRead();
    const renamed = project.renameClass('NG', 'Defect');
    const relabel = project.relabel(['loose.jpg'], 'NG');
    await scan.land();
    await renamed;
    await expect(relabel).rejects.toThrow('There is no class "NG"');
    expect(await onDisk()).toContain('loose.jpg');
  });

  it('an imported image is known readable at once, and a closed project takes no more changes', async () => {
    await project.importFile('OK', 'fresh.jpg', await jpeg('#3a9'));
    expect(project.snapshot().items.find((item) => item.path === 'OK/fresh.jpg')?.status).toBe('ok');
    expect((await project.rescan()).items.find((item) => item.path === 'OK/fresh.jpg')?.status).toBe('ok');
    await project.close();
    await expect(project.relabel(['loose.jpg'], 'NG')).rejects.toThrow(/closed/);
    expect(await onDisk()).toContain('loose.jpg');
  });
});
