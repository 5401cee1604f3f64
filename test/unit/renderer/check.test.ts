// @vitest-environment happy-dom
// The Check tab: the data check resynced after a reload and followed by its events, its findings
// narrowed to the images still in the project, and its actions (keep one, relabel, exclude) going
// through the same journal as the grid, so Ctrl+Z takes them back.
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import { createApp } from 'vue';
import { describe, expect, it } from 'vitest';
import App from '../../../src/renderer/src/App.vue';
import { API_KEY } from '../../../src/renderer/src/api/inject';
import { useCheckStore } from '../../../src/renderer/src/stores/check';
import { useDatasetStore } from '../../../src/renderer/src/stores/dataset';
import { useNoticesStore } from '../../../src/renderer/src/stores/notices';
import type { CheckReport, CheckStatus } from '../../../src/shared/contract';
import { FakeApi } from './fakeApi';

const ITEMS = [
  { path: 'NG/1.jpg', label: 'NG' },
  { path: 'NG/1 copy.jpg', label: 'NG' },
  { path: 'OK/1 again.jpg', label: 'OK' },
  { path: 'NG/dark.jpg', label: 'NG' },
  { path: 'OK/blur.jpg', label: 'OK' },
  { path: 'OK/broken.jpg', label: 'OK', status: 'unreadable' as const },
];

/** What the check found in ITEMS, plus findings about NG/gone.jpg, an image no longer in the project. */
const REPORT: CheckReport = {
  images: 7,
  duplicates: [
    { kind: 'exact', similarity: 1, paths: ['NG/1.jpg', 'NG/1 copy.jpg'] },
    { kind: 'near', similarity: 0.985, paths: ['NG/1.jpg', 'OK/1 again.jpg'] },
    { kind: 'exact', similarity: 1, paths: ['NG/dark.jpg', 'NG/gone.jpg'] },
  ],
  leaks: [{ paths: ['NG/1.jpg', 'NG/1 copy.jpg'], splits: ['train', 'val'], similarity: 1 }],
  conflicts: [{ paths: ['NG/1.jpg', 'OK/1 again.jpg'], labels: ['NG', 'OK'], similarity: 0.985 }],
  issues: [
    { path: 'NG/dark.jpg', kinds: ['dark', 'low-information'], scores: { dark: -4.2, 'low-information': -3.9 } },
    { path: 'OK/blur.jpg', kinds: ['blurry'], scores: { blurry: -5.1 } },
    { path: 'NG/gone.jpg', kinds: ['bright'], scores: { bright: 4 } },
  ],
  unreadable: [
    { path: 'OK/broken.jpg', reason: 'The file is truncated' },
    { path: 'NG/gone.jpg', reason: 'Not an image' },
  ],
};

function status(overrides: Partial<CheckStatus> = {}): CheckStatus {
  return { checkId: 'c1', state: 'finished', progress: { phase: 'measuring', done: 7, total: 7 }, startedAt: '2026-12-05T09:00:00.000Z', report: REPORT, message: null, ...overrides };
}

/** The stores on a fake main with the project loaded, as the app would provide them. */
async function setup(api = FakeApi.withItems(['NG', 'OK'], ITEMS)) {
  const app = createApp({});
  const pinia = createPinia();
  app.provide(API_KEY, api).use(pinia);
  setActivePinia(pinia);
  const stores = app.runWithContext(() => ({ dataset: useDatasetStore(), check: useCheckStore(), notices: useNoticesStore() }));
  await stores.dataset.refresh();
  await flushPromises();
  return { api, ...stores };
}

const routes = (api: FakeApi) => api.calls.map((c) => c.route);
const lastNotice = (notices: ReturnType<typeof useNoticesStore>) => notices.notices.at(-1)?.text;

