import type { TrainingReport } from '../../../src/shared/report';
import type { DatasetSnapshot, EventName, EventPayload, FaceImportSettings, FaceImportSummary, ImageItem, LabelLoopApi, MoveResult, PredictionRow, PredictionSession, RouteInput, RouteName, RouteOutput, SplitPreview } from '../../../src/shared/contract';
import { emptySummary } from '../../../src/shared/faces';
import { inTrash, TRASH_DIR } from '../../../src/shared/images';

/** An in-memory stand-in for main: enough behaviour to drive the stores as the real one would. */
export class FakeApi implements LabelLoopApi {
  readonly host = 'web' as const;
  calls: { route: RouteName; input: unknown }[] = [];
  private listeners = new Map<string, Set<(payload: never) => void>>();
  private undoStack: MoveResult['moves'][] = [];
  private redoStack: MoveResult['moves'][] = [];
  /** Images in the trash, by their path there, until an undo puts them back. */
  private trashed = new Map<string, ImageItem>();

  constructor(public snapshot: DatasetSnapshot) {}

  static withItems(classes: string[], items: Partial<ImageItem>[]): FakeApi {
    return new FakeApi({
      root: '/p',
      name: 'p',
      classes,
      items: items.map((i) => ({ path: i.path ?? 'x.jpg', label: i.label ?? null, size: 1, version: 'v', status: i.status ?? 'ok', problem: i.problem })),
      warnings: [],
      recovered: [],
      readOnly: null,
      history: { canUndo: false, canRedo: false },
    });
  }

  async call<R extends RouteName>(route: R, input: RouteInput<R>): Promise<RouteOutput<R>> {
    this.calls.push({ route, input });
    const result = this.answer(route, input as never);
    return result as RouteOutput<R>;
  }

