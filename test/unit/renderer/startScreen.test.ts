// @vitest-environment happy-dom
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia } from 'pinia';
import { describe, expect, it } from 'vitest';
import App from '../../../src/renderer/src/App.vue';
import { API_KEY } from '../../../src/renderer/src/api/inject';
import { FakeApi } from './fakeApi';

describe('start screen', () => {
  it('says where the demo project is made, with the path main reports', async () => {
    const api = FakeApi.withItems([], []);
    api.projectOpen = false;
    const wrapper = mount(App, { global: { plugins: [createPinia()], provide: { [API_KEY as symbol]: api } } });
    await flushPromises();
    expect(wrapper.find('[data-test=open-demo]').exists()).toBe(true);
    expect(wrapper.find('[data-test=demo-location]').text()).toContain('/home/me/.config/labelloop/demo-project');
    wrapper.unmount();
  });
});