describe('check store: status and events', () => {
  it('resyncs a running check after a reload and follows only its own progress and end', async () => {
    const { api, check, notices } = await setup();
    api.checkStatus = status({ state: 'running', progress: { phase: 'measuring', done: 3, total: 7 }, report: null });
    api.excludedPaths.add('OK/blur.jpg');
    await check.load();
    expect(check.running).toBe(true);
    expect(check.status?.progress).toEqual({ phase: 'measuring', done: 3, total: 7 });
    expect([...check.excluded]).toEqual(['OK/blur.jpg']);

    api.emit('check.progress', { checkId: 'other', phase: 'measuring', done: 6, total: 9 });
    expect(check.status?.progress).toEqual({ phase: 'measuring', done: 3, total: 7 });
    api.emit('check.progress', { checkId: 'c1', phase: 'comparing', done: 5, total: 70 });
    expect(check.status?.progress).toEqual({ phase: 'comparing', done: 5, total: 70 });

    // Another window's check ended: this one asks main what there is to show (still c1, running).
    const before = api.calls.length;
    api.emit('check.ended', { checkId: 'other', state: 'failed', message: 'not ours' });
    await flushPromises();
    expect(check.status?.state).toBe('running');
    expect(routes(api).slice(before)).toEqual(['check.status']);
    const asked = api.calls.length;

    api.checkStatus = status();
    api.emit('check.ended', { checkId: 'c1', state: 'finished', message: '7 image(s): 1 group of exact duplicates' });
    await flushPromises();
    expect(routes(api).slice(asked)).toEqual(['check.status']);
    expect(check.running).toBe(false);
    expect(check.report?.images).toBe(7);
    expect(lastNotice(notices)).toBe('7 image(s): 1 group of exact duplicates');
  });

  it('resyncs a finished check with its counts, the report narrowed to the images still in the project', async () => {
    const { api, check } = await setup();
    api.checkStatus = status();
    await check.load();
    expect(check.counts).toEqual({
      exact: 1,
      near: 1,
      leaks: 1,
      conflicts: 1,
      outliers: 2,
      byKind: new Map([['blurry', 1], ['dark', 1], ['low-information', 1]]),
      unreadable: 1,
      excluded: 0,
    });
    // NG/gone.jpg left the project: its group of two is gone, and so are its outlier and unreadable entries.
    expect(check.duplicates.map((d) => d.images.map((i) => i.path))).toEqual([['NG/1.jpg', 'NG/1 copy.jpg'], ['NG/1.jpg', 'OK/1 again.jpg']]);
    expect(check.issues.map((i) => i.image.path)).toEqual(['NG/dark.jpg', 'OK/blur.jpg']);
    expect(check.unreadable.map((u) => u.path)).toEqual(['OK/broken.jpg']);
    expect(check.leaks[0]?.splits).toEqual(['train', 'val']);
    check.issueFilter = 'blurry';
    expect(check.shownIssues.map((i) => i.image.path)).toEqual(['OK/blur.jpg']);
  });

  it('starts a check and cancels it by its id', async () => {
    const { api, check, dataset } = await setup();
    await check.start();
    expect(check.status?.checkId).toBe('check-1');
    expect(check.status?.progress).toEqual({ phase: 'measuring', done: 0, total: dataset.items.length });
    await check.cancel();
    expect(api.calls.at(-1)).toEqual({ route: 'check.cancel', input: { checkId: 'check-1' } });
  });
});

