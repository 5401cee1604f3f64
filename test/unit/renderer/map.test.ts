// @vitest-environment happy-dom
// The Map tab: the embedding map resynced after a reload and followed by its own events, its points
// narrowed to the images still in the project and followed through relabels, colours per mode,
// lasso, box and hover, and what a selection leads to: a relabel that Ctrl+Z takes back, or the grid.
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import { createApp } from 'vue';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import App from '../../../src/renderer/src/App.vue';
import { API_KEY } from '../../../src/renderer/src/api/inject';
import { classColor } from '../../../src/renderer/src/classColors';
import { useDatasetStore } from '../../../src/renderer/src/stores/dataset';
import { useLabelingStore } from '../../../src/renderer/src/stores/labeling';
import { MISLABEL_RAMP, mislabelColour, NO_VALUE_COLOUR, useMapStore } from '../../../src/renderer/src/stores/map';
import { useNoticesStore } from '../../../src/renderer/src/stores/notices';
import { SPLIT_COLORS } from '../../../src/renderer/src/splitViews';
import type { EmbeddingMap, MapStatus, RunSummary } from '../../../src/shared/contract';
import { FakeApi } from './fakeApi';

const ITEMS = [
  { path: 'NG/a.jpg', label: 'NG' },
  { path: 'NG/b.jpg', label: 'NG' },
  { path: 'OK/c.jpg', label: 'OK' },
  { path: 'OK/d.jpg', label: 'OK' },
  { path: 'e.jpg', label: null },
];

/** The map of ITEMS, plus NG/gone.jpg, an image no longer in the project. */
const MAP: EmbeddingMap = {
  runId: 'r1',
  method: 'InceptionV3 trunk features (768 values) → PCA to 50 → UMAP (15 neighbours)',
  paths: ['NG/a.jpg', 'NG/b.jpg', 'OK/c.jpg', 'OK/d.jpg', 'e.jpg', 'NG/gone.jpg'],
  coords: [0.1, 0.1, 0.2, 0.15, 0.8, 0.8, 0.9, 0.85, 0.5, 0.5, 0.5, 0.9],
  split: ['train', 'val', 'train', 'test', null, 'train'],
  predicted: ['NG', 'OK', 'OK', 'OK', null, 'NG'],
  mislabelScore: [0.05, 0.9, 0, 0.5, null, 1],
  skipped: [{ path: 'OK/broken.jpg', reason: 'The file is truncated' }],
  embedded: 2,
  seconds: 3.25,
  cached: false,
};

const NG = classColor('NG', 0);
const OK = classColor('OK', 1);

function status(overrides: Partial<MapStatus> = {}): MapStatus {
  return { mapId: 'm1', runId: 'r1', state: 'finished', progress: { phase: 'layout', done: 1, total: 1 }, startedAt: '2026-12-05T09:00:00.000Z', map: MAP, message: null, ...overrides };
}

function run(runId: string, hasReport = true): RunSummary {
  return { runId, name: null, epochs: [], state: 'finished', interruptedAt: null, keptModel: null, valAccuracy: 0.9, hasReport };
}

/** A fake main with the project, three runs newest first (r0 without a report). */
function fakeMain(): FakeApi {
  const api = FakeApi.withItems(['NG', 'OK'], ITEMS);
  api.otherRuns = [run('r0', false), run('r2'), run('r1')];
  return api;
}

async function setup(api = fakeMain()) {
  const app = createApp({});
  const pinia = createPinia();
  app.provide(API_KEY, api).use(pinia);
  setActivePinia(pinia);
  const stores = app.runWithContext(() => ({ dataset: useDatasetStore(), map: useMapStore(), labeling: useLabelingStore(), notices: useNoticesStore() }));
  await stores.dataset.refresh();
  await flushPromises();
  return { api, ...stores };
}

