import { defineStore } from 'pinia';
import { computed, reactive, ref, shallowRef, triggerRef, watch } from 'vue';
import type { FacePredictSettings, PredictionRow, PredictionSession } from '../../../shared/contract';
import { decideLabel, facePredictionsCsv, predictionsCsv } from '../../../shared/predictions';
import { useApi } from '../api/inject';
import type { DroppedFile } from '../dropFiles';
import { useDatasetStore } from './dataset';
import { useNoticesStore } from './notices';
import { HEATMAP_PAGE } from './heatmaps';

/** Uploads in flight at once: enough for main to fill a batch while the model runs the last one. */
const IN_FLIGHT = 8;
/** Rows rendered at a time; "show more" adds as many again, so 10,000 results stay responsive. */
const PAGE = 200;

export type PredictionSort = 'added' | 'least-confident' | 'most-confident' | 'name';

/** A row judged on one face of a photo. */
export type FaceRow = PredictionRow & { face: NonNullable<PredictionRow['face']> };

/** A photo sent with "Detect faces first": shown with a box per face (photoWidth × photoHeight pixels). */
export interface FacePhoto {
  id: number;
  name: string;
  url: string;
  width: number;
  height: number;
  faces: FaceRow[];
}

/** The Predict view: a run's model, the images sent to it and what it said about each. */
export const usePredictionStore = defineStore('prediction', () => {
  const api = useApi();
  const notices = useNoticesStore();
  const dataset = useDatasetStore();

  const session = ref<PredictionSession | null>(null);
  const loadingModel = ref(false);
  const rows = shallowRef<PredictionRow[]>([]);
  /** Dropped files by row, kept so a result can be added to the project without asking again. */
  const sources = new Map<PredictionRow, DroppedFile>();
  const queued = ref(0);
  const done = ref(0);
  const sortBy = ref<PredictionSort>('added');
  /** A predicted class, 'errors' for unreadable files, or null for all rows. */
  const filter = ref<string | null>(null);
  const limit = ref(PAGE);
  /** "Detect faces first": each photo gives a row per face, predicted on its crop. */
  const detectFaces = ref(false);
  const faceSettings = reactive<FacePredictSettings>({ minConfidence: 0.5, margin: 0.25, align: false });
  /** The photos sent with faces detected, each shown once with its boxes (blob URLs of the bytes sent). */
  const facePhotos = shallowRef<FacePhoto[]>([]);
  let nextPhotoId = 0;
  /** Bumped by stop/clear/new model: uploads of an older generation stop and their answers are dropped. */
  let generation = 0;

  const busy = computed(() => queued.value > done.value);
  const classes = computed(() => session.value?.classes ?? []);
  const counts = computed(() => {
    const byClass = new Map<string, number>(classes.value.map((c) => [c, 0]));
    let errors = 0;
    for (const row of rows.value) {
      const label = decided(row);
      if (label === null) errors++;
      else byClass.set(label, (byClass.get(label) ?? 0) + 1);
    }
    return { byClass, errors };
  });
  const filtered = computed(() => {
    const wanted = filter.value;
    const list = wanted === null ? [...rows.value] : rows.value.filter((r) => (wanted === 'errors' ? r.probabilities === null : decided(r) === wanted));
    if (sortBy.value === 'name') list.sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }));
    else if (sortBy.value !== 'added') {
      const ascending = sortBy.value === 'least-confident';
      list.sort((a, b) => {
        const ca = confidence(a);
        const cb = confidence(b);
        // Unreadable rows have no confidence: they go last either way.
        if (ca === null || cb === null) return (ca === null ? 1 : 0) - (cb === null ? 1 : 0);
        return ascending ? ca - cb : cb - ca;
      });
    }
    return list;
  });
  const shown = computed(() => filtered.value.slice(0, limit.value));
  /** The row in the large view: a predicted image (it has a stored copy and probabilities). */
  const enlarged = shallowRef<PredictionRow | null>(null);
  const viewable = computed(() => filtered.value.filter((r) => r.path && r.probabilities));
  function moveEnlarged(delta: number): void {
    const list = viewable.value;
    const at = list.findIndex((r) => r === enlarged.value);
    if (at >= 0) enlarged.value = list[Math.max(0, Math.min(list.length - 1, at + delta))] ?? enlarged.value;
  }
  /** The page of 64 viewable rows that holds the enlarged one: their heatmaps share one scale. */
  function heatmapWindow(): string[] {
    const list = viewable.value;
    const at = Math.max(0, list.findIndex((r) => r === enlarged.value));
    const start = Math.floor(at / HEATMAP_PAGE) * HEATMAP_PAGE;
    return list.slice(start, start + HEATMAP_PAGE).map((r) => r.path as string);
  }

  /** The probability of the predicted class: how sure the model is of what it says. */
  function confidence(row: PredictionRow): number | null {
    const label = decided(row);
    return label === null ? null : (row.probabilities?.[classes.value.indexOf(label)] ?? null);
  }

  /** Loads a run's model; asking again for the same run rereads its saved operating point. */
  async function open(runId: string): Promise<void> {
    const previous = session.value;
    if (previous?.runId !== runId) {
      clear();
      session.value = null;
    }
    loadingModel.value = true;
    try {
      const opened = await notices.guard(() => api.call('predict.open', { runId }));
      if (opened && opened.sessionId !== previous?.sessionId) clear();
      session.value = opened ?? null;
    } finally {
      loadingModel.value = false;
    }
  }

  /** The class for a row at the session's current operating point (the same rule as the CLI). */
  function decided(row: PredictionRow): string | null {
    return row.probabilities ? decideLabel(row.probabilities, classes.value, session.value?.operatingPoint ?? null) : null;
  }

  async function predict(files: DroppedFile[]): Promise<void> {
    const current = session.value;
    if (!current) {
      notices.push('error', 'Choose a trained run first: its model makes the predictions');
      return;
    }
    if (files.length === 0) {
      notices.push('error', 'No image files in what was dropped (jpg, jpeg, png, webp, bmp, gif, tif, tiff)');
      return;
    }
    const mine = generation;
    queued.value += files.length;
    const waiting = [...files];
    const worker = async () => {
      for (let file = waiting.shift(); file; file = waiting.shift()) {
        if (mine !== generation) return;
        let answer: PredictionRow[];
        const faces = detectFaces.value;
        try {
          const data = await file.data();
          answer = faces ? await api.predictFaces(current.sessionId, { ...faceSettings }, file.name, data) : [await api.predictFile(current.sessionId, file.name, data)];
          const faceRows = answer.filter((r): r is FaceRow => r.face !== undefined);
          const first = faceRows[0];
          if (first && mine === generation) {
            // Each upload its own entry: two photos of one name keep their own boxes.
            const photo = { id: ++nextPhotoId, name: file.name, url: URL.createObjectURL(new Blob([data])), width: first.face.photoWidth, height: first.face.photoHeight, faces: faceRows };
            facePhotos.value = [...facePhotos.value, photo];
          }
        } catch (error) {
          answer = [{ name: file.name, path: null, version: null, predicted: null, probabilities: null, error: error instanceof Error ? error.message : String(error) }];
        }
        if (mine !== generation) return;
        for (const row of answer) {
          // A face row's file is the crop, which the window does not hold: it is not added to the project from here.
          if (!row.face) sources.set(row, file);
          rows.value.push(row);
        }
        triggerRef(rows);
        done.value++;
      }
    };
    await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, files.length) }, worker));
  }

  /** Stops sending what has not been sent yet; results already in stay. */
  function stop(): void {
    generation++;
    queued.value = done.value;
  }

  function clear(): void {
    stop();
    rows.value = [];
    enlarged.value = null;
    sources.clear();
    for (const photo of facePhotos.value) URL.revokeObjectURL(photo.url);
    facePhotos.value = [];
    queued.value = 0;
    done.value = 0;
    filter.value = null;
    limit.value = PAGE;
  }

  function showMore(): void {
    limit.value += PAGE;
  }

  function csv(): string {
    if (rows.value.some((r) => r.face)) {
      // Photos with faces detected: the CLI's per-face columns; a photo without a face keeps its row.
      return facePredictionsCsv(
        classes.value,
        rows.value.map((r) => ({ file: r.face?.photo ?? r.name, face: r.face?.face ?? null, box: r.face?.box ?? null, score: r.face?.score ?? null, predicted: decided(r), probabilities: r.probabilities, error: r.error })),
      );
    }
    return predictionsCsv(
      classes.value,
      rows.value.map((r) => ({ file: r.name, predicted: decided(r), probabilities: r.probabilities, error: r.error })),
    );
  }

  /** Copies the rows shown (readable ones) into the project, each in its predicted class, for review. */
  async function addShownToProject(): Promise<void> {
    const byClass = new Map<string, DroppedFile[]>();
    for (const row of filtered.value) {
      const file = sources.get(row);
      const label = decided(row);
      if (label === null || !file) continue;
      byClass.set(label, [...(byClass.get(label) ?? []), file]);
    }
    if (filtered.value.some((r) => r.face)) notices.push('info', 'Face rows were left out: to train on faces, bring the photos in with "Import photos (faces)" in the sidebar');
    const missing = [...byClass.keys()].filter((c) => !dataset.classes.includes(c));
    if (missing.length > 0) {
      notices.push('error', `The project has no class ${missing.map((m) => `"${m}"`).join(', ')} any more: create it first`);
      return;
    }
    for (const [className, files] of byClass) await dataset.importFiles(className, files);
  }

  // Main closes the session with its project: another project starts without one.
  watch(
    () => dataset.root,
    () => {
      clear();
      session.value = null;
    },
  );

  return {
    session, loadingModel, rows, queued, done, busy, sortBy, filter, limit, classes, counts, filtered, shown, detectFaces, faceSettings, facePhotos,
    confidence, decided, open, predict, stop, clear, showMore, csv, addShownToProject, enlarged, moveEnlarged, heatmapWindow,
  };
});