describe('check store: actions', () => {
  it('keeps one of a group: trashes exactly the others, the group leaves the view, and undo brings it back', async () => {
    const { api, check, dataset, notices } = await setup();
    api.checkStatus = status();
    await check.load();
    const exact = check.duplicates.find((d) => d.kind === 'exact');
    expect(exact).toBeDefined();
    await check.keepOne(exact as NonNullable<typeof exact>, 'NG/1.jpg');
    expect(api.calls.filter((c) => c.route === 'dataset.trash').map((c) => c.input)).toEqual([{ paths: ['NG/1 copy.jpg'] }]);
    expect(dataset.byPath.has('NG/1 copy.jpg')).toBe(false);
    expect(dataset.counts.byClass).toEqual({ NG: 2, OK: 3 });
    expect(check.counts.exact).toBe(0);
    expect(check.leaks).toEqual([]);
    expect(check.counts.near).toBe(1);
    expect(lastNotice(notices)).toBe('1 image(s) moved to the trash (.labelloop/trash) — Ctrl+Z takes it back');

    await dataset.undo();
    expect(dataset.byPath.get('NG/1 copy.jpg')?.label).toBe('NG');
    expect(dataset.counts.byClass).toEqual({ NG: 3, OK: 3 });
    expect(check.counts.exact).toBe(1);
    expect(check.leaks.map((l) => l.images.map((i) => i.path))).toEqual([['NG/1.jpg', 'NG/1 copy.jpg']]);
    // The window knew the image: no rescan was needed to put it back.
    expect(routes(api).filter((r) => r === 'dataset.scan')).toHaveLength(1);
  });

  it('puts back by a rescan an image trashed before the window was reloaded', async () => {
    const { api, check } = await setup();
    api.checkStatus = status();
    await check.load();
    await check.trash(['OK/blur.jpg']);
    const reloaded = await setup(api);
    expect(reloaded.dataset.byPath.has('OK/blur.jpg')).toBe(false);
    await reloaded.dataset.undo();
    await flushPromises();
    expect(routes(api).filter((r) => r === 'dataset.scan')).toHaveLength(2);
    expect(routes(api).filter((r) => r === 'dataset.snapshot')).toHaveLength(1);
    expect(reloaded.dataset.byPath.get('OK/blur.jpg')?.label).toBe('OK');
  });

  it('relabels a conflict through the dataset store: the conflict leaves the view and undo brings it back', async () => {
    const { api, check, dataset, notices } = await setup();
    api.checkStatus = status();
    await check.load();
    const conflict = check.conflicts[0];
    expect(conflict?.images.map((i) => i.label)).toEqual(['NG', 'OK']);
    // Only the image under another label moves.
    expect(await check.relabel(conflict?.images.map((i) => i.path) ?? [], 'NG')).toBe(1);
    expect(api.calls.filter((c) => c.route === 'dataset.relabel').map((c) => c.input)).toEqual([{ paths: ['OK/1 again.jpg'], to: 'NG' }]);
    expect(dataset.byPath.get('NG/1 again.jpg')?.label).toBe('NG');
    expect(check.conflicts).toEqual([]);
    // The near-duplicate pair follows its relabeled image to its new path.
    expect(check.counts.near).toBe(1);
    expect(check.duplicates.find((d) => d.kind === 'near')?.images.map((i) => i.path)).toContain('NG/1 again.jpg');
    expect(lastNotice(notices)).toBe('1 image(s) relabeled NG — Ctrl+Z takes it back');
    expect(dataset.history.canUndo).toBe(true);
    await dataset.undo();
    expect(check.conflicts).toHaveLength(1);
  });

  it('drops a leak once its copies no longer span two splits', async () => {
    const api = FakeApi.withItems(['NG', 'OK'], [...ITEMS, { path: 'NG/1 third.jpg', label: 'NG' }]);
    const { check } = await setup(api);
    api.checkStatus = status({ report: { ...REPORT, leaks: [{ paths: ['NG/1.jpg', 'NG/1 copy.jpg', 'NG/1 third.jpg'], splits: ['train', 'val', 'none'], similarity: 1 }] } });
    await check.load();
    expect(check.leaks).toHaveLength(1);
    await check.trash(['NG/1 copy.jpg']);
    expect(check.leaks).toEqual([]);
  });

  it('excludes and includes images, and the list follows an excluded image that is relabeled', async () => {
    const { api, check, dataset, notices } = await setup();
    await check.load();
    expect(await check.exclude(['NG/dark.jpg', 'OK/blur.jpg'])).toBe(true);
    expect(api.calls.at(-1)).toEqual({ route: 'dataset.exclude', input: { paths: ['NG/dark.jpg', 'OK/blur.jpg'], excluded: true } });
    // Listed as the grid lists images: by file name.
    expect(check.excludedImages.map((i) => i.path)).toEqual(['OK/blur.jpg', 'NG/dark.jpg']);
    expect(check.isExcluded('OK/blur.jpg')).toBe(true);
    expect(lastNotice(notices)).toBe('2 image(s) excluded from training: the split and every run leave them out (Include takes them back)');

    await dataset.relabel(['OK/blur.jpg'], 'NG');
    expect(check.excludedImages.map((i) => i.path)).toEqual(['NG/blur.jpg', 'NG/dark.jpg']);

    expect(await check.include(['NG/dark.jpg'])).toBe(true);
    expect(api.calls.at(-1)).toEqual({ route: 'dataset.exclude', input: { paths: ['NG/dark.jpg'], excluded: false } });
    expect(check.isExcluded('NG/dark.jpg')).toBe(false);
    expect(lastNotice(notices)).toBe('1 image(s) back in training');
    // Including an image that is not excluded asks main nothing.
    const asked = api.calls.length;
    expect(await check.include(['NG/dark.jpg'])).toBe(false);
    expect(api.calls).toHaveLength(asked);
  });

  it('forgets the check and the list when another project opens', async () => {
    const { api, check, dataset } = await setup();
    api.checkStatus = status();
    api.excludedPaths.add('NG/dark.jpg');
    await check.load();
    dataset.load({ ...api.snapshot, root: '/other' });
    await flushPromises();
    expect(check.status).toBeNull();
    expect(check.excluded.size).toBe(0);
  });
});

