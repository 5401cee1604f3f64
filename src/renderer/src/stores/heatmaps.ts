import { defineStore } from 'pinia';
import { ref, shallowRef } from 'vue';
import type { RouteOutput } from '../../../shared/contract';
import { useApi } from '../api/inject';
import { useNoticesStore } from './notices';

type Heatmaps = RouteOutput<'runs.heatmaps'>;
export type HeatmapScale = 'shared' | 'per-image';

/**
 * Where a run's model looked, for the Evaluate large view: the maps of a window of the gallery
 * around the image shown, asked for together so that they share one scale (unless per image).
 */
export const useHeatmapsStore = defineStore('heatmaps', () => {
  const api = useApi();
  const notices = useNoticesStore();
  const shown = ref(false);
  const opacity = ref(0.5);
  /** The class whose map is shown; null: each image's predicted class. */
  const className = ref<string | null>(null);
  const scale = ref<HeatmapScale>('shared');
  const method = ref<Heatmaps['method'] | null>(null);
  const resize = ref<Heatmaps['resize']>('stretch');
  const byPath = shallowRef<ReadonlyMap<string, Heatmaps['entries'][number]>>(new Map());
  const problems = shallowRef<ReadonlyMap<string, string>>(new Map());
  const loading = ref(false);
  let loadedKey = '';
  let latest = 0;

  /** Maps for `paths` (the image shown among them); nothing is asked again for the same run, paths, class and scale. */
  async function load(runId: string, paths: string[]): Promise<void> {
    const key = JSON.stringify([runId, paths, className.value, scale.value]);
    if (key === loadedKey) return;
    const request = ++latest;
    loading.value = true;
    try {
      const result = await notices.guard(() => api.call('runs.heatmaps', { runId, paths, scale: scale.value, ...(className.value ? { className: className.value } : {}) }));
      // A newer request (the next image, another class) wins over a slower older one.
      if (!result || request !== latest) return;
      loadedKey = key;
      method.value = result.method;
      resize.value = result.resize;
      byPath.value = new Map(result.entries.map((e) => [e.path, e]));
      problems.value = new Map(result.unreadable.map((u) => [u.path, u.reason]));
    } finally {
      if (request === latest) loading.value = false;
    }
  }

  function toggle(): void {
    shown.value = !shown.value;
  }

  return { shown, opacity, className, scale, method, resize, byPath, problems, loading, load, toggle };
});
