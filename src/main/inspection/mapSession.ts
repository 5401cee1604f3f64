// The embedding map as a session of the app: one at a time, computed in a worker thread (features
// the run's cache lacks, PCA, UMAP), progress and end as events with its id, a status snapshot for
// a reloaded window, cancel. Each point carries what the run said of that image (split, prediction,
// mislabel score), so the window can colour the map by any of them.
import path from 'node:path';
import type { EmbeddingMap, MapStatus } from '../../shared/contract';
import type { TrainingReport } from '../../shared/report';
import { UserError } from '../common/errors';
import type { EventBus } from '../common/events';
import { sessionId, startWork, throttled, type WorkOutcome, WorkSlot } from '../common/work';
import type { ProjectSession } from '../project/project';
import { DATA_DIR } from '../project/scan';
import type { RunStore } from '../training/runs';
import { layoutMap, type MapInput, type MapLayout, type MapPhase } from './embeddingMap';

/** The backbones in words, as the Train tab names them. */
const BACKBONE_NAMES: Record<string, string> = {
  mobilenet_v2: 'MobileNetV2',
  mobilenet_v2_depths: 'MobileNetV2 at three depths',
  inception_v3: 'InceptionV3 to mixed5',
  keras: 'Keras model',
};

type Progress = { phase: MapPhase; done: number; total: number };

export class MapService {
  private readonly slot = new WorkSlot<MapStatus>((status) => status.mapId, 'A map is already being computed: wait for it or cancel it');
  /** The last finished map of the open project: a cancelled or failed one leaves it shown. */
  private lastFinished: { root: string; status: MapStatus; hashOfPath: Map<string, string> } | null = null;

  constructor(
    private readonly events: EventBus,
    private readonly options: { workerFile?: string } = {},
  ) {}

  get running(): boolean {
    return this.slot.running;
  }

  /**
   * Starts mapping the project from the run's backbone features and returns at once with the map's
   * id; refuses a run without a backbone, and while a map is computed.
   */
  async start(project: ProjectSession, runs: RunStore, runId: string): Promise<string> {
    const report = await runs.report(runId);
    if (report.backbone.kind === 'small_cnn') throw new UserError('no-backbone', 'This run has no backbone (a small CNN trained from scratch), so it has no features to map: choose a run with a backbone');
    if (!project.isOpen) throw new UserError('no-project', 'The project was closed');
    const mapId = sessionId();
    const status: MapStatus = { mapId, runId, state: 'running', progress: { phase: 'embedding', done: 0, total: 0 }, startedAt: new Date().toISOString(), map: null, message: null };
    const slot = this.slot.begin(project.root, status);
    const emitProgress = throttled((progress: Progress) => this.events.emit('map.progress', { mapId, ...progress }));
    const started = performance.now();
    const hashOfPath = new Map<string, string>();
    const run = async (): Promise<WorkOutcome<MapLayout>> => {
      // The content hashes of a large project opened for the first time take a while: a cancel meanwhile is heard after.
      const items = (await project.settledSnapshot()).items.filter((item) => item.status !== 'unreadable');
      const hashes = await project.contentHashes(items);
      // In the grid's order: the same project gives the same lists, whatever order the hashes came in.
      for (const item of items) if (hashes.has(item.path)) hashOfPath.set(item.path, hashes.get(item.path) as string);
      if (slot.cancelled()) return { state: 'cancelled', message: CANCELLED };
      const cacheDir = path.join(project.root, DATA_DIR, 'cache', 'embeddings');
      const input: MapInput = {
        root: project.root,
        cacheDir,
        onnxDir: path.join(cacheDir, 'onnx'),
        layoutDir: path.join(project.root, DATA_DIR, 'cache', 'maps'),
        engine: 'auto',
        backbone: report.backbone,
        preprocessing: report.preprocessing,
        items: [...hashOfPath].map(([relative, hash]) => ({ path: relative, hash })),
        backboneName: BACKBONE_NAMES[report.backbone.kind] ?? report.backbone.kind,
      };
      const work = startWork<MapLayout, Progress>({
        workerFile: this.options.workerFile,
        workerData: { kind: 'map', input },
        inProcess: (hooks) => layoutMap(input, { onProgress: (phase, done, total) => hooks.onProgress({ phase, done, total }), isCancelled: hooks.isCancelled }),
        onProgress: (progress) => {
          status.progress = progress;
          emitProgress(progress);
        },
        cancelledMessage: CANCELLED,
      });
      slot.setCancel(work.cancel);
      return work.outcome;
    };
    void run()
      .catch((error: unknown): WorkOutcome<MapLayout> => ({ state: 'failed', message: error instanceof Error ? error.message : String(error) }))
      .then((outcome) => {
        try {
          if ('result' in outcome) {
            const map = withRunFacts(outcome.result, report, runId, hashOfPath, (performance.now() - started) / 1000);
            Object.assign(status, { state: 'finished', map });
            this.lastFinished = { root: project.root, status, hashOfPath };
            this.events.emit('map.ended', { mapId, state: 'finished', message: `Map of ${map.paths.length} image(s) in ${map.seconds.toFixed(1)} s${map.cached ? ' (from the cache)' : ''}: ${map.method}` });
          } else {
            const message = outcome.state === 'failed' ? `The map could not be computed: ${outcome.message}` : outcome.message;
            Object.assign(status, { state: outcome.state, message });
            this.events.emit('map.ended', { mapId, state: outcome.state, message });
          }
        } finally {
          slot.finish();
        }
      });
    return mapId;
  }

