import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LabelLoopApp } from '../../../src/main/app';
import { jpeg, makeProject, tempDir, writeJpeg } from '../../helpers/fixtures';

describe('LabelLoopApp routes', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let app: LabelLoopApp;

  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir());
    await makeProject(path.join(dir, 'project'));
    app = new LabelLoopApp({ host: 'web', version: 'test', configDir: path.join(dir, 'config'), projectOptions: { watchIntervalMs: 0, backgroundValidation: false } });
  });
  afterEach(async () => {
    await app.dispose();
    await cleanup();
  });

  it('rejects unknown routes and invalid input with a message, never throwing', async () => {
    expect(await app.handle('fs.readAnything', {})).toMatchObject({ ok: false, error: { code: 'unknown-route' } });
    expect(await app.handle('__proto__', {})).toMatchObject({ ok: false, error: { code: 'unknown-route' } });
    expect(await app.handle('project.open', { path: 42 })).toMatchObject({ ok: false, error: { code: 'invalid-input' } });
    expect(await app.handle('project.open', { path: '/x', extra: true })).toMatchObject({ ok: false, error: { code: 'invalid-input' } });
    expect(await app.handle('classes.create', { name: '../evil' })).toMatchObject({ ok: false, error: { message: expect.stringMatching(/may not contain/) } });
    expect(await app.handle('classes.create', { name: '.hidden' })).toMatchObject({ ok: false, error: { message: expect.stringMatching(/dot/) } });
  });

  it('needs an open project for dataset routes', async () => {
    expect(await app.handle('dataset.scan', {})).toMatchObject({ ok: false, error: { code: 'no-project', message: expect.stringMatching(/open a folder/) } });
  });

  it('opens a project, remembers it as recent and resyncs a reloaded window', async () => {
    const opened = await app.handle('project.open', { path: path.join(dir, 'project') });
    expect(opened).toMatchObject({ ok: true, result: { classes: ['NG', 'OK'] } });
    expect(await app.handle('project.recent', {})).toMatchObject({ ok: true, result: { recent: [{ path: path.join(dir, 'project'), name: 'project' }] } });
    await app.handle('dataset.relabel', { paths: ['OK/a.jpg'], to: 'NG' });
    const current = await app.handle('project.current', {});
    if (!current.ok || !current.result) throw new Error('expected an open project');
    const snapshot = current.result as { items: { path: string }[]; history: { canUndo: boolean } };
    expect(snapshot.items.map((i) => i.path)).toContain('NG/a (2).jpg');
    expect(snapshot.history.canUndo).toBe(true);
  });

  it('dataset.snapshot gives what the project holds without reading the folders; dataset.scan reads them', async () => {
    expect(await app.handle('dataset.snapshot', {})).toMatchObject({ ok: false, error: { code: 'no-project' } });
    await app.handle('project.open', { path: path.join(dir, 'project') });
    const imported = await app.importFile('NG', 'upload.jpg', await jpeg('#7a1'));
    expect(imported.imported).toEqual(['NG/upload.jpg']);
    await writeJpeg(path.join(dir, 'project', 'OK', 'outside.jpg'), '#17a');
    const paths = async (route: string) => {
      const answer = await app.handle(route, {});
      if (!answer.ok) throw new Error(answer.error.message);
      return (answer.result as { items: { path: string }[] }).items.map((i) => i.path);
    };
    expect(await paths('dataset.snapshot')).toContain('NG/upload.jpg');
    expect(await paths('dataset.snapshot')).not.toContain('OK/outside.jpg');
    expect(await paths('dataset.scan')).toEqual(expect.arrayContaining(['NG/upload.jpg', 'OK/outside.jpg']));
  });

  it('keeps every path inside the open project', async () => {
    await app.handle('project.open', { path: path.join(dir, 'project') });
    expect(await app.handle('dataset.details', { path: '../../etc/passwd' })).toMatchObject({ ok: false, error: { code: 'outside-project' } });
    expect(await app.handle('dataset.details', { path: '/etc/passwd' })).toMatchObject({ ok: false, error: { code: 'outside-project' } });
    await expect(app.image('../config/recent.json', 'thumb')).rejects.toThrow(/leaves the project/);
    // A backbone named by the window is a file too: it must be inside the project.
    expect(await app.handle('training.start', { config: { backbone: { kind: 'keras', source: '/etc/passwd' } } })).toMatchObject({ ok: false, error: { code: 'outside-project' } });
    expect(await app.handle('training.start', { config: { backbone: { kind: 'keras', source: '../config/model.json' } } })).toMatchObject({ ok: false, error: { code: 'outside-project' } });
  });

  it('reports validation progress for the open project', async () => {
    expect(await app.handle('thumbnails.status', {})).toEqual({ ok: true, result: { done: 0, total: 0, unreadable: 0 } });
    await app.handle('project.open', { path: path.join(dir, 'project') });
    await app.currentProject?.rescan();
    expect(await app.handle('thumbnails.status', {})).toEqual({ ok: true, result: { done: 0, total: 6, unreadable: 0 } });
    await app.image('OK/a.jpg', 'thumb');
    expect(await app.handle('thumbnails.status', {})).toMatchObject({ ok: true, result: { done: 1, total: 6 } });
  });

  it('makes the demo project once and opens it', async () => {
    const opened = await app.handle('project.openDemo', {});
    if (!opened.ok) throw new Error(opened.error.message);
    const snapshot = opened.result as { classes: string[]; items: { label: string }[] };
    expect(snapshot.classes).toEqual(['NG', 'OK']);
    expect(snapshot.items.filter((i) => i.label === 'OK')).toHaveLength(300);
    expect(snapshot.items.filter((i) => i.label === 'NG')).toHaveLength(300);
  });
});
