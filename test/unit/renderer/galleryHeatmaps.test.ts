// @vitest-environment happy-dom
// Heatmaps on the Evaluate gallery's thumbnails: asked for page by page (64 at most, one ask for a
// page, not one a thumbnail), drawn on exactly the thumbnails that got a map, kept by the report's
// path (never on another image), asked again for another class, dropped when superseded, and H
// toggles them from the gallery while it still toggles the large view's heatmap there.
import { createPinia } from 'pinia';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { flushPromises, mount } from '@vue/test-utils';
import App from '../../../src/renderer/src/App.vue';
import { API_KEY } from '../../../src/renderer/src/api/inject';
import { useEvaluationStore } from '../../../src/renderer/src/stores/evaluation';
import type { RouteInput, RouteOutput } from '../../../src/shared/contract';
import type { TrainingReport } from '../../../src/shared/report';
import { FakeApi } from './fakeApi';

vi.mock('chart.js', () => import('./chartStub'));

const runId = '20261201-100000-heat';
const COUNT = 70;
/** NG/0.jpg … OK/69.jpg, the queue's order the same (scores falling). */
const paths = Array.from({ length: COUNT }, (_, i) => `${i % 2 ? 'OK' : 'NG'}/${i}.jpg`);

function report(): TrainingReport {
  const samples = paths.map((path, i) => {
    const label = path.split('/')[0] as string;
    return { path, label, split: 'val' as const, predicted: label, probabilities: { NG: label === 'NG' ? 0.8 : 0.2, OK: label === 'NG' ? 0.2 : 0.8 }, mislabelScore: 1 - i / 1000, suggestedLabel: label, likelyMislabeled: false };
  });
  return {
    runId,
    classes: ['NG', 'OK'],
    evaluatedOn: 'val',
    confusion: [
      [COUNT / 2, 0],
      [0, COUNT / 2],
    ],
    perClass: { NG: { precision: 1, recall: 1, f1: 1, support: COUNT / 2 }, OK: { precision: 1, recall: 1, f1: 1, support: COUNT / 2 } },
    samples,
    timing: { totalSeconds: 1, embedSeconds: 0, trainSeconds: 0, imagesPerSecond: 0, embedded: 0, fromCache: 0 },
  } as unknown as TrainingReport;
}

let mounted: ReturnType<typeof mountApp> | null = null;
afterEach(() => {
  mounted?.unmount();
  mounted = null;
  vi.unstubAllGlobals();
});

/** An IntersectionObserver the test drives (happy-dom's never reports): which thumbnails are on screen. */
class FakeObserver {
  static last: FakeObserver | null = null;
  readonly targets = new Set<Element>();
  constructor(readonly callback: (entries: { target: Element; isIntersecting: boolean }[]) => void) {
    FakeObserver.last = this;
  }
  observe(target: Element): void {
    this.targets.add(target);
  }
  unobserve(target: Element): void {
    this.targets.delete(target);
  }
  disconnect(): void {
    this.targets.clear();
  }
  takeRecords(): never[] {
    return [];
  }
  /** The thumbnails at these gallery indices are on screen, the others not. */
  show(indices: number[]): void {
    this.callback([...this.targets].map((target) => ({ target, isIntersecting: indices.includes(Number((target as HTMLElement).dataset.index)) })));
  }
}

function mountApp(api: FakeApi) {
  return mount(App, { global: { plugins: [createPinia()], provide: { [API_KEY as symbol]: api } }, attachTo: document.body });
}

/** The app on the Evaluate tab with the likely-mislabeled queue (all 70 images) open. */
async function openQueue(api: FakeApi) {
  api.reports.set(runId, report());
  const wrapper = mountApp(api);
  mounted = wrapper;
  await flushPromises();
  await wrapper.find('[data-tab=evaluate]').trigger('click');
  await flushPromises();
  await wrapper.find('[data-test=mislabeled]').trigger('click');
  await flushPromises();
  return wrapper;
}

const newApi = () => FakeApi.withItems(['NG', 'OK'], paths.map((path) => ({ path, label: path.split('/')[0] as string })));
const asks = (api: FakeApi) => api.calls.filter((c) => c.route === 'runs.heatmaps').map((c) => c.input as RouteInput<'runs.heatmaps'>);
/** Thumbnails with a map drawn over them: report path → whose map (the fake names it by class). */
function overlays(wrapper: ReturnType<typeof mountApp>): Record<string, string> {
  return Object.fromEntries(
    wrapper.findAll('[data-test=gallery] .gallery-item').flatMap((figure) => {
      const map = figure.find('[data-heatmap]');
      if (!map.exists()) return [];
      expect(map.find('canvas[data-test=heatmap]').exists()).toBe(true);
      return [[figure.attributes('data-path') as string, map.attributes('data-heatmap') as string]];
    }),
  );
}
const toggle = (wrapper: ReturnType<typeof mountApp>) => wrapper.find('[data-test=gallery-heatmaps] input[name=galleryHeatmaps]');
const pressKey = (key: string) => (document.activeElement ?? document.body).dispatchEvent(new KeyboardEvent('keydown', { key, bubbles: true, cancelable: true }));

