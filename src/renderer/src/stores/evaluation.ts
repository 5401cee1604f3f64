import { defineStore } from 'pinia';
import { computed, ref, shallowRef, watch } from 'vue';
import type { RunSummary, ThumbnailSize } from '../../../shared/contract';
import { accuracy, confusionAtThreshold, confusionMatrix, perClassMetrics, prCurve, rocCurve } from '../../../shared/metrics';
import type { TrainingReport } from '../../../shared/report';
import { useApi } from '../api/inject';
import { inTrash } from '../../../shared/images';
import { BAD } from '../classColors';
import { followMoves } from '../followMoves';
import { useDatasetStore } from './dataset';
import { type GalleryHeatmapImage, HEATMAP_PAGE } from './heatmaps';
import { useNoticesStore } from './notices';

type Sample = TrainingReport['samples'][number];
export interface ComparisonRow {
  metric: string;
  ours: number | null;
  theirs: number | null;
  unit: 'percent' | 'ratio' | 'count' | 'seconds';
}
export type GallerySelection = { kind: 'cell'; actual: number; predicted: number } | { kind: 'mislabeled' } | null;

/** The class folder a project path lies in, "unlabeled" for the project root, "trash" for the data check's trash. */
const classOf = (path: string) => (inTrash(path) ? 'trash' : path.includes('/') ? (path.split('/')[0] as string) : 'unlabeled');

