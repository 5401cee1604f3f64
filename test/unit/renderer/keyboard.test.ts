// @vitest-environment happy-dom
// Keyboard use of the Label tab: a focused control keeps its keys, and the large view is modal.
import { flushPromises, mount } from '@vue/test-utils';
import { createPinia } from 'pinia';
import { afterEach, describe, expect, it } from 'vitest';
import App from '../../../src/renderer/src/App.vue';
import { API_KEY } from '../../../src/renderer/src/api/inject';
import { FakeApi } from './fakeApi';

function press(target: EventTarget, key: string, init: KeyboardEventInit = {}): KeyboardEvent {
  const event = new KeyboardEvent('keydown', { key, bubbles: true, cancelable: true, ...init });
  target.dispatchEvent(event);
  return event;
}

async function workspace() {
  const api = FakeApi.withItems(['NG', 'OK'], [
    { path: 'NG/1.jpg', label: 'NG' },
    { path: 'NG/2.jpg', label: 'NG' },
    { path: 'OK/3.jpg', label: 'OK' },
  ]);
  const wrapper = mount(App, { global: { plugins: [createPinia()], provide: { [API_KEY as symbol]: api } }, attachTo: document.body });
  await flushPromises();
  return { api, wrapper };
}

let unmount: (() => void) | undefined;
afterEach(() => unmount?.());

describe('Label tab keyboard', () => {
  it('leaves Enter and Space to a focused button instead of opening the large view', async () => {
    const { wrapper } = await workspace();
    unmount = () => wrapper.unmount();
    const button = wrapper.find<HTMLButtonElement>('[data-filter="class:OK"]').element;
    button.focus();
    for (const key of ['Enter', ' ']) {
      const event = press(button, key);
      await flushPromises();
      expect(event.defaultPrevented, `${JSON.stringify(key)} was swallowed`).toBe(false);
      expect(wrapper.find('[data-test=viewer]').exists()).toBe(false);
    }
    // The grid itself still opens the large view on Enter.
    const grid = wrapper.find<HTMLElement>('[data-test=grid]').element;
    grid.focus();
    press(grid, 'Enter');
    await flushPromises();
    expect(wrapper.find('[data-test=viewer]').exists()).toBe(true);
  });

  it('traps focus in the large view and gives it back to the grid on close', async () => {
    const { wrapper } = await workspace();
    unmount = () => wrapper.unmount();
    const grid = wrapper.find<HTMLElement>('[data-test=grid]').element;
    grid.focus();
    press(grid, 'ArrowRight');
    press(grid, 'Enter');
    await flushPromises();
    const viewer = wrapper.find<HTMLElement>('[data-test=viewer]').element;
    expect(document.activeElement).toBe(viewer);

    // Cursor on the middle image: Previous, Next and Close are all enabled.
    const previous = viewer.querySelector<HTMLElement>('button[aria-label=Previous]');
    const close = viewer.querySelector<HTMLElement>('button[aria-label=Close]');
    close?.focus();
    press(close as HTMLElement, 'Tab');
    expect(document.activeElement).toBe(previous);
    press(previous as HTMLElement, 'Tab', { shiftKey: true });
    expect(document.activeElement).toBe(close);
    press(viewer, 'Tab', { shiftKey: true });
    expect(document.activeElement).toBe(close);

    press(document.activeElement as HTMLElement, 'Escape');
    await flushPromises();
    expect(wrapper.find('[data-test=viewer]').exists()).toBe(false);
    expect(document.activeElement).toBe(grid);
  });
});
