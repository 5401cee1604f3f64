// One open project: a folder whose subfolders are classes. Plain TypeScript, no Electron, so the
// desktop app, web mode and the CLI all drive the same code.
import { chmod, lstat, mkdir, mkdtemp, readdir, rm, rmdir, stat, unlink } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import type { DatasetSnapshot, ImageDetails, ImageItem, ImportResult, MoveResult, ThumbnailProgress } from '../../shared/contract';
import { gridOrder, inTrash, TRASH_DIR } from '../../shared/images';
import { PathConfinement } from './confine';
import { HashCache, hashBuffer, hashCachePath } from './contentHash';
import { describeFsError, errnoCode, UserError } from '../common/errors';
import type { EventBus } from '../common/events';
import { userCacheDir } from '../common/userDirs';
import { partialPath, uniqueName } from './fileMove';
import type { ApplyResult, CrashPoints } from './journal';
import { LabelJournal } from './journal';
import { DATA_DIR, fileVersion, scanProject } from './scan';
import { ExclusionList } from './exclusions';
import { isStorageFailure, isUnwritable, type ProjectFs, realFs, unwritableReason } from './projectFs';
import { NOT_AN_IMAGE_NAME, uploadBaseName, uploadProblem } from './uploads';
import { describeImage, type Probe, type ThumbnailOptions, ThumbnailService } from './thumbnails';
import { explainDecodeError, openRaster } from './imageDecode';

export interface ProjectOptions {
  crashPoints?: CrashPoints;
  /** How often to check that the project folder still exists (ms); 0 turns it off. */
  watchIntervalMs?: number;
  /** Validate every image in the background after opening (off in tests that want determinism). */
  backgroundValidation?: boolean;
  /** How thumbnails are made and cached; tests hand in a cache writer that fails like a full disk. */
  thumbnails?: ThumbnailOptions;
  /** The file system the journal and moves write through; tests hand in one that fails on cue. */
  fs?: ProjectFs;
}

/** What a read-only project cannot do, said the same way in the app and the CLI. */
export const READ_ONLY_CAN_STILL = 'browsing images and inspecting runs still work';
/** The trash folder of images that had no class. */
const UNLABELED_TRASH = '(unlabeled)';

export class ProjectSession {
  private items = new Map<string, ImageItem>();
  private classes: string[] = [];
  private warnings: string[] = [];
  private readonly verdicts = new Map<string, { status: ImageItem['status']; problem?: string }>();
  private watchTimer: NodeJS.Timeout | null = null;
  private lost = false;
  private closed = false;
  private validation: Promise<void> = Promise.resolve();
  /** Background checks that missed a file while a relabel ran, each waiting for that relabel to move it or end. */
  private readonly awaitingMove = new Map<ImageItem, () => void>();
  /** Relabels, undos and redos started and not yet applied: only while one runs can a missing file be on its way. */
  private movesInFlight = 0;
  /**
   * Scans and the changes that move, add or rename files run one at a time: a scan that read a
   * folder before a relabel moved a file would otherwise put the file back where it was when it
   * lands (a rescan right after an import raced the user's first key presses).
   */
  private exclusiveQueue: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly confinement: PathConfinement,
    private readonly journal: LabelJournal,
    readonly thumbnails: ThumbnailService,
    private readonly hashes: HashCache,
    private readonly events: EventBus,
    private readonly recovered: string[],
    private readonly options: ProjectOptions,
    /** A temporary thumbnail folder made for this session only, removed on close. */
    private readonly disposableThumbnailDir: string | null,
    private readonly exclusions: ExclusionList,
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
    const fs = options.fs ?? realFs;
    const readOnly = await probeWritable(fs, dataDir);
    const journal = new LabelJournal(confinement, dataDir, options.crashPoints, fs);
    const recovered = await journal.open(readOnly);
    // A read-only project still shows thumbnails: they are cached outside it.
    const thumbs = readOnly ? await readOnlyThumbnailDir(absolute) : { dir: path.join(dataDir, 'thumbs'), disposable: false };
    const session = new ProjectSession(
      confinement,
      journal,
      new ThumbnailService(thumbs.dir, options.thumbnails),
      new HashCache(hashCachePath(dataDir), readOnly === null),
      events,
      recovered,
      options,
      thumbs.disposable ? thumbs.dir : null,
      new ExclusionList(dataDir, fs),
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

  /** The file system imports write through: the real one, or a test's that fails on cue. */
  private get fs(): ProjectFs {
    return this.options.fs ?? realFs;
  }

  /** False once the project is closed (another was opened): work started for it must not go on. */
  get isOpen(): boolean {
    return !this.closed;
  }

  /** Why the project can only be browsed (a full or read-only disk), or null when it can be changed. */
  get readOnly(): string | null {
    return this.journal.readOnlyReason;
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
      readOnly: this.readOnly,
    };
  }

