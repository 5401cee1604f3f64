import { defineStore } from 'pinia';
import { ref, shallowRef } from 'vue';
import type { RouteOutput } from '../../../shared/contract';
import { useApi } from '../api/inject';
import { useNoticesStore } from './notices';

type Heatmaps = RouteOutput<'runs.heatmaps'>;
export type HeatmapScale = 'shared' | 'per-image';
/** Images whose maps are asked for (and scaled) together: the route's most. */
export const HEATMAP_PAGE = 64;

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
  /** What was asked for last and what is shown: a slower, older answer never replaces a newer ask. */
  let requestedKey = '';
  let loadedRun = '';
  let latest = 0;

  /** Maps for `paths` (the image shown among them); nothing is asked again for the same run, paths, class and scale. */
  async function load(runId: string, paths: string[]): Promise<void> {
    const key = JSON.stringify([runId, paths, className.value, scale.value]);
    if (key === requestedKey) return;
    requestedKey = key;
    const request = ++latest;
    // Another run's maps must not stay on screen while this one's are computed.
    if (runId !== loadedRun) {
      byPath.value = new Map();
      problems.value = new Map();
    }
    loading.value = true;
    try {
      const result = await notices.guard(() => api.call('runs.heatmaps', { runId, paths, scale: scale.value, ...(className.value ? { className: className.value } : {}) }));
      if (request !== latest) return;
      if (!result) {
        // Failed (the notice says why): nothing stale stays shown, and the same ask may be made again.
        requestedKey = '';
        byPath.value = new Map();
        problems.value = new Map();
        return;
      }
      loadedRun = runId;
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
