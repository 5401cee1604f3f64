import { defineStore } from 'pinia';
import { computed, ref, shallowRef, watch } from 'vue';
import type { EmbeddingMap, ImageItem, MapStatus, RunSummary } from '../../../shared/contract';
import { inTrash } from '../../../shared/images';
import { useApi } from '../api/inject';
import { classColor } from '../classColors';
import { followMoves } from '../followMoves';
import { boxOf, type Point, PointGrid } from '../mapGeometry';
import { SPLIT_COLORS, SPLIT_NAMES, SPLITS } from '../splitViews';
import { useDatasetStore } from './dataset';
import { useLabelingStore } from './labeling';
import { useNoticesStore } from './notices';

export type ColourMode = 'label' | 'prediction' | 'split' | 'mislabel';
/** Each colour mode in words, in the order the view offers them (a Record: a new mode must be named here). */
export const COLOUR_MODES: Record<ColourMode, string> = { label: 'label', prediction: 'prediction', split: 'split', mislabel: 'mislabel score' };
/** What a point without the coloured-by value is called in the legend. */
const NO_VALUE: Record<ColourMode, string> = { label: 'unlabeled', prediction: 'no prediction', split: 'in no split', mislabel: 'no score' };
/** Unlabeled, no prediction, in no split, no score: the grid's colour for unlabeled images. */
export const NO_VALUE_COLOUR = classColor(null, 0);

/** The mislabel score's ramp from 0 to 1: blue where the model agrees with the label, through yellow, to red where it is sure of another class. */
export const MISLABEL_RAMP = ['#3d6fb0', '#e0b34f', '#e0604f'] as const;
// An odd count puts the middle stop on a step; steps keep the canvas to a few fill colours.
const RAMP_STEPS = 17;

function mix(from: string, to: string, t: number): string {
  const channel = (hex: string, i: number) => parseInt(hex.slice(1 + 2 * i, 3 + 2 * i), 16);
  const parts = [0, 1, 2].map((i) => Math.round(channel(from, i) + (channel(to, i) - channel(from, i)) * t));
  return `#${parts.map((v) => v.toString(16).padStart(2, '0')).join('')}`;
}
const RAMP_COLOURS = Array.from({ length: RAMP_STEPS }, (_, step) => {
  const at = (step / (RAMP_STEPS - 1)) * (MISLABEL_RAMP.length - 1);
  const segment = Math.min(MISLABEL_RAMP.length - 2, Math.floor(at));
  return mix(MISLABEL_RAMP[segment] as string, MISLABEL_RAMP[segment + 1] as string, at - segment);
});

/** A mislabel score's colour on the ramp (in RAMP_STEPS steps); no score: the no-value grey. */
export function mislabelColour(score: number | null): string {
  if (score === null || !Number.isFinite(score)) return NO_VALUE_COLOUR;
  return RAMP_COLOURS[Math.round(Math.min(1, Math.max(0, score)) * (RAMP_STEPS - 1))] as string;
}

export interface LegendEntry {
  name: string;
  colour: string;
  count: number;
}

/** The map's images that are still in the project, each where it lies now. */
export interface MapPoints {
  paths: string[];
  /** Each point's index in the map's per-image arrays. */
  source: Uint32Array;
  /** The points' coordinates (0..1), indexed for lasso, box and hover. */
  grid: PointGrid;
  indexOf: Map<string, number>;
}

/** The point under the mouse, with what the tooltip says about it. */
export interface HoveredPoint {
  index: number;
  item: ImageItem;
  predicted: string | null;
  split: 'train' | 'val' | 'test' | null;
  mislabelScore: number | null;
}

/**
 * The embedding map as the window sees it: the map in progress or the last one (resynced after a
 * reload, fed by events), its points narrowed to the images still in the project and followed
 * through relabels, their colours, the lasso or box selection, and what to do with it: relabel
 * it (undoable like the grid) or open it in the grid.
 */
