// @vitest-environment happy-dom
// What a first-time user reads in the Label and Data tabs: words that say what they mean, icons
// that draw without an emoji font, settings that look off when they are off.
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia } from 'pinia';
import { afterEach, describe, expect, it, vi } from 'vitest';
import App from '../../../src/renderer/src/App.vue';
import TrainingCharts from '../../../src/renderer/src/components/TrainingCharts.vue';
import { API_KEY } from '../../../src/renderer/src/api/inject';
import { useEvaluationStore } from '../../../src/renderer/src/stores/evaluation';
import type { SplitPreview } from '../../../src/shared/contract';
import { charts } from './chartStub';
import { FakeApi } from './fakeApi';

vi.mock('chart.js', () => import('./chartStub'));

const problem = 'The file is truncated or damaged';

function preview(): SplitPreview {
  return {
    classes: ['NG', 'OK'],
    counts: { train: { NG: 1, OK: 1 }, val: { NG: 0, OK: 0 }, test: { NG: 0, OK: 0 } },
    balancedTrain: { NG: 1, OK: 1 },
    classWeights: null,
    excluded: 1,
    excludedByList: 0,
    examples: { train: [{ path: 'NG/1.jpg', label: 'NG' }, { path: 'OK/3.jpg', label: 'OK' }], val: [], test: [] },
  };
}

async function open(api = FakeApi.withItems(['NG', 'OK'], [
  { path: 'NG/1.jpg', label: 'NG' },
  { path: 'NG/2.jpg', label: 'NG', status: 'unreadable', problem },
  { path: 'OK/3.jpg', label: 'OK' },
])) {
  api.splitPreview = preview;
  const wrapper = mount(App, { global: { plugins: [createPinia()], provide: { [API_KEY as symbol]: api } }, attachTo: document.body });
  await flushPromises();
  return { api, wrapper };
}

let unmount: (() => void) | undefined;
afterEach(() => {
  unmount?.();
  charts.length = 0;
});

describe('Label tab wording and icons', () => {
  it('shows the keys as keys, so "0" does not read as a count of unlabeled images', async () => {
    const { wrapper } = await open();
    unmount = () => wrapper.unmount();
    const hint = wrapper.find('[data-test=key-hint]');
    expect(hint.text()).not.toMatch(/\b0 unlabeled/);
    expect(hint.findAll('kbd').map((k) => k.text())).toEqual(expect.arrayContaining(['1', '9', '0', 'Enter']));
  });

  it('writes the checked count as one sentence', async () => {
    const { wrapper } = await open();
    unmount = () => wrapper.unmount();
    expect(wrapper.find('[data-test=thumb-progress]').text()).toBe('Checked 3 / 3 images, 1 unreadable');
  });

  it('draws the class actions and the history buttons as SVG icons, with names for screen readers', async () => {
    const { wrapper } = await open();
    unmount = () => wrapper.unmount();
    const actions = wrapper.find('.class-row .row-actions');
    expect(actions.findAll('svg').map((svg) => svg.attributes('data-icon'))).toEqual(['plus', 'pencil', 'trash']);
    expect(actions.text()).not.toMatch(/[🗑✎＋]/u);
    expect(actions.findAll('button').map((b) => b.attributes('aria-label'))).toEqual(['Import images into NG', 'Rename NG', 'Delete NG']);
    expect(wrapper.find('[data-test=undo] svg').attributes('data-icon')).toBe('undo');
    expect(wrapper.find('[data-test=redo] svg').attributes('data-icon')).toBe('redo');
  });

  it('says why a file is unreadable once in the large view', async () => {
    const { wrapper } = await open();
    unmount = () => wrapper.unmount();
    await wrapper.find('[data-filter=unreadable]').trigger('click');
    wrapper.find<HTMLElement>('[data-test=grid]').element.focus();
    window.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true }));
    await flushPromises();
    const viewer = wrapper.find('[data-test=viewer]');
    expect(viewer.text().split(problem)).toHaveLength(2);
  });
});