const routes = (api: FakeApi) => api.calls.map((c) => c.route);
/** Each drawn point as path → colour. */
const colourByPath = (map: ReturnType<typeof useMapStore>) => Object.fromEntries(map.points.paths.map((path, k) => [path, map.colours[k]]));

describe('map store: status and events', () => {
  it('resyncs a running map after a reload and follows only its own progress and end', async () => {
    const { api, map, notices } = await setup();
    api.mapStatus = status({ state: 'running', progress: { phase: 'embedding', done: 120, total: 600 }, map: null });
    await map.load();
    expect(map.running).toBe(true);
    expect(map.status?.progress).toEqual({ phase: 'embedding', done: 120, total: 600 });
    // The picker shows the run being mapped, not the newest one.
    expect(map.runId).toBe('r1');
    expect(map.mappableRuns.map((r) => r.runId)).toEqual(['r2', 'r1']);

    api.emit('map.progress', { mapId: 'other', phase: 'layout', done: 0, total: 1 });
    expect(map.status?.progress).toEqual({ phase: 'embedding', done: 120, total: 600 });
    api.emit('map.progress', { mapId: 'm1', phase: 'layout', done: 0, total: 1 });
    expect(map.status?.progress).toEqual({ phase: 'layout', done: 0, total: 1 });

    const asked = api.calls.length;
    api.emit('map.ended', { mapId: 'other', state: 'failed', message: 'not ours' });
    await flushPromises();
    expect(map.status?.state).toBe('running');
    expect(api.calls).toHaveLength(asked);
    expect(map.map).toBeNull();

    api.mapStatus = status();
    api.emit('map.ended', { mapId: 'm1', state: 'finished', message: 'Map of 6 images in 3 s' });
    await flushPromises();
    expect(routes(api).slice(asked)).toEqual(['map.status']);
    expect(map.running).toBe(false);
    expect(map.map?.method).toBe(MAP.method);
    expect(notices.notices.at(-1)?.text).toBe('Map of 6 images in 3 s');
  });

  it('resyncs a finished map: its images still in the project are the points, at their coordinates', async () => {
    const { api, map } = await setup();
    api.mapStatus = status();
    await map.load();
    expect(map.points.paths).toEqual(['NG/a.jpg', 'NG/b.jpg', 'OK/c.jpg', 'OK/d.jpg', 'e.jpg']);
    expect([...map.points.grid.xs]).toEqual([0.1, 0.2, 0.8, 0.9, 0.5].map(Math.fround));
    expect([...map.points.grid.ys]).toEqual([0.1, 0.15, 0.8, 0.85, 0.5].map(Math.fround));
  });

  it('defaults to the newest run with a report, starts a map for the chosen run and cancels it by its id', async () => {
    const { api, map } = await setup();
    await map.load();
    expect(map.status).toBeNull();
    expect(map.runId).toBe('r2');
    map.runId = 'r1';
    await map.start();
    expect(api.calls.find((c) => c.route === 'map.start')?.input).toEqual({ runId: 'r1' });
    expect(map.status?.mapId).toBe('map-1');
    expect(map.running).toBe(true);
    await map.cancel();
    expect(api.calls.at(-1)).toEqual({ route: 'map.cancel', input: { mapId: 'map-1' } });
  });

  it('says why main refuses a run without a backbone, beside the button and as a notice', async () => {
    const api = fakeMain();
    api.mapRefusals.r2 = 'Run r2 trained a small CNN from scratch: it has no backbone features to map. Map a run with a pretrained backbone.';
    const { map, notices } = await setup(api);
    await map.load();
    await map.start();
    expect(map.refused).toBe(api.mapRefusals.r2);
    expect(notices.notices.at(-1)).toMatchObject({ kind: 'error', text: api.mapRefusals.r2 });
    expect(map.status).toBeNull();
    map.runId = 'r1';
    await flushPromises();
    expect(map.refused).toBeNull();
  });

  it('forgets the map when another project opens', async () => {
    const { api, map, dataset } = await setup();
    api.mapStatus = status();
    await map.load();
    map.selectAll();
    dataset.load({ ...api.snapshot, root: '/other' });
    await flushPromises();
    expect(map.status).toBeNull();
    expect(map.map).toBeNull();
    expect(map.selection.size).toBe(0);
    expect(map.runId).toBeNull();
  });
});