export const useMapStore = defineStore('map', () => {
  const api = useApi();
  const notices = useNoticesStore();
  const dataset = useDatasetStore();
  const labeling = useLabelingStore();

  const runs = ref<RunSummary[]>([]);
  const runId = ref<string | null>(null);
  // Shallow: a finished map holds arrays of 50,000 numbers that Vue must not wrap one by one.
  const status = shallowRef<MapStatus | null>(null);
  /** The map drawn: the last finished one, kept while another computes or after it is cancelled. */
  const map = shallowRef<EmbeddingMap | null>(null);
  const starting = ref(false);
  const acting = ref(false);
  /** Why main refused the last Compute map (a run without a backbone), said beside the button. */
  const refused = ref<string | null>(null);
  const colourMode = ref<ColourMode>('label');
  /** The selected images, where each lies now. */
  const selection = shallowRef<ReadonlySet<string>>(new Set());
  const hovered = ref<string | null>(null);

  /** Where the drawn map's images went since main sent it (main names them where they were then): map path → path now. */
  const movedTo = shallowRef<ReadonlyMap<string, string>>(new Map());
  let drawnMapId: string | null = null;

  const running = computed(() => status.value?.state === 'running');
  /** A map needs a run's report (main then checks that its model has a backbone). */
  const mappableRuns = computed(() => runs.value.filter((run) => run.hasReport));

  const points = computed<MapPoints>(() => {
    const shown = map.value;
    const paths: string[] = [];
    const source: number[] = [];
    const xs: number[] = [];
    const ys: number[] = [];
    const byPath = dataset.byPath;
    const moved = movedTo.value;
    for (let i = 0; shown && i < shown.paths.length; i++) {
      const then = shown.paths[i] as string;
      const now = moved.get(then) ?? then;
      // Trashed, or gone from the folder since: not drawn.
      if (!byPath.has(now)) continue;
      paths.push(now);
      source.push(i);
      xs.push(shown.coords[2 * i] as number);
      ys.push(shown.coords[2 * i + 1] as number);
    }
    return { paths, source: Uint32Array.from(source), grid: new PointGrid(Float32Array.from(xs), Float32Array.from(ys)), indexOf: new Map(paths.map((path, k) => [path, k])) };
  });

  /** What each point is coloured by: its label now, the run's prediction, its split, or its mislabel score; null where it has none. */
  const values = computed<(string | number | null)[]>(() => {
    const shown = map.value;
    const { paths, source } = points.value;
    if (!shown) return [];
    const byPath = dataset.byPath;
    if (colourMode.value === 'label') return paths.map((path) => byPath.get(path)?.label ?? null);
    const perImage = { prediction: shown.predicted, split: shown.split, mislabel: shown.mislabelScore }[colourMode.value];
    return paths.map((_, k) => perImage[source[k] as number] ?? null);
  });

  /** A class's colour as the grid gives it; a predicted class the project no longer has takes the next palette colours. */
  const classIndex = computed(() => {
    const index = new Map(dataset.classes.map((name, i) => [name, i]));
    if (colourMode.value === 'prediction') for (const value of values.value) if (typeof value === 'string' && !index.has(value)) index.set(value, index.size);
    return index;
  });

  function colourOf(value: string | number | null): string {
    if (value === null) return NO_VALUE_COLOUR;
    if (typeof value === 'number') return mislabelColour(value);
    if (colourMode.value === 'split') return SPLIT_COLORS[value as keyof typeof SPLIT_COLORS] ?? NO_VALUE_COLOUR;
    return classColor(value, classIndex.value.get(value) ?? 0);
  }

  /** Each point's fill colour, in `points` order. */
  const colours = computed(() => values.value.map(colourOf));

  /** The colours in use with how many points have each; the mislabel ramp itself is drawn as a bar beside. */
  const legend = computed<LegendEntry[]>(() => {
    // Scores are drawn on the ramp: of those, only the points without one get an entry.
    const counts = new Map<string | null, number>();
    for (const value of values.value) if (typeof value !== 'number') counts.set(value, (counts.get(value) ?? 0) + 1);
    const order: string[] = colourMode.value === 'split' ? [...SPLITS] : [...classIndex.value.keys()];
    const entries = order.flatMap((value) => {
      const count = counts.get(value) ?? 0;
      const name = colourMode.value === 'split' ? SPLIT_NAMES[value as keyof typeof SPLIT_NAMES] : value;
      return count > 0 ? [{ name, colour: colourOf(value), count }] : [];
    });
    const none = counts.get(null) ?? 0;
    return none > 0 ? [...entries, { name: NO_VALUE[colourMode.value], colour: NO_VALUE_COLOUR, count: none }] : entries;
  });

  /** 1 for each selected point, in `points` order. */
  const selectedMask = computed(() => Uint8Array.from(points.value.paths, (path) => (selection.value.has(path) ? 1 : 0)));
  /** The selected images still on the map, in map order: what the actions act on. */
  const selectedPaths = computed(() => points.value.paths.filter((path) => selection.value.has(path)));

  const hoveredPoint = computed<HoveredPoint | null>(() => {
    const shown = map.value;
    const index = hovered.value === null ? undefined : points.value.indexOf.get(hovered.value);
    const item = hovered.value === null ? undefined : dataset.byPath.get(hovered.value);
    if (!shown || index === undefined || !item) return null;
    const i = points.value.source[index] as number;
    return { index, item, predicted: shown.predicted[i] ?? null, split: shown.split[i] ?? null, mislabelScore: shown.mislabelScore[i] ?? null };
  });

  /** Hovers the point nearest `at` within `radius` (map units), or none; returns its path. */
  function hoverAt(at: Point, radius: number): string | null {
    const index = points.value.grid.nearest(at.x, at.y, radius);
    hovered.value = index < 0 ? null : (points.value.paths[index] as string);
    return hovered.value;
  }

  function select(indexes: readonly number[], add: boolean): void {
    const paths = indexes.map((k) => points.value.paths[k] as string);
    selection.value = new Set(add ? [...selection.value, ...paths] : paths);
  }
  /** Selects the points inside a lasso (map units); `add` keeps the selection there was. */
  const selectInPolygon = (polygon: readonly Point[], add = false) => select(points.value.grid.inPolygon(polygon), add);
  const selectInBox = (corner: Point, opposite: Point, add = false) => select(points.value.grid.inBox(boxOf(corner, opposite)), add);
  const selectAll = () => (selection.value = new Set(points.value.paths));
  const clearSelection = () => (selection.value = new Set());
  /** A click on a point: selects it alone, or with `add` toggles it in the selection. */
  function selectPoint(path: string, add = false): void {
    const next = new Set(add ? selection.value : []);
    if (!add || !next.delete(path)) next.add(path);
    selection.value = next;
  }

  /** Relabels the selection through the dataset store, so Ctrl+Z takes it back; how many moved. */
  async function relabelSelection(to: string | null): Promise<number> {
    const moving = selectedPaths.value.filter((path) => dataset.byPath.get(path)?.label !== to);
    if (moving.length === 0 || acting.value) return 0;
    acting.value = true;
    try {
      const moved = (await dataset.relabel(moving, to))?.moves.length ?? 0;
      if (moved > 0) notices.push('info', `${moved} image(s) relabeled ${to ?? 'unlabeled'} — Ctrl+Z takes it back`);
      return moved;
    } finally {
      acting.value = false;
    }
  }

  /** Makes the grid show exactly the selection; how many images it shows. */
  function openInGrid(): number {
    labeling.showPaths(selectedPaths.value);
    return labeling.visible.length;
  }

  /** Takes in what main says: a new map replaces the drawn one (and its selection); a running one is followed from now. */
  function adopt(next: MapStatus | null): void {
    status.value = next;
    if (next?.map && next.mapId !== drawnMapId) {
      // Main names each image where it is at the time of asking: only moves from now on need following.
      movedTo.value = new Map();
      drawnMapId = next.mapId;
      map.value = next.map;
      selection.value = new Set();
      hovered.value = null;
    }
  }

  async function refreshStatus(): Promise<void> {
    const current = await notices.guard(() => api.call('map.status', {}));
    if (current !== undefined) adopt(current);
  }

  async function refreshRuns(): Promise<void> {
    const listed = await notices.guard(() => api.call('runs.list', {}));
    if (listed) runs.value = listed.runs;
  }

  /** Keeps the chosen run while it is listed; else the drawn map's run, else the newest run with a report. */
  function chooseRun(): void {
    const listed = (id: string | null | undefined) => (id && mappableRuns.value.some((run) => run.runId === id) ? id : null);
    runId.value = listed(runId.value) ?? listed(status.value?.runId) ?? mappableRuns.value[0]?.runId ?? null;
  }

  /** Resyncs with main: a reloaded window finds the map still computing, or the last one. */
  async function load(): Promise<void> {
    await Promise.all([refreshRuns(), refreshStatus()]);
    chooseRun();
  }

  async function start(): Promise<void> {
    const id = runId.value;
    if (!id || running.value || starting.value) return;
    starting.value = true;
    refused.value = null;
    try {
      await api.call('map.start', { runId: id });
      await refreshStatus();
    } catch (error) {
      refused.value = error instanceof Error ? error.message : String(error);
      notices.push('error', refused.value);
    } finally {
      starting.value = false;
    }
  }

  async function cancel(): Promise<void> {
    const current = status.value;
    if (current?.state !== 'running') return;
    const answer = await notices.guard(() => api.call('map.cancel', { mapId: current.mapId }));
    // Not cancelled: it had just ended, and the event may have gone to nobody.
    if (answer && !answer.cancelled) await refreshStatus();
  }

  dataset.onMoves((moves) => {
    movedTo.value = followMoves(movedTo.value, moves);
    const destination = new Map(moves.map((m) => [m.from, m.to]));
    const now = (path: string) => destination.get(path) ?? path;
    if (selection.value.size > 0) selection.value = new Set([...selection.value].map(now).filter((path) => !inTrash(path)));
    if (hovered.value !== null) hovered.value = now(hovered.value);
  });

  api.on('map.progress', ({ mapId, phase, done, total }) => {
    if (status.value?.mapId === mapId && status.value.state === 'running') status.value = { ...status.value, progress: { phase, done, total } };
  });
  api.on('map.ended', ({ mapId, state, message }) => {
    if (status.value?.mapId !== mapId) return;
    status.value = { ...status.value, state, message };
    notices.push(state === 'failed' ? 'error' : 'info', state === 'failed' ? `The map failed: ${message}` : message, 8000);
    // The map comes with the status, not the event.
    void refreshStatus();
  });

  watch(runId, () => (refused.value = null));

  // Maps belong to a project: another project (or none) starts from nothing.
  watch(
    () => dataset.root,
    () => {
      runs.value = [];
      runId.value = null;
      status.value = null;
      map.value = null;
      refused.value = null;
      selection.value = new Set();
      hovered.value = null;
      movedTo.value = new Map();
      drawnMapId = null;
    },
  );

  return {
    runs, runId, status, map, starting, acting, refused, colourMode, selection, hovered, running, mappableRuns,
    points, values, colours, legend, selectedMask, selectedPaths, hoveredPoint,
    load, refreshStatus, refreshRuns, start, cancel, hoverAt, selectInPolygon, selectInBox, selectAll, clearSelection, selectPoint, relabelSelection, openInGrid,
  };
});