  /**
   * The map in progress for this project, else the last one finished while it is open (a cancelled
   * or failed one said so in its end event), each point under its image's path now (found by
   * content), so a reloaded window draws relabeled images too.
   */
  async status(project: ProjectSession): Promise<MapStatus | null> {
    const current = this.slot.statusOf(project.root);
    if (current?.state === 'running') return structuredClone(current);
    const last = this.lastFinished?.root === project.root ? this.lastFinished : null;
    if (!last?.status.map) return null;
    const items = project.snapshot().items;
    const hashNow = await project.contentHashes(items);
    const mapped = new Set(last.status.map.paths);
    // Images not on the map under their path now (moved since), findable by content.
    const pathsOfHash = new Map<string, string[]>();
    for (const [relative, hash] of hashNow) if (!mapped.has(relative)) pathsOfHash.set(hash, [...(pathsOfHash.get(hash) ?? []), relative]);
    const paths = last.status.map.paths.map((relative) => {
      const hash = last.hashOfPath.get(relative);
      // Still there, and still the same image (not another one given its freed name).
      if (hashNow.get(relative) === hash) return relative;
      return pathsOfHash.get(hash ?? '')?.shift() ?? relative;
    });
    return { ...structuredClone(last.status), map: { ...structuredClone(last.status.map), paths } };
  }

  cancel(mapId: string): boolean {
    return this.slot.cancel(mapId);
  }

  whenDone(mapId: string): Promise<MapStatus> {
    return this.slot.whenDone(mapId);
  }

  async closeProject(root: string): Promise<void> {
    await this.slot.closeProject(root);
    if (this.lastFinished?.root === root) this.lastFinished = null;
  }
}

const CANCELLED = 'The map was cancelled';

/** Each point's split, prediction and mislabel score as the run reported them, found by content (by path in older reports). */
function withRunFacts(layout: MapLayout, report: TrainingReport, runId: string, hashOfPath: Map<string, string>, seconds: number): EmbeddingMap {
  const byHash = new Map(report.samples.flatMap((sample) => (sample.hash ? [[sample.hash, sample] as const] : [])));
  const byPath = new Map(report.samples.map((sample) => [sample.path, sample]));
  const facts = layout.paths.map((p) => byHash.get(hashOfPath.get(p) ?? '') ?? (byHash.size === 0 ? byPath.get(p) : undefined));
  return {
    runId,
    method: layout.method,
    paths: layout.paths,
    coords: layout.coords,
    split: facts.map((s) => s?.split ?? null),
    predicted: facts.map((s) => s?.predicted ?? null),
    mislabelScore: facts.map((s) => s?.mislabelScore ?? null),
    skipped: layout.skipped,
    embedded: layout.embedded,
    seconds,
    cached: layout.cached,
  };
}
