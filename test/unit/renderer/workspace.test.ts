// @vitest-environment happy-dom
import { mount, flushPromises } from '@vue/test-utils';
import { createPinia } from 'pinia';
import { describe, expect, it } from 'vitest';
import App from '../../../src/renderer/src/App.vue';
import { API_KEY } from '../../../src/renderer/src/api/inject';
import { FakeApi } from './fakeApi';

function key(keyName: string, init: KeyboardEventInit = {}) {
  window.dispatchEvent(new KeyboardEvent('keydown', { key: keyName, bubbles: true, ...init }));
}

describe('labeling workspace', () => {
  it('renders the grid, class bar and counts, and drives relabel/undo/redo from the keyboard', async () => {
    const api = FakeApi.withItems(['NG', 'OK'], [
      { path: 'NG/1.jpg', label: 'NG' },
      { path: 'NG/2.jpg', label: 'NG' },
      { path: 'OK/3.jpg', label: 'OK', status: 'unreadable', problem: 'The file is truncated' },
    ]);
    const wrapper = mount(App, { global: { plugins: [createPinia()], provide: { [API_KEY as symbol]: api } }, attachTo: document.body });
    await flushPromises();
    expect(wrapper.find('[data-test=class-bar]').text()).toMatch(/NG\s*2.*OK\s*1/s);
    expect(wrapper.findAll('.cell')).toHaveLength(3);
    expect(wrapper.findAll('[data-test=unreadable-badge]')).toHaveLength(1);

    key('ArrowRight');
    key('2');
    await flushPromises();
    expect(api.calls.at(-1)).toEqual({ route: 'dataset.relabel', input: { paths: ['NG/2.jpg'], to: 'OK' } });
    expect(wrapper.find('[data-test=class-bar]').text()).toMatch(/NG\s*1.*OK\s*2/s);

    key('z', { ctrlKey: true });
    await flushPromises();
    expect(api.calls.at(-1)?.route).toBe('dataset.undo');
    key('Z', { ctrlKey: true, shiftKey: true });
    await flushPromises();
    expect(api.calls.at(-1)?.route).toBe('dataset.redo');

    key('Enter');
    await flushPromises();
    expect(wrapper.find('[data-test=viewer]').exists()).toBe(true);
    key('Escape');
    await flushPromises();
    expect(wrapper.find('[data-test=viewer]').exists()).toBe(false);
    wrapper.unmount();
  });
});
