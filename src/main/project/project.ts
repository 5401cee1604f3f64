// One open project: a folder whose subfolders are classes. Plain TypeScript, no Electron, so the
// desktop app, web mode and the CLI all drive the same code.
import { link, mkdir, readdir, rename, rmdir, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import type { DatasetSnapshot, ImageDetails, ImageItem, ImportResult, MoveResult, ThumbnailProgress } from '../../shared/contract';
import { gridOrder } from '../../shared/images';
import { PathConfinement } from './confine';
import { HashCache, hashBuffer, hashCachePath } from './contentHash';
import { describeFsError, errnoCode, UserError } from '../common/errors';
import type { EventBus } from '../common/events';
import { partialPath, uniqueName } from './fileMove';
import type { CrashPoints } from './journal';
import { LabelJournal } from './journal';
import { DATA_DIR, fileVersion, scanProject } from './scan';
import { NOT_AN_IMAGE_NAME, uploadBaseName, uploadProblem } from './uploads';
import { CancelledThumbnail, describeImage, explainDecodeError, MAX_INPUT_PIXELS, ThumbnailService } from './thumbnails';

export interface ProjectOptions {
  crashPoints?: CrashPoints;
  /** How often to check that the project folder still exists (ms); 0 turns it off. */
  watchIntervalMs?: number;
  /** Validate every image in the background after opening (off in tests that want determinism). */
  backgroundValidation?: boolean;
}

export class ProjectSession {
  private items = new Map<string, ImageItem>();
  private classes: string[] = [];
  private warnings: string[] = [];
  private readonly verdicts = new Map<string, { status: ImageItem['status']; problem?: string }>();
  private watchTimer: NodeJS.Timeout | null = null;
  private lost = false;
  private closed = false;
  private validation: Promise<void> = Promise.resolve();

  private constructor(
    readonly confinement: PathConfinement,
    private readonly journal: LabelJournal,
    readonly thumbnails: ThumbnailService,
    private readonly hashes: HashCache,
    private readonly events: EventBus,
    private readonly recovered: string[],
    private readonly options: ProjectOptions,
  ) {}

  static async open(root: string, events: EventBus, options: ProjectOptions = {}): Promise<ProjectSession> {
    const absolute = path.resolve(root);
    let info;
    try {
      info = await stat(absolute);
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') throw new UserError('cannot-open', `Cannot open ${absolute}: the folder does not exist`);
      throw new UserError('cannot-open', `Cannot open ${absolute}: ${describeFsError(error, absolute)}`);
    }
    if (!info.isDirectory()) throw new UserError('cannot-open', `${absolute} is a file, not a folder`);
    const confinement = await PathConfinement.create(absolute);
    const dataDir = path.join(absolute, DATA_DIR);
    try {
      await mkdir(path.join(dataDir, 'thumbs'), { recursive: true });
    } catch (error) {
      throw new UserError('cannot-open', `Cannot write LabelLoop's data folder: ${describeFsError(error, dataDir)}`);
    }
    const journal = new LabelJournal(confinement, dataDir, options.crashPoints);
    const recovered = await journal.open();
    const session = new ProjectSession(
      confinement,
      journal,
      new ThumbnailService(path.join(dataDir, 'thumbs')),
      new HashCache(hashCachePath(dataDir)),
      events,
      recovered,
      options,
    );
    await session.rescan();
    session.watch(options.watchIntervalMs ?? 1500);
    return session;
  }

  get root(): string {
    return this.confinement.root;
  }

  get name(): string {
    return path.basename(this.root);
  }

  snapshot(): DatasetSnapshot {
    return {
      root: this.root,
      name: this.name,
      classes: [...this.classes],
      // Moves re-key the map, so its order drifts: hand out the list in grid order.
      items: [...this.items.values()].map((item) => ({ ...item })).sort(gridOrder),
      warnings: [...this.warnings],
      history: this.journal.history,
      recovered: [...this.recovered],
    };
  }

  async rescan(): Promise<DatasetSnapshot> {
    let result;
    try {
      result = await scanProject(this.confinement);
    } catch (error) {
      throw new UserError('project-lost', `Cannot read the project folder: ${describeFsError(error, this.root)}`);
    }
    this.classes = result.classes;
    this.warnings = result.warnings;
    this.items = new Map(
      result.items.map((item) => {
        const known = this.verdicts.get(item.version);
        return [item.path, known && item.status === 'pending' ? { ...item, ...known } : item];
      }),
    );
    if (this.options.backgroundValidation !== false) this.validateInBackground();
    return this.snapshot();
  }

  /** Waits for the background validation that the last scan started. */
  whenValidated(): Promise<void> {
    return this.validation;
  }

  async relabel(paths: string[], to: string | null): Promise<MoveResult> {
    if (to !== null && !this.classes.includes(to)) throw new UserError('no-such-class', `There is no class "${to}"`);
    const plan = await this.journal.plan(paths, to ?? '');
    const done = await this.journal.relabel(plan.moves);
    this.applyMoves(done.moves);
    return { moves: done.moves, failed: [...plan.failed, ...done.failed], history: this.journal.history };
  }

  async undo(): Promise<MoveResult> {
    const done = await this.journal.undo();
    this.applyMoves(done.moves);
    return { ...done, history: this.journal.history };
  }

  async redo(): Promise<MoveResult> {
    const done = await this.journal.redo();
    this.applyMoves(done.moves);
    return { ...done, history: this.journal.history };
  }

  async details(relative: string): Promise<ImageDetails> {
    const absolute = await this.confinement.existing(relative);
    const item = this.items.get(relative);
    try {
      return { path: relative, status: item?.status ?? 'pending', problem: item?.problem, ...(await describeImage(absolute)) };
    } catch (error) {
      return { path: relative, status: 'unreadable', problem: await explainDecodeError(absolute, error), notes: [] };
    }
  }

  /** The cached thumbnail for an image of this project; records a decode failure on the item. */
  async thumbnail(relative: string, size: 'thumb' | 'large') {
    const absolute = await this.confinement.existing(relative);
    const info = await stat(absolute);
    const version = fileVersion(info);
    const probe = await this.thumbnails.get(absolute, version, size);
    if (size === 'thumb') this.recordVerdict(relative, version, probe.ok ? { status: 'ok' } : { status: 'unreadable', problem: probe.problem });
    return probe;
  }

  async createClass(name: string): Promise<DatasetSnapshot> {
    const absolute = this.confinement.lexical(name);
    try {
      await mkdir(absolute);
    } catch (error) {
      if (errnoCode(error) === 'EEXIST') throw new UserError('class-exists', `A class or file named "${name}" already exists`);
      throw new UserError('fs', describeFsError(error, name));
    }
    return this.rescan();
  }

  async renameClass(from: string, to: string): Promise<DatasetSnapshot> {
    if (!this.classes.includes(from)) throw new UserError('no-such-class', `There is no class "${from}"`);
    const source = await this.confinement.existing(from);
    const target = this.confinement.lexical(to);
    // A case-only rename on a case-insensitive disk is the same folder: rename is then safe.
    const caseOnly = from.toLowerCase() === to.toLowerCase();
    if (!caseOnly && (await stat(target).catch(() => null))) {
      throw new UserError('class-exists', `A class or file named "${to}" already exists`);
    }
    try {
      await rename(source, target);
    } catch (error) {
      throw new UserError('fs', `Could not rename "${from}": ${describeFsError(error, from)}`);
    }
    await this.journal.recordClassRename(from, to);
    return this.rescan();
  }

  async deleteClass(name: string): Promise<DatasetSnapshot> {
    if (!this.classes.includes(name)) throw new UserError('no-such-class', `There is no class "${name}"`);
    const absolute = await this.confinement.existing(name);
    const entries = await readdir(absolute);
    const visible = entries.filter((e) => !e.startsWith('.'));
    if (visible.length > 0) {
      throw new UserError('class-not-empty', `"${name}" still holds ${visible.length} file(s) or folder(s): move them to another class first`);
    }
    try {
      for (const hidden of entries) await unlink(path.join(absolute, hidden)).catch(() => undefined);
      await rmdir(absolute);
    } catch (error) {
      throw new UserError('fs', `Could not delete "${name}": ${describeFsError(error, name)}`);
    }
    return this.rescan();
  }

  /** Copies an uploaded or dropped file into a class, refusing non-images and exact duplicates. */
  async importFile(className: string | null, fileName: string, data: Uint8Array): Promise<ImportResult> {
    const result: ImportResult = { imported: [], duplicates: [], rejected: [] };
    const name = uploadBaseName(fileName);
    const reject = (message: string) => {
      result.rejected.push({ name: fileName, message });
      return result;
    };
    if (className !== null && !this.classes.includes(className)) throw new UserError('no-such-class', `There is no class "${className}"`);
    // Hidden names are refused too: they would be invisible in the class folder.
    const problem = name.startsWith('.') ? NOT_AN_IMAGE_NAME : uploadProblem(name, data.byteLength);
    if (problem) return reject(problem);
    try {
      await sharp(data, { limitInputPixels: MAX_INPUT_PIXELS, failOn: 'warning' }).stats();
    } catch (error) {
      return reject(await explainBufferError(error));
    }
    const hash = hashBuffer(data);
    const existing = await this.findByHash(hash);
    if (existing) {
      result.duplicates.push({ name: fileName, existing });
      return result;
    }
    const folder = className === null ? this.root : await this.confinement.existing(className);
    const finalName = await uniqueName(folder, name, new Set());
    const target = path.join(folder, finalName);
    const partial = partialPath(target);
    try {
      await writeFile(partial, data, { flag: 'wx' });
      await link(partial, target); // fails rather than overwrite a file that appeared meanwhile
      await unlink(partial);
    } catch (error) {
      await unlink(partial).catch(() => undefined);
      return reject(describeFsError(error, finalName));
    }
    const relative = this.confinement.toRelative(target);
    const info = await stat(target);
    this.hashes.remember(fileVersion(info), hash);
    await this.hashes.save();
    this.items.set(relative, { path: relative, label: className, size: info.size, version: fileVersion(info), status: 'pending' });
    result.imported.push(relative);
    this.events.emit('dataset.changed', { reason: `imported ${relative}` });
    return result;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.watchTimer) clearInterval(this.watchTimer);
    this.thumbnails.cancelBackground();
    await this.validation.catch(() => undefined);
    await this.journal.close();
  }

  /** Content hash of each image (path → sha256), read once per file version and cached. */
  async contentHashes(items: { path: string; version: string }[]): Promise<Map<string, string>> {
    const byAbsolute = await this.hashes.hashes(items.map((item) => ({ absolute: path.join(this.root, item.path), version: item.version })));
    return new Map([...byAbsolute].map(([absolute, hash]) => [this.confinement.toRelative(absolute), hash]));
  }

  private async findByHash(hash: string): Promise<string | null> {
    for (const [relative, h] of await this.contentHashes([...this.items.values()])) if (h === hash) return relative;
    return null;
  }

  private applyMoves(moves: { from: string; to: string }[]): void {
    for (const move of moves) {
      const item = this.items.get(move.from);
      if (!item) continue;
      this.items.delete(move.from);
      // The same object moves, so background validation still finds it by reference.
      item.path = move.to;
      item.label = move.to.includes('/') ? (move.to.split('/')[0] as string) : null;
      this.items.set(move.to, item);
    }
  }

  private recordVerdict(relative: string, version: string, verdict: { status: ImageItem['status']; problem?: string }): void {
    this.verdicts.set(version, verdict);
    const item = this.items.get(relative);
    if (item && item.version === version) Object.assign(item, verdict);
  }

  /** How far background validation has got: checked images and how many of them are unreadable. */
  progress(): ThumbnailProgress {
    let done = 0;
    let unreadable = 0;
    for (const item of this.items.values()) {
      if (item.status !== 'pending') done++;
      if (item.status === 'unreadable') unreadable++;
    }
    return { done, total: this.items.size, unreadable };
  }

  private validateInBackground(): void {
    const pending = [...this.items.values()].filter((i) => i.status === 'pending');
    const { total } = this.progress();
    let { done, unreadable } = this.progress();
    let batch: { path: string; status: ImageItem['status']; problem?: string }[] = [];
    let lastFlush = Date.now();
    const flush = () => {
      if (batch.length > 0) this.events.emit('dataset.itemsUpdated', { items: batch });
      this.events.emit('thumbnails.progress', { done, total, unreadable });
      batch = [];
      lastFlush = Date.now();
    };
    this.validation = (async () => {
      await Promise.all(
        pending.map(async (item) => {
          const absolute = path.join(this.root, item.path);
          const probe = await this.thumbnails.get(absolute, item.version, 'thumb', false).catch((error: unknown) => {
            if (error instanceof CancelledThumbnail) return null;
            throw error;
          });
          if (!probe || this.closed) return;
          const verdict = probe.ok ? { status: 'ok' as const } : { status: 'unreadable' as const, problem: probe.problem };
          this.verdicts.set(item.version, verdict);
          if (this.items.get(item.path) === item) {
            Object.assign(item, verdict);
            batch.push({ path: item.path, ...verdict });
          }
          done++;
          if (!probe.ok) unreadable++;
          if (Date.now() - lastFlush > 250) flush();
        }),
      );
      if (!this.closed) flush();
    })();
  }

  private watch(intervalMs: number): void {
    if (intervalMs <= 0) return;
    this.watchTimer = setInterval(() => {
      stat(this.root).then(
        () => {
          this.lost = false;
        },
        (error: unknown) => {
          if (this.lost || this.closed) return;
          this.lost = true;
          this.events.emit('project.lost', { root: this.root, message: describeFsError(error, this.root) });
        },
      );
    }, intervalMs);
    this.watchTimer.unref();
  }
}

async function explainBufferError(error: unknown): Promise<string> {
  const message = error instanceof Error ? error.message : String(error);
  if (/pixel limit/i.test(message)) return `The image is over the ${MAX_INPUT_PIXELS / 1e6} MP limit`;
  return explainDecodeError('', error);
}
