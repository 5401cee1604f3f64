// @vitest-environment happy-dom
import { createPinia, setActivePinia } from 'pinia';
import { createApp, nextTick } from 'vue';
import { describe, expect, it } from 'vitest';
import { flushPromises, mount } from '@vue/test-utils';
import App from '../../../src/renderer/src/App.vue';
import { API_KEY } from '../../../src/renderer/src/api/inject';
import { useDatasetStore } from '../../../src/renderer/src/stores/dataset';
import { useEvaluationStore } from '../../../src/renderer/src/stores/evaluation';
import { useProjectStore } from '../../../src/renderer/src/stores/project';
import type { TrainingReport } from '../../../src/shared/report';
import { FakeApi } from './fakeApi';

/** A two-class report over four val images with the given P(NG) for NG, NG, OK, OK. */
function report(runId: string, pNG: [number, number, number, number], seconds: number): TrainingReport {
  const labels = ['NG', 'NG', 'OK', 'OK'];
  const samples = labels.map((label, i) => ({
    path: `${label}/${i}.jpg`,
    label,
    split: 'val' as const,
    predicted: (pNG[i] as number) >= 0.5 ? 'NG' : 'OK',
    probabilities: { NG: pNG[i] as number, OK: 1 - (pNG[i] as number) },
    mislabelScore: 0,
    suggestedLabel: label,
    likelyMislabeled: false,
  }));
  const confusion = [
    [samples.filter((s) => s.label === 'NG' && s.predicted === 'NG').length, samples.filter((s) => s.label === 'NG' && s.predicted === 'OK').length],
    [samples.filter((s) => s.label === 'OK' && s.predicted === 'NG').length, samples.filter((s) => s.label === 'OK' && s.predicted === 'OK').length],
  ];
  return {
    runId,
    classes: ['NG', 'OK'],
    evaluatedOn: 'val',
    confusion,
    perClass: { NG: { precision: 1, recall: confusion[0]![0]! / 2, f1: 0, support: 2 }, OK: { precision: 0.5, recall: 1, f1: 0, support: 2 } },
    samples,
    timing: { totalSeconds: seconds, embedSeconds: 0, trainSeconds: 0, imagesPerSecond: 0, embedded: 0, fromCache: 0 },
  } as unknown as TrainingReport;
}

/** The stores on a fake main, as the app would provide them. */
function stores(api: FakeApi) {
  const app = createApp({});
  const pinia = createPinia();
  app.provide(API_KEY, api).use(pinia);
  setActivePinia(pinia);
  return app.runWithContext(() => ({ evaluation: useEvaluationStore(), project: useProjectStore(), dataset: useDatasetStore() }));
}

describe('evaluation store: comparing two runs', () => {
  it('puts both runs\' accuracy, AUC, per-class figures and time side by side', async () => {
    const api = FakeApi.withItems(['NG', 'OK'], []);
    // Run b: all four right, AUC 1. Run a: one NG missed, and it scores below an OK image (AUC 0.75).
    api.reports.set('20261123-100000-aaaa', report('20261123-100000-aaaa', [0.9, 0.3, 0.4, 0.1], 30));
    api.reports.set('20261123-110000-bbbb', report('20261123-110000-bbbb', [0.9, 0.8, 0.2, 0.1], 20));
    const { evaluation } = stores(api);
    await evaluation.refreshRuns();
    await evaluation.open('20261123-100000-aaaa');
    expect(evaluation.comparison).toEqual([]);
    evaluation.compareWith = '20261123-110000-bbbb';
    await nextTick();
    await new Promise((resolve) => setTimeout(resolve, 0));
    const rows = Object.fromEntries(evaluation.comparison.map((r) => [r.metric, [r.ours, r.theirs]]));
    expect(rows['accuracy (val split)']).toEqual([0.75, 1]);
    expect(rows['AUC (NG positive)']).toEqual([0.75, 1]);
    expect(rows['NG recall']).toEqual([0.5, 1]);
    expect(rows['OK precision']).toEqual([0.5, 0.5]);
    expect(rows['images evaluated']).toEqual([4, 4]);
    expect(rows['training time']).toEqual([30, 20]);
    evaluation.compareWith = null;
    await nextTick();
    expect(evaluation.comparison).toEqual([]);
  });
});

