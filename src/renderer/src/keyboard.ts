// Shared keyboard rules for the window-wide shortcuts and the modal views.
import type { Ref } from 'vue';
import { onBeforeUnmount, onMounted } from 'vue';

/** Controls that act on Enter and Space themselves. */
const PRESSABLE = 'button, a[href], summary, input, select, textarea, [role="button"], [role="link"], [role="checkbox"], [role="tab"], [contenteditable]:not([contenteditable="false"])';

/** True when a shortcut on Enter or Space would steal the key from the focused control. */
export function isPressable(target: EventTarget | null): boolean {
  return target instanceof Element && target.closest(PRESSABLE) !== null;
}

const TABBABLE = 'button:not([disabled]), a[href], input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

/**
 * Keeps Tab and Shift+Tab inside a modal while it is mounted: focus moves into the container
 * (give it tabindex="-1") on open and returns to where it was on close.
 */
export function useFocusTrap(container: Ref<HTMLElement | null>): void {
  let previous: Element | null = null;

  function onKeydown(event: KeyboardEvent): void {
    const root = container.value;
    if (event.key !== 'Tab' || !root) return;
    const tabbable = [...root.querySelectorAll<HTMLElement>(TABBABLE)];
    const first = tabbable[0];
    const last = tabbable.at(-1);
    const active = document.activeElement;
    if (!first || !last) {
      event.preventDefault();
      root.focus();
    } else if (event.shiftKey && (active === first || active === root || !root.contains(active))) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && (active === last || !root.contains(active))) {
      event.preventDefault();
      first.focus();
    }
  }

  onMounted(() => {
    previous = document.activeElement;
    container.value?.focus();
    document.addEventListener('keydown', onKeydown, true);
  });
  onBeforeUnmount(() => {
    document.removeEventListener('keydown', onKeydown, true);
    if (previous instanceof HTMLElement && previous.isConnected) previous.focus();
  });
}

/** Whether a viewer's keys may act with this element focused: anything but a text field, a list or a slider (a checkbox has no use for them). */
export function viewerKeysPass(target: EventTarget | null): boolean {
  const element = target as HTMLElement | null;
  if (!element || !['INPUT', 'TEXTAREA', 'SELECT'].includes(element.tagName)) return true;
  return element.tagName === 'INPUT' && (element as HTMLInputElement).type === 'checkbox';
}
