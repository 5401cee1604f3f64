// The main-process application: every contract route mapped to the services, with input validation.
// The Electron adapter and the web server are thin transports over `handle` and `events`.
import { access } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import type { Envelope, FaceImportSummary, PredictionRow, RouteName, RouteOutput, ThumbnailSize, TrainingConfig } from '../shared/contract';
import { FaceImportSettings, FacePredictSettings, isRouteName, routes } from '../shared/contract';
import { NO_FACE } from './inference/faces/predictFaces';
import { type FaceCropper, faceCropper } from './inference/faces/faceWorker';
import { cropName, saveFaces } from './inference/faces/importFaces';
import { faceContext, facePhotos } from './inference/faces/records';
import { emptySummary } from '../shared/faces';
import { uploadBaseName, uploadProblem } from './project/uploads';
import { DEMO_MARKER, generateDemoProject } from './project/demo';
import { UserError } from './common/errors';
import { EventBus } from './common/events';
import type { ProjectOptions } from './project/project';
import { ProjectSession } from './project/project';
import { RecentProjects } from './project/recent';
import type { Probe } from './project/thumbnails';
import { exportRunInWorker } from './inference/exportWorker';
import { explainInWorker } from './inspection/heatmapWorker';
import { CheckService } from './inspection/checkSession';
import { MapService } from './inspection/mapSession';
import { PredictionService } from './inference/predictions';
import { RunStore } from './training/runs';
import { TrainingService } from './training/session';
import { DATA_DIR } from './project/scan';

export interface AppOptions {
  host: 'electron' | 'web';
  version: string;
  configDir: string;
  /** Native folder picker; only the desktop app has one. */
  pickFolder?: () => Promise<string | null>;
  projectOptions?: ProjectOptions;
  /** out/main/worker.js in the built app; tests leave it out and train in-process. */
  workerFile?: string;
}

type Handlers = { [R in RouteName]: (input: z.output<(typeof routes)[R]['input']>) => Promise<RouteOutput<R>> };

export function defaultConfigDir(): string {
  if (process.env.LABELLOOP_CONFIG_DIR) return process.env.LABELLOOP_CONFIG_DIR;
  const base = process.env.XDG_CONFIG_HOME ?? path.join(os.homedir(), '.config');
  return path.join(base, 'labelloop');
}

