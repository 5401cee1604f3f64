// @vitest-environment happy-dom
// Export model in a browser: the export is written on the server, so the window also offers it as a
// zip download; in Electron the folder is on this machine and no link is shown.
import { createPinia } from 'pinia';
import { describe, expect, it } from 'vitest';
import { flushPromises, mount } from '@vue/test-utils';
import App from '../../../src/renderer/src/App.vue';
import { API_KEY } from '../../../src/renderer/src/api/inject';
import type { RouteInput, RouteName, RouteOutput } from '../../../src/shared/contract';
import type { TrainingReport } from '../../../src/shared/report';
import { FakeApi } from './fakeApi';

const runId = '20261123-100000-aaaa';

/** A fake main that exports; `download` says whether it is the web client (which has the zip route). */
function exportingApi(download: boolean): FakeApi {
  const api = FakeApi.withItems(['NG', 'OK'], [{ path: 'NG/0.jpg', label: 'NG' }]);
  const report = {
    runId,
    classes: ['NG', 'OK'],
    evaluatedOn: 'val',
    confusion: [[1, 0], [0, 0]],
    perClass: {},
    samples: [{ path: 'NG/0.jpg', label: 'NG', split: 'val', predicted: 'NG', probabilities: { NG: 0.9, OK: 0.1 }, mislabelScore: 0, suggestedLabel: 'NG', likelyMislabeled: false }],
    timing: { totalSeconds: 1, embedSeconds: 0, trainSeconds: 0, imagesPerSecond: 0, embedded: 0, fromCache: 0 },
  } as unknown as TrainingReport;
  api.reports.set(runId, report);
  const answer = api.call.bind(api);
  api.call = (async <R extends RouteName>(route: R, input: RouteInput<R>) => {
    if (route === 'runs.export') return { folder: `/p/.labelloop/exports/${runId}`, files: ['model.json', 'weights.bin'], notes: [] } as RouteOutput<R>;
    return answer(route, input);
  }) as FakeApi['call'];
  if (download) Object.assign(api, { exportDownloadUrl: (id: string) => `http://127.0.0.1:1234/export.zip?run=${id}` });
  return api;
}

async function exportFromEvaluate(api: FakeApi) {
  const wrapper = mount(App, { global: { plugins: [createPinia()], provide: { [API_KEY as symbol]: api } }, attachTo: document.body });
  await flushPromises();
  await wrapper.find('[data-tab=evaluate]').trigger('click');
  await flushPromises();
  expect(wrapper.find('[data-test=export-download]').exists()).toBe(false);
  await wrapper.find('[data-test=export]').trigger('click');
  await flushPromises();
  return wrapper;
}

describe('Export model in the browser', () => {
  it('offers the export as a zip download once it is written', async () => {
    const wrapper = await exportFromEvaluate(exportingApi(true));
    const link = wrapper.find('[data-test=export-download]');
    expect(link.attributes('href')).toBe(`http://127.0.0.1:1234/export.zip?run=${runId}`);
    expect(link.attributes()).toHaveProperty('download');
    expect(wrapper.text()).toMatch(/Exported model\.json, weights\.bin on the server/);
    wrapper.unmount();
  });

  it('shows no link where the export folder is on this machine (Electron)', async () => {
    const wrapper = await exportFromEvaluate(exportingApi(false));
    expect(wrapper.find('[data-test=export-download]').exists()).toBe(false);
    expect(wrapper.text()).toMatch(/Exported model\.json, weights\.bin to \/p\/\.labelloop\/exports/);
    wrapper.unmount();
  });
});
