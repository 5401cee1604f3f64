import { defineStore } from 'pinia';
import { computed, ref, shallowRef, watch } from 'vue';
import type { CheckStatus, ImageItem, QualityKind } from '../../../shared/contract';
import { gridOrder, inTrash } from '../../../shared/images';
import { followMoves } from '../followMoves';
import { useApi } from '../api/inject';
import { useDatasetStore } from './dataset';
import { useNoticesStore } from './notices';

/** Each quality outlier in words, in the order the Check view lists them (a Record: a new kind must be named here). */
export const QUALITY_KINDS: Record<QualityKind, string> = {
  blurry: 'blurry',
  dark: 'dark',
  bright: 'bright',
  'low-information': 'little information (flat)',
  'odd-size': 'odd size',
  'odd-aspect': 'odd aspect ratio',
  grayscale: 'grayscale',
};
const KIND_ORDER = Object.keys(QUALITY_KINDS) as QualityKind[];

/** A group of copies as the view shows it: only its images still in the project, each as it is now. */
export interface CopyGroup {
  /** Stable while the report is: the group's paths as the check found them. */
  key: string;
  similarity: number;
  images: ImageItem[];
}
export interface DuplicateGroup extends CopyGroup {
  kind: 'exact' | 'near';
}
export interface LeakGroup extends CopyGroup {
  /** The split of each image, in `images` order. */
  splits: string[];
}
export interface QualityIssue {
  image: ImageItem;
  kinds: QualityKind[];
  scores: Record<string, number>;
}

/**
 * The data check as the window sees it: the check in progress or the last one (resynced after a
 * reload, fed by events), its findings narrowed to the images still in the project, and the
 * actions on them: keep one of a group (the others to the trash), relabel, exclude from training.
 */