/** A backbone file named by the window must lie inside the project (or be an http(s) URL). */
async function confineBackbone(project: ProjectSession, config: TrainingConfig): Promise<TrainingConfig> {
  if (config.backbone.kind !== 'keras' || /^https?:\/\//i.test(config.backbone.source)) return config;
  const source = await project.confinement.existing(config.backbone.source);
  return { ...config, backbone: { ...config.backbone, source } };
}

export class LabelLoopApp {
  readonly events = new EventBus();
  private project: ProjectSession | null = null;
  private readonly recent: RecentProjects;
  private readonly handlers: Handlers;
  readonly training: TrainingService;
  readonly predictions: PredictionService;
  readonly checks: CheckService;
  readonly maps: MapService;
  private readonly faceCropper: FaceCropper;

  constructor(private readonly options: AppOptions) {
    this.recent = new RecentProjects(options.configDir);
    this.training = new TrainingService(this.events, { workerFile: options.workerFile });
    this.predictions = new PredictionService({ workerFile: options.workerFile });
    this.checks = new CheckService(this.events, { workerFile: options.workerFile });
    this.maps = new MapService(this.events, { workerFile: options.workerFile });
    this.faceCropper = faceCropper(options.workerFile);
    this.handlers = {
      'app.info': async () => ({ host: options.host, version: options.version, canPickFolder: Boolean(options.pickFolder), demoProject: this.demoDir() }),
      'project.recent': async () => ({ recent: await this.recent.list() }),
      'project.pickFolder': async () => ({ path: options.pickFolder ? await options.pickFolder() : null }),
      'project.open': async ({ path: folder }) => this.open(folder),
      'project.openDemo': async () => this.open(await this.ensureDemo()),
      'project.current': async () => this.project?.snapshot() ?? null,
      'project.close': async () => ({ closed: await this.closeProject() }),
      'dataset.scan': async () => this.requireProject().rescan(),
      'dataset.snapshot': async () => this.requireProject().settledSnapshot(),
      'dataset.relabel': async ({ paths, to }) => this.requireProject().relabel(paths, to),
      'dataset.relabelEach': async ({ groups }) => this.requireProject().relabelEach(groups),
      'dataset.trash': async ({ paths }) => this.requireProject().trash(paths),
      'dataset.exclude': async ({ paths, excluded }) => ({ excluded: await this.requireProject().setExcluded(paths, excluded) }),
      'dataset.excluded': async () => ({ excluded: await this.requireProject().excludedPaths() }),
      'dataset.undo': async () => this.requireProject().undo(),
      'dataset.redo': async () => this.requireProject().redo(),
      'dataset.details': async ({ path: file }) => this.requireProject().details(file),
      'classes.create': async ({ name }) => this.requireProject().createClass(name),
      'classes.rename': async ({ from, to }) => this.requireProject().renameClass(from, to),
      'classes.delete': async ({ name }) => this.requireProject().deleteClass(name),
      'thumbnails.status': async () => this.project?.progress() ?? { done: 0, total: 0, unreadable: 0 },
      'training.start': async ({ config }) => ({ runId: await this.startTraining(config) }),
      'training.status': async () => this.training.status(),
      'training.engine': async ({ backend, engine, scratch }) => this.training.engine(backend, scratch ? 'none' : engine),
      'training.cancel': async ({ runId }) => ({ cancelled: this.training.cancel(runId) }),
      'runs.list': async () => ({ runs: await this.runs().list(this.runningId()) }),
      'runs.report': async ({ runId }) => this.runs().report(runId),
      'runs.setOperatingPoint': async ({ runId, positiveClass, threshold }) => {
        await this.writableRuns('the operating point cannot be saved').setOperatingPoint(runId, { positiveClass, threshold });
        return { saved: true };
      },
      'runs.rename': async ({ runId, name }) => {
        await this.writableRuns('runs cannot be renamed').rename(runId, name);
        return { renamed: true };
      },
      'runs.retrain': async ({ runId }) => ({ runId: await this.startTraining(await this.runs().retrainConfig(runId)) }),
      'runs.delete': async ({ runId }) => {
        await this.writableRuns('runs cannot be deleted').delete(runId, this.runningId());
        return { deleted: true };
      },
      'runs.export': async ({ runId }) => {
        const folder = this.exportFolder(runId);
        return { folder, ...(await exportRunInWorker(this.writableRuns('models cannot be exported into it').runDir(runId), folder, this.options.workerFile)) };
      },
      'runs.heatmaps': async ({ runId, paths, className, scale }) => {
        const project = this.requireProject();
        // Only files inside the project (symlinks out of it refused); a vanished one is reported, not fatal.
        const missing: { path: string; reason: string }[] = [];
        const found = new Map<string, string>();
        for (const relative of paths) {
          await project.confinement.existing(relative).then(
            (file) => found.set(file, relative),
            (error: unknown) => missing.push({ path: relative, reason: error instanceof Error ? error.message : String(error) }),
          );
        }
        const runDir = this.runs().runDir(runId);
        if (found.size === 0) return { method: 'cam' as const, resize: 'stretch' as const, entries: [], unreadable: missing };
        const result = await explainInWorker(runDir, [...found.keys()], { className, scale }, this.options.workerFile);
        // Stopped by a newer ask (the window moved on): that one's answer is what the window shows.
        if (!result) return { method: 'cam' as const, resize: 'stretch' as const, entries: [], unreadable: [] };
        return {
          method: result.method,
          resize: result.preprocessing.resize,
          entries: result.entries.map((e) => ({ path: found.get(e.file) as string, predicted: e.predicted, class: e.class, grid: e.grid })),
          unreadable: [...missing, ...result.unreadable.map((u) => ({ path: found.get(u.file) as string, reason: u.reason }))],
        };
      },
      'faces.context': async ({ path: relative }) => faceContext(this.requireProject(), relative),
      'faces.photos': async () => ({ photos: await facePhotos(this.requireProject()) }),
      'predict.open': async ({ runId }) => this.predictions.open(this.requireProject().root, runId, this.runs().runDir(runId)),
      'check.start': async () => ({ checkId: this.checks.start(this.requireProject()) }),
      'check.status': async () => this.checks.status(this.requireProject()),
      'check.cancel': async ({ checkId }) => ({ cancelled: this.checks.cancel(checkId) }),
      'map.start': async ({ runId }) => {
        // A run and a map both add rows to the embedding cache: one writer at a time.
        if (this.training.status()?.state === 'running') throw new UserError('busy', 'A run is training: compute the map when it has finished');
        return { mapId: await this.maps.start(this.requireProject(), this.runs(), runId) };
      },
      'map.status': async () => this.maps.status(this.requireProject()),
      'map.cancel': async ({ mapId }) => ({ cancelled: this.maps.cancel(mapId) }),
      'splits.preview': async (settings) => this.training.previewSplits(this.requireProject(), settings),
      'training.augmentationPreview': async ({ augmentation, inputSize }) => this.training.previewAugmentation(this.requireProject(), augmentation, inputSize),
    };
  }

  get currentProject(): ProjectSession | null {
    return this.project;
  }

  /** Validates an untrusted call and runs it; never throws, so transports only forward envelopes. */
  async handle(route: unknown, input: unknown): Promise<Envelope<unknown>> {
    if (!isRouteName(route)) return { ok: false, error: { code: 'unknown-route', message: `Unknown route ${String(route)}` } };
    const parsed = routes[route].input.safeParse(input ?? {});
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue?.path.length ? ` (${issue.path.join('.')})` : '';
      return { ok: false, error: { code: 'invalid-input', message: `${issue?.message ?? 'Invalid input'}${where}` } };
    }
    try {
      const handler = this.handlers[route] as (input: unknown) => Promise<unknown>;
      return { ok: true, result: await handler(parsed.data) };
    } catch (error) {
      if (error instanceof UserError) return { ok: false, error: { code: error.code, message: error.message } };
      console.error(`[labelloop] ${route} failed:`, error);
      return { ok: false, error: { code: 'internal', message: error instanceof Error ? error.message : String(error) } };
    }
  }

  /** Thumbnail or large preview of a project image; confinement is enforced by the project. */
  async image(relative: string, size: ThumbnailSize): Promise<Probe> {
    return this.requireProject().thumbnail(relative, size);
  }

  /** Where `runs.export` writes a run's model: inside the project, as the window may only touch project files. */
  exportFolder(runId: string): string {
    const runDir = this.runs().runDir(runId); // refuses anything but a run id
    return path.join(this.requireProject().root, DATA_DIR, 'exports', path.basename(runDir));
  }

  async importFile(className: string | null, name: string, data: Uint8Array) {
    return this.requireProject().importFile(className, name, data);
  }

  /**
   * One photo from the window cut into face crops in a class (null: unlabeled): detection runs in
   * the compute worker, the crops go through the project's import, faces.jsonl says where they came from.
   */
  async importFaces(className: string | null, settings: unknown, name: string, data: Uint8Array): Promise<FaceImportSummary> {
    const project = this.requireProject();
    project.requireWritable('faces cannot be imported');
    const parsed = FaceImportSettings.safeParse(settings);
    if (!parsed.success) throw new UserError('invalid-input', `Invalid face import settings: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    if (className !== null && !project.snapshot().classes.includes(className)) throw new UserError('no-such-class', `There is no class "${className}"`);
    const source = uploadBaseName(name);
    const summary = emptySummary(1);
    const problem = uploadProblem(source, data.byteLength);
    if (problem) {
      summary.unreadable.push({ path: source, reason: problem });
      return summary;
    }
    let photo;
    try {
      photo = await this.faceCropper.crop(data, { ...parsed.data, preview: true });
    } catch (error) {
      summary.unreadable.push({ path: source, reason: error instanceof Error ? error.message : String(error) });
      return summary;
    }
    await saveFaces(project, source, data, photo, { ...parsed.data, className }, summary);
    return summary;
  }

  /** One photo for an open prediction session: its faces cut as the import cuts them, a row per face. */
  async predictFaces(sessionId: string, settings: unknown, name: string, data: Uint8Array): Promise<PredictionRow[]> {
    const parsed = FacePredictSettings.safeParse(settings);
    if (!parsed.success) throw new UserError('invalid-input', `Invalid face settings: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    this.predictions.requireSession(sessionId); // before the detector's work, not after it
    const photoName = name.replace(/\\/g, '/');
    const noRow = (error: string): PredictionRow[] => [{ name: photoName, path: null, version: null, predicted: null, probabilities: null, error }];
    const problem = uploadProblem(uploadBaseName(photoName), data.byteLength);
    if (problem) return noRow(problem);
    let photo;
    try {
      photo = await this.faceCropper.crop(data, { ...parsed.data, minSize: 1, preview: false });
    } catch (error) {
      return noRow(error instanceof Error ? error.message : String(error));
    }
    if (photo.faces.length === 0) return noRow(NO_FACE);
    const { width, height } = photo;
    return Promise.all(
      photo.faces.map(async (face) => ({
        // Named after the photo, in its folder, so faces of same-named photos stay apart.
        ...(await this.predictions.predictFile(sessionId, path.posix.join(path.posix.dirname(photoName), cropName(photoName, face.face)), face.jpeg)),
        face: { photo: photoName, face: face.face, box: face.box, score: face.score, photoWidth: width, photoHeight: height },
      })),
    );
  }

  async predictFile(sessionId: string, name: string, data: Uint8Array) {
    return this.predictions.predictFile(sessionId, name, data);
  }

  async dispose(): Promise<void> {
    await this.closeProject();
    await this.faceCropper.dispose();
  }

  private async startTraining(config: TrainingConfig): Promise<string> {
    const project = this.requireProject();
    if (this.maps.running) throw new UserError('busy', 'The embedding map is being computed: wait for it or cancel it, then train');
    project.requireWritable('training cannot start, as a run is saved in the project');
    const confined = await confineBackbone(project, config);
    // One model on the accelerator at a time: a loaded prediction model would hold GPU memory
    // (TensorFlow reserves most of it per process) that the run needs.
    if (this.training.status()?.state !== 'running') await this.predictions.close();
    return this.training.start(project, confined);
  }

  private async open(folder: string) {
    const next = await ProjectSession.open(folder, this.events, this.options.projectOptions);
    await this.closeProject();
    this.project = next;
    await this.recent.remember(next.root).catch(() => undefined);
    return next.snapshot();
  }

  private async closeProject(): Promise<boolean> {
    if (!this.project) return false;
    const closing = this.project;
    this.project = null;
    await this.predictions.close();
    await this.checks.closeProject(closing.root);
    await this.maps.closeProject(closing.root);
    await closing.close();
    return true;
  }

  /** Where Open demo project writes the demo: the start screen and the README say so. */
  private demoDir(): string {
    return path.join(this.options.configDir, 'demo-project');
  }

  private async ensureDemo(): Promise<string> {
    const dir = this.demoDir();
    const ready = await access(path.join(dir, DEMO_MARKER)).then(() => true, () => false);
    if (!ready) await generateDemoProject(dir);
    return dir;
  }

  /** The run this app is training right now, if any. */
  private runningId(): string | null {
    const status = this.training.status();
    return status?.state === 'running' ? status.runId : null;
  }

  private runs(): RunStore {
    return new RunStore(path.join(this.requireProject().root, DATA_DIR, 'runs'));
  }

  /** The runs of a project that can be written; a read-only one refuses, saying `consequence`. */
  private writableRuns(consequence: string): RunStore {
    this.requireProject().requireWritable(consequence);
    return this.runs();
  }

  requireProject(): ProjectSession {
    if (!this.project) throw new UserError('no-project', 'No project is open: open a folder first');
    return this.project;
  }
}
