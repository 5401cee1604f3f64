// @vitest-environment happy-dom
// An interrupted run that kept a model: Evaluate says it has no report (and still exports it),
// Predict offers it beside the finished runs.
import { createPinia } from 'pinia';
import { describe, expect, it } from 'vitest';
import { flushPromises, mount } from '@vue/test-utils';
import App from '../../../src/renderer/src/App.vue';
import { API_KEY } from '../../../src/renderer/src/api/inject';
import { useNoticesStore } from '../../../src/renderer/src/stores/notices';
import type { RouteInput, RouteName, RouteOutput } from '../../../src/shared/contract';
import { FakeApi } from './fakeApi';

const runId = '20261123-100000-dead';

function apiWithInterruptedRun(): { api: FakeApi; calls: string[] } {
  const api = FakeApi.withItems(['NG', 'OK'], [{ path: 'NG/0.jpg', label: 'NG' }]);
  api.otherRuns = [
    { runId, name: null, epochs: [{ val_loss: 0.4 }], state: 'interrupted', interruptedAt: '2026-11-23T10:05:00.000Z', keptModel: { epoch: 2, stage: 2, monitor: 'val_loss', value: 0.3 }, valAccuracy: null, hasReport: false },
  ];
  const calls: string[] = [];
  const answer = api.call.bind(api);
  api.call = (async <R extends RouteName>(route: R, input: RouteInput<R>) => {
    calls.push(route);
    if (route === 'runs.export') return { folder: `/p/.labelloop/exports/${runId}`, files: ['model.json', 'weights.bin'], notes: [] } as RouteOutput<R>;
    return answer(route, input);
  }) as FakeApi['call'];
  return { api, calls };
}

describe('an interrupted run that kept its model', () => {
  it('is chosen in Evaluate, which says there is no report and exports the kept model', async () => {
    const { api, calls } = apiWithInterruptedRun();
    const pinia = createPinia();
    const wrapper = mount(App, { global: { plugins: [pinia], provide: { [API_KEY as symbol]: api } }, attachTo: document.body });
    await flushPromises();
    await wrapper.find('[data-tab=evaluate]').trigger('click');
    await flushPromises();
    const option = wrapper.find(`select[name=run] option[value="${runId}"]`);
    expect(option.text()).toBe(`${runId} · interrupted · kept epoch 3, no report`);
    await wrapper.find('select[name=run]').setValue(runId);
    await flushPromises();
    expect(wrapper.get('[data-test=no-report]').text()).toMatch(/was interrupted before its report was made, so there is nothing to evaluate\. It kept the model of epoch 3 \(val_loss 0\.3\), from fine-tuning: Export model and the Predict tab use it\./);
    expect(calls).not.toContain('runs.report');
    await wrapper.find('[data-test=export]').trigger('click');
    await flushPromises();
    expect(wrapper.text()).toMatch(/Exported model\.json, weights\.bin/);
    expect(useNoticesStore(pinia).notices.filter((n) => n.kind === 'error')).toEqual([]);
    wrapper.unmount();
  });

  it('is offered by Predict', async () => {
    const { api, calls } = apiWithInterruptedRun();
    const wrapper = mount(App, { global: { plugins: [createPinia()], provide: { [API_KEY as symbol]: api } }, attachTo: document.body });
    await flushPromises();
    await wrapper.find('[data-tab=predict]').trigger('click');
    await flushPromises();
    expect(wrapper.find(`select[name=predictRun] option[value="${runId}"]`).text()).toBe(`${runId} · interrupted, epoch 3`);
    expect(calls).toContain('predict.open');
    wrapper.unmount();
  });
});
