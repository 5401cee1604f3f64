import { defineStore } from 'pinia';
import { computed, ref, shallowRef } from 'vue';
import type { DatasetSnapshot, ImageItem, MoveResult, ThumbnailProgress } from '../../../shared/contract';
import { gridOrder, inTrash } from '../../../shared/images';
import { useApi } from '../api/inject';
import { useNoticesStore } from './notices';

/** The open project's images and classes, and every change to them (relabel, undo, import). */
export const useDatasetStore = defineStore('dataset', () => {
  const api = useApi();
  const notices = useNoticesStore();

  const root = ref<string | null>(null);
  const name = ref('');
  const classes = ref<string[]>([]);
  // 50k items: a shallow ref replaced on change keeps Vue from wrapping every item in a proxy.
  const items = shallowRef<ImageItem[]>([]);
  const warnings = ref<string[]>([]);
  const recovered = ref<string[]>([]);
  /** Why the project can only be browsed (a full or read-only disk), or null. */
  const readOnly = ref<string | null>(null);
  const history = ref({ canUndo: false, canRedo: false });
  const progress = ref<ThumbnailProgress>({ done: 0, total: 0, unreadable: 0 });
  const lostMessage = ref<string | null>(null);
  const busy = ref(false);

  const byPath = computed(() => new Map(items.value.map((item) => [item.path, item])));
  /** Told of every batch of moves applied here (relabel, trash, undo, redo), so views can follow an image to its new path. */
  const moveListeners = new Set<(moves: MoveResult['moves']) => void>();
  function onMoves(listener: (moves: MoveResult['moves']) => void): void {
    moveListeners.add(listener);
  }

  const counts = computed(() => {
    const byClass: Record<string, number> = Object.fromEntries(classes.value.map((c) => [c, 0]));
    let unlabeled = 0;
    let unreadable = 0;
    for (const item of items.value) {
      if (item.label === null) unlabeled++;
      else byClass[item.label] = (byClass[item.label] ?? 0) + 1;
      if (item.status === 'unreadable') unreadable++;
    }
    return { byClass, unlabeled, unreadable, total: items.value.length };
  });

  /** Images this window moved to the trash, by their path there: an undo brings each back as it was. */
  const trashed = new Map<string, ImageItem>();

  function load(snapshot: DatasetSnapshot | null): void {
    if ((snapshot?.root ?? null) !== root.value) trashed.clear();
    root.value = snapshot?.root ?? null;
    name.value = snapshot?.name ?? '';
    classes.value = snapshot?.classes ?? [];
    items.value = snapshot?.items ?? [];
    warnings.value = snapshot?.warnings ?? [];
    recovered.value = snapshot?.recovered ?? [];
    readOnly.value = snapshot?.readOnly ?? null;
    history.value = snapshot?.history ?? { canUndo: false, canRedo: false };
    lostMessage.value = null;
    const unreadable = items.value.filter((i) => i.status === 'unreadable').length;
    progress.value = { done: items.value.filter((i) => i.status !== 'pending').length, total: items.value.length, unreadable };
  }

  /** Reads the folders again (the Rescan button): files changed outside LabelLoop show up. */
  async function refresh(): Promise<void> {
    const snapshot = await notices.guard(() => api.call('dataset.scan', {}));
    if (snapshot) load(snapshot);
  }

  /** What the project holds now, after a change it made itself (an import): no scan of a large folder. */
  async function reload(): Promise<void> {
    const snapshot = await notices.guard(() => api.call('dataset.snapshot', {}));
    if (snapshot) load(snapshot);
  }

  const movedItem = (item: ImageItem, to: string): ImageItem => ({ ...item, path: to, label: to.includes('/') ? (to.split('/')[0] as string) : null });

  function applyMoves(result: MoveResult): void {
    history.value = result.history;
    if (result.moves.length > 0) {
      const destination = new Map(result.moves.map((m) => [m.from, m.to]));
      const next: ImageItem[] = [];
      for (const item of items.value) {
        const to = destination.get(item.path);
        if (to === undefined) next.push(item);
        else if (inTrash(to)) trashed.set(to, item);
        else next.push(movedItem(item, to));
      }
      // Back from the trash (an undo): an image trashed before this window loaded is known only to the project, which rescanned for it.
      let unknownReturned = false;
      for (const { from, to } of result.moves) {
        if (!inTrash(from) || inTrash(to)) continue;
        const item = trashed.get(from);
        trashed.delete(from);
        if (item) next.push(movedItem(item, to));
        else unknownReturned = true;
      }
      items.value = next.sort(gridOrder);
      for (const listener of moveListeners) listener(result.moves);
      if (unknownReturned) void reload();
    }
    for (const failure of result.failed.slice(0, 3)) notices.push('error', `${failure.path}: ${failure.message}`);
    if (result.failed.length > 3) notices.push('error', `…and ${result.failed.length - 3} more could not be moved`);
  }

  async function relabel(paths: string[], to: string | null): Promise<MoveResult | undefined> {
    if (paths.length === 0) return undefined;
    return moveWith(() => api.call('dataset.relabel', { paths, to }));
  }

  /** Each group to its own class in one step (one undo takes it all back). */
  async function relabelEach(groups: { paths: string[]; to: string | null }[]): Promise<MoveResult | undefined> {
    if (groups.length === 0) return undefined;
    return moveWith(() => api.call('dataset.relabelEach', { groups }));
  }

  /** Moves images into the project's recoverable trash (.labelloop/trash) as one step that Undo takes back. */
  async function trash(paths: string[]): Promise<MoveResult | undefined> {
    if (paths.length === 0) return undefined;
    return moveWith(() => api.call('dataset.trash', { paths }));
  }

  async function moveWith(call: () => Promise<MoveResult>): Promise<MoveResult | undefined> {
    busy.value = true;
    try {
      const result = await notices.guard(call);
      if (result) applyMoves(result);
      return result;
    } finally {
      busy.value = false;
    }
  }

  async function undo(): Promise<void> {
    if (!history.value.canUndo) return;
    const result = await notices.guard(() => api.call('dataset.undo', {}));
    if (result) applyMoves(result);
  }

  async function redo(): Promise<void> {
    if (!history.value.canRedo) return;
    const result = await notices.guard(() => api.call('dataset.redo', {}));
    if (result) applyMoves(result);
  }

  async function classAction(action: () => Promise<DatasetSnapshot>): Promise<boolean> {
    const snapshot = await notices.guard(action);
    if (snapshot) load(snapshot);
    return snapshot !== undefined;
  }

  const createClass = (className: string) => classAction(() => api.call('classes.create', { name: className }));
  const renameClass = (from: string, to: string) => classAction(() => api.call('classes.rename', { from, to }));
  const deleteClass = (className: string) => classAction(() => api.call('classes.delete', { name: className }));

  /** Imports files into a class (null: unlabeled), reporting duplicates and rejects by name. */
  async function importFiles(className: string | null, files: { name: string; data: () => Promise<ArrayBuffer> }[]): Promise<void> {
    let imported = 0;
    const duplicates: string[] = [];
    const rejected: string[] = [];
    for (const file of files) {
      const result = await notices.guard(async () => api.importFile(className, file.name, await file.data()));
      if (!result) continue;
      imported += result.imported.length;
      duplicates.push(...result.duplicates.map((d) => `${d.name} (same as ${d.existing})`));
      rejected.push(...result.rejected.map((r) => `${r.name}: ${r.message}`));
    }
    notices.push('info', `Imported ${imported} image(s) into ${className ?? 'unlabeled'}`);
    if (duplicates.length) notices.push('info', `Skipped ${duplicates.length} duplicate(s): ${duplicates.slice(0, 3).join(', ')}${duplicates.length > 3 ? ', …' : ''}`);
    for (const line of rejected.slice(0, 5)) notices.push('error', line);
    await reload();
  }

  api.on('dataset.itemsUpdated', ({ items: updates }) => {
    const gridOrder = new Map(updates.map((u) => [u.path, u]));
    items.value = items.value.map((item) => {
      const update = gridOrder.get(item.path);
      return update ? { ...item, status: update.status, problem: update.problem } : item;
    });
  });
  api.on('thumbnails.progress', (payload) => {
    progress.value = payload;
  });
  api.on('project.lost', ({ message }) => {
    lostMessage.value = message;
  });
  let changedTimer: ReturnType<typeof setTimeout> | undefined;
  api.on('dataset.changed', () => {
    // Imports arrive one file at a time: refetch once the burst settles.
    clearTimeout(changedTimer);
    changedTimer = setTimeout(() => void reload(), 400);
  });

  return {
    root, name, classes, items, byPath, warnings, recovered, readOnly, history, progress, lostMessage, busy, counts,
    load, refresh, reload, relabel, relabelEach, trash, undo, redo, onMoves, createClass, renameClass, deleteClass, importFiles,
  };
});