  rescan(): Promise<DatasetSnapshot> {
    return this.exclusive(() => this.scan());
  }

  /** Reads the folders afresh; only inside `exclusive`. */
  private async scan(): Promise<DatasetSnapshot> {
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
    if (this.options.backgroundValidation !== false && !this.closed) this.validateInBackground();
    return this.snapshot();
  }

  /** Waits for the background validation that the last scan started. */
  whenValidated(): Promise<void> {
    return this.validation;
  }

  async relabel(paths: string[], to: string | null): Promise<MoveResult> {
    return this.relabelEach([{ paths, to }]);
  }

  /** Each group of images to its own class (null: unlabeled), as one step that one undo takes back. */
  async relabelEach(groups: { paths: string[]; to: string | null }[]): Promise<MoveResult> {
    this.requireWritable('images cannot be relabeled');
    return this.move(async () => {
      // Checked in the queue: a class renamed by a change queued before this one is gone by now.
      const unknown = groups.find((g) => g.to !== null && !this.classes.includes(g.to));
      if (unknown) throw new UserError('no-such-class', `There is no class "${unknown.to}"`);
      return this.journal.relabelEach(groups.map((g) => ({ paths: g.paths, targetDir: g.to ?? '' })));
    });
  }

  /**
   * Moves images into the recoverable trash (.labelloop/trash/<class>/, or "(unlabeled)") as one
   * journaled step that Undo takes back: nothing is deleted, and the content stays in one place.
   */
  async trash(paths: string[]): Promise<MoveResult> {
    this.requireWritable('images cannot be moved to the trash');
    const byFolder = new Map<string, string[]>();
    for (const relative of paths) {
      const label = this.items.get(relative)?.label ?? null;
      const folder = `${TRASH_DIR}/${label ?? UNLABELED_TRASH}`;
      byFolder.set(folder, [...(byFolder.get(folder) ?? []), relative]);
    }
    return this.move(() => this.journal.relabelEach([...byFolder].map(([targetDir, group]) => ({ paths: group, targetDir }))));
  }

  /** The content hashes left out of the split and every run. */
  excludedHashes(): Promise<Set<string>> {
    return this.exclusions.hashes();
  }

  /** Where the excluded images are now (images gone from the project are not listed). */
  async excludedPaths(): Promise<string[]> {
    const excluded = await this.exclusions.hashes();
    if (excluded.size === 0) return [];
    const hashes = await this.contentHashes([...this.items.values()]);
    return [...hashes].flatMap(([relative, hash]) => (excluded.has(hash) ? [relative] : [])).sort();
  }

  /** Leaves images out of training (or, with `excluded` false, takes them back), by content; returns the excluded paths. */
  async setExcluded(paths: string[], excluded: boolean): Promise<string[]> {
    this.requireWritable(excluded ? 'images cannot be excluded from training' : 'images cannot be taken back into training');
    const items = paths.map((relative) => {
      const item = this.items.get(relative);
      if (!item) throw new UserError('not-found', `${relative} is not an image of the project`);
      return item;
    });
    const hashes = await this.contentHashes(items);
    const unreadable = items.find((item) => !hashes.has(item.path));
    if (unreadable) throw new UserError('fs', `${unreadable.path} could not be read, so it cannot be recognised by its content: nothing was changed`);
    await this.exclusions.update(items.map((item) => ({ path: item.path, hash: hashes.get(item.path) as string })), excluded);
    return this.excludedPaths();
  }

