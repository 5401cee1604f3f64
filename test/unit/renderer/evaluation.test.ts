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
    expect(evaluation.movedBadge('NG/1.jpg')).toBe('relabeled unlabeled');
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

  it('names an image the data check moved to the trash as such, not as a class called ".labelloop"', async () => {
    const api = FakeApi.withItems(['NG', 'OK'], items);
    api.reports.set(runId, report(runId, [0.9, 0.3, 0.4, 0.1], 30));
    const { evaluation, project, dataset } = stores(api);
    await project.init();
    await evaluation.open(runId);
    await dataset.trash(['NG/0.jpg']);
    expect(evaluation.movedBadge('NG/0.jpg')).toBe('in the trash');
    await dataset.undo();
    expect(evaluation.movedBadge('NG/0.jpg')).toBeNull();
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

/** The report above with the run's mislabel verdicts (scores, flags; every suggestion the other class) for NG/0, NG/1, OK/2, OK/3. */
function flaggedReport(runId: string, scores: [number, number, number, number], flagged: [boolean, boolean, boolean, boolean]): TrainingReport {
  const base = report(runId, [0.9, 0.3, 0.4, 0.1], 30);
  return {
    ...base,
    samples: base.samples.map((s, i) => ({ ...s, mislabelScore: scores[i] as number, likelyMislabeled: flagged[i] as boolean, suggestedLabel: s.label === 'NG' ? 'OK' : 'NG' })),
  };
}

const evaluationItems = [
  { path: 'NG/0.jpg', label: 'NG' },
  { path: 'NG/1.jpg', label: 'NG' },
  { path: 'OK/2.jpg', label: 'OK' },
  { path: 'OK/3.jpg', label: 'OK' },
];

function mountApp(api: FakeApi) {
  return mount(App, { global: { plugins: [createPinia()], provide: { [API_KEY as symbol]: api } }, attachTo: document.body });
}

async function openEvaluate(wrapper: ReturnType<typeof mountApp>): Promise<void> {
  await flushPromises();
  await wrapper.find('[data-tab=evaluate]').trigger('click');
  await flushPromises();
}

describe('evaluation gallery follows the images it relabels', () => {
  const runId = '20261123-100000-aaaa';

  it('shows a relabeled card\'s image at its new path, and at the old one again after undo', async () => {
    const api = FakeApi.withItems(['NG', 'OK'], evaluationItems);
    api.reports.set(runId, report(runId, [0.9, 0.3, 0.4, 0.1], 30));
    const { evaluation, project, dataset } = stores(api);
    await project.init();
    await evaluation.open(runId);
    evaluation.selection = { kind: 'cell', actual: 0, predicted: 0 };
    const sample = evaluation.gallery[0]!;
    expect(evaluation.thumbnailUrl(sample)).toBe('fake://thumb/NG/0.jpg?v=v');

    await evaluation.relabel(sample, 'OK');
    expect(evaluation.thumbnailUrl(sample)).toBe('fake://thumb/OK/0.jpg?v=v');
    expect(evaluation.largeUrl(sample)).toBe('fake://large/OK/0.jpg?v=v');
    expect(evaluation.relabeled.get('NG/0.jpg')).toBe('OK');

    // Moved on from the grid: the card follows it there too.
    await dataset.relabel(['OK/0.jpg'], null);
    expect(evaluation.thumbnailUrl(sample)).toBe('fake://thumb/0.jpg?v=v');
    expect(evaluation.relabeled.get('NG/0.jpg')).toBe('unlabeled');

    await dataset.undo();
    await dataset.undo();
    expect(evaluation.thumbnailUrl(sample)).toBe('fake://thumb/NG/0.jpg?v=v');
    expect(evaluation.relabeled.has('NG/0.jpg')).toBe(false);
    await dataset.redo();
    expect(evaluation.thumbnailUrl(sample)).toBe('fake://thumb/OK/0.jpg?v=v');
  });

  it('keeps following a relabeled image when another image takes its old name', async () => {
    const api = FakeApi.withItems(['NG', 'OK'], [...evaluationItems, { path: '0.jpg', label: null }]);
    api.reports.set(runId, report(runId, [0.9, 0.3, 0.4, 0.1], 30));
    const { evaluation, project, dataset } = stores(api);
    await project.init();
    await evaluation.open(runId);
    evaluation.selection = { kind: 'cell', actual: 0, predicted: 0 };
    const sample = evaluation.gallery[0]!;
    await evaluation.relabel(sample, 'OK');
    // An unlabeled image of the same name now lands at NG/0.jpg: the card must not show or move it.
    await dataset.relabel(['0.jpg'], 'NG');
    expect(dataset.byPath.has('NG/0.jpg')).toBe(true);
    expect(evaluation.thumbnailUrl(sample)).toBe('fake://thumb/OK/0.jpg?v=v');
    expect(evaluation.relabeled.get('NG/0.jpg')).toBe('OK');
  });

  it('keeps the card\'s picture when the relabel comes from its button or a key', async () => {
    const api = FakeApi.withItems(['NG', 'OK'], evaluationItems);
    api.reports.set(runId, report(runId, [0.9, 0.3, 0.4, 0.1], 30));
    const wrapper = mountApp(api);
    await openEvaluate(wrapper);
    await wrapper.find('[data-cell="0-0"]').trigger('click');
    await flushPromises();
    await wrapper.find('.gallery-item[data-path="NG/0.jpg"] [data-relabel=OK]').trigger('click');
    await flushPromises();
    expect(wrapper.find('.gallery-item[data-path="NG/0.jpg"] img').attributes('src')).toBe('fake://thumb/OK/0.jpg?v=v');
    window.dispatchEvent(new KeyboardEvent('keydown', { key: 'z', ctrlKey: true, bubbles: true }));
    await flushPromises();
    expect(wrapper.find('.gallery-item[data-path="NG/0.jpg"] img').attributes('src')).toBe('fake://thumb/NG/0.jpg?v=v');
    wrapper.unmount();
  });
});

describe('evaluation follows new runs and keeps the comparison honest', () => {
  const first = '20261123-100000-aaaa';
  const second = '20261123-110000-bbbb';

  it('switches to a run that finishes (after Retrain), not to one that was cancelled', async () => {
    const api = FakeApi.withItems(['NG', 'OK'], []);
    api.reports.set(first, report(first, [0.9, 0.3, 0.4, 0.1], 30));
    const { evaluation } = stores(api);
    await evaluation.refreshRuns();
    expect(evaluation.runId).toBe(first);

    api.reports.set(second, report(second, [0.9, 0.8, 0.2, 0.1], 20));
    api.emit('training.ended', { runId: second, reason: 'finished', message: 'Finished', details: null, valAccuracy: 1 });
    await flushPromises();
    expect(evaluation.runId).toBe(second);
    expect(evaluation.overallAccuracy).toBe(1);
    expect(evaluation.runs.map((r) => r.runId)).toContain(second);

    api.emit('training.ended', { runId: 'cancelled-run', reason: 'cancelled', message: 'Cancelled', details: null, valAccuracy: null });
    await flushPromises();
    expect(evaluation.runId).toBe(second);
  });

  it('swaps the two runs when the compared one becomes the evaluated one', async () => {
    const api = FakeApi.withItems(['NG', 'OK'], []);
    api.reports.set(first, report(first, [0.9, 0.3, 0.4, 0.1], 30));
    api.reports.set(second, report(second, [0.9, 0.8, 0.2, 0.1], 20));
    const { evaluation } = stores(api);
    await evaluation.open(first);
    evaluation.compareWith = second;
    await flushPromises();
    expect(evaluation.comparison[0]).toMatchObject({ ours: 0.75, theirs: 1 });

    await evaluation.open(second);
    await flushPromises();
    expect(evaluation.compareWith).toBe(first);
    expect(evaluation.comparison[0]).toMatchObject({ ours: 1, theirs: 0.75 });
  });
});

describe('evaluation confusion cells and galleries', () => {
  const runId = '20261123-100000-aaaa';

  it('makes every cell a button: reached by Tab, pressed by Enter or Space, its state announced', async () => {
    const api = FakeApi.withItems(['NG', 'OK'], evaluationItems);
    api.reports.set(runId, report(runId, [0.9, 0.3, 0.4, 0.1], 30));
    const wrapper = mountApp(api);
    await openEvaluate(wrapper);
    const cells = wrapper.findAll('[data-test=eval-confusion] button[data-cell]');
    expect(cells.map((c) => c.attributes('data-cell'))).toEqual(['0-0', '0-1', '1-0', '1-1']);
    expect(cells[1]!.attributes('aria-label')).toBe('NG predicted as OK: 1 images');
    await wrapper.find('[data-cell="1-1"]').trigger('click');
    await flushPromises();
    expect(wrapper.find('[data-cell="1-1"]').attributes('aria-pressed')).toBe('true');

    // With a gallery open, Enter on a focused cell is the cell's, not the large view's.
    const cell = wrapper.find('[data-cell="0-1"]');
    (cell.element as HTMLButtonElement).focus();
    cell.element.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true }));
    await flushPromises();
    expect(wrapper.find('[data-test=eval-viewer]').exists()).toBe(false);
    wrapper.unmount();
  });

  it('opens the large view as a modal that takes focus, keeps Tab inside and gives focus back when it closes', async () => {
    const api = FakeApi.withItems(['NG', 'OK'], evaluationItems);
    api.reports.set(runId, report(runId, [0.9, 0.3, 0.4, 0.1], 30));
    const wrapper = mountApp(api);
    await openEvaluate(wrapper);
    await wrapper.find('[data-cell="1-1"]').trigger('click');
    await flushPromises();
    const cell = wrapper.find<HTMLButtonElement>('[data-cell="1-1"]').element;
    cell.focus();
    await wrapper.find('[data-test=gallery] figure img').trigger('click');
    await flushPromises();
    const viewer = wrapper.find<HTMLElement>('[data-test=eval-viewer]').element;
    expect(viewer.getAttribute('aria-modal')).toBe('true');
    expect(document.activeElement).toBe(viewer);
    const close = viewer.querySelector<HTMLElement>('button[aria-label=Close]') as HTMLElement;
    const heatmap = viewer.querySelector<HTMLElement>('input[name=heatmapShown]') as HTMLElement;
    // The heatmap switch is the first control inside and Close the last: Tab and Shift+Tab wrap between them instead of reaching the page behind.
    for (const [shiftKey, expected] of [
      [true, close],
      [false, heatmap],
      [true, close],
      [false, heatmap],
    ] as const) {
      (document.activeElement as HTMLElement).dispatchEvent(new KeyboardEvent('keydown', { key: 'Tab', shiftKey, bubbles: true, cancelable: true }));
      expect(document.activeElement).toBe(expected);
    }
    close.click();
    await flushPromises();
    expect(wrapper.find('[data-test=eval-viewer]').exists()).toBe(false);
    expect(document.activeElement).toBe(cell);
    wrapper.unmount();
  });

  it('titles a cell\'s gallery ("OK predicted as NG · 1"), scrolls it into view and moves focus to it', async () => {
    const api = FakeApi.withItems(['NG', 'OK'], evaluationItems);
    api.reports.set(runId, report(runId, [0.9, 0.3, 0.6, 0.1], 30));
    const scrolled: Element[] = [];
    const scrollIntoView = Element.prototype.scrollIntoView;
    Element.prototype.scrollIntoView = function (this: Element) {
      scrolled.push(this);
    };
    const wrapper = mountApp(api);
    try {
      await openEvaluate(wrapper);
      await wrapper.find('[data-cell="1-0"]').trigger('click');
      await flushPromises();
      const title = wrapper.find('[data-test=gallery-title]');
      expect(title.text()).toBe('OK predicted as NG · 1');
      expect(scrolled).toContain(title.element);
      expect(document.activeElement).toBe(title.element);
      await wrapper.find('[data-cell="0-0"]').trigger('click');
      await flushPromises();
      expect(wrapper.find('[data-test=gallery-title]').text()).toBe('NG predicted as NG · 1');
    } finally {
      Element.prototype.scrollIntoView = scrollIntoView;
      wrapper.unmount();
    }
  });

  it('lists the flagged images first, says how many, and marks where they end', async () => {
    const api = FakeApi.withItems(['NG', 'OK'], evaluationItems);
    // NG/1 scores higher than the flagged OK/2 but the run does not flag it.
    api.reports.set(runId, { ...flaggedReport(runId, [0.9, 0.6, 0.5, 0.1], [true, false, true, false]), labelErrorEstimate: { count: 2, share: 0.5 } });
    const wrapper = mountApp(api);
    await openEvaluate(wrapper);
    // The confident joint's estimate, said before the queue opens.
    expect(wrapper.find('[data-test=label-error-estimate]').text()).toBe('About 50% of labels look wrong (an estimated 2 of 4); the queue flags that many first.');
    await wrapper.find('[data-test=mislabeled]').trigger('click');
    await flushPromises();

    expect(wrapper.find('[data-test=gallery-title]').text()).toBe('2 flagged as likely mislabeled');
    const gallery = wrapper.find('[data-test=gallery]');
    const order = [...gallery.element.children].map((el) => el.getAttribute('data-path') ?? el.getAttribute('data-test'));
    expect(order).toEqual(['NG/0.jpg', 'OK/2.jpg', 'flagged-end', 'NG/1.jpg', 'OK/3.jpg']);
    expect(wrapper.find('[data-test=flagged-end]').text()).toMatch(/not flagged, lower scores/);

    // What the image is labeled and predicted reads apart from the relabel the run suggests.
    const flagged = wrapper.find('.gallery-item[data-path="NG/0.jpg"]');
    expect(flagged.find('[data-test=label-prediction]').text()).toBe('Labeled NG · predicted NG');
    expect(flagged.find('[data-relabel=OK]').text()).toBe('Suggest: OK');
    expect(flagged.find('[data-relabel=OK]').classes()).toContain('suggestion');
    const unflagged = wrapper.find('.gallery-item[data-path="NG/1.jpg"] [data-relabel=OK]');
    expect(unflagged.text()).toBe('Move to OK');
    expect(unflagged.classes()).not.toContain('suggestion');
    wrapper.unmount();
  });
});