describe('map store: colours', () => {
  it('by label: each image\'s label now, unlabeled in its own colour, and a relabel recolours the point where it was', async () => {
    const { api, map, dataset } = await setup();
    api.mapStatus = status();
    await map.load();
    expect(map.colourMode).toBe('label');
    expect(colourByPath(map)).toEqual({ 'NG/a.jpg': NG, 'NG/b.jpg': NG, 'OK/c.jpg': OK, 'OK/d.jpg': OK, 'e.jpg': NO_VALUE_COLOUR });
    expect(NO_VALUE_COLOUR).not.toBe(NG);
    expect(map.legend).toEqual([
      { name: 'NG', colour: NG, count: 2 },
      { name: 'OK', colour: OK, count: 2 },
      { name: 'unlabeled', colour: NO_VALUE_COLOUR, count: 1 },
    ]);

    await dataset.relabel(['NG/a.jpg'], 'OK');
    expect(colourByPath(map)).toEqual({ 'OK/a.jpg': OK, 'NG/b.jpg': NG, 'OK/c.jpg': OK, 'OK/d.jpg': OK, 'e.jpg': NO_VALUE_COLOUR });
    const k = map.points.paths.indexOf('OK/a.jpg');
    expect([map.points.grid.xs[k], map.points.grid.ys[k]]).toEqual([Math.fround(0.1), Math.fround(0.1)]);
    await dataset.undo();
    expect(colourByPath(map)['NG/a.jpg']).toBe(NG);
  });

  it('by prediction, split and mislabel score, from the map\'s arrays', async () => {
    const { api, map } = await setup();
    api.mapStatus = status();
    await map.load();

    map.colourMode = 'prediction';
    expect(colourByPath(map)).toEqual({ 'NG/a.jpg': NG, 'NG/b.jpg': OK, 'OK/c.jpg': OK, 'OK/d.jpg': OK, 'e.jpg': NO_VALUE_COLOUR });
    expect(map.legend.map((e) => [e.name, e.count])).toEqual([['NG', 1], ['OK', 3], ['no prediction', 1]]);

    map.colourMode = 'split';
    expect(colourByPath(map)).toEqual({ 'NG/a.jpg': SPLIT_COLORS.train, 'NG/b.jpg': SPLIT_COLORS.val, 'OK/c.jpg': SPLIT_COLORS.train, 'OK/d.jpg': SPLIT_COLORS.test, 'e.jpg': NO_VALUE_COLOUR });
    expect(map.legend.map((e) => [e.name, e.count])).toEqual([['train', 2], ['validation', 1], ['test', 1], ['in no split', 1]]);

    map.colourMode = 'mislabel';
    expect(map.values).toEqual([0.05, 0.9, 0, 0.5, null]);
    // 0.9 falls on step 14 of 16: three quarters of the way from yellow (#e0b34f) to red (#e0604f).
    expect(colourByPath(map)).toEqual({ 'NG/a.jpg': mislabelColour(0.05), 'NG/b.jpg': '#e0754f', 'OK/c.jpg': MISLABEL_RAMP[0], 'OK/d.jpg': MISLABEL_RAMP[1], 'e.jpg': NO_VALUE_COLOUR });
    expect(map.legend).toEqual([{ name: 'no score', colour: NO_VALUE_COLOUR, count: 1 }]);
  });

  it('the mislabel ramp runs from blue at 0 through yellow to red at 1, clamped', () => {
    expect(mislabelColour(0)).toBe('#3d6fb0');
    expect(mislabelColour(0.5)).toBe('#e0b34f');
    expect(mislabelColour(1)).toBe('#e0604f');
    expect(mislabelColour(1.7)).toBe('#e0604f');
    expect(mislabelColour(-1)).toBe('#3d6fb0');
    // A quarter: half way from blue to yellow.
    expect(mislabelColour(0.25)).toBe('#8f9180');
    expect(mislabelColour(null)).toBe(NO_VALUE_COLOUR);
    expect(new Set(Array.from({ length: 101 }, (_, i) => mislabelColour(i / 100))).size).toBe(17);
  });
});

