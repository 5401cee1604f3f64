// The data check's actions on disk: "keep one" moves the other copies into the recoverable trash
// as one journaled step that undo (also after a restart) takes back, and the exclusion list leaves
// images out of the split and every run by content. Every image's content stays exactly once.
import { existsSync } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LabelLoopApp } from '../../../../src/main/app';
import { EventBus } from '../../../../src/main/common/events';
import { EXCLUSIONS_FILE } from '../../../../src/main/project/exclusions';
import { ProjectSession } from '../../../../src/main/project/project';
import { DATA_DIR } from '../../../../src/main/project/scan';
import type { MoveResult, RouteName } from '../../../../src/shared/contract';
import { TRASH_DIR } from '../../../../src/shared/images';
import type { TrainingReport } from '../../../../src/shared/report';
import { FaultyFs } from '../../../helpers/faultyFs';
import { makeProject, openDemoApp, tempDir } from '../../../helpers/fixtures';
import { contentByPath, contentHashes } from '../../../helpers/inventory';

/** Every file under the project's trash: relative path → sha256, as contentByPath gives the visible ones. */
async function trashContent(root: string): Promise<Map<string, string>> {
  const trash = path.join(root, TRASH_DIR);
  return existsSync(trash) ? contentByPath(trash) : new Map();
}

async function call<T>(app: LabelLoopApp, route: RouteName, input: unknown): Promise<T> {
  const answer = await app.handle(route, input);
  if (!answer.ok) throw new Error(`${answer.error.code}: ${answer.error.message}`);
  return answer.result as T;
}

describe('the recoverable trash', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let root: string;
  let app: LabelLoopApp;

  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir());
    root = path.join(dir, 'project');
    await makeProject(root);
    app = new LabelLoopApp({ host: 'web', version: 'test', configDir: path.join(dir, 'config'), projectOptions: { watchIntervalMs: 0, backgroundValidation: false } });
    await call(app, 'project.open', { path: root });
  });
  afterEach(async () => {
    await app.dispose();
    await cleanup();
  });

  it('moves images into a folder per class inside .labelloop as one step, and undo, redo and a restart keep every content exactly once', async () => {
    const all = await contentHashes(root);
    const before = await contentByPath(root);
    // Two same-named images of two classes, and an unlabeled one.
    const trashed = await call<MoveResult>(app, 'dataset.trash', { paths: ['OK/a.jpg', 'NG/a.jpg', 'loose.jpg'] });
    expect(trashed.failed).toEqual([]);
    expect(trashed.moves.map((m) => m.to).sort()).toEqual([`${TRASH_DIR}/(unlabeled)/loose.jpg`, `${TRASH_DIR}/NG/a.jpg`, `${TRASH_DIR}/OK/a.jpg`]);
    expect(trashed.history.canUndo).toBe(true);
    const visible = (await call<{ items: { path: string }[] }>(app, 'dataset.scan', {})).items.map((i) => i.path);
    expect(visible).not.toContain('OK/a.jpg');
    expect(visible.some((p) => p.startsWith('.'))).toBe(false);
    expect((app.currentProject?.snapshot().items ?? []).some((i) => i.path.startsWith('.'))).toBe(false);
    const inTrash = await trashContent(root);
    expect(inTrash.get('OK/a.jpg')).toBe(before.get('OK/a.jpg'));
    expect(inTrash.get('NG/a.jpg')).toBe(before.get('NG/a.jpg'));
    expect([...(await contentByPath(root)).values(), ...inTrash.values()].sort()).toEqual(all);

    const undone = await call<MoveResult>(app, 'dataset.undo', {});
    expect(undone.moves.map((m) => m.to).sort()).toEqual(['NG/a.jpg', 'OK/a.jpg', 'loose.jpg']);
    expect(await contentByPath(root)).toEqual(before);
    expect((await trashContent(root)).size).toBe(0);
    // Back in the project's items at once, with their labels, without a rescan by the caller.
    const items = app.currentProject?.snapshot().items ?? [];
    expect(items.find((i) => i.path === 'NG/a.jpg')?.label).toBe('NG');
    expect(items.find((i) => i.path === 'loose.jpg')?.label).toBeNull();

    await call(app, 'dataset.redo', {});
    expect((await trashContent(root)).size).toBe(3);
    // The step is in the journal: a restart can still take it back.
    await call(app, 'project.close', {});
    await call(app, 'project.open', { path: root });
    await call(app, 'dataset.undo', {});
    expect(await contentByPath(root)).toEqual(before);
  });

  it('refuses what is no image of the project, and a read-only project, moving nothing', async () => {
    const before = await contentByPath(root);
    const refused = await call<MoveResult>(app, 'dataset.trash', { paths: ['OK/missing.jpg', `${DATA_DIR}/journal.jsonl`] });
    expect(refused.moves).toEqual([]);
    expect(refused.failed.map((f) => f.path)).toEqual(['OK/missing.jpg', `${DATA_DIR}/journal.jsonl`]);
    const outside = await app.handle('dataset.trash', { paths: ['../elsewhere.jpg'] });
    expect(outside.ok ? outside.result : outside.error.code).toEqual({ moves: [], failed: [{ path: '../elsewhere.jpg', message: 'Path leaves the project: ../elsewhere.jpg' }], history: { canUndo: false, canRedo: false } });
    expect(await contentByPath(root)).toEqual(before);
  });

});

