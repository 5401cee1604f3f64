import { defineStore } from 'pinia';
import { ref } from 'vue';

export interface Notice {
  id: number;
  kind: 'info' | 'error';
  text: string;
}

/** Messages for the user: failures in words, confirmations of what happened. */
export const useNoticesStore = defineStore('notices', () => {
  const notices = ref<Notice[]>([]);
  let nextId = 1;

  function push(kind: Notice['kind'], text: string, timeoutMs = kind === 'error' ? 10_000 : 4_000): void {
    const id = nextId++;
    notices.value = [...notices.value.slice(-4), { id, kind, text }];
    if (timeoutMs > 0) setTimeout(() => dismiss(id), timeoutMs);
  }

  function dismiss(id: number): void {
    notices.value = notices.value.filter((n) => n.id !== id);
  }

  /** Runs an action, turning a thrown error into an error notice; returns undefined on failure. */
  async function guard<T>(action: () => Promise<T>): Promise<T | undefined> {
    try {
      return await action();
    } catch (error) {
      push('error', error instanceof Error ? error.message : String(error));
      return undefined;
    }
  }

  return { notices, push, dismiss, guard };
});