describe('map store: selection and hover', () => {
  async function mapped() {
    const context = await setup();
    context.api.mapStatus = status();
    await context.map.load();
    return context;
  }

  it('a concave lasso selects the points inside it, not those in its notch', async () => {
    const { map } = await mapped();
    // An L: everything left of x 0.3, and everything below y 0.7; e (0.5, 0.5) lies in the notch.
    const lShape = [{ x: 0, y: 0 }, { x: 0.3, y: 0 }, { x: 0.3, y: 0.7 }, { x: 1, y: 0.7 }, { x: 1, y: 1 }, { x: 0, y: 1 }];
    map.selectInPolygon(lShape);
    expect(map.selectedPaths).toEqual(['NG/a.jpg', 'NG/b.jpg', 'OK/c.jpg', 'OK/d.jpg']);
    expect([...map.selectedMask]).toEqual([1, 1, 1, 1, 0]);
    // A new lasso replaces the selection; with add it joins it.
    map.selectInPolygon([{ x: 0.4, y: 0.4 }, { x: 0.6, y: 0.4 }, { x: 0.5, y: 0.6 }]);
    expect(map.selectedPaths).toEqual(['e.jpg']);
    map.selectInPolygon([{ x: 0.7, y: 0.7 }, { x: 1, y: 0.7 }, { x: 1, y: 1 }], true);
    expect(map.selectedPaths).toEqual(['OK/c.jpg', 'OK/d.jpg', 'e.jpg']);
  });

  it('a box selects the points inside it, dragged in any direction', async () => {
    const { map } = await mapped();
    map.selectInBox({ x: 0.55, y: 0.55 }, { x: 0.05, y: 0.05 });
    expect(map.selectedPaths).toEqual(['NG/a.jpg', 'NG/b.jpg', 'e.jpg']);
    map.selectInBox({ x: 0.85, y: 0.75 }, { x: 0.95, y: 0.9 }, true);
    expect(map.selectedPaths).toEqual(['NG/a.jpg', 'NG/b.jpg', 'OK/d.jpg', 'e.jpg']);
    map.selectPoint('NG/a.jpg', true);
    expect(map.selectedPaths).toEqual(['NG/b.jpg', 'OK/d.jpg', 'e.jpg']);
    map.selectPoint('OK/c.jpg');
    expect(map.selectedPaths).toEqual(['OK/c.jpg']);
    map.clearSelection();
    expect(map.selectedPaths).toEqual([]);
  });

  it('hover finds the nearest point within the radius, with what the tooltip says, and nothing beyond it', async () => {
    const { map } = await mapped();
    expect(map.hoverAt({ x: 0.21, y: 0.16 }, 0.02)).toBe('NG/b.jpg');
    expect(map.hoveredPoint).toMatchObject({ item: { path: 'NG/b.jpg', label: 'NG' }, predicted: 'OK', split: 'val', mislabelScore: 0.9 });
    expect(map.hoverAt({ x: 0.65, y: 0.65 }, 0.02)).toBeNull();
    expect(map.hoveredPoint).toBeNull();
    // NG/gone.jpg at (0.5, 0.9) is not drawn, so there is nothing to hover there.
    expect(map.hoverAt({ x: 0.5, y: 0.9 }, 0.05)).toBeNull();
  });

  it('relabels the selection through the dataset store: the points follow, and undo takes it back', async () => {
    const { api, map, dataset, notices } = await mapped();
    map.selectInBox({ x: 0.05, y: 0.05 }, { x: 0.55, y: 0.55 });
    expect(await map.relabelSelection('OK')).toBe(3);
    expect(api.calls.filter((c) => c.route === 'dataset.relabel').map((c) => c.input)).toEqual([{ paths: ['NG/a.jpg', 'NG/b.jpg', 'e.jpg'], to: 'OK' }]);
    expect(notices.notices.at(-1)?.text).toBe('3 image(s) relabeled OK — Ctrl+Z takes it back');
    expect(map.selectedPaths).toEqual(['OK/a.jpg', 'OK/b.jpg', 'OK/e.jpg']);
    expect(Object.values(colourByPath(map))).toEqual([OK, OK, OK, OK, OK]);
    expect(dataset.history.canUndo).toBe(true);

    // Already there: nothing to move, nothing asked.
    const asked = api.calls.length;
    expect(await map.relabelSelection('OK')).toBe(0);
    expect(api.calls).toHaveLength(asked);

    await dataset.undo();
    expect(map.points.paths).toEqual(['NG/a.jpg', 'NG/b.jpg', 'OK/c.jpg', 'OK/d.jpg', 'e.jpg']);
    expect(map.selectedPaths).toEqual(['NG/a.jpg', 'NG/b.jpg', 'e.jpg']);
    expect(colourByPath(map)['e.jpg']).toBe(NO_VALUE_COLOUR);
  });

  it('opens the selection in the grid: the grid shows exactly those images, and keeps them through a relabel', async () => {
    const { map, labeling, dataset } = await mapped();
    map.selectInBox({ x: 0.05, y: 0.05 }, { x: 0.85, y: 0.85 });
    expect(map.openInGrid()).toBe(4);
    expect(labeling.filter).toBe('map');
    expect(labeling.visible.map((i) => i.path)).toEqual(['NG/a.jpg', 'NG/b.jpg', 'OK/c.jpg', 'e.jpg']);
    await dataset.relabel(['NG/b.jpg'], 'OK');
    expect(labeling.visible.map((i) => i.path)).toEqual(['NG/a.jpg', 'OK/b.jpg', 'OK/c.jpg', 'e.jpg']);
    labeling.setFilter('all');
    expect(labeling.visible).toHaveLength(5);
    expect(labeling.shownPaths.size).toBe(0);
  });

  it('does not draw an image moved into the trash, and draws it again when undo brings it back', async () => {
    const { map, dataset } = await mapped();
    map.selectAll();
    await dataset.trash(['OK/c.jpg']);
    expect(map.points.paths).toEqual(['NG/a.jpg', 'NG/b.jpg', 'OK/d.jpg', 'e.jpg']);
    expect(map.colours).toHaveLength(4);
    expect(map.selectedPaths).toEqual(['NG/a.jpg', 'NG/b.jpg', 'OK/d.jpg', 'e.jpg']);
    expect(map.hoverAt({ x: 0.8, y: 0.8 }, 0.01)).toBeNull();
    await dataset.undo();
    expect(map.points.paths).toEqual(['NG/a.jpg', 'NG/b.jpg', 'OK/c.jpg', 'OK/d.jpg', 'e.jpg']);
  });

  it('takes each image where main says it is when the map comes, and follows the moves after that', async () => {
    const { api, map, dataset } = await setup();
    await map.load();
    await map.start();
    // A relabel while the map computes: main names the image where it is now when asked.
    await dataset.relabel(['OK/c.jpg'], 'NG');
    api.mapStatus = status({ mapId: 'map-1', map: { ...MAP, paths: MAP.paths.map((p) => (p === 'OK/c.jpg' ? 'NG/c.jpg' : p)) } });
    api.emit('map.ended', { mapId: 'map-1', state: 'finished', message: 'done' });
    await flushPromises();
    expect(map.points.paths).toEqual(['NG/a.jpg', 'NG/b.jpg', 'NG/c.jpg', 'OK/d.jpg', 'e.jpg']);
    expect(colourByPath(map)['NG/c.jpg']).toBe(NG);
    await dataset.relabel(['NG/c.jpg'], 'OK');
    expect(map.points.paths).toEqual(['NG/a.jpg', 'NG/b.jpg', 'OK/c.jpg', 'OK/d.jpg', 'e.jpg']);
  });
});