describe('evaluation gallery keyboard', () => {
  const runId = '20261123-100000-aaaa';
  const items = [
    { path: 'NG/0.jpg', label: 'NG' },
    { path: 'NG/1.jpg', label: 'NG' },
    { path: 'OK/2.jpg', label: 'OK' },
    { path: 'OK/3.jpg', label: 'OK' },
  ];

  it('relabels the highlighted image with the grid\'s number keys and steps on; in the large view, the image shown', async () => {
    const api = FakeApi.withItems(['NG', 'OK'], items);
    api.reports.set(runId, report(runId, [0.9, 0.3, 0.4, 0.1], 30));
    const { evaluation, project, dataset } = stores(api);
    await project.init();
    await evaluation.open(runId);
    evaluation.selection = { kind: 'cell', actual: 0, predicted: 0 };
    await nextTick();
    expect(evaluation.gallery.map((s) => s.path)).toEqual(['NG/0.jpg']);
    evaluation.selection = { kind: 'mislabeled' };
    await nextTick();
    expect(evaluation.focused?.path).toBe('NG/0.jpg');

    await evaluation.relabelByKey(2);
    expect(api.calls.at(-1)).toEqual({ route: 'dataset.relabel', input: { paths: ['NG/0.jpg'], to: 'OK' } });
    expect(evaluation.relabeled.get('NG/0.jpg')).toBe('OK');
    expect(evaluation.cursor).toBe(1);

    const calls = api.calls.length;
    await evaluation.relabelByKey(9); // no ninth class: nothing happens
    expect(api.calls).toHaveLength(calls);

    evaluation.enlarged = evaluation.focused;
    await evaluation.relabelByKey(0);
    expect(api.calls.at(-1)).toEqual({ route: 'dataset.relabel', input: { paths: ['NG/1.jpg'], to: null } });
    expect(evaluation.relabeled.get('NG/1.jpg')).toBe('unlabeled');
    expect(evaluation.enlarged?.path).toBe(evaluation.gallery[2]?.path);
    evaluation.moveCursor(-5);
    expect(evaluation.cursor).toBe(0);

    // Undo puts NG/1.jpg back: no longer marked, and it can be relabeled again.
    await dataset.undo();
    await nextTick();
    expect([...evaluation.relabeled.keys()]).toEqual(['NG/0.jpg']);

    // Another project: nothing of this one's runs stays on screen.
    dataset.load({ ...api.snapshot, root: '/other', name: 'other' });
    await nextTick();
    expect([evaluation.runId, evaluation.report, evaluation.selection, evaluation.runs]).toEqual([null, null, null, []]);
  });

  it('sends number keys to the gallery when the Evaluate tab is open', async () => {
    const api = FakeApi.withItems(['NG', 'OK'], items);
    api.reports.set(runId, report(runId, [0.9, 0.3, 0.4, 0.1], 30));
    const wrapper = mount(App, { global: { plugins: [createPinia()], provide: { [API_KEY as symbol]: api } }, attachTo: document.body });
    await flushPromises();
    await wrapper.find('[data-tab=evaluate]').trigger('click');
    await flushPromises();
    await wrapper.find('[data-test=mislabeled]').trigger('click');
    await flushPromises();
    expect(wrapper.findAll('.gallery-item.cursor')).toHaveLength(1);
    window.dispatchEvent(new KeyboardEvent('keydown', { key: '2', bubbles: true }));
    await flushPromises();
    expect(api.calls.at(-1)).toEqual({ route: 'dataset.relabel', input: { paths: ['NG/0.jpg'], to: 'OK' } });
    window.dispatchEvent(new KeyboardEvent('keydown', { key: 'z', ctrlKey: true, bubbles: true }));
    await flushPromises();
    expect(api.calls.at(-1)?.route).toBe('dataset.undo');
    wrapper.unmount();
  });
});