/** A run's evaluation as the window explores it: confusion, threshold, curves and galleries. */
export const useEvaluationStore = defineStore('evaluation', () => {
  const api = useApi();
  const notices = useNoticesStore();
  const dataset = useDatasetStore();

  const runs = ref<RunSummary[]>([]);
  const runId = ref<string | null>(null);
  const report = shallowRef<TrainingReport | null>(null);
  const positiveClass = ref<string | null>(null);
  const threshold = ref(0.5);
  const selection = ref<GallerySelection>(null);
  const sortBy = ref<'confidence' | 'loss'>('loss');
  /** Where images moved since this window loaded (relabels, undo, redo, here or in the grid): first path → path now. */
  const movedTo = shallowRef(new Map<string, string>());
  dataset.onMoves((moves) => (movedTo.value = followMoves(movedTo.value, moves)));
  /** The path a report's image has now: a report names it where it was when the run ended. */
  function pathNow(reportPath: string): string {
    // Only the recorded moves say where an image went: another image may have taken its old name.
    return movedTo.value.get(reportPath) ?? reportPath;
  }
  /** Report paths whose image has moved since, with its class now; an undo takes it out again. */
  const relabeled = computed(() => {
    const moved = new Map<string, string>();
    for (const [origin, now] of movedTo.value) moved.set(origin, classOf(now));
    return moved;
  });
  /** The badge of a report image that moved since the run: "relabeled OK", or "in the trash". */
  function movedBadge(reportPath: string): string | null {
    const now = relabeled.value.get(reportPath);
    if (now === undefined) return null;
    return now === 'trash' && inTrash(pathNow(reportPath)) ? 'in the trash' : `relabeled ${now}`;
  }
  const compareWith = ref<string | null>(null);
  const enlarged = ref<Sample | null>(null);

  const classes = computed(() => report.value?.classes ?? []);
  const evaluated = computed<Sample[]>(() => report.value?.samples.filter((s) => s.split === report.value?.evaluatedOn) ?? []);
  const twoClass = computed(() => classes.value.length === 2 && positiveClass.value !== null);
  const positiveScores = computed(() => evaluated.value.map((s) => s.probabilities[positiveClass.value ?? ''] ?? 0));
  const isPositive = computed(() => evaluated.value.map((s) => s.label === positiveClass.value));

  /** What the model predicts for a sample at the current operating point. */
  function predictedIndex(sample: Sample): number {
    if (twoClass.value) {
      const positive = classes.value.indexOf(positiveClass.value as string);
      return (sample.probabilities[positiveClass.value as string] ?? 0) >= threshold.value ? positive : 1 - positive;
    }
    return classes.value.indexOf(sample.predicted);
  }

  const confusion = computed(() =>
    confusionMatrix(evaluated.value.map((s) => classes.value.indexOf(s.label)), evaluated.value.map(predictedIndex), classes.value.length),
  );
  const metrics = computed(() => perClassMetrics(confusion.value));
  const overallAccuracy = computed(() => accuracy(confusion.value));
  const roc = computed(() => (twoClass.value ? rocCurve(positiveScores.value, isPositive.value) : null));
  const pr = computed(() => (twoClass.value ? prCurve(positiveScores.value, isPositive.value) : null));
  const atThreshold = computed(() => (twoClass.value ? confusionAtThreshold(positiveScores.value, isPositive.value, threshold.value) : null));

  /** The class a sample falls in at the current operating point (the confusion cell's column). */
  const predictedClass = (sample: Sample) => classes.value[predictedIndex(sample)] ?? sample.predicted;
  /** Images the run flags as likely mislabeled: the queue lists them first, then the next-highest scores. */
  const flaggedCount = computed(() => report.value?.samples.filter((s) => s.likelyMislabeled).length ?? 0);
  const QUEUE_LENGTH = 200;

  const gallery = computed<Sample[]>(() => {
    const sel = selection.value;
    if (!sel || !report.value) return [];
    if (sel.kind === 'mislabeled') {
      const flaggedFirst = (a: Sample, b: Sample) => Number(b.likelyMislabeled) - Number(a.likelyMislabeled) || b.mislabelScore - a.mislabelScore;
      return [...report.value.samples].sort(flaggedFirst).slice(0, QUEUE_LENGTH);
    }
    const items = evaluated.value.filter((s) => classes.value.indexOf(s.label) === sel.actual && predictedIndex(s) === sel.predicted);
    const confidence = (s: Sample) => Math.max(...Object.values(s.probabilities));
    const loss = (s: Sample) => -Math.log(Math.max(1e-9, s.probabilities[s.label] ?? 0));
    return [...items].sort((a, b) => (sortBy.value === 'loss' ? loss(b) - loss(a) : confidence(b) - confidence(a)));
  });

  /** What the gallery shows, in words: "OK predicted as NG · 2", or how many images the run flags. */
  const galleryTitle = computed(() => {
    const sel = selection.value;
    if (!sel) return '';
    if (sel.kind === 'cell') return `${classes.value[sel.actual]} predicted as ${classes.value[sel.predicted]} · ${gallery.value.length}`;
    const shown = flaggedCount.value > gallery.value.length ? ` · the first ${gallery.value.length} shown` : '';
    return `${flaggedCount.value} flagged as likely mislabeled${shown}`;
  });

  async function refreshRuns(): Promise<void> {
    runs.value = (await notices.guard(() => api.call('runs.list', {})))?.runs ?? [];
    const latest = runs.value.find((r) => r.hasReport);
    if (!runId.value && latest) await open(latest.runId);
  }

  async function open(id: string): Promise<void> {
    // An interrupted run kept a model but has no report: it can be exported, not evaluated.
    if (runs.value.find((r) => r.runId === id && !r.hasReport && r.keptModel)) {
      if (compareWith.value === id) compareWith.value = null;
      runId.value = id;
      report.value = null;
      selection.value = null;
      return;
    }
    const loaded = await notices.guard(() => api.call('runs.report', { runId: id }));
    if (!loaded) return;
    // Evaluating the run that was being compared swaps the two: a run is never compared with itself.
    if (compareWith.value === id) compareWith.value = runId.value;
    runId.value = id;
    report.value = loaded;
    selection.value = null;
    positiveClass.value = loaded.classes.length === 2 ? (loaded.operatingPoint?.positiveClass ?? loaded.classes.find((c) => BAD.test(c)) ?? (loaded.classes[1] as string)) : null;
    threshold.value = loaded.operatingPoint?.threshold ?? 0.5;
  }

  // A run that finishes while the window is open (after Retrain, or a new run) becomes the evaluated
  // one: Evaluate shows what the retrain changed, not the run before it.
  api.on('training.ended', ({ runId: ended, reason }) => {
    if (reason === 'finished' || reason === 'early-stopped') void open(ended).then(refreshRuns);
  });

  async function saveOperatingPoint(): Promise<void> {
    if (!runId.value || !positiveClass.value) return;
    const saved = await notices.guard(() => api.call('runs.setOperatingPoint', { runId: runId.value as string, positiveClass: positiveClass.value as string, threshold: threshold.value }));
    if (saved) notices.push('info', `Operating point saved: "${positiveClass.value}" when p ≥ ${threshold.value.toFixed(2)}`);
  }

  /** Relabels from the gallery through the same journal as the grid (undo works the same). */
  async function relabel(sample: Sample, to: string | null): Promise<void> {
    if (sample.label === to) return;
    if (relabeled.value.has(sample.path)) return notices.push('info', `${sample.path} was already relabeled since this run`);
    await dataset.relabel([sample.path], to);
  }

  // Runs belong to a project: another project (or none) starts from nothing.
  watch(
    () => dataset.root,
    () => {
      runs.value = [];
      runId.value = null;
      report.value = null;
      selection.value = null;
      movedTo.value = new Map();
      compareWith.value = null;
      enlarged.value = null;
    },
  );

  /** The gallery's keyboard cursor: the image that number keys relabel and Enter enlarges. */
  const cursor = ref(0);
  watch([selection, sortBy, runId], () => (cursor.value = 0));
  const focused = computed(() => gallery.value[cursor.value] ?? null);

  function moveCursor(delta: number): void {
    cursor.value = Math.max(0, Math.min(gallery.value.length - 1, cursor.value + delta));
    if (enlarged.value) enlarged.value = focused.value;
  }

  /** The grid's keys: 1–9 move the image to that project class, 0 to unlabeled; then step on. */
  let pressQueue = Promise.resolve();
  function relabelByKey(classNumber: number): Promise<void> {
    pressQueue = pressQueue.then(async () => {
      const to = classNumber === 0 ? null : dataset.classes[classNumber - 1];
      const sample = enlarged.value ?? focused.value;
      if (to === undefined || !sample) return;
      await relabel(sample, to);
      moveCursor(1);
    });
    return pressQueue;
  }

  async function renameRun(name: string): Promise<void> {
    if (!runId.value) return;
    if (await notices.guard(() => api.call('runs.rename', { runId: runId.value as string, name }))) await refreshRuns();
  }

  async function deleteRun(): Promise<void> {
    if (!runId.value) return;
    if (!(await notices.guard(() => api.call('runs.delete', { runId: runId.value as string })))) return;
    runId.value = null;
    report.value = null;
    await refreshRuns();
  }

  /** Runs exported from this window: in web mode the evaluated one gets a zip download link. */
  const exported = ref<string[]>([]);
  const exportDownloadUrl = computed(() => (runId.value && exported.value.includes(runId.value) ? (api.exportDownloadUrl?.(runId.value) ?? null) : null));

  async function exportRun(): Promise<void> {
    if (!runId.value) return;
    const id = runId.value;
    const result = await notices.guard(() => api.call('runs.export', { runId: id }));
    if (!result) return;
    exported.value = [...exported.value.filter((r) => r !== id), id];
    // In a browser the folder is on the server, perhaps another machine: point at the download too.
    const where = api.exportDownloadUrl ? `on the server in ${result.folder}; the zip link beside Export model downloads it` : `to ${result.folder}`;
    notices.push('info', `Exported ${result.files.join(', ')} ${where}`, 12_000);
  }

  const current = computed(() => runs.value.find((r) => r.runId === runId.value) ?? null);
  const compared = computed(() => runs.value.find((r) => r.runId === compareWith.value) ?? null);
  const comparedReport = shallowRef<TrainingReport | null>(null);
  watch(compareWith, async (id) => {
    comparedReport.value = null;
    const loaded = id ? await notices.guard(() => api.call('runs.report', { runId: id })) : undefined;
    if (loaded && compareWith.value === id) comparedReport.value = loaded;
  });

  /** This run's and the compared run's figures side by side, each at its most-probable-class decision. */
  const comparison = computed<ComparisonRow[]>(() => {
    const ours = report.value;
    const theirs = comparedReport.value;
    if (!ours || !theirs) return [];
    const rows: ComparisonRow[] = [
      { metric: `accuracy (${ours.evaluatedOn} split)`, ours: accuracy(ours.confusion), theirs: accuracy(theirs.confusion), unit: 'percent' },
    ];
    const auc = (r: TrainingReport) => {
      const positive = positiveClass.value;
      if (!positive || r.classes.length !== 2 || !r.classes.includes(positive)) return null;
      const evaluatedSamples = r.samples.filter((s) => s.split === r.evaluatedOn);
      return rocCurve(evaluatedSamples.map((s) => s.probabilities[positive] ?? 0), evaluatedSamples.map((s) => s.label === positive)).auc;
    };
    if (twoClass.value) rows.push({ metric: `AUC (${positiveClass.value} positive)`, ours: auc(ours), theirs: auc(theirs), unit: 'ratio' });
    for (const name of [...new Set([...ours.classes, ...theirs.classes])]) {
      for (const key of ['precision', 'recall', 'f1'] as const) {
        rows.push({ metric: `${name} ${key === 'f1' ? 'F1' : key}`, ours: ours.perClass[name]?.[key] ?? null, theirs: theirs.perClass[name]?.[key] ?? null, unit: 'percent' });
      }
    }
    rows.push({ metric: 'images evaluated', ours: ours.samples.filter((s) => s.split === ours.evaluatedOn).length, theirs: theirs.samples.filter((s) => s.split === theirs.evaluatedOn).length, unit: 'count' });
    rows.push({ metric: 'training time', ours: ours.timing.totalSeconds, theirs: theirs.timing.totalSeconds, unit: 'seconds' });
    return rows;
  });

  /**
   * The images whose heatmaps are asked for together with the one shown (so they share a scale):
   * the gallery's page of 64 that holds the cursor, where each lies now; the shown image always
   * among them. Stepping within a page asks for nothing new and keeps the scale.
   */
  function heatmapWindow(): string[] {
    const shown = enlarged.value;
    if (!shown) return [];
    const start = Math.floor(cursor.value / HEATMAP_PAGE) * HEATMAP_PAGE;
    const page = gallery.value.slice(start, start + HEATMAP_PAGE).map((s) => pathNow(s.path));
    const path = pathNow(shown.path);
    return page.includes(path) ? page : [path, ...page.slice(0, HEATMAP_PAGE - 1)];
  }

  /**
   * The gallery's page `index` of 64 (the images whose thumbnails' heatmaps are asked for together
   * and share a scale), each image by its report path (what its map is kept by) and where it lies now.
   */
  function galleryHeatmapPage(index: number): GalleryHeatmapImage[] {
    return gallery.value.slice(index * HEATMAP_PAGE, (index + 1) * HEATMAP_PAGE).map((s) => ({ report: s.path, now: pathNow(s.path) }));
  }
  /** The page of 64 that holds the gallery's cursor. */
  const cursorPage = computed(() => Math.floor(cursor.value / HEATMAP_PAGE));
  /** What the gallery shows (of which project) and in which order: its pages' maps hold only while it stays the same. */
  const galleryContext = computed(() => JSON.stringify([dataset.root, selection.value, sortBy.value]));

  /** The image where it lies now, so a relabeled (or undone) card keeps its picture. */
  function imageUrl(sample: Sample, size: ThumbnailSize): string {
    const path = pathNow(sample.path);
    return api.imageUrl(path, dataset.byPath.get(path)?.version ?? 'report', size);
  }
  const largeUrl = (sample: Sample) => imageUrl(sample, 'large');
  const thumbnailUrl = (sample: Sample) => imageUrl(sample, 'thumb');

  return {
    runs, runId, report, positiveClass, threshold, selection, sortBy, relabeled, movedBadge, classes, evaluated, twoClass,
    confusion, metrics, overallAccuracy, roc, pr, atThreshold, gallery, galleryTitle, flaggedCount, predictedClass,
    compareWith, enlarged, current, compared, comparedReport, comparison, cursor, focused,
    refreshRuns, open, saveOperatingPoint, relabel, moveCursor, relabelByKey, thumbnailUrl, largeUrl, renameRun, deleteRun, exportRun, exportDownloadUrl, pathNow, heatmapWindow,
    galleryHeatmapPage, cursorPage, galleryContext,
  };
});