export const useCheckStore = defineStore('check', () => {
  const api = useApi();
  const notices = useNoticesStore();
  const dataset = useDatasetStore();

  const status = ref<CheckStatus | null>(null);
  /** The exclusion list: paths the split and every run leave out. */
  const excluded = shallowRef<ReadonlySet<string>>(new Set());
  const starting = ref(false);
  /** A trash, relabel or exclusion is on its way: the view's actions wait for it. */
  const acting = ref(false);
  const issueFilter = ref<QualityKind | 'all'>('all');

  const running = computed(() => status.value?.state === 'running');
  const report = computed(() => status.value?.report ?? null);

  /**
   * Where the report's images went since this window had it (report path → path now): a relabeled
   * image is followed, and another image given its freed name is not taken for it.
   */
  const movedTo = shallowRef<ReadonlyMap<string, string>>(new Map());
  const pathNow = (path: string) => movedTo.value.get(path) ?? path;
  /** The report's entries whose image is still in the project (a trash moves it out). */
  function indexesHere(paths: readonly string[]): number[] {
    return paths.flatMap((path, index) => (dataset.byPath.has(pathNow(path)) && !inTrash(pathNow(path)) ? [index] : []));
  }
  const imageAt = (path: string) => dataset.byPath.get(pathNow(path)) as ImageItem;

  const duplicates = computed<DuplicateGroup[]>(() =>
    (report.value?.duplicates ?? []).flatMap((group) => {
      const here = indexesHere(group.paths);
      if (here.length < 2) return [];
      return [{ key: group.paths.join('\n'), kind: group.kind, similarity: group.similarity, images: here.map((i) => imageAt(group.paths[i] as string)) }];
    }),
  );

  // The check writes "none" for an image without a split: it leaks nothing.
  const leaks = computed<LeakGroup[]>(() =>
    (report.value?.leaks ?? []).flatMap((leak) => {
      const here = indexesHere(leak.paths);
      const splits = here.map((i) => leak.splits[i] ?? 'none');
      if (here.length < 2 || new Set(splits.filter((s) => s !== 'none')).size < 2) return [];
      return [{ key: leak.paths.join('\n'), similarity: leak.similarity, images: here.map((i) => imageAt(leak.paths[i] as string)), splits }];
    }),
  );

  /** Copies under different labels; an image still at its path still has the label the check saw. */
  const conflicts = computed<CopyGroup[]>(() =>
    (report.value?.conflicts ?? []).flatMap((conflict) => {
      const images = indexesHere(conflict.paths).map((i) => imageAt(conflict.paths[i] as string));
      if (images.length < 2 || new Set(images.flatMap((image) => (image.label === null ? [] : [image.label]))).size < 2) return [];
      return [{ key: conflict.paths.join('\n'), similarity: conflict.similarity, images }];
    }),
  );

  const issues = computed<QualityIssue[]>(() =>
    (report.value?.issues ?? []).flatMap((issue) => (indexesHere([issue.path]).length > 0 ? [{ image: imageAt(issue.path), kinds: issue.kinds, scores: issue.scores }] : [])),
  );
  /** Outliers per kind (an image with two kinds is under both), in QUALITY_KINDS order, kinds found only. */
  const issuesByKind = computed(() => {
    const byKind = new Map<QualityKind, QualityIssue[]>();
    for (const kind of KIND_ORDER) {
      const found = issues.value.filter((issue) => issue.kinds.includes(kind));
      if (found.length > 0) byKind.set(kind, found);
    }
    return byKind;
  });
  // A kind whose last outlier was trashed or relabeled away would show nothing: back to every kind.
  watch(issuesByKind, (byKind) => {
    if (issueFilter.value !== 'all' && !byKind.has(issueFilter.value)) issueFilter.value = 'all';
  });
  const shownIssues = computed(() => (issueFilter.value === 'all' ? issues.value : (issuesByKind.value.get(issueFilter.value) ?? [])));

  const unreadable = computed(() => (report.value?.unreadable ?? []).flatMap((u) => (indexesHere([u.path]).length > 0 ? [{ ...u, path: pathNow(u.path) }] : [])));
  const excludedImages = computed(() => [...excluded.value].flatMap((path) => dataset.byPath.get(path) ?? []).sort(gridOrder));

  const counts = computed(() => ({
    exact: duplicates.value.filter((d) => d.kind === 'exact').length,
    near: duplicates.value.filter((d) => d.kind === 'near').length,
    leaks: leaks.value.length,
    conflicts: conflicts.value.length,
    outliers: issues.value.length,
    byKind: new Map([...issuesByKind.value].map(([kind, found]) => [kind, found.length])),
    unreadable: unreadable.value.length,
    excluded: excludedImages.value.length,
  }));

  async function refreshStatus(): Promise<void> {
    const current = await notices.guard(() => api.call('check.status', {}));
    if (current === undefined) return;
    // Another check's findings name images where they were when it ran: moves are followed from now.
    if (current?.checkId !== status.value?.checkId) movedTo.value = new Map();
    status.value = current;
  }

  async function refreshExcluded(): Promise<void> {
    const list = await notices.guard(() => api.call('dataset.excluded', {}));
    if (list) excluded.value = new Set(list.excluded);
  }

  /** Resyncs with main: a reloaded window finds the check still running, or the last one's findings. */
  async function load(): Promise<void> {
    await Promise.all([refreshStatus(), refreshExcluded()]);
  }

  async function start(): Promise<void> {
    if (running.value || starting.value) return;
    starting.value = true;
    try {
      if (await notices.guard(() => api.call('check.start', {}))) await refreshStatus();
    } finally {
      starting.value = false;
    }
  }

  async function cancel(): Promise<void> {
    const current = status.value;
    if (current?.state !== 'running') return;
    const answer = await notices.guard(() => api.call('check.cancel', { checkId: current.checkId }));
    // Not cancelled: it had just ended, and the event may have gone to nobody.
    if (answer && !answer.cancelled) await refreshStatus();
  }

  async function act<T>(work: () => Promise<T>): Promise<T | undefined> {
    if (acting.value) return undefined;
    acting.value = true;
    try {
      return await work();
    } finally {
      acting.value = false;
    }
  }

  const here = (paths: readonly string[]) => paths.filter((path) => dataset.byPath.has(path));

  /** Moves images to the project's trash as one undoable step; how many moved. */
  async function trash(paths: readonly string[]): Promise<number> {
    const moving = here(paths);
    if (moving.length === 0) return 0;
    const moved = (await act(() => dataset.trash(moving)))?.moves.length ?? 0;
    if (moved > 0) notices.push('info', `${moved} image(s) moved to the trash (.labelloop/trash) — Ctrl+Z takes it back`);
    return moved;
  }

  /** Keeps one image of a group of copies and trashes the others. */
  async function keepOne(group: CopyGroup, keepPath: string): Promise<number> {
    const paths = group.images.map((image) => image.path);
    if (!paths.includes(keepPath)) return 0;
    return trash(paths.filter((path) => path !== keepPath));
  }

  /** Relabels through the dataset store, so the grid's undo history has the step too; how many moved. */
  async function relabel(paths: readonly string[], to: string | null): Promise<number> {
    const moving = here(paths).filter((path) => dataset.byPath.get(path)?.label !== to);
    if (moving.length === 0) return 0;
    const moved = (await act(() => dataset.relabel(moving, to)))?.moves.length ?? 0;
    if (moved > 0) notices.push('info', `${moved} image(s) relabeled ${to ?? 'unlabeled'} — Ctrl+Z takes it back`);
    return moved;
  }

  async function setExcluded(paths: readonly string[], value: boolean): Promise<boolean> {
    const changing = here(paths).filter((path) => excluded.value.has(path) !== value);
    if (changing.length === 0) return false;
    const answer = await act(() => notices.guard(() => api.call('dataset.exclude', { paths: changing, excluded: value })));
    if (!answer) return false;
    // By content: exact copies of the chosen images change with them, so the count is the list's own.
    const changed = Math.abs(answer.excluded.length - excluded.value.size);
    excluded.value = new Set(answer.excluded);
    notices.push('info', value ? `${changed} image(s) excluded from training: the split and every run leave them out (Include takes them back)` : `${changed} image(s) back in training`);
    return true;
  }
  const exclude = (paths: readonly string[]) => setExcluded(paths, true);
  const include = (paths: readonly string[]) => setExcluded(paths, false);
  const isExcluded = (path: string) => excluded.value.has(path);

  // Main keeps the list by content: an excluded image stays excluded wherever a relabel, trash or undo moves it.
  dataset.onMoves((moves) => {
    movedTo.value = followMoves(movedTo.value, moves);
    if (excluded.value.size === 0) return;
    const destination = new Map(moves.map((m) => [m.from, m.to]));
    excluded.value = new Set([...excluded.value].map((path) => destination.get(path) ?? path));
  });

  api.on('check.progress', ({ checkId, phase, done, total }) => {
    if (status.value?.checkId === checkId && status.value.state === 'running') status.value = { ...status.value, progress: { phase, done, total } };
  });
  api.on('check.ended', ({ checkId, state, message }) => {
    // A check another window started: this one shows its findings too.
    if (status.value?.checkId !== checkId) return void (dataset.root !== null && refreshStatus());
    status.value = { ...status.value, state, message };
    notices.push(state === 'failed' ? 'error' : 'info', state === 'failed' ? `The data check failed: ${message}` : message, 8000);
    // The findings come with the status, not the event.
    void refreshStatus();
  });

  // Checks and exclusions belong to a project: another project (or none) starts from nothing.
  watch(
    () => dataset.root,
    () => {
      status.value = null;
      excluded.value = new Set();
      movedTo.value = new Map();
      issueFilter.value = 'all';
    },
  );

  return {
    status, excluded, starting, acting, issueFilter, running, report,
    duplicates, leaks, conflicts, issues, issuesByKind, shownIssues, unreadable, excludedImages, counts,
    load, refreshStatus, start, cancel, trash, keepOne, relabel, exclude, include, isExcluded,
  };
});