  async undo(): Promise<MoveResult> {
    this.requireWritable('nothing can be undone');
    return this.move(() => this.journal.undo());
  }

  async redo(): Promise<MoveResult> {
    this.requireWritable('nothing can be redone');
    return this.move(() => this.journal.redo());
  }

  private move(work: () => Promise<ApplyResult>): Promise<MoveResult> {
    return this.exclusive(async () => {
      this.movesInFlight++;
      try {
        const done = await this.noticeReadOnly(work());
        this.applyMoves(done.moves);
        // An image back from the trash was no item: the scan finds it with its size and version.
        if (done.moves.some((m) => inTrash(m.from))) await this.scan();
        return { ...done, history: this.journal.history };
      } finally {
        // Checks still waiting look again: a refused relabel put its files back where they were.
        if (--this.movesInFlight === 0) for (const lookAgain of this.awaitingMove.values()) lookAgain();
      }
    });
  }

  /**
   * The images once every scan and change already asked for has landed: what a run, a check or a
   * map must see (a relabel pressed just before Train is in it, not half-applied).
   */
  settledSnapshot(): Promise<DatasetSnapshot> {
    return this.exclusive(async () => this.snapshot());
  }

  /** Runs after every scan and change queued before it, and before any queued after. */
  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new UserError('no-project', 'The project was closed: open it again'));
    const run = this.exclusiveQueue.then(work);
    this.exclusiveQueue = run.catch(() => undefined);
    return run;
  }

  /** Refuses a change to a read-only project, saying what cannot be done and what still works. */
  requireWritable(consequence: string): void {
    if (this.readOnly) throw new UserError('read-only', `${this.readOnly}: ${consequence} (${READ_ONLY_CAN_STILL})`);
  }

  /** A disk failure the journal could not fully tidy makes the project read-only: the window reloads to show it. */
  private async noticeReadOnly<T>(work: Promise<T>): Promise<T> {
    const wasReadOnly = this.readOnly;
    try {
      return await work;
    } catch (error) {
      if (!wasReadOnly && this.readOnly) this.events.emit('dataset.changed', { reason: 'the project became read-only' });
      throw error;
    }
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
    // A file moved away meanwhile says nothing about the image.
    if (size === 'thumb' && (probe.ok || !probe.missing)) this.recordVerdict(relative, version, probe.ok ? { status: 'ok' } : { status: 'unreadable', problem: probe.problem });
    return probe;
  }

  async createClass(name: string): Promise<DatasetSnapshot> {
    this.requireWritable('classes cannot be created');
    const absolute = this.confinement.lexical(name);
    return this.exclusive(async () => {
      try {
        await mkdir(absolute);
      } catch (error) {
        if (errnoCode(error) === 'EEXIST') throw new UserError('class-exists', `A class or file named "${name}" already exists`);
        throw new UserError('fs', describeFsError(error, name));
      }
      return this.scan();
    });
  }

  async renameClass(from: string, to: string): Promise<DatasetSnapshot> {
    this.requireWritable('classes cannot be renamed');
    return this.exclusive(async () => {
      if (!this.classes.includes(from)) throw new UserError('no-such-class', `There is no class "${from}"`);
      await this.confinement.existing(from);
      const target = this.confinement.lexical(to);
      // A case-only rename on a case-insensitive disk is the same folder: rename is then safe.
      const caseOnly = from.toLowerCase() === to.toLowerCase();
      if (!caseOnly && (await stat(target).catch(() => null))) {
        throw new UserError('class-exists', `A class or file named "${to}" already exists`);
      }
      await this.noticeReadOnly(this.journal.renameClass(from, to));
      return this.scan();
    });
  }

  async deleteClass(name: string): Promise<DatasetSnapshot> {
    this.requireWritable('classes cannot be deleted');
    return this.exclusive(async () => {
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
      return this.scan();
    });
  }

  /** Copies an uploaded or dropped file into a class, refusing non-images and exact duplicates. */
  async importFile(className: string | null, fileName: string, data: Uint8Array): Promise<ImportResult> {
    this.requireWritable('images cannot be imported');
    const result: ImportResult = { imported: [], duplicates: [], rejected: [] };
    const name = uploadBaseName(fileName);
    const reject = (message: string) => {
      result.rejected.push({ name: fileName, message });
      return result;
    };
    // Hidden names are refused too: they would be invisible in the class folder.
    const problem = name.startsWith('.') ? NOT_AN_IMAGE_NAME : uploadProblem(name, data.byteLength);
    if (problem) return reject(problem);
    try {
      await (await openRaster(data)).image.stats();
    } catch (error) {
      return reject(await explainDecodeError(data, error));
    }
    // Every image's hash read before the queue (minutes, the first time in a large project), so
    // the duplicate check in it only reads the cache and holds up no relabel.
    await this.contentHashes([...this.items.values()]);
    // The duplicate check, the free name and the new item, with no scan or move in between.
    return this.exclusive(async () => {
      if (className !== null && !this.classes.includes(className)) throw new UserError('no-such-class', `There is no class "${className}"`);
      const hash = hashBuffer(data);
      const existing = await this.findByHash(hash);
      if (existing) {
        result.duplicates.push({ name: fileName, existing });
        return result;
      }
      const folder = className === null ? this.root : await this.confinement.existing(className);
      const finalName = await uniqueName(folder, name, new Set(), this.fs);
      const target = path.join(folder, finalName);
      const partial = partialPath(target);
      try {
        await writeSynced(this.fs, partial, data);
        await this.fs.link(partial, target); // fails rather than overwrite a file that appeared meanwhile
      } catch (error) {
        await this.fs.unlink(partial).catch(() => undefined);
        return reject(isStorageFailure(error) ? `${unwritableReason(error)}: ${finalName} was not imported` : describeFsError(error, finalName));
      }
      // Linked: the image is imported. A hidden partial name that stays is removed on the next open.
      await this.fs.unlink(partial).catch(() => undefined);
      const relative = this.confinement.toRelative(target);
      const info = await this.fs.stat(target);
      this.hashes.remember(fileVersion(info), hash);
      // The hash cache is only a cache: failing to save it must not report an imported image as failed.
      await this.hashes.save().catch(() => undefined);
      // Decoded above: the image is known to be readable, with no check in the background to wait for.
      this.verdicts.set(fileVersion(info), { status: 'ok' });
      this.items.set(relative, { path: relative, label: className, size: info.size, version: fileVersion(info), status: 'ok' });
      result.imported.push(relative);
      this.events.emit('dataset.changed', { reason: `imported ${relative}` });
      return result;
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.watchTimer) clearInterval(this.watchTimer);
    this.thumbnails.cancelBackground();
    for (const stopWaiting of this.awaitingMove.values()) stopWaiting();
    // A relabel still queued behind a scan finishes, journaled, before the journal closes.
    await this.exclusiveQueue;
    await this.validation.catch(() => undefined);
    await this.journal.close();
    if (this.disposableThumbnailDir) await rm(this.disposableThumbnailDir, { recursive: true, force: true });
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
      if (inTrash(move.to)) continue;
      // The same object moves, so background validation still finds it by reference.
      item.path = move.to;
      item.label = move.to.includes('/') ? (move.to.split('/')[0] as string) : null;
      this.items.set(move.to, item);
      this.awaitingMove.get(item)?.();
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
          const probe = await this.probeFollowingMoves(item);
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

  /**
   * Decodes an image wherever it is when its turn comes. A relabel moves the files before the items'
   * paths change, so a miss while one runs waits for it and looks again. A file missing with no
   * relabel running is gone: it gets no verdict at once (a miss is never the image's problem), and the
   * next scan drops it, or checks it again if it is back.
   */
  private async probeFollowingMoves(item: ImageItem): Promise<Probe | null> {
    for (;;) {
      let lookedAt: string | null = null;
      const locate = () => {
        lookedAt = item.path;
        return path.join(this.root, lookedAt);
      };
      // A failure that is not a decode verdict (the cache folder unreadable, say) is a miss: the
      // item stays unchecked for the next scan, and validation, which nobody awaits, never rejects.
      const probe = await this.thumbnails.get(locate, item.version, 'thumb', false).catch(() => null);
      if (!probe || probe.ok || !probe.missing || this.closed) return probe;
      // Moved since it was looked for: look again at once.
      if (lookedAt !== item.path) continue;
      if (this.movesInFlight === 0) return null;
      await this.moveAppliedOrEnded(item);
      if (this.closed) return null;
    }
  }

  /** Resolves once a relabel, undo or redo moves the item, once none is running any more, or on close. */
  private moveAppliedOrEnded(item: ImageItem): Promise<void> {
    return new Promise((resolve) => {
      this.awaitingMove.set(item, () => {
        this.awaitingMove.delete(item);
        resolve();
      });
    });
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

/** Writes a new file (never one that exists) and syncs it, so a crash cannot link a half-written image into place. */
async function writeSynced(fs: ProjectFs, file: string, data: Uint8Array): Promise<void> {
  const handle = await fs.open(file, 'wx');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Whether LabelLoop can write its data folder: null if so, else why not. A small synced file is the
 * only sure test, since a full disk still lets the journal be opened for appending.
 */
async function probeWritable(fs: ProjectFs, dataDir: string): Promise<string | null> {
  const probe = path.join(dataDir, `.write-check-${process.pid}`);
  try {
    await mkdirSayingWhy(fs, dataDir, path.join(dataDir, 'thumbs'));
    const handle = await fs.open(probe, 'w');
    try {
      await handle.write(Buffer.alloc(4096));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.unlink(probe);
    return null;
  } catch (error) {
    await fs.unlink(probe).catch(() => undefined);
    if (!isUnwritable(error)) throw new UserError('cannot-open', `Cannot write LabelLoop's data folder: ${describeFsError(error, dataDir)}`);
    return unwritableReason(error);
  }
}

/**
 * mkdir -p that reports why it failed: Node's recursive mkdir answers ENOENT on a read-only disk,
 * so the first missing folder is made on its own to get the disk's real answer (EROFS, EACCES).
 */
async function mkdirSayingWhy(fs: ProjectFs, dataDir: string, dir: string): Promise<void> {
  try {
    await fs.mkdir(dir, { recursive: true });
  } catch (error) {
    if (errnoCode(error) !== 'ENOENT') throw error;
    let missing = dir;
    while (missing !== dataDir && !(await fs.stat(path.dirname(missing)).catch(() => null))) missing = path.dirname(missing);
    // The project folder itself gone is a real ENOENT: it is reported, never made again.
    if (missing === dataDir && !(await fs.stat(path.dirname(dataDir)).catch(() => null))) throw error;
    // The disk's own answer (EROFS, EACCES) comes from here; if it works after all, go on.
    await fs.mkdir(missing).catch((reason: unknown) => {
      if (errnoCode(reason) !== 'EEXIST') throw reason;
    });
    await fs.mkdir(dir, { recursive: true });
  }
}

/**
 * Where a read-only project's thumbnails are cached: a folder per project in this user's cache
 * folder, never a shared one where another user could plant verdicts or links. Where that folder
 * cannot be made this user's alone, a fresh private temporary one serves for this session.
 */
async function readOnlyThumbnailDir(root: string): Promise<{ dir: string; disposable: boolean }> {
  const dir = path.join(userCacheDir(), 'labelloop', 'read-only-thumbs', createHash('sha1').update(root).digest('hex').slice(0, 16));
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const info = await lstat(dir);
    const ours = info.isDirectory() && (process.getuid === undefined || info.uid === process.getuid());
    if (ours) {
      if ((info.mode & 0o077) !== 0) await chmod(dir, 0o700);
      return { dir, disposable: false };
    }
  } catch {
    /* no usable cache folder (a read-only home, say): fall through to a temporary one */
  }
  return { dir: await mkdtemp(path.join(os.tmpdir(), 'labelloop-thumbs-')), disposable: true };
}
