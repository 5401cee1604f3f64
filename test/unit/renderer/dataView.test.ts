// @vitest-environment happy-dom
// The Data tab as views: per-class stacked bars, the imbalance ratio and example strips per split,
// redrawn as soon as a setting changes.
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia } from 'pinia';
import { afterEach, describe, expect, it, vi } from 'vitest';
import App from '../../../src/renderer/src/App.vue';
import { API_KEY } from '../../../src/renderer/src/api/inject';
import { splitBars, trainImbalance } from '../../../src/renderer/src/splitViews';
import type { RouteInput, SplitPreview } from '../../../src/shared/contract';
import { charts } from './chartStub';
import { FakeApi } from './fakeApi';

vi.mock('chart.js', () => import('./chartStub'));

/** 40 NG and 10 OK images, `val` of each class in val; balancing as main would apply it. */
function preview({ balancing, val }: RouteInput<'splits.preview'>): SplitPreview {
  const inVal = (n: number) => Math.round(n * val);
  const train = { NG: 40 - inVal(40), OK: 10 - inVal(10) };
  return {
    classes: ['NG', 'OK'],
    counts: { train, val: { NG: inVal(40), OK: inVal(10) }, test: { NG: 0, OK: 0 } },
    balancedTrain: balancing === 'oversample' ? { NG: train.NG, OK: train.NG } : train,
    classWeights: balancing === 'class-weights' ? { NG: (train.NG + train.OK) / (2 * train.NG), OK: (train.NG + train.OK) / (2 * train.OK) } : null,
    excluded: 0,
    excludedByList: 0,
    examples: {
      train: [{ path: 'NG/n1.jpg', label: 'NG' }, { path: 'OK/o1.jpg', label: 'OK' }],
      val: [{ path: 'NG/n2.jpg', label: 'NG' }],
      test: [],
    },
  };
}

let unmount: (() => void) | undefined;
afterEach(() => {
  unmount?.();
  charts.length = 0;
});

async function dataTab() {
  const api = FakeApi.withItems(['NG', 'OK'], [
    { path: 'NG/n1.jpg', label: 'NG' },
    { path: 'NG/n2.jpg', label: 'NG' },
    { path: 'OK/o1.jpg', label: 'OK' },
  ]);
  api.splitPreview = preview;
  const wrapper = mount(App, { global: { plugins: [createPinia()], provide: { [API_KEY as symbol]: api } }, attachTo: document.body });
  unmount = () => wrapper.unmount();
  await flushPromises();
  await wrapper.find('[data-tab=data]').trigger('click');
  await flushPromises();
  return { api, wrapper };
}

/** Waits out the Data tab's pause for typing, then for main's answer. */
async function settle(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 250));
  await flushPromises();
}

describe('Data tab views', () => {
  it('draws train/val/test per class as stacked bars, with the imbalance ratio and a strip of thumbnails per split', async () => {
    const { wrapper } = await dataTab();
    const chart = charts.at(-1);
    expect(chart?.data.labels).toEqual(['NG', 'OK']);
    expect(chart?.data.datasets.map((d) => [d.label, (d as { stack?: string }).stack, d.data])).toEqual([
      ['train', 'as split', [32, 8]],
      ['validation', 'as split', [8, 2]],
      ['test', 'as split', [0, 0]],
    ]);
    expect(wrapper.find('[data-test=imbalance]').text()).toMatch(/4\.00×/);

    const strips = wrapper.findAll('.split-strip');
    expect(strips.map((strip) => strip.attributes('data-split'))).toEqual(['train', 'val', 'test']);
    expect(strips[0]?.findAll('img').map((img) => img.attributes('src'))).toEqual(['fake://thumb/NG/n1.jpg?v=v', 'fake://thumb/OK/o1.jpg?v=v']);
    expect(strips[0]?.findAll('figcaption').map((c) => c.text())).toEqual(['NG', 'OK']);
    expect(strips[1]?.text()).toContain('10 images');
    expect(strips[2]?.text()).toContain('No images in this split');
  });

  it('redraws at once when balancing or the split changes', async () => {
    const { api, wrapper } = await dataTab();
    const chart = charts.at(-1);
    await wrapper.find('input[name=balancing][value=oversample]').setValue(true);
    await settle();
    expect(api.calls.at(-1)).toEqual({ route: 'splits.preview', input: { val: 0.2, test: 0, seed: 42, balancing: 'oversample' } });
    expect(chart?.updates).toBeGreaterThan(0);
    expect(chart?.labels()).toEqual(['train', 'validation', 'test', 'train after oversampling', 'validation', 'test']);
    expect(chart?.data.datasets[3]?.data).toEqual([32, 32]);
    expect(wrapper.find('[data-test=imbalance]').text()).toMatch(/4\.00×\s*→\s*1\.00× after oversampling/);

    await wrapper.find('input[name=balancing][value=class-weights]').setValue(true);
    await settle();
    expect(chart?.labels()).toEqual(['train', 'validation', 'test', 'class weight']);
    expect(wrapper.find('[data-test=imbalance]').text()).toMatch(/→\s*1\.00×/);

    await wrapper.find('input[name=val]').setValue('0.5');
    await settle();
    expect(chart?.data.datasets[0]?.data).toEqual([20, 5]);
  });

  it('says how many labeled images the exclusion list leaves out, and its link opens the Check tab', async () => {
    const { api, wrapper } = await dataTab();
    expect(wrapper.find('[data-test=excluded-by-list]').exists()).toBe(false);
    api.splitPreview = (input) => ({ ...preview(input), excludedByList: 3 });
    await wrapper.find('input[name=seed]').setValue('7');
    await settle();
    expect(wrapper.find('[data-test=excluded-by-list]').text()).toMatch(/^3 labeled image\(s\) are left out by the exclusion list/);
    await wrapper.find('[data-test=open-check]').trigger('click');
    await flushPromises();
    expect(wrapper.find('[data-test=check-view]').exists()).toBe(true);
    expect(wrapper.find('[data-tab=check]').classes()).toContain('active');
  });

  it('does not ask main for a split that leaves nothing to train on, and says why', async () => {
    const { api, wrapper } = await dataTab();
    const calls = api.calls.length;
    await wrapper.find('input[name=val]').setValue('0.6');
    await wrapper.find('input[name=test]').setValue('0.5');
    await settle();
    expect(api.calls).toHaveLength(calls);
    expect(wrapper.find('[data-test=split-error]').text()).toMatch(/leave images to train on/);
  });
});

describe('split views from a preview', () => {
  const base = preview({ val: 0.2, test: 0, seed: 1, balancing: 'none' });

  it('adds a stack after oversampling only when oversampling changed the counts', () => {
    expect(splitBars(base).bars.map((bar) => bar.stack)).toEqual(['as split', 'as split', 'as split']);
    const oversampled = splitBars(preview({ val: 0.2, test: 0, seed: 1, balancing: 'oversample' }));
    expect(oversampled.bars.filter((bar) => bar.stack === 'after oversampling').map((bar) => bar.data)).toEqual([[32, 32], [8, 2], [0, 0]]);
  });

  it('measures the imbalance before balancing and as the model sees it after', () => {
    expect(trainImbalance(base)).toEqual({ before: 4, after: 4 });
    const weighted = trainImbalance(preview({ val: 0.2, test: 0, seed: 1, balancing: 'class-weights' }));
    expect(weighted.after).toBeCloseTo(1);
    expect(trainImbalance({ ...base, counts: { ...base.counts, train: { NG: 3, OK: 0 } }, balancedTrain: { NG: 3, OK: 0 } }).before).toBe(Infinity);
  });
});
