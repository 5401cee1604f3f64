import { defineStore } from 'pinia';
import { ref } from 'vue';
import type { RecentProject } from '../../../shared/contract';
import { useApi } from '../api/inject';
import { useDatasetStore } from './dataset';
import { useNoticesStore } from './notices';

/** Which project is open, recent projects, and the host's abilities (native folder picker). */
export const useProjectStore = defineStore('project', () => {
  const api = useApi();
  const notices = useNoticesStore();
  const dataset = useDatasetStore();

  const recent = ref<RecentProject[]>([]);
  const canPickFolder = ref(false);
  /** Where the demo project lives, so the start screen can say it. */
  const demoProject = ref<string | null>(null);
  const opening = ref(false);
  const isOpen = ref(false);

  async function init(): Promise<void> {
    const info = await notices.guard(() => api.call('app.info', {}));
    canPickFolder.value = info?.canPickFolder ?? false;
    demoProject.value = info?.demoProject ?? null;
    // A reloaded window finds the project main still has open.
    const current = await notices.guard(() => api.call('project.current', {}));
    if (current) {
      dataset.load(current);
      isOpen.value = true;
    }
    await loadRecent();
  }

  async function loadRecent(): Promise<void> {
    recent.value = (await notices.guard(() => api.call('project.recent', {})))?.recent ?? [];
  }

  async function open(path: string): Promise<boolean> {
    return openWith(() => api.call('project.open', { path }));
  }

  async function openDemo(): Promise<boolean> {
    return openWith(() => api.call('project.openDemo', {}));
  }

  async function pickAndOpen(): Promise<boolean> {
    const picked = await notices.guard(() => api.call('project.pickFolder', {}));
    return picked?.path ? open(picked.path) : false;
  }

  async function close(): Promise<void> {
    await notices.guard(() => api.call('project.close', {}));
    dataset.load(null);
    isOpen.value = false;
    await loadRecent();
  }

  async function openWith(action: () => ReturnType<typeof api.call<'project.open'>>): Promise<boolean> {
    opening.value = true;
    try {
      const snapshot = await notices.guard(action);
      if (!snapshot) return false;
      dataset.load(snapshot);
      isOpen.value = true;
      for (const line of snapshot.recovered) notices.push('info', line, 15_000);
      return true;
    } finally {
      opening.value = false;
    }
  }

  return { recent, canPickFolder, demoProject, opening, isOpen, init, open, openDemo, pickAndOpen, close, loadRecent };
});
