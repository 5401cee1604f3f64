import { defineStore } from 'pinia';
import { computed, ref, shallowRef, watch } from 'vue';
import type { ImageItem } from '../../../shared/contract';
import { useDatasetStore } from './dataset';
import { useFacesStore } from './faces';
import { useSuggestionsStore } from './suggestions';

/**
 * 'all', 'unlabeled', 'unreadable', 'suggested' (unlabeled images with a run's suggestion, least
 * confident first), 'class:<name>', 'photo:<content hash>' (the face crops of one photo), or 'map'
 * (the images selected on the embedding map, see showPaths).
 */
export type GridFilter = string;

/** What the labeling grid shows and what is selected: the state behind every key press. */
export const useLabelingStore = defineStore('labeling', () => {
  const dataset = useDatasetStore();
  const faces = useFacesStore();
  const suggestions = useSuggestionsStore();

  const filter = ref<GridFilter>('all');
  const selected = shallowRef<ReadonlySet<string>>(new Set());
  const cursor = ref(0);
  const anchor = ref(0);
  const viewerOpen = ref(false);
  /** The images the 'map' filter shows, where each lies now. */
  const shownPaths = shallowRef<ReadonlySet<string>>(new Set());
  // A relabel under the map filter moves an image: it stays shown at its new path (a trashed one leaves).
  dataset.onMoves((moves) => {
    if (shownPaths.value.size === 0) return;
    const destination = new Map(moves.map((m) => [m.from, m.to]));
    shownPaths.value = new Set([...shownPaths.value].map((path) => destination.get(path) ?? path));
  });

  // The map's selection belongs to the project it was made in.
  watch(
    () => dataset.root,
    () => {
      if (filter.value === 'map') filter.value = 'all';
      shownPaths.value = new Set();
    },
  );

  const visible = computed<ImageItem[]>(() => {
    const f = filter.value;
    if (f === 'all') return dataset.items;
    if (f === 'unlabeled') return dataset.items.filter((i) => i.label === null);
    if (f === 'unreadable') return dataset.items.filter((i) => i.status === 'unreadable');
    if (f === 'suggested') return suggestions.ordered(dataset.items);
    if (f === 'map') return dataset.items.filter((i) => shownPaths.value.has(i.path));
    if (f.startsWith('photo:')) {
      const crops = faces.pathsOf(f.slice('photo:'.length));
      return dataset.items.filter((i) => crops.has(i.path));
    }
    const className = f.slice('class:'.length);
    return dataset.items.filter((i) => i.label === className);
  });

  const current = computed<ImageItem | undefined>(() => visible.value[cursor.value]);

  // Relabeling under a class filter makes items leave the view: keep the cursor in range.
  watch(visible, (list) => {
    if (cursor.value >= list.length) cursor.value = Math.max(0, list.length - 1);
  });

  function setFilter(next: GridFilter): void {
    if (next !== 'map') shownPaths.value = new Set();
    filter.value = next;
    selected.value = new Set();
    cursor.value = 0;
    anchor.value = 0;
  }

  /** Shows exactly these images in the grid (the embedding map's "Open in grid"). */
  function showPaths(paths: Iterable<string>): void {
    shownPaths.value = new Set(paths);
    setFilter('map');
  }

  /** Mouse selection: plain click selects one, ctrl toggles, shift extends from the anchor. */
  function click(index: number, modifiers: { shift?: boolean; ctrl?: boolean } = {}): void {
    const item = visible.value[index];
    if (!item) return;
    if (modifiers.shift) {
      selectRange(anchor.value, index, modifiers.ctrl ? selected.value : new Set());
    } else if (modifiers.ctrl) {
      const next = new Set(selected.value);
      if (next.has(item.path)) next.delete(item.path);
      else next.add(item.path);
      selected.value = next;
      anchor.value = index;
    } else {
      selected.value = new Set([item.path]);
      anchor.value = index;
    }
    cursor.value = index;
  }

  /** Arrow keys: move the cursor; with shift, extend the selection from the anchor. */
  function moveCursor(delta: number, extend = false): void {
    if (visible.value.length === 0) return;
    const next = Math.min(visible.value.length - 1, Math.max(0, cursor.value + delta));
    cursor.value = next;
    if (extend) selectRange(anchor.value, next, new Set());
    else {
      anchor.value = next;
      selected.value = new Set([(visible.value[next] as ImageItem).path]);
    }
  }

  function selectAll(): void {
    selected.value = new Set(visible.value.map((i) => i.path));
  }

  function clearSelection(): void {
    selected.value = new Set();
  }

  /** The images a key press acts on: the one in the large view, else the selection, else the cursor's. */
  function targets(): string[] {
    if (!viewerOpen.value && selected.value.size > 0) return [...selected.value];
    return current.value ? [current.value.path] : [];
  }

  // A fast labeler presses 2-2-2 before the first move returns: each press must act on the image
  // the previous one stepped to, so presses run one after another, reading the cursor when they run.
  let pressQueue: Promise<void> = Promise.resolve();

  /** Number key n (1-based) moves the targets to the n-th class; 0 means unlabeled. */
  function assign(classNumber: number): Promise<void> {
    const to = classNumber === 0 ? null : dataset.classes[classNumber - 1];
    if (to === undefined) return pressQueue;
    return queueMove((paths) => dataset.relabel(paths, to).then((result) => result !== undefined));
  }

  /** "A": each target to the class a run suggested for it (unlabeled images with a suggestion only). */
  function acceptSuggestions(): Promise<void> {
    return queueMove(async (paths) => (await suggestions.accept(paths)) > 0);
  }

  function queueMove(move: (paths: string[]) => Promise<boolean>): Promise<void> {
    pressQueue = pressQueue.then(() => moveTargets(move));
    return pressQueue;
  }

  async function moveTargets(move: (paths: string[]) => Promise<boolean>): Promise<void> {
    const paths = targets();
    // Where the cursor goes next: the first image after it that is not being moved.
    const moving = new Set(paths);
    let next: ImageItem | undefined;
    for (let i = cursor.value + 1; i < visible.value.length && !next; i++) {
      const candidate = visible.value[i] as ImageItem;
      if (!moving.has(candidate.path)) next = candidate;
    }
    if (!(await move(paths))) return;
    if (paths.length === 1) {
      const index = next ? visible.value.findIndex((i) => i.path === next.path) : -1;
      cursor.value = index >= 0 ? index : Math.min(cursor.value, visible.value.length - 1);
    }
    anchor.value = cursor.value;
    selected.value = current.value ? new Set([current.value.path]) : new Set();
  }

  function selectRange(from: number, to: number, base: ReadonlySet<string>): void {
    const next = new Set(base);
    const [lo, hi] = from <= to ? [from, to] : [to, from];
    for (let i = lo; i <= hi; i++) next.add((visible.value[i] as ImageItem).path);
    selected.value = next;
  }

  return {
    filter, selected, cursor, viewerOpen, visible, current, shownPaths,
    setFilter, showPaths, click, moveCursor, selectAll, clearSelection, targets, assign, acceptSuggestions,
  };
});
