import { defineStore } from 'pinia';
import { ref, shallowRef } from 'vue';
import type { RouteOutput } from '../../../shared/contract';
import { useApi } from '../api/inject';
import { useNoticesStore } from './notices';

type Heatmaps = RouteOutput<'runs.heatmaps'>;
export type HeatmapEntry = Heatmaps['entries'][number];
/** One gallery image of a page asked for: its path in the run's report (what maps are kept by) and where it lies now (what main reads). */
export interface GalleryHeatmapImage {
  report: string;
  now: string;
}
export type HeatmapScale = 'shared' | 'per-image';
/** Images whose maps are asked for (and scaled) together: the route's most. */
export const HEATMAP_PAGE = 64;

/**
 * Where a run's model looked, for the large views: the maps of a window of the gallery around the
 * image shown, asked for together so that they share one scale (unless per image); and for the
 * Evaluate gallery's thumbnails, page by page. The class, scale and opacity are the same for both.
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

  // The Evaluate gallery's thumbnails: maps asked for page by page (a page of at most 64 images one
  // ask, one shared scale), kept by the report's path, so a thumbnail never shows another image's map
  // (the gallery follows relabels), and kept while the user scrolls; dropped when the run, the
  // gallery, the class or the scale changes. One ask runs at a time: a newer one supersedes it.
  const galleryShown = ref(false);
  const galleryMaps = shallowRef<ReadonlyMap<string, HeatmapEntry>>(new Map());
  const galleryProblems = shallowRef<ReadonlyMap<string, string>>(new Map());
  /** Report paths of the page being computed. */
  const galleryPending = shallowRef<ReadonlySet<string>>(new Set());
  const galleryLoading = ref(false);
  let galleryContext = '';
  let galleryRequest = 0;
  /** Pages answered (or failed: the notice said why) under the current context, by their report paths. */
  const galleryDone = new Set<string>();
  let galleryAsking: string | null = null;
  let galleryWanted: { runId: string; pages: GalleryHeatmapImage[][] } = { runId: '', pages: [] };
  const pageKey = (page: GalleryHeatmapImage[]) => JSON.stringify(page.map((image) => image.report));

  function clearGallery(): void {
    galleryRequest++;
    galleryAsking = null;
    galleryDone.clear();
    galleryMaps.value = new Map();
    galleryProblems.value = new Map();
    galleryPending.value = new Set();
    galleryLoading.value = false;
  }

  /**
   * The maps of the gallery pages on screen, first the most wanted: pages already answered are kept,
   * the others asked for one at a time. `context` names the gallery (selection, order): when it,
   * the run, the class or the scale changes, every map is dropped and a running ask superseded.
   */
  function showGallery(runId: string, context: string, pages: GalleryHeatmapImage[][]): void {
    const key = JSON.stringify([runId, context, className.value, scale.value]);
    if (key !== galleryContext) {
      clearGallery();
      galleryContext = key;
    }
    galleryWanted = { runId, pages: pages.map((page) => page.slice(0, HEATMAP_PAGE)).filter((page) => page.length > 0) };
    askNextPage();
  }

  function askNextPage(): void {
    const keys = galleryWanted.pages.map(pageKey);
    // A running ask for a page still on screen (or with nothing else to ask) finishes first.
    if (galleryAsking !== null && keys.includes(galleryAsking)) return;
    const index = keys.findIndex((k) => !galleryDone.has(k));
    if (index < 0) return;
    void askPage(galleryWanted.runId, galleryWanted.pages[index] as GalleryHeatmapImage[], keys[index] as string);
  }

  async function askPage(runId: string, page: GalleryHeatmapImage[], key: string): Promise<void> {
    const request = ++galleryRequest;
    galleryAsking = key;
    galleryPending.value = new Set(page.map((image) => image.report));
    galleryLoading.value = true;
    const reportOf = new Map(page.map((image) => [image.now, image.report]));
    const input = { runId, paths: page.map((image) => image.now), scale: scale.value, ...(className.value ? { className: className.value } : {}) };
    const result = await notices.guard(() => api.call('runs.heatmaps', input));
    if (request !== galleryRequest) return;
    galleryAsking = null;
    galleryDone.add(key);
    galleryPending.value = new Set();
    galleryLoading.value = false;
    if (result) {
      method.value = result.method;
      resize.value = result.resize;
      const maps = new Map(galleryMaps.value);
      for (const entry of result.entries) {
        const report = reportOf.get(entry.path);
        if (report !== undefined) maps.set(report, entry);
      }
      const unreadable = new Map(galleryProblems.value);
      for (const { path, reason } of result.unreadable) {
        const report = reportOf.get(path);
        if (report !== undefined) unreadable.set(report, reason);
      }
      galleryMaps.value = maps;
      galleryProblems.value = unreadable;
    }
    askNextPage();
  }

  function toggleGallery(): void {
    galleryShown.value = !galleryShown.value;
  }

  return {
    shown, opacity, className, scale, method, resize, byPath, problems, loading, load, toggle,
    galleryShown, galleryMaps, galleryProblems, galleryPending, galleryLoading, showGallery, clearGallery, toggleGallery,
  };
});