describe('Check tab', () => {
  async function checkTab(api = FakeApi.withItems(['NG', 'OK'], ITEMS)) {
    const wrapper = mount(App, { global: { plugins: [createPinia()], provide: { [API_KEY as symbol]: api } }, attachTo: document.body });
    await flushPromises();
    await wrapper.find('[data-tab=check]').trigger('click');
    await flushPromises();
    return { api, wrapper };
  }

  it('says in words that nothing was checked yet, runs a check with its progress, and cancels it', async () => {
    const { api, wrapper } = await checkTab();
    expect(wrapper.find('[data-test=check-empty]').text()).toBe('No check yet: Run check looks for duplicates, leaks, conflicts and quality outliers.');
    expect(wrapper.find('[data-test=check-summary]').exists()).toBe(false);
    expect(wrapper.find('[data-test=check-excluded]').text()).toContain('No image is excluded');

    await wrapper.find('[data-test=check-run]').trigger('click');
    await flushPromises();
    expect(routes(api)).toContain('check.start');
    expect(wrapper.find('[data-test=check-progress]').text()).toMatch(/^Checked 0 of 6 images/);
    api.emit('check.progress', { checkId: 'check-1', phase: 'measuring', done: 4, total: 6 });
    await flushPromises();
    expect(wrapper.find('[data-test=check-progress]').text()).toMatch(/^Checked 4 of 6 images/);
    api.emit('check.progress', { checkId: 'check-1', phase: 'comparing', done: 12, total: 40 });
    await flushPromises();
    expect(wrapper.find('[data-test=check-progress]').text()).toMatch(/^Comparing close neighbours for cropped copies: 12 of 40 pairs/);
    expect(wrapper.find('[data-test=check-run]').exists()).toBe(false);

    await wrapper.find('[data-test=check-cancel]').trigger('click');
    api.emit('check.ended', { checkId: 'check-1', state: 'cancelled', message: 'Cancelled' });
    await flushPromises();
    expect(api.calls.find((c) => c.route === 'check.cancel')?.input).toEqual({ checkId: 'check-1' });
    expect(wrapper.find('[data-test=check-last]').text()).toMatch(/was cancelled: Cancelled\. Run check to look again\./);
    expect(wrapper.find('[data-test=check-run]').exists()).toBe(true);
    wrapper.unmount();
  });

  it('shows the counts and each section\'s galleries, and its buttons act through the store', async () => {
    const api = FakeApi.withItems(['NG', 'OK'], ITEMS);
    api.checkStatus = status();
    const { wrapper } = await checkTab(api);
    const summary = wrapper.find('[data-test=check-summary]');
    expect(summary.findAll('li').map((li) => li.text())).toEqual([
      '1 group of exact duplicates',
      '1 group of near-duplicates',
      '1 leak across the split',
      '1 label conflict',
      '2 quality outliers: 1 blurry, 1 dark, 1 little information (flat)',
      '1 unreadable',
      '0 excluded from training',
    ]);
    expect(wrapper.find('[data-test=check-last]').text()).toMatch(/^Last check: .*, 7 images\.$/);

    const duplicates = wrapper.find('[data-test=check-duplicates]');
    expect(duplicates.findAll('[data-test=check-group]').map((g) => g.attributes('data-kind'))).toEqual(['exact', 'near']);
    expect(duplicates.find('[data-test=check-group] img').attributes('src')).toBe('fake://thumb/NG/1.jpg?v=v');
    expect(wrapper.find('[data-test=check-leaks]').text()).toContain('train split');
    expect(wrapper.find('[data-test=check-leaks]').text()).toContain('val split');
    expect(wrapper.findAll('[data-test=check-issue]').map((i) => i.attributes('data-path'))).toEqual(['NG/dark.jpg', 'OK/blur.jpg']);
    expect(wrapper.find('[data-test=check-unreadable]').text()).toContain('OK/broken.jpg: The file is truncated');

    // Keep the second image of the exact pair: the first goes to the trash, and the pair leaves the view.
    const exactGroup = duplicates.find('[data-test=check-group][data-kind=exact]');
    await exactGroup.findAll('[data-test=keep-one]')[1]?.trigger('click');
    await flushPromises();
    expect(api.calls.filter((c) => c.route === 'dataset.trash').map((c) => c.input)).toEqual([{ paths: ['NG/1.jpg'] }]);
    expect(wrapper.findAll('[data-test=check-duplicates] [data-test=check-group]')).toHaveLength(0);
    expect(wrapper.find('[data-test=check-summary] [data-count=exact]').text()).toBe('0 groups of exact duplicates');
    expect(document.activeElement?.id).toBe('check-duplicates-title');

    // Ctrl+Z in the Check tab undoes the trash.
    window.dispatchEvent(new KeyboardEvent('keydown', { key: 'z', ctrlKey: true, bubbles: true }));
    await flushPromises();
    expect(routes(api).at(-1)).toBe('dataset.undo');
    expect(wrapper.findAll('[data-test=check-duplicates] [data-test=check-group]')).toHaveLength(2);

    // Exclude an outlier: the list shows it, and Include again asks main to take it back.
    const blurry = wrapper.find('[data-test=check-issue][data-path="OK/blur.jpg"]');
    await blurry.find('[data-test=exclude]').trigger('click');
    await flushPromises();
    expect(api.calls.at(-1)).toEqual({ route: 'dataset.exclude', input: { paths: ['OK/blur.jpg'], excluded: true } });
    expect(wrapper.findAll('[data-test=check-excluded-item]').map((i) => i.attributes('data-path'))).toEqual(['OK/blur.jpg']);
    expect(wrapper.find('[data-test=check-issue][data-path="OK/blur.jpg"] [data-test=include]').exists()).toBe(true);
    await wrapper.find('[data-test=include-again]').trigger('click');
    await flushPromises();
    expect(api.calls.at(-1)).toEqual({ route: 'dataset.exclude', input: { paths: ['OK/blur.jpg'], excluded: false } });
    expect(wrapper.findAll('[data-test=check-excluded-item]')).toHaveLength(0);

    // Relabel the conflicting copies to the class chosen in the group's select.
    const conflict = wrapper.find('[data-test=check-conflicts] [data-test=check-group]');
    expect((conflict.find('[data-test=relabel-to]').element as HTMLSelectElement).value).toBe('NG');
    await conflict.find('[data-test=relabel-to]').setValue('OK');
    await conflict.find('[data-test=relabel-group]').trigger('click');
    await flushPromises();
    expect(api.calls.at(-1)).toEqual({ route: 'dataset.relabel', input: { paths: ['NG/1.jpg'], to: 'OK' } });
    expect(wrapper.findAll('[data-test=check-conflicts] [data-test=check-group]')).toHaveLength(0);

    // The quality filter narrows the gallery to one kind.
    await wrapper.find('[data-test=issue-filter]').setValue('dark');
    expect(wrapper.findAll('[data-test=check-issue]').map((i) => i.attributes('data-path'))).toEqual(['NG/dark.jpg']);
    await wrapper.find('[data-test=check-issue] [data-test=trash]').trigger('click');
    await flushPromises();
    expect(api.calls.at(-1)).toEqual({ route: 'dataset.trash', input: { paths: ['NG/dark.jpg'] } });
    expect((wrapper.find('[data-test=issue-filter]').element as HTMLSelectElement).value).toBe('all');
    expect(wrapper.findAll('[data-test=check-issue]').map((i) => i.attributes('data-path'))).toEqual(['OK/blur.jpg']);
    wrapper.unmount();
  });

  it('turns off every action on a read-only project', async () => {
    const api = FakeApi.withItems(['NG', 'OK'], ITEMS);
    api.snapshot = { ...api.snapshot, readOnly: 'the disk is full' };
    api.checkStatus = status();
    const { wrapper } = await checkTab(api);
    const actions = wrapper.findAll('[data-test=keep-one], [data-test=exclude-group], [data-test=relabel-group], [data-test=exclude], [data-test=trash]');
    expect(actions.length).toBeGreaterThan(0);
    expect(actions.every((button) => button.attributes('disabled') !== undefined)).toBe(true);
    wrapper.unmount();
  });
});
