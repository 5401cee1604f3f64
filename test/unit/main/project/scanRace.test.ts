// A rescan that read the folders before a relabel or an import finished must not undo them when it
// lands: the window rescans after every import, so a user labelling at once raced it (CI caught a run
// that trained without a crop just labelled, because a late scan had put it back in Unlabeled).
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { EventBus } from '../../../../src/main/common/events';
import { ProjectSession } from '../../../../src/main/project/project';
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

  it('keeps a relabel, an undo and a redo made while it read the folders', async () => {
    const scan = await scanThatHasRead();
    await project.relabel(['loose.jpg'], 'OK');
    await project.relabel(['OK/a.jpg', 'NG/d.jpg'], null);
    await project.undo();
    await project.redo();
    const snapshot = await scan.land();

    const expected = { 'OK/loose.jpg': 'OK', 'a.jpg': null, 'd.jpg': null, 'OK/b.JPG': 'OK', 'OK/day1/c.jpeg': 'OK', 'NG/a.jpg': 'NG' };
    expect(Object.fromEntries(snapshot.items.map((item) => [item.path, item.label]))).toEqual(expected);
    expect(labels()).toEqual(expected);
    // What the project says is what is on disk.
    expect([...(await contentByPath(root)).keys()].filter((p) => !p.startsWith('.labelloop')).sort()).toEqual(Object.keys(expected).sort());
    // And the next scan agrees.
    expect(Object.fromEntries((await project.rescan()).items.map((item) => [item.path, item.label]))).toEqual(expected);
  });

  it('keeps an image imported while it read the folders, and the trash an image went to', async () => {
    const scan = await scanThatHasRead();
    const imported = await project.importFile('NG', 'new.jpg', await jpeg('#9a3'));
    expect(imported.imported).toEqual(['NG/new.jpg']);
    await project.trash(['OK/b.JPG']);
    const snapshot = await scan.land();

    const paths = snapshot.items.map((item) => item.path).sort();
    expect(paths).toContain('NG/new.jpg');
    expect(paths).not.toContain('OK/b.JPG');
    expect(paths.filter((p) => path.basename(p).toLowerCase() === 'b.jpg')).toEqual([]);
    expect(project.snapshot().items.map((item) => item.path).sort()).toEqual(paths);
  });
});
