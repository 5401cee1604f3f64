import { defineStore } from 'pinia';
import { computed, ref, shallowRef, watch } from 'vue';
import type { RunSummary } from '../../../shared/contract';
import { accuracy, confusionAtThreshold, confusionMatrix, perClassMetrics, prCurve, rocCurve } from '../../../shared/metrics';
import type { TrainingReport } from '../../../shared/report';
import { useApi } from '../api/inject';
import { BAD } from '../classColors';
import { useDatasetStore } from './dataset';
import { useNoticesStore } from './notices';

type Sample = TrainingReport['samples'][number];
export interface ComparisonRow {
  metric: string;
  ours: number | null;
  theirs: number | null;
  unit: 'percent' | 'ratio' | 'count' | 'seconds';
}
export type GallerySelection = { kind: 'cell'; actual: number; predicted: number } | { kind: 'mislabeled' } | null;


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
  /** Report paths relabeled from here since the run, with their new class. */
  const relabeled = ref(new Map<string, string>());
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

  const gallery = computed<Sample[]>(() => {
    const sel = selection.value;
    if (!sel || !report.value) return [];
    const items =
      sel.kind === 'mislabeled'
        ? [...report.value.samples].sort((a, b) => b.mislabelScore - a.mislabelScore).slice(0, 200)
        : evaluated.value.filter((s) => classes.value.indexOf(s.label) === sel.actual && predictedIndex(s) === sel.predicted);
    if (sel.kind === 'mislabeled') return items;
    const confidence = (s: Sample) => Math.max(...Object.values(s.probabilities));
    const loss = (s: Sample) => -Math.log(Math.max(1e-9, s.probabilities[s.label] ?? 0));
    return [...items].sort((a, b) => (sortBy.value === 'loss' ? loss(b) - loss(a) : confidence(b) - confidence(a)));
  });

  async function refreshRuns(): Promise<void> {
    runs.value = (await notices.guard(() => api.call('runs.list', {})))?.runs ?? [];
    const latest = runs.value.find((r) => r.hasReport);
    if (!runId.value && latest) await open(latest.runId);
  }

  async function open(id: string): Promise<void> {
    const loaded = await notices.guard(() => api.call('runs.report', { runId: id }));
    if (!loaded) return;
    runId.value = id;
    report.value = loaded;
    selection.value = null;
    relabeled.value = new Map();
    positiveClass.value = loaded.classes.length === 2 ? (loaded.operatingPoint?.positiveClass ?? loaded.classes.find((c) => BAD.test(c)) ?? (loaded.classes[1] as string)) : null;
    threshold.value = loaded.operatingPoint?.threshold ?? 0.5;
  }

  async function saveOperatingPoint(): Promise<void> {
    if (!runId.value || !positiveClass.value) return;
    const saved = await notices.guard(() => api.call('runs.setOperatingPoint', { runId: runId.value as string, positiveClass: positiveClass.value as string, threshold: threshold.value }));
    if (saved) notices.push('info', `Operating point saved: "${positiveClass.value}" when p ≥ ${threshold.value.toFixed(2)}`);
  }

  /** Relabels from the gallery through the same journal as the grid (undo works the same). */
  async function relabel(sample: Sample, to: string | null): Promise<void> {
    if (sample.label === to) return;
    const current = relabeled.value.has(sample.path) ? null : sample.path;
    if (!current) return notices.push('info', `${sample.path} was already relabeled from here`);
    const result = await dataset.relabel([current], to);
    if (result && result.moves.length > 0) relabeled.value = new Map(relabeled.value).set(sample.path, to ?? 'unlabeled');
  }

  // An undo (here or in the grid) puts an image back where the report saw it: it is no longer
  // relabeled, and can be relabeled again from the gallery.
  watch(
    () => dataset.byPath,
    (present) => {
      const undone = [...relabeled.value.keys()].filter((p) => present.has(p));
      if (undone.length === 0) return;
      const next = new Map(relabeled.value);
      for (const p of undone) next.delete(p);
      relabeled.value = next;
    },
  );

  // Runs belong to a project: another project (or none) starts from nothing.
  watch(
    () => dataset.root,
    () => {
      runs.value = [];
      runId.value = null;
      report.value = null;
      selection.value = null;
      relabeled.value = new Map();
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

  function largeUrl(sample: Sample): string {
    const item = dataset.byPath.get(sample.path);
    return api.imageUrl(sample.path, item?.version ?? 'report', 'large');
  }

  function thumbnailUrl(sample: Sample): string {
    const item = dataset.byPath.get(sample.path);
    return api.imageUrl(sample.path, item?.version ?? 'report', 'thumb');
  }

  return {
    runs, runId, report, positiveClass, threshold, selection, sortBy, relabeled, classes, evaluated, twoClass,
    confusion, metrics, overallAccuracy, roc, pr, atThreshold, gallery,
    compareWith, enlarged, current, compared, comparedReport, comparison, cursor, focused,
    refreshRuns, open, saveOperatingPoint, relabel, moveCursor, relabelByKey, thumbnailUrl, largeUrl, renameRun, deleteRun, exportRun, exportDownloadUrl,
  };
});