describe('Data tab augmentation', () => {
  it('looks off while copies is 0 and on once copies are set', async () => {
    const { wrapper } = await open();
    unmount = () => wrapper.unmount();
    await wrapper.find('[data-tab=data]').trigger('click');
    await flushPromises();
    const settings = () => wrapper.find<HTMLFieldSetElement>('[data-test=augmentation-settings]').element;
    expect(settings().disabled).toBe(true);
    expect(wrapper.find('[data-test=augmentation-state]').text()).toBe('off');
    await wrapper.find('input[name=copies]').setValue('2');
    expect(settings().disabled).toBe(false);
    expect(wrapper.find('[data-test=augmentation-state]').text()).toBe('on: 2 copies per image');
  });

  it('captions the preview: each row names its class, the original and the copies', async () => {
    const api = FakeApi.withItems(['NG', 'OK'], [{ path: 'NG/1.jpg', label: 'NG' }, { path: 'OK/3.jpg', label: 'OK' }]);
    api.augmentationImages = [
      { path: 'NG/1.jpg', label: 'NG', original: 'data:image/png;base64,AA', variants: ['data:image/png;base64,AB', 'data:image/png;base64,AC'] },
      { path: 'OK/3.jpg', label: 'OK', original: 'data:image/png;base64,BA', variants: ['data:image/png;base64,BB', 'data:image/png;base64,BC'] },
    ];
    const { wrapper } = await open(api);
    unmount = () => wrapper.unmount();
    await wrapper.find('[data-tab=data]').trigger('click');
    await flushPromises();
    await wrapper.find('[data-test=preview-augmentation]').trigger('click');
    await flushPromises();
    const rows = wrapper.findAll('[data-test=augment-row]');
    expect(rows.map((row) => row.findAll('figcaption').map((c) => c.text()))).toEqual([
      ['NG original', 'copy 1', 'copy 2'],
      ['OK original', 'copy 1', 'copy 2'],
    ]);
  });
});

describe('internal names stay out of sight', () => {
  it('labels training curves in words', () => {
    const wrapper = mount(TrainingCharts, { props: { epochs: [{ loss: 1, val_loss: 1, accuracy: 0.5, val_accuracy: 0.5, lr: 0.001 }] } });
    expect(charts.flatMap((chart) => chart.labels())).toEqual(['train loss', 'validation loss', 'train accuracy', 'validation accuracy', 'learning rate']);
    wrapper.unmount();
  });

  it('draws a converged fit against its iterations, with no empty learning-rate chart', async () => {
    const epochs = [5, 10, 13].map((iteration) => ({ loss: 1 / iteration, accuracy: 0.9, val_loss: 1.1 / iteration, val_accuracy: 0.88, iteration }));
    const wrapper = mount(TrainingCharts, { props: { epochs: epochs.slice(0, 2) } });
    expect(wrapper.findAll('canvas').map((c) => c.attributes('data-test'))).toEqual(['chart-loss', 'chart-accuracy']);
    expect(charts.map((chart) => chart.data.labels)).toEqual([[5, 10], [5, 10]]);
    expect((charts[0]?.options?.scales?.x as { title: { text: string } }).title.text).toBe('iteration (converged fit)');
    await wrapper.setProps({ epochs });
    expect(charts.map((chart) => chart.data.labels)).toEqual([[5, 10, 13], [5, 10, 13]]);
    wrapper.unmount();
  });

  it('names the two compared runs instead of other_ keys', async () => {
    const api = FakeApi.withItems(['NG', 'OK'], []);
    const summary = { name: null, state: 'finished', hasReport: true, valAccuracy: 0.9, epochs: [{ val_loss: 0.5, val_accuracy: 0.8 }] };
    api.reports.set('run-a', { runId: 'run-a', classes: ['NG', 'OK'], evaluatedOn: 'val', confusion: [[1, 0], [0, 1]], perClass: {}, samples: [] } as never);
    const list = api.call.bind(api);
    api.call = (async (route: string, input: unknown) =>
      route === 'runs.list' ? { runs: ['run-a', 'run-b'].map((runId) => ({ runId, ...summary })) } : list(route as never, input as never)) as FakeApi['call'];
    const { wrapper } = await open(api);
    unmount = () => wrapper.unmount();
    await wrapper.find('[data-tab=evaluate]').trigger('click');
    await flushPromises();
    const evaluation = useEvaluationStore();
    await evaluation.open('run-a');
    evaluation.compareWith = 'run-b';
    await flushPromises();
    const compare = wrapper.find('[data-test=compare]');
    expect(compare.text()).not.toContain('other_');
    expect(charts.flatMap((chart) => chart.labels()).filter((label) => /_/.test(label))).toEqual([]);
    expect(charts.at(-1)?.labels()).toEqual(['validation accuracy · run-a', 'validation accuracy · run-b']);
  });
});