/** Answers held until the test resolves them. */
function holdAnswers(api: FakeApi) {
  const held: { input: RouteInput<'runs.heatmaps'>; answer: () => void }[] = [];
  const normal = api.heatmapAnswer;
  api.heatmapAnswer = (input) =>
    new Promise<RouteOutput<'runs.heatmaps'>>((resolve) => {
      held.push({ input, answer: () => resolve(normal(input) as RouteOutput<'runs.heatmaps'>) });
    });
  return held;
}

describe('heatmaps on the Evaluate gallery', () => {
  it('asks once for the page on screen (64 at most), draws exactly the maps it got, keeps them when scrolled back and draws none when off', async () => {
    const api = newApi();
    api.heatmapUnreadable.add('OK/3.jpg');
    const wrapper = await openQueue(api);
    expect(asks(api)).toEqual([]);
    expect(wrapper.find('[data-test=gallery] canvas').exists()).toBe(false);

    const box = toggle(wrapper);
    expect(box.attributes('type')).toBe('checkbox');
    await box.setValue(true);
    await flushPromises();
    expect(asks(api)).toEqual([{ runId, paths: paths.slice(0, 64), scale: 'shared' }]);
    const drawn = overlays(wrapper);
    expect(Object.keys(drawn)).toEqual(paths.slice(0, 64).filter((p) => p !== 'OK/3.jpg'));
    expect(drawn['NG/0.jpg']).toBe('pred:NG/0.jpg');
    // One legend for the gallery, and the unreadable one is said.
    expect(wrapper.findAll('[data-test=gallery-heatmaps] [data-test=heatmap-legend]')).toHaveLength(1);
    expect(wrapper.find('[data-test=gallery-heatmaps]').text()).toContain('1 without a map');

    // The keyboard moves to the second page: its 6 images are asked for, then nothing when back on the first.
    const evaluation = useEvaluationStore();
    evaluation.cursor = 66;
    await flushPromises();
    expect(asks(api).slice(1)).toEqual([{ runId, paths: paths.slice(64), scale: 'shared' }]);
    evaluation.cursor = 0;
    await flushPromises();
    expect(asks(api)).toHaveLength(2);
    expect(Object.keys(overlays(wrapper))).toHaveLength(COUNT - 1);

    await toggle(wrapper).setValue(false);
    await flushPromises();
    expect(overlays(wrapper)).toEqual({});
    expect(wrapper.find('[data-test=gallery] canvas').exists()).toBe(false);
    expect(wrapper.find('[data-test=gallery-heatmaps] [data-test=heatmap-legend]').exists()).toBe(false);
  });

  it('asks again for another class or scale and for another gallery, dropping the maps shown', async () => {
    const api = newApi();
    const wrapper = await openQueue(api);
    await toggle(wrapper).setValue(true);
    await flushPromises();
    const held = holdAnswers(api);
    await wrapper.find('[data-test=gallery-heatmaps] select[name=heatmapClass]').setValue('NG');
    await flushPromises();
    expect(asks(api).at(-1)).toEqual({ runId, paths: paths.slice(0, 64), scale: 'shared', className: 'NG' });
    // Nothing of the predicted class's maps stays while NG's are computed.
    expect(overlays(wrapper)).toEqual({});
    expect(wrapper.find('[data-test=gallery-heatmaps-computing]').exists()).toBe(true);
    expect(wrapper.find('.gallery-item[data-path="NG/0.jpg"] .heat-thumb').classes()).toContain('computing');
    held[0]?.answer();
    await flushPromises();
    expect(new Set(Object.values(overlays(wrapper)))).toEqual(new Set(['NG']));
    expect(wrapper.find('[data-test=gallery-heatmaps-computing]').exists()).toBe(false);

    await wrapper.find('[data-test=gallery-heatmaps] select[name=heatmapScale]').setValue('per-image');
    await flushPromises();
    expect(asks(api).at(-1)).toEqual({ runId, paths: paths.slice(0, 64), scale: 'per-image', className: 'NG' });
    held[1]?.answer();
    await flushPromises();

    // Another gallery (a confusion cell) asks for its own images; the queue's maps are gone.
    await wrapper.find('[data-cell="0-0"]').trigger('click');
    await flushPromises();
    const ng = paths.filter((p) => p.startsWith('NG/'));
    expect(asks(api).at(-1)).toEqual({ runId, paths: ng, scale: 'per-image', className: 'NG' });
    expect(overlays(wrapper)).toEqual({});
    expect(asks(api)).toHaveLength(4);
  });

  it('never draws a superseded answer, and puts each map on the image it was asked for after a relabel', async () => {
    const api = newApi();
    const wrapper = await openQueue(api);
    // NG/0.jpg moves to OK: its map is asked for where it lies now, and drawn on its own thumbnail.
    await wrapper.find('.gallery-item[data-path="NG/0.jpg"] [data-relabel=OK]').trigger('click');
    await flushPromises();
    const held = holdAnswers(api);
    await toggle(wrapper).setValue(true);
    await flushPromises();
    expect(asks(api)[0]?.paths.slice(0, 2)).toEqual(['OK/0.jpg', 'OK/1.jpg']);
    await wrapper.find('[data-test=gallery-heatmaps] select[name=heatmapClass]').setValue('NG');
    await flushPromises();
    expect(held.map((h) => h.input.className)).toEqual([undefined, 'NG']);

    // The first ask (predicted class) answers after it was superseded: nothing of it is drawn.
    held[0]?.answer();
    await flushPromises();
    expect(overlays(wrapper)).toEqual({});
    expect(wrapper.find('[data-test=gallery-heatmaps-computing]').exists()).toBe(true);
    // Back to "predicted": a new ask; NG's late answer is dropped too.
    await wrapper.find('[data-test=gallery-heatmaps] select[name=heatmapClass]').setValue(null);
    await flushPromises();
    held[1]?.answer();
    await flushPromises();
    expect(overlays(wrapper)).toEqual({});
    held[2]?.answer();
    await flushPromises();
    const drawn = overlays(wrapper);
    expect(drawn['NG/0.jpg']).toBe('pred:OK/0.jpg');
    expect(drawn['OK/1.jpg']).toBe('pred:OK/1.jpg');
    expect(Object.values(drawn).every((whose) => whose.startsWith('pred:'))).toBe(true);
  });

  it('toggles with H from the gallery, and H in the large view still toggles its own heatmap', async () => {
    const api = newApi();
    const wrapper = await openQueue(api);
    pressKey('h');
    await flushPromises();
    expect((toggle(wrapper).element as HTMLInputElement).checked).toBe(true);
    expect(asks(api)).toHaveLength(1);
    expect(Object.keys(overlays(wrapper))).toHaveLength(64);
    pressKey('H');
    await flushPromises();
    expect((toggle(wrapper).element as HTMLInputElement).checked).toBe(false);
    expect(overlays(wrapper)).toEqual({});

    // The large view: H is its heatmap's, the gallery's switch stays as it is.
    pressKey('Enter');
    await flushPromises();
    const viewer = wrapper.find('[data-test=eval-viewer]');
    expect(viewer.exists()).toBe(true);
    expect((viewer.find('input[name=heatmapShown]').element as HTMLInputElement).checked).toBe(false);
    pressKey('h');
    await flushPromises();
    expect((viewer.find('input[name=heatmapShown]').element as HTMLInputElement).checked).toBe(true);
    expect(viewer.find('[data-test=heatmap]').exists()).toBe(true);
    expect((toggle(wrapper).element as HTMLInputElement).checked).toBe(false);
    pressKey('h');
    await flushPromises();
    expect(viewer.find('[data-test=heatmap]').exists()).toBe(false);
    expect((toggle(wrapper).element as HTMLInputElement).checked).toBe(false);
  });

  it('asks for the pages scrolled into view one after another, the cursor\'s first, each at most 64', async () => {
    vi.stubGlobal('IntersectionObserver', FakeObserver);
    const api = newApi();
    const wrapper = await openQueue(api);
    const held = holdAnswers(api);
    await toggle(wrapper).setValue(true);
    await flushPromises();
    const observer = FakeObserver.last as FakeObserver;
    expect(observer.targets.size).toBe(COUNT);
    // The end of the queue scrolls into view while the cursor's page is computed: that ask finishes first.
    observer.show([60, 61, 62, 63, 64, 65, 66, 67, 68, 69]);
    await flushPromises();
    expect(held.map((h) => h.input.paths.length)).toEqual([64]);
    held[0]?.answer();
    await flushPromises();
    expect(held.map((h) => h.input.paths)).toEqual([paths.slice(0, 64), paths.slice(64)]);
    held[1]?.answer();
    await flushPromises();
    expect(Object.keys(overlays(wrapper))).toHaveLength(COUNT);
    // Scrolling back asks for nothing.
    observer.show([0, 1, 2]);
    await flushPromises();
    expect(held).toHaveLength(2);
  });
});
