// @vitest-environment happy-dom
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia } from 'pinia';
import { describe, expect, it } from 'vitest';
import App from '../../../src/renderer/src/App.vue';
import { API_KEY } from '../../../src/renderer/src/api/inject';
import { FakeApi } from './fakeApi';

async function mountWith(readOnly: string | null) {
  const api = FakeApi.withItems(['NG', 'OK'], [{ path: 'NG/1.jpg', label: 'NG' }]);
  api.snapshot.readOnly = readOnly;
  const wrapper = mount(App, { global: { plugins: [createPinia()], provide: { [API_KEY as symbol]: api } }, attachTo: document.body });
  await flushPromises();
  return wrapper;
}

describe('read-only banner', () => {
  it('says why the project is read-only and what still works', async () => {
    const wrapper = await mountWith('The disk is full');
    const banner = wrapper.find('[data-test=read-only]');
    expect(banner.attributes('role')).toBe('status');
    expect(banner.text()).toMatch(/^Read-only: The disk is full\. You can browse images and inspect runs; relabeling, importing, class changes and training are off/);
    wrapper.unmount();
  });

  it('is absent on a writable project', async () => {
    const wrapper = await mountWith(null);
    expect(wrapper.find('[data-test=read-only]').exists()).toBe(false);
    wrapper.unmount();
  });
});
