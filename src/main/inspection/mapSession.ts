// The embedding map as a session of the app: one at a time, computed in a worker thread (features
// the run's cache lacks, PCA, UMAP), progress and end as events with its id, a status snapshot for
// a reloaded window, cancel. Each point carries what the run said of that image (split, prediction,
// mislabel score), so the window can colour the map by any of them.
import path from 'node:path';
import type { EmbeddingMap, MapStatus } from '../../shared/contract';
import type { TrainingReport } from '../../shared/report';
import { UserError } from '../common/errors';
import type { EventBus } from '../common/events';
import { sessionId, startWork, throttled, WorkSlot } from '../common/work';
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
  /** The content hash of each path of the last map: what finds a point's image after a relabel or a move. */
  private hashOfPath = new Map<string, string>();

  constructor(
    private readonly events: EventBus,
    private readonly options: { workerFile?: string } = {},
  ) {}

  /** Starts mapping the project from the run's backbone features; refuses a run without a backbone, and while a map is computed. */
  async start(project: ProjectSession, runs: RunStore, runId: string): Promise<string> {
    const report = await runs.report(runId);
    if (report.backbone.kind === 'small_cnn') throw new UserError('no-backbone', 'This run has no backbone (a small CNN trained from scratch), so it has no features to map: choose a run with a backbone');
    const mapId = sessionId();
    const status: MapStatus = { mapId, runId, state: 'running', progress: { phase: 'embedding', done: 0, total: 0 }, startedAt: new Date().toISOString(), map: null, message: null };
    const slot = this.slot.begin(project.root, status);
    const emitProgress = throttled((progress: Progress) => this.events.emit('map.progress', { mapId, ...progress }));
    const end = (state: 'finished' | 'cancelled' | 'failed', message: string, map: EmbeddingMap | null = null) => {
      Object.assign(status, { state, message: state === 'finished' ? null : message, map });
      this.events.emit('map.ended', { mapId, state, message });
      slot.finish();
    };
    const started = performance.now();
    let input: MapInput;
    try {
      const items = project.snapshot().items.filter((item) => item.status !== 'unreadable');
      const hashes = await project.contentHashes(items);
      const cacheDir = path.join(project.root, DATA_DIR, 'cache', 'embeddings');
      input = {
        root: project.root,
        cacheDir,
        onnxDir: path.join(cacheDir, 'onnx'),
        layoutDir: path.join(project.root, DATA_DIR, 'cache', 'maps'),
        engine: 'auto',
        backbone: report.backbone,
        preprocessing: report.preprocessing,
        items: items.flatMap((item) => (hashes.has(item.path) ? [{ path: item.path, hash: hashes.get(item.path) as string }] : [])),
        backboneName: BACKBONE_NAMES[report.backbone.kind] ?? report.backbone.kind,
      };
    } catch (error) {
      end('failed', error instanceof Error ? error.message : String(error));
      return mapId;
    }
    const work = startWork<MapLayout, Progress>({
      workerFile: this.options.workerFile,
      workerData: { kind: 'map', input },
      inProcess: (hooks) => layoutMap(input, { onProgress: (phase, done, total) => hooks.onProgress({ phase, done, total }), isCancelled: hooks.isCancelled }),
      onProgress: (progress) => {
        status.progress = progress;
        emitProgress(progress);
      },
      cancelledMessage: 'The map was cancelled',
    });
    slot.setCancel(work.cancel);
    const hashOfPath = new Map(input.items.map((item) => [item.path, item.hash]));
    void work.outcome.then((outcome) => {
      if ('result' in outcome) this.hashOfPath = hashOfPath;
      if (!('result' in outcome)) return end(outcome.state, outcome.state === 'failed' ? `The map could not be computed: ${outcome.message}` : outcome.message);
      const map = withRunFacts(outcome.result, report, runId, (performance.now() - started) / 1000);
      end('finished', `Map of ${map.paths.length} image(s) in ${map.seconds.toFixed(1)} s${map.cached ? ' (from the cache)' : ''}: ${map.method}`, map);
    });
    return mapId;
  }

  /**
   * The map in progress for this project, or the last one computed while it is open, each point
   * under its image's path now (found by content), so a reloaded window draws relabeled images too.
   */
  async status(project: ProjectSession): Promise<MapStatus | null> {
    const current = this.slot.statusOf(project.root);
    if (!current?.map) return current ? structuredClone(current) : null;
    const items = project.snapshot().items;
    const present = new Set(items.map((item) => item.path));
    const mapped = new Set(current.map.paths);
    // Images not on the map under their path now: those moved since, findable by content.
    const pathsOfHash = new Map<string, string[]>();
    for (const [relative, hash] of await project.contentHashes(items)) if (!mapped.has(relative)) pathsOfHash.set(hash, [...(pathsOfHash.get(hash) ?? []), relative]);
    const paths = current.map.paths.map((relative) => (present.has(relative) ? relative : (pathsOfHash.get(this.hashOfPath.get(relative) ?? '')?.shift() ?? relative)));
    return { ...structuredClone(current), map: { ...structuredClone(current.map), paths } };
  }

  cancel(mapId: string): boolean {
    return this.slot.cancel(mapId);
  }

  whenDone(mapId: string): Promise<MapStatus> {
    return this.slot.whenDone(mapId);
  }

  closeProject(root: string): Promise<void> {
    return this.slot.closeProject(root);
  }
}

/** Each point's split, prediction and mislabel score as the run reported them (by the path it had then). */
function withRunFacts(layout: MapLayout, report: TrainingReport, runId: string, seconds: number): EmbeddingMap {
  const sampleAt = new Map(report.samples.map((sample) => [sample.path, sample]));
  const facts = layout.paths.map((p) => sampleAt.get(p));
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