describe('the exclusion list', () => {
  let dir: string;
  let close: () => Promise<void>;
  let app: LabelLoopApp;
  const demoRoot = () => app.currentProject?.root as string;

  beforeEach(async () => ({ dir, app, close } = await openDemoApp()));
  afterEach(async () => close());

  it('follows an image by content through a relabel, and comes back with include', async () => {
    const first = await call<{ excluded: string[] }>(app, 'dataset.exclude', { paths: ['OK/ok_0001.jpg', 'NG/ng_0002.jpg'], excluded: true });
    expect(first.excluded).toEqual(['NG/ng_0002.jpg', 'OK/ok_0001.jpg']);
    await call(app, 'dataset.relabel', { paths: ['OK/ok_0001.jpg'], to: 'NG' });
    expect((await call<{ excluded: string[] }>(app, 'dataset.excluded', {})).excluded).toEqual(['NG/ng_0002.jpg', 'NG/ok_0001.jpg']);
    // Kept on disk, read back by a new session.
    await call(app, 'project.close', {});
    await call(app, 'project.open', { path: path.join(dir, 'demo-project') });
    expect((await call<{ excluded: string[] }>(app, 'dataset.excluded', {})).excluded).toEqual(['NG/ng_0002.jpg', 'NG/ok_0001.jpg']);
    const back = await call<{ excluded: string[] }>(app, 'dataset.exclude', { paths: ['NG/ok_0001.jpg'], excluded: false });
    expect(back.excluded).toEqual(['NG/ng_0002.jpg']);
    const unknown = await app.handle('dataset.exclude', { paths: ['OK/none.jpg'], excluded: true });
    expect(unknown.ok ? 'accepted' : unknown.error.message).toBe('OK/none.jpg is not an image of the project');
  });

  it('the split preview and a run leave excluded images out, and a class with every image excluded is refused in words', async () => {
    const excluded = ['OK/ok_0001.jpg', 'OK/ok_0002.jpg', 'NG/ng_0003.jpg'];
    const settings = { val: 0.2, test: 0, seed: 42, balancing: 'none' };
    const before = await call<{ counts: Record<string, Record<string, number>>; excludedByList: number }>(app, 'splits.preview', settings);
    await call(app, 'dataset.exclude', { paths: excluded, excluded: true });
    const after = await call<{ counts: Record<string, Record<string, number>>; excludedByList: number }>(app, 'splits.preview', settings);
    const total = (p: typeof before) => Object.values(p.counts).reduce((n, perClass) => n + Object.values(perClass).reduce((a, b) => a + b, 0), 0);
    expect(before.excludedByList).toBe(0);
    expect(after.excludedByList).toBe(3);
    expect(total(before) - total(after)).toBe(3);

    const { runId } = await call<{ runId: string }>(app, 'training.start', { config: { backend: 'wasm', inputSize: 96, backbone: { kind: 'mobilenet_v2' } } });
    const { report } = await app.training.whenDone(runId);
    const paths = (report as TrainingReport).samples.map((s) => s.path);
    expect(paths).toHaveLength(total(after));
    for (const p of excluded) expect(paths).not.toContain(p);

    const ok = app.currentProject?.snapshot().items.filter((i) => i.label === 'OK').map((i) => i.path) ?? [];
    await call(app, 'dataset.exclude', { paths: ok, excluded: true });
    const refused = await app.handle('training.start', { config: { backend: 'wasm' } });
    expect(refused.ok ? 'started' : refused.error.message).toBe('Class "OK" has no readable images to train on ("OK": every image is on the exclusion list; the Check tab takes them back)');
  }, 120_000);

  it('a damaged list is refused in words rather than read as empty, and a full disk leaves it as it was', async () => {
    await call(app, 'dataset.exclude', { paths: ['OK/ok_0001.jpg'], excluded: true });
    await writeFile(path.join(demoRoot(), DATA_DIR, EXCLUSIONS_FILE), '{"version":1,"excl');
    await call(app, 'project.close', {});
    await call(app, 'project.open', { path: path.join(dir, 'demo-project') });
    const damaged = await app.handle('training.start', { config: { backend: 'wasm' } });
    expect(damaged.ok ? 'started' : damaged.error.message).toMatch(/^The exclusion list .*excluded\.json is damaged: fix or delete it/);

    const root = demoRoot();
    await call(app, 'project.close', {});
    await writeFile(path.join(root, DATA_DIR, EXCLUSIONS_FILE), JSON.stringify({ version: 1, excluded: {} }));
    const faulty = new FaultyFs();
    const project = await ProjectSession.open(root, new EventBus(), { watchIntervalMs: 0, backgroundValidation: false, fs: faulty.fs });
    faulty.arm(1, 'ENOSPC', true);
    await expect(project.setExcluded(['OK/ok_0005.jpg'], true)).rejects.toThrow('The disk is full: the exclusion list was not changed');
    faulty.heal();
    expect(await project.excludedPaths()).toEqual([]);
    expect((await readdir(path.join(root, DATA_DIR))).filter((f) => f.startsWith(EXCLUSIONS_FILE) && f !== EXCLUSIONS_FILE)).toEqual([]);
    await project.close();
  });
});
