// @vitest-environment happy-dom
import { createPinia, setActivePinia } from 'pinia';
import { createApp } from 'vue';
import { beforeEach, describe, expect, it } from 'vitest';
import { API_KEY } from '../../../src/renderer/src/api/inject';
import { useDatasetStore } from '../../../src/renderer/src/stores/dataset';
import { useLabelingStore } from '../../../src/renderer/src/stores/labeling';
import { useProjectStore } from '../../../src/renderer/src/stores/project';
import { useNoticesStore } from '../../../src/renderer/src/stores/notices';
import { FakeApi } from './fakeApi';

function setup(api: FakeApi) {
  const app = createApp({});
  const pinia = createPinia();
  app.provide(API_KEY, api).use(pinia);
  setActivePinia(pinia);
  return app.runWithContext(() => ({ dataset: useDatasetStore(), labeling: useLabelingStore(), project: useProjectStore(), notices: useNoticesStore() }));
}

const demoItems = () => [
  { path: 'NG/1.jpg', label: 'NG' },
  { path: 'NG/2.jpg', label: 'NG' },
  { path: 'OK/3.jpg', label: 'OK' },
  { path: 'OK/4.jpg', label: 'OK' },
  { path: 'OK/5.jpg', label: 'OK', status: 'unreadable' as const, problem: 'truncated' },
  { path: 'u.jpg', label: null },
];

describe('renderer stores', () => {
  let api: FakeApi;
  let stores: ReturnType<typeof setup>;

  beforeEach(async () => {
    api = FakeApi.withItems(['NG', 'OK'], demoItems());
    stores = setup(api);
    await stores.project.init();
  });

  it('resyncs with the project main has open when the window loads', () => {
    expect(stores.project.isOpen).toBe(true);
    expect(stores.dataset.counts).toEqual({ byClass: { NG: 2, OK: 3 }, unlabeled: 1, unreadable: 1, total: 6 });
  });

  it('filters by class, unlabeled and unreadable', () => {
    const { labeling } = stores;
    labeling.setFilter('class:OK');
    expect(labeling.visible.map((i) => i.path)).toEqual(['OK/3.jpg', 'OK/4.jpg', 'OK/5.jpg']);
    labeling.setFilter('unlabeled');
    expect(labeling.visible.map((i) => i.path)).toEqual(['u.jpg']);
    labeling.setFilter('unreadable');
    expect(labeling.visible.map((i) => i.path)).toEqual(['OK/5.jpg']);
  });

  it('selects with click, ctrl-click and shift-click like a file manager', () => {
    const { labeling } = stores;
    labeling.click(1);
    expect([...labeling.selected]).toEqual(['NG/2.jpg']);
    labeling.click(3, { ctrl: true });
    expect([...labeling.selected].sort()).toEqual(['NG/2.jpg', 'OK/4.jpg']);
    labeling.click(3, { ctrl: true });
    expect([...labeling.selected]).toEqual(['NG/2.jpg']);
    labeling.click(0);
    labeling.click(2, { shift: true });
    expect([...labeling.selected].sort()).toEqual(['NG/1.jpg', 'NG/2.jpg', 'OK/3.jpg']);
    labeling.moveCursor(1, true);
    expect(labeling.selected.size).toBe(4);
    labeling.selectAll();
    expect(labeling.selected.size).toBe(6);
  });

  it('number keys move the selection to that class and step on; undo and redo follow', async () => {
    const { labeling, dataset } = stores;
    labeling.click(0);
    await labeling.assign(2); // NG/1.jpg → OK
    expect(api.calls.at(-1)).toEqual({ route: 'dataset.relabel', input: { paths: ['NG/1.jpg'], to: 'OK' } });
    expect(dataset.counts.byClass).toEqual({ NG: 1, OK: 4 });
    expect(dataset.history.canUndo).toBe(true);
    await dataset.undo();
    expect(dataset.counts.byClass).toEqual({ NG: 2, OK: 3 });
    await dataset.redo();
    expect(dataset.counts.byClass).toEqual({ NG: 1, OK: 4 });
    await labeling.assign(9); // no ninth class: nothing happens
    expect(api.calls.filter((c) => c.route === 'dataset.relabel')).toHaveLength(1);
  });

  it('rapid number presses act on successive images, not three times on the first', async () => {
    const { labeling, dataset } = stores;
    labeling.click(0);
    await Promise.all([labeling.assign(2), labeling.assign(2), labeling.assign(2)]);
    const relabeled = api.calls.filter((c) => c.route === 'dataset.relabel').map((c) => (c.input as { paths: string[] }).paths);
    expect(relabeled).toEqual([['NG/1.jpg'], ['NG/2.jpg'], ['OK/3.jpg']]);
    expect(dataset.counts.byClass).toEqual({ NG: 0, OK: 5 });
  });

  it('in the large view, a number key relabels only the image shown', async () => {
    const { labeling } = stores;
    labeling.click(0);
    labeling.click(1, { shift: true });
    labeling.viewerOpen = true;
    await labeling.assign(2);
    expect(api.calls.at(-1)).toEqual({ route: 'dataset.relabel', input: { paths: ['NG/2.jpg'], to: 'OK' } });
  });

  it('keeps the cursor in range when relabeled items leave a filtered view', async () => {
    const { labeling } = stores;
    labeling.setFilter('class:NG');
    labeling.click(1);
    await labeling.assign(2);
    expect(labeling.visible.map((i) => i.path)).toEqual(['NG/1.jpg']);
    expect(labeling.cursor).toBe(0);
  });

  it('after uploads, and once a burst of dataset.changed settles, reloads what main holds without rescanning the folders', async () => {
    const routesNamed = (route: string) => api.calls.filter((c) => c.route === route).length;
    const file = (name: string) => ({ name, data: async () => new ArrayBuffer(3) });
    await stores.dataset.importFiles('OK', [file('a.jpg'), file('b.jpg')]);
    expect(api.imports.map((i) => i.name)).toEqual(['a.jpg', 'b.jpg']);
    expect(routesNamed('dataset.snapshot')).toBe(1);
    for (let i = 0; i < 5; i++) api.emit('dataset.changed', { reason: `imported ${i}` });
    await new Promise((resolve) => setTimeout(resolve, 450));
    expect(routesNamed('dataset.snapshot')).toBe(2);
    expect(routesNamed('dataset.scan')).toBe(0);
  });

  it('applies badge updates pushed by main', () => {
    api.emit('dataset.itemsUpdated', { items: [{ path: 'u.jpg', status: 'unreadable', problem: 'Not an image' }] });
    expect(stores.dataset.counts.unreadable).toBe(2);
    expect(stores.dataset.items.find((i) => i.path === 'u.jpg')?.problem).toBe('Not an image');
  });

  it('shows the lost-folder message and turns failed calls into notices', async () => {
    api.emit('project.lost', { root: '/p', message: '/p no longer exists' });
    expect(stores.dataset.lostMessage).toMatch(/no longer exists/);
    await stores.dataset.createClass('X'); // FakeApi has no answer: an error notice, not a crash
    expect(stores.notices.notices.at(-1)).toMatchObject({ kind: 'error', text: expect.stringMatching(/classes.create/) });
  });
});
