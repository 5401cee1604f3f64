import { defineStore } from 'pinia';
import { computed, reactive, ref, shallowRef, watch } from 'vue';
import type { FaceImportSettings, FaceImportSummary, RouteOutput } from '../../../shared/contract';
import { addSummary, describeFaceImport, emptySummary } from '../../../shared/faces';
import { useApi } from '../api/inject';
import type { DroppedFile } from '../dropFiles';
import { useDatasetStore } from './dataset';
import { useNoticesStore } from './notices';

/**
 * "Import photos (faces)": photos go to main one at a time (detection runs in its worker), so the
 * window shows how far it got and Cancel stops after the current photo, keeping what is saved.
 */
export const useFacesStore = defineStore('faces', () => {
  const api = useApi();
  const notices = useNoticesStore();
  const dataset = useDatasetStore();
  const settings = reactive<FaceImportSettings>({ minConfidence: 0.5, minSize: 32, margin: 0.25, align: false });
  const running = ref(false);
  const done = ref(0);
  const total = ref(0);
  const current = ref('');
  const summary = ref<FaceImportSummary | null>(null);
  let cancelRequested = false;
  /** The photos the project's crops came from, for the grid's photo filter. */
  const photos = shallowRef<RouteOutput<'faces.photos'>['photos']>([]);

  async function loadPhotos(): Promise<void> {
    photos.value = (await notices.guard(() => api.call('faces.photos', {})))?.photos ?? [];
  }

  // A relabel, undo or class rename moves crops: once a loaded path is gone, ask main again
  // (it finds crops by content), so the photo filter keeps showing a crop the user just labelled.
  watch(
    () => dataset.byPath,
    (byPath) => {
      if (photos.value.some((photo) => photo.paths.some((p) => !byPath.has(p)))) void loadPhotos();
    },
  );

  /** The crops of one photo, as paths now. */
  function pathsOf(sourceHash: string): ReadonlySet<string> {
    return new Set(photos.value.find((p) => p.sourceHash === sourceHash)?.paths ?? []);
  }

  const lines = computed(() => (summary.value ? describeFaceImport(summary.value) : []));

  async function importPhotos(className: string | null, files: DroppedFile[]): Promise<void> {
    if (running.value || files.length === 0) return;
    running.value = true;
    cancelRequested = false;
    done.value = 0;
    total.value = files.length;
    let whole = emptySummary(0);
    summary.value = whole;
    try {
      for (const file of files) {
        if (cancelRequested) {
          whole = { ...whole, cancelled: true };
          break;
        }
        current.value = file.name;
        const one = await notices.guard(async () => api.importFaces(className, { ...settings }, file.name, await file.data()));
        whole = addSummary(whole, one ?? { ...emptySummary(1), unreadable: [{ path: file.name, reason: 'the import failed (see the message above)' }] });
        summary.value = whole;
        done.value++;
      }
    } finally {
      summary.value = whole;
      running.value = false;
      current.value = '';
    }
    notices.push('info', `${lines.value[0] ?? ''} into ${className ?? 'unlabeled'}`);
    await dataset.reload();
  }

  function cancel(): void {
    cancelRequested = true;
  }

  return { settings, running, done, total, current, summary, lines, photos, importPhotos, cancel, loadPhotos, pathsOf };
});