  on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): () => void {
    const set = this.listeners.get(event) ?? new Set();
    this.listeners.set(event, set);
    set.add(listener as (payload: never) => void);
    return () => set.delete(listener as (payload: never) => void);
  }

  emit<E extends EventName>(event: E, payload: EventPayload<E>): void {
    for (const listener of this.listeners.get(event) ?? []) (listener as (p: EventPayload<E>) => void)(payload);
  }

  imageUrl(path: string, version: string, size: string): string {
    return `fake://${size}/${path}?v=${version}`;
  }

  async importFile(className: string | null, name: string) {
    this.imports.push({ className, name });
    return { imported: [`${className ?? ''}/${name}`.replace(/^\//, '')], duplicates: [], rejected: [] };
  }

  imports: { className: string | null; name: string }[] = [];
  /** What importFaces answers per photo name (a string: the error main gives); unnamed photos find no face. */
  faceImports: Record<string, FaceImportSummary | string> = {};
  faceCalls: { className: string | null; settings: FaceImportSettings; name: string }[] = [];

  /** faces.context per image path (null for others), and what faces.photos lists. */
  faceContexts: Record<string, RouteOutput<'faces.context'>> = {};
  facePhotoList: RouteOutput<'faces.photos'>['photos'] = [];
  /** What predictFaces answers per photo name; unnamed photos find no face. */
  facePredictions: Record<string, PredictionRow[]> = {};

  async predictFaces(_sessionId: string, _settings: unknown, name: string): Promise<PredictionRow[]> {
    return this.facePredictions[name] ?? [{ name, path: null, version: null, predicted: null, probabilities: null, error: 'no face found' }];
  }

  async importFaces(className: string | null, settings: FaceImportSettings, name: string): Promise<FaceImportSummary> {
    this.faceCalls.push({ className, settings, name });
    const answer = this.faceImports[name] ?? { ...emptySummary(1), noFace: [name] };
    if (typeof answer === 'string') throw new Error(answer);
    return answer;
  }
  /** What training.engine answers per backend preference (and `backend/engine` or `backend/scratch` where set); a string is the error main gives. */
  engines: Partial<Record<string, RouteOutput<'training.engine'> | string>> = {};
  /** Runs listed before those with a report (interrupted, cancelled, …), newest first. */
  otherRuns: RouteOutput<'runs.list'>['runs'] = [];
  /** What training.status answers. */
  trainingStatus: RouteOutput<'training.status'> = null;
  /** What splits.preview answers for the given settings; tests that open the Data tab set it. */
  splitPreview: (input: RouteInput<'splits.preview'>) => SplitPreview = () => {
    throw new Error('FakeApi has no split preview');
  };
  augmentationImages: RouteOutput<'training.augmentationPreview'>['images'] = [];
  /** What check.status answers; check.start makes a running one. */
  checkStatus: RouteOutput<'check.status'> = null;
  checksStarted = 0;
  /** What map.status answers; map.start makes a running one for the run asked. */
  mapStatus: RouteOutput<'map.status'> = null;
  mapsStarted = 0;
  /** Runs main refuses to map, with its message (a small CNN has no backbone). */
  mapRefusals: Record<string, string> = {};
  /** The exclusion list (paths), as dataset.exclude keeps it. */
  excludedPaths = new Set<string>();
  /** False: main has no project open, so the app starts on the start screen. */
  projectOpen = true;
  /**
   * What runs.heatmaps answers (a promise: the test says when): by default a map for every path but
   * those in heatmapUnreadable, of the class asked or else "pred:<path>" (so a test sees whose map it is).
   */
  heatmapAnswer: (input: RouteInput<'runs.heatmaps'>) => RouteOutput<'runs.heatmaps'> | Promise<RouteOutput<'runs.heatmaps'>> = (input) => ({
    method: 'cam',
    resize: 'stretch',
    entries: input.paths.filter((path) => !this.heatmapUnreadable.has(path)).map((path) => ({ path, predicted: 'OK', class: input.className ?? `pred:${path}`, grid: [[0.1, 0.9], [0.5, 1]] })),
    unreadable: input.paths.filter((path) => this.heatmapUnreadable.has(path)).map((path) => ({ path, reason: 'The file is truncated or damaged' })),
  });
  heatmapUnreadable = new Set<string>();
  /** Reports by run id, for runs.list and runs.report. */
  reports = new Map<string, TrainingReport>();
  /** What predict.open answers; tests set the operating point. */
  predictionSession: PredictionSession = { sessionId: 's1', runId: 'r1', classes: ['NG', 'OK'], operatingPoint: null, inputSize: 160, engine: { engine: 'onnx', label: 'ONNX Runtime (CPU, 2 threads)', notUsed: [] } };
  /** Probabilities per file name in predictionSession.classes order; a missing name is unreadable. */
  predictions = new Map<string, number[]>();
  predicted: { sessionId: string; name: string; bytes: number }[] = [];

  async predictFile(sessionId: string, name: string, data: ArrayBuffer): Promise<PredictionRow> {
    this.predicted.push({ sessionId, name, bytes: data.byteLength });
    await new Promise((resolve) => setTimeout(resolve, 1));
    const probabilities = this.predictions.get(name) ?? null;
    return { name, path: probabilities ? `.labelloop/predict/${sessionId}/${name}` : null, version: 'v', predicted: null, probabilities, error: probabilities ? null : 'The file is truncated or damaged' };
  }

  private answer(route: RouteName, input: { paths?: string[]; to?: string | null }): unknown {
    switch (route) {
      case 'app.info':
        return { host: 'web', version: 'test', canPickFolder: false, demoProject: '/home/me/.config/labelloop/demo-project' };
      case 'project.current':
        return this.projectOpen ? this.snapshot : null;
      case 'project.open':
      case 'dataset.scan':
      case 'dataset.snapshot':
        return this.snapshot;
      case 'project.recent':
        return { recent: [] };
      case 'runs.list':
        return { runs: [...this.otherRuns, ...[...this.reports.keys()].map((runId) => ({ runId, name: null, state: 'finished', interruptedAt: null, keptModel: null, hasReport: true, valAccuracy: null, epochs: [] }))] };
      case 'faces.context':
        return this.faceContexts[(input as { path: string }).path] ?? null;
      case 'faces.photos':
        return { photos: this.facePhotoList };
      case 'runs.report': {
        const report = this.reports.get((input as { runId?: string }).runId ?? '');
        if (!report) throw new Error('no such run');
        return report;
      }
      case 'runs.heatmaps':
        return this.heatmapAnswer(input as RouteInput<'runs.heatmaps'>);
      case 'training.engine': {
        const asked = input as RouteInput<'training.engine'>;
        const engine = (asked.scratch ? this.engines[`${asked.backend}/scratch`] : this.engines[`${asked.backend}/${asked.engine}`]) ?? this.engines[asked.backend];
        if (engine === undefined || typeof engine === 'string') throw new Error(engine ?? 'no engine');
        return engine;
      }
      case 'training.status':
        return this.trainingStatus;
      case 'predict.open':
        return this.predictionSession;
      case 'splits.preview':
        return this.splitPreview(input as RouteInput<'splits.preview'>);
      case 'training.augmentationPreview':
        return { images: this.augmentationImages };
      case 'dataset.details': {
        const item = this.snapshot.items.find((i) => i.path === (input as { path?: string }).path);
        if (!item) throw new Error('no such image');
        return { path: item.path, status: item.status, problem: item.problem, notes: [] };
      }
      case 'dataset.relabel': {
        const moves = (input.paths ?? []).map((from) => ({ from, to: `${input.to ?? ''}/${from.split('/').pop()}`.replace(/^\//, '') }));
        this.undoStack.push(moves);
        this.redoStack = [];
        return this.move(moves);
      }
      case 'dataset.relabelEach': {
        const { groups } = input as RouteInput<'dataset.relabelEach'>;
        const moves = groups.flatMap((g) => g.paths.map((from) => ({ from, to: `${g.to ?? ''}/${from.split('/').pop()}`.replace(/^\//, '') })));
        this.undoStack.push(moves);
        this.redoStack = [];
        return this.move(moves);
      }
      case 'dataset.trash': {
        const moves = (input.paths ?? []).map((from) => ({ from, to: `${TRASH_DIR}/${from}` }));
        this.undoStack.push(moves);
        this.redoStack = [];
        return this.move(moves);
      }
      case 'dataset.exclude': {
        const { paths, excluded } = input as RouteInput<'dataset.exclude'>;
        for (const path of paths) {
          if (excluded) this.excludedPaths.add(path);
          else this.excludedPaths.delete(path);
        }
        return { excluded: [...this.excludedPaths].sort() };
      }
      case 'dataset.excluded':
        return { excluded: [...this.excludedPaths].sort() };
      case 'check.start': {
        const checkId = `check-${++this.checksStarted}`;
        this.checkStatus = { checkId, state: 'running', progress: { phase: 'measuring', done: 0, total: this.snapshot.items.length }, startedAt: '2026-12-05T10:00:00.000Z', report: null, message: null };
        return { checkId };
      }
      case 'check.status':
        return this.checkStatus;
      case 'check.cancel': {
        const running = this.checkStatus?.state === 'running' && this.checkStatus.checkId === (input as RouteInput<'check.cancel'>).checkId;
        if (running && this.checkStatus) this.checkStatus = { ...this.checkStatus, state: 'cancelled', message: 'Cancelled' };
        return { cancelled: running };
      }
      case 'map.start': {
        const { runId } = input as RouteInput<'map.start'>;
        if (this.mapRefusals[runId]) throw new Error(this.mapRefusals[runId]);
        const mapId = `map-${++this.mapsStarted}`;
        this.mapStatus = { mapId, runId, state: 'running', progress: { phase: 'embedding', done: 0, total: this.snapshot.items.length }, startedAt: '2026-12-05T10:00:00.000Z', map: null, message: null };
        return { mapId };
      }
      case 'map.status':
        return this.mapStatus;
      case 'map.cancel': {
        const running = this.mapStatus?.state === 'running' && this.mapStatus.mapId === (input as RouteInput<'map.cancel'>).mapId;
        if (running && this.mapStatus) this.mapStatus = { ...this.mapStatus, state: 'cancelled', message: 'Cancelled' };
        return { cancelled: running };
      }
      case 'dataset.undo': {
        const moves = (this.undoStack.pop() ?? []).map((m) => ({ from: m.to, to: m.from }));
        this.redoStack.push(moves);
        return this.move(moves);
      }
      case 'dataset.redo': {
        const moves = (this.redoStack.pop() ?? []).map((m) => ({ from: m.to, to: m.from }));
        this.undoStack.push(moves);
        return this.move(moves);
      }
      default:
        throw new Error(`FakeApi has no answer for ${route}`);
    }
  }

  private move(moves: MoveResult['moves']): MoveResult {
    const to = new Map(moves.map((m) => [m.from, m.to]));
    const items: ImageItem[] = [];
    for (const item of this.snapshot.items) {
      const destination = to.get(item.path);
      if (destination === undefined) items.push(item);
      else if (inTrash(destination)) this.trashed.set(destination, item);
      else items.push({ ...item, path: destination, label: destination.includes('/') ? (destination.split('/')[0] as string) : null });
    }
    for (const { from, to: destination } of moves) {
      const restored = this.trashed.get(from);
      if (!restored) continue;
      this.trashed.delete(from);
      items.push({ ...restored, path: destination });
    }
    const history = { canUndo: this.undoStack.length > 0, canRedo: this.redoStack.length > 0 };
    this.snapshot = { ...this.snapshot, items, history };
    return { moves, failed: [], history };
  }
}