describe('Map tab', () => {
  // happy-dom lays nothing out: give the stage a 428 px square, so map (x, y) is drawn at 14 + 400·(x, y).
  const SIZES = ['clientWidth', 'clientHeight'] as const;
  const originals = new Map<string, PropertyDescriptor | undefined>();
  beforeEach(() => {
    for (const key of SIZES) {
      originals.set(key, Object.getOwnPropertyDescriptor(HTMLElement.prototype, key));
      Object.defineProperty(HTMLElement.prototype, key, {
        configurable: true,
        get(this: HTMLElement) {
          return this.classList.contains('map-stage') ? 428 : 0;
        },
      });
    }
  });
  afterEach(() => {
    for (const key of SIZES) {
      const original = originals.get(key);
      if (original) Object.defineProperty(HTMLElement.prototype, key, original);
      else Reflect.deleteProperty(HTMLElement.prototype, key);
    }
  });

  async function mapTab(api = fakeMain()) {
    const pinia = createPinia();
    const wrapper = mount(App, { global: { plugins: [pinia], provide: { [API_KEY as symbol]: api } }, attachTo: document.body });
    await flushPromises();
    await wrapper.find('[data-tab=map]').trigger('click');
    await flushPromises();
    // The app made the store: this finds it.
    return { api, wrapper, map: useMapStore(pinia) };
  }
  const pointer = (type: string, x: number, y: number, init: PointerEventInit = {}) => new PointerEvent(type, { clientX: x, clientY: y, button: 0, pointerId: 1, bubbles: true, ...init });
  /** A drag on the canvas through these canvas pixels, as a mouse does it. */
  function drag(canvas: Element, path: [number, number][], init: PointerEventInit = {}): void {
    const [first, ...rest] = path as [[number, number], ...[number, number][]];
    canvas.dispatchEvent(pointer('pointerdown', first[0], first[1], init));
    for (const [x, y] of rest) canvas.dispatchEvent(pointer('pointermove', x, y, init));
    const last = path.at(-1) as [number, number];
    canvas.dispatchEvent(pointer('pointerup', last[0], last[1], init));
  }

  it('computes a map with its progress in words, and cancels it', async () => {
    const { api, wrapper } = await mapTab();
    expect(wrapper.find('[data-test=map-empty]').exists()).toBe(true);
    expect(wrapper.findAll('[data-test=map-run] option').map((o) => o.attributes('value'))).toEqual(['r2', 'r1']);
    await wrapper.find('[data-test=map-start]').trigger('click');
    await flushPromises();
    expect(api.calls.find((c) => c.route === 'map.start')?.input).toEqual({ runId: 'r2' });
    api.emit('map.progress', { mapId: 'map-1', phase: 'embedding', done: 120, total: 600 });
    await flushPromises();
    expect(wrapper.find('[data-test=map-progress]').text()).toMatch(/^Computing features 120 of 600 · started/);
    api.emit('map.progress', { mapId: 'map-1', phase: 'layout', done: 0, total: 1 });
    await flushPromises();
    expect(wrapper.find('[data-test=map-progress]').text()).toMatch(/^Laying out…/);
    await wrapper.find('[data-test=map-cancel]').trigger('click');
    api.emit('map.ended', { mapId: 'map-1', state: 'cancelled', message: 'Cancelled' });
    await flushPromises();
    expect(api.calls.find((c) => c.route === 'map.cancel')?.input).toEqual({ mapId: 'map-1' });
    expect(wrapper.find('[data-test=map-last]').text()).toMatch(/was cancelled: Cancelled\.$/);
    expect(wrapper.find('[data-test=map-start]').exists()).toBe(true);
    wrapper.unmount();
  });

  it('shows a refusal beside the button', async () => {
    const api = fakeMain();
    api.mapRefusals.r2 = 'Run r2 trained a small CNN from scratch: it has no backbone features to map.';
    const { wrapper } = await mapTab(api);
    await wrapper.find('[data-test=map-start]').trigger('click');
    await flushPromises();
    expect(wrapper.find('[data-test=map-refused]').text()).toBe(api.mapRefusals.r2);
    wrapper.unmount();
  });

  it('lassoes points with the mouse, hovers one with its thumbnail, relabels and opens the selection in the grid; Escape clears', async () => {
    const api = fakeMain();
    api.mapStatus = status();
    const { wrapper } = await mapTab(api);
    expect(wrapper.find('[data-test=map-method]').text()).toBe(`Run r1: ${MAP.method} · 5 images · 3.3 s · features computed for 2 images, the rest from the run's cache`);
    const canvas = wrapper.find('[data-test=map-canvas]');
    expect(canvas.attributes('tabindex')).toBe('0');
    expect(canvas.attributes('aria-label')).toMatch(/^Embedding map of 5 images, each a point coloured by label \(NG 2, OK 2, unlabeled 1\)\. 0 selected\./);

    // Hover e at (0.5, 0.5), drawn at (214, 214).
    canvas.element.dispatchEvent(pointer('pointermove', 216, 213));
    await flushPromises();
    expect(wrapper.find('[data-test=map-tooltip] img').attributes('src')).toBe('fake://thumb/e.jpg?v=v');
    expect(wrapper.find('[data-test=map-tooltip]').text()).toContain('label: unlabeled');
    canvas.element.dispatchEvent(pointer('pointermove', 300, 100));
    await flushPromises();
    expect(wrapper.find('[data-test=map-tooltip]').exists()).toBe(false);

    // A lasso around a (54, 54) and b (94, 74), leaving e (214, 214) out.
    drag(canvas.element, [[30, 30], [130, 30], [130, 110], [30, 110]]);
    await flushPromises();
    expect(wrapper.find('[data-test=map-selection-count]').text()).toBe('2 selected');

    // Shift+drag: a box around c (334, 334) and d (374, 354) instead.
    drag(canvas.element, [[320, 320], [400, 400]], { shiftKey: true });
    await flushPromises();
    expect(wrapper.find('[data-test=map-selection-count]').text()).toBe('2 selected');
    await wrapper.find('[data-test=map-relabel-to]').setValue('');
    await wrapper.find('[data-test=map-relabel]').trigger('click');
    await flushPromises();
    expect(api.calls.at(-1)).toEqual({ route: 'dataset.relabel', input: { paths: ['OK/c.jpg', 'OK/d.jpg'], to: null } });

    // Ctrl+Z in the Map tab undoes it.
    window.dispatchEvent(new KeyboardEvent('keydown', { key: 'z', ctrlKey: true, bubbles: true }));
    await flushPromises();
    expect(api.calls.at(-1)?.route).toBe('dataset.undo');

    window.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true }));
    await flushPromises();
    expect(wrapper.find('[data-test=map-selection-count]').text()).toBe('0 selected');

    // A click on a point selects it; a click on empty space clears.
    drag(canvas.element, [[54, 54]]);
    await flushPromises();
    expect(wrapper.find('[data-test=map-selection-count]').text()).toBe('1 selected');
    drag(canvas.element, [[250, 60]]);
    await flushPromises();
    expect(wrapper.find('[data-test=map-selection-count]').text()).toBe('0 selected');

    drag(canvas.element, [[30, 30], [130, 30], [130, 110], [30, 110]]);
    await flushPromises();
    await wrapper.find('[data-test=map-open-grid]').trigger('click');
    await flushPromises();
    expect(wrapper.find('[data-tab=label]').classes()).toContain('active');
    expect(wrapper.findAll('.cell').map((c) => c.attributes('data-path'))).toEqual(['NG/a.jpg', 'NG/b.jpg']);
    const filter = wrapper.find('[data-filter=map]');
    expect(filter.text()).toMatch(/^2 images from the map/);
    await filter.trigger('click');
    expect(wrapper.find('.grid-status').text()).toMatch(/^5 shown/);
    expect(wrapper.find('[data-filter=map]').exists()).toBe(false);
    wrapper.unmount();
  });

  it('draws every point with one fillRect on a canvas sized for the screen\'s pixel ratio, one fill colour per batch', async () => {
    const fills: { style: string; x: number; y: number; alpha: number }[] = [];
    const styles: string[] = [];
    const context = {
      fillStyle: '',
      globalAlpha: 1,
      setTransform: () => undefined,
      clearRect: () => fills.splice(0),
      fillRect(x: number, y: number) {
        fills.push({ style: this.fillStyle, x, y, alpha: this.globalAlpha });
      },
    };
    Object.defineProperty(context, 'fillStyle', { get: () => styles.at(-1) ?? '', set: (style: string) => styles.push(style) });
    const getContext = HTMLCanvasElement.prototype.getContext;
    HTMLCanvasElement.prototype.getContext = (() => context) as unknown as typeof getContext;
    const ratio = window.devicePixelRatio;
    window.devicePixelRatio = 2;
    try {
      const api = fakeMain();
      api.mapStatus = status();
      const { wrapper, map } = await mapTab(api);
      await new Promise((resolve) => requestAnimationFrame(resolve));
      const canvas = wrapper.find('[data-test=map-canvas]').element as HTMLCanvasElement;
      expect([canvas.width, canvas.height]).toEqual([856, 856]);
      expect(canvas.querySelectorAll('*')).toHaveLength(0);
      // Five points of three colours (NG, OK, unlabeled): three fill styles, five rectangles centred on 14 + 400·(x, y).
      expect(fills).toHaveLength(5);
      expect(styles).toEqual([NG, OK, NO_VALUE_COLOUR]);
      expect(fills.map((f) => [Math.round(f.x + 2.5), Math.round(f.y + 2.5)])).toEqual([[54, 54], [94, 74], [334, 334], [374, 354], [214, 214]]);

      // With a selection the rest fades, and the selected point is ringed in white under its own colour.
      styles.splice(0);
      map.selectPoint('e.jpg');
      await flushPromises();
      await new Promise((resolve) => requestAnimationFrame(resolve));
      expect(fills.filter((f) => f.alpha < 1).map((f) => f.style)).toEqual([NG, NG, OK, OK]);
      expect(fills.filter((f) => f.alpha === 1).map((f) => f.style)).toEqual(['#ffffff', NO_VALUE_COLOUR]);
      wrapper.unmount();
    } finally {
      HTMLCanvasElement.prototype.getContext = getContext;
      window.devicePixelRatio = ratio;
    }
  });

  it('offers every colour mode with its legend, the mislabel score as a ramp', async () => {
    const api = fakeMain();
    api.mapStatus = status();
    const { wrapper } = await mapTab(api);
    expect(wrapper.findAll('[data-test=map-colour] option').map((o) => o.attributes('value'))).toEqual(['label', 'prediction', 'split', 'mislabel']);
    expect(wrapper.find('[data-test=map-legend]').text()).toMatch(/NG\s*2\s*OK\s*2\s*unlabeled\s*1/);
    await wrapper.find('[data-test=map-colour]').setValue('mislabel');
    expect(wrapper.find('.map-ramp').exists()).toBe(true);
    expect(wrapper.find('[data-test=map-legend]').text()).toMatch(/no score\s*1/);
    expect(wrapper.find('[data-test=map-canvas]').attributes('aria-label')).toContain('mislabel score, blue (0: the model agrees with the label) through yellow to red (1: sure of another class)');
    wrapper.unmount();
  });
});
