// The labeling journal: every relabel is written to .labelloop/journal.jsonl (and fsynced) before a
// file moves, and marked committed after. Undo/redo stacks are rebuilt from it, so they survive
// restarts; a transaction a crash left open is rolled back on the next start.
//
// A record is all-or-nothing: written whole and fsynced, or cut back to the last good byte. When
// a move or the commit fails for want of disk (ENOSPC, EIO), or a move leaves an image under both
// names, the transaction is taken back at once and the relabel refused with nothing moved. Where even the cut fails, the journal takes no more
// writes until the project is opened again, and recovery (which reads the disk) finishes the job.
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { isImageName } from '../../shared/images';
import type { PathConfinement } from './confine';
import { describeFsError, errnoCode, UserError } from '../common/errors';
import { DoubledImageError, exists, moveFile, NameTakenError, PARTIAL_SUFFIX, sameFile, uniqueName } from './fileMove';
import { isStorageFailure, isUnwritable, type ProjectFs, realFs, storageRefusal, unwritableReason } from './projectFs';

export interface PlannedMove {
  from: string;
  to: string;
}

type Kind = 'do' | 'undo' | 'redo';

type BeginLine = { t: 'begin'; id: string; kind: Kind; of?: string; moves: PlannedMove[]; at: string };

type JournalLine =
  | BeginLine
  /** A move's target name was taken after planning: the file went to `to` instead. */
  | { t: 'retarget'; id: string; index: number; to: string }
  | { t: 'commit'; id: string; failed: number[] }
  | { t: 'abort'; id: string; reason: string }
  | { t: 'renameClass'; from: string; to: string; at: string };

interface Transaction {
  id: string;
  moves: PlannedMove[];
}

export interface ApplyResult {
  moves: PlannedMove[];
  failed: { path: string; message: string }[];
}

/** Test seam to simulate a crash at the two dangerous moments; a throw here skips all cleanup. */
export interface CrashPoints {
  afterBegin?(): void;
  afterMove?(index: number): void;
}

/** A journal record could not be written; `failure` is the file-system error. */
class JournalWriteError extends Error {
  constructor(readonly failure: unknown) {
    super(`journal write failed: ${failure instanceof Error ? failure.message : String(failure)}`);
  }
}

export const JOURNAL_FILE = 'journal.jsonl';
const NOTHING_MOVED = 'nothing was moved';
// A name taken again and again while moving means something is racing us: give up on that file.
const MAX_RETARGETS = 20;

export class LabelJournal {
  // Cleared in place, never reassigned: reverseTop holds on to them across the queue.
  private readonly undoStack: Transaction[] = [];
  private readonly redoStack: Transaction[] = [];
  private handle: FileHandle | null = null;
  /** Bytes of whole, synced records: a failed write is cut back to here. */
  private length = 0;
  /** Why the journal takes no writes (a read-only or full disk, or a cut that failed); null when it does. */
  private unwritable: string | null = null;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly confinement: PathConfinement,
    private readonly dataDir: string,
    private readonly crashPoints: CrashPoints = {},
    private readonly fs: ProjectFs = realFs,
  ) {}

  get file(): string {
    return path.join(this.dataDir, JOURNAL_FILE);
  }

  get history(): { canUndo: boolean; canRedo: boolean } {
    return { canUndo: this.undoStack.length > 0, canRedo: this.redoStack.length > 0 };
  }

  /** Why nothing can be relabeled, as the start of a sentence; null while the journal can be written. */
  get readOnlyReason(): string | null {
    return this.unwritable;
  }

  /**
   * Reads the journal, cuts away a torn last record, finishes or rolls back what a crash left open;
   * returns what it did, in words. With `readOnly` (why the project cannot be written) it only reads.
   */
  async open(readOnly: string | null = null): Promise<string[]> {
    const bytes = await this.readBytes();
    const { lines, goodLength, lastStart, damaged } = parseJournal(bytes);
    const report: string[] = [];
    let keep = goodLength;
    const last = lines.at(-1);
    if (last?.t === 'renameClass' && !(await this.renamed(last.from, last.to))) {
      lines.pop();
      keep = lastStart;
      report.push(`The renaming of class "${last.from}" to "${last.to}" was interrupted before the folder was renamed: it is dropped`);
    }
    if (damaged > 0) report.push(`Skipped ${damaged} damaged line(s) of the labeling journal: the steps they held cannot be undone`);
    const begun = new Map<string, BeginLine>();
    for (const line of lines) {
      if (line.t === 'begin') begun.set(line.id, line);
      else if (line.t === 'retarget') retarget(begun.get(line.id), line.index, line.to);
      else if (line.t === 'abort') begun.delete(line.id);
      else if (line.t === 'renameClass') this.renameInStacks(line.from, line.to);
      else if (line.t === 'commit') {
        const begin = begun.get(line.id);
        begun.delete(line.id);
        if (begin) this.replay(begin, line.failed);
      }
    }
    this.unwritable = readOnly ?? (await this.openForWriting(keep, bytes.length));
    if (goodLength < bytes.length) {
      report.push(
        `The journal's last entry was cut off mid-write (by a full disk or a crash): its ${bytes.length - goodLength} byte(s) ` +
          (this.unwritable ? 'are ignored, and will be cut away when the project can be written' : 'were cut away'),
      );
    }
    if (this.unwritable) {
      if (begun.size > 0) report.push(`${begun.size} interrupted relabel(s) could not be rolled back yet: ${this.unwritable}. They will be when the project is opened on a writable disk`);
      return report;
    }
    for (const unfinished of begun.values()) {
      report.push(...(await this.recover(unfinished)));
      if (this.unwritable) return report;
    }
    report.push(...(await this.removeStrayPartials()));
    return report;
  }

  async close(): Promise<void> {
    await this.queue.catch(() => undefined);
    await this.handle?.close();
    this.handle = null;
  }

  /** Moves the images at `paths` into `targetDir` (relative; '' is the root) as one step the user can undo. */
  relabel(paths: string[], targetDir: string): Promise<ApplyResult> {
    return this.relabelEach([{ paths, targetDir }]);
  }

  /** Several relabels (each group its own target) as one step the user can undo: accepting suggested labels. */
  relabelEach(groups: { paths: string[]; targetDir: string }[]): Promise<ApplyResult> {
    return this.serialize(async () => {
      this.requireWritable('images cannot be relabeled');
      // Planned inside the queue: two clients moving same-named files get distinct names.
      const plans = [];
      for (const group of groups) plans.push(await this.plan(group.paths, group.targetDir));
      const plan = { moves: plans.flatMap((p) => p.moves), failed: plans.flatMap((p) => p.failed) };
      const tx = await this.apply('do', plan.moves);
      if (tx.moves.length > 0) {
        this.undoStack.push({ id: tx.id, moves: tx.moves });
        this.redoStack.length = 0;
      }
      return { moves: tx.moves, failed: [...plan.failed, ...tx.failed] };
    });
  }

  undo(): Promise<ApplyResult> {
    return this.reverseTop('undo', this.undoStack, this.redoStack);
  }

  redo(): Promise<ApplyResult> {
    return this.reverseTop('redo', this.redoStack, this.undoStack);
  }

  /**
   * Records a class folder rename, then renames it, so history still points at the files. A record
   * whose rename never happened (a crash or failure between the two) is the journal's last: open drops it.
   */
  renameClass(from: string, to: string): Promise<void> {
    return this.serialize(async () => {
      this.requireWritable('classes cannot be renamed');
      const notRenamed = `"${from}" was not renamed`;
      const source = await this.confinement.existing(from);
      const target = this.confinement.lexical(to);
      const start = this.length;
      try {
        await this.append({ t: 'renameClass', from, to, at: new Date().toISOString() });
      } catch (error) {
        throw this.refusal(error instanceof JournalWriteError ? error.failure : error, notRenamed);
      }
      try {
        await this.fs.rename(source, target);
      } catch (error) {
        if (!(await this.cut(start).then(() => true, () => false))) {
          this.unwritable = `${unwritableReason(error)} while renaming "${from}", and LabelLoop could not tidy its journal (reopen the project)`;
        }
        if (this.unwritable || isStorageFailure(error)) throw this.refusal(error, notRenamed);
        throw new UserError('fs', `Could not rename "${from}": ${describeFsError(error, from)}`);
      }
      this.renameInStacks(from, to);
    });
  }

  /** Undo and redo are the same step: reverse the top of one stack and push the result on the other. */
  private reverseTop(kind: 'undo' | 'redo', from: Transaction[], to: Transaction[]): Promise<ApplyResult> {
    return this.serialize(async () => {
      this.requireWritable(`nothing can be ${kind === 'undo' ? 'undone' : 'redone'}`);
      const target = from.at(-1);
      if (!target) throw new UserError(`nothing-to-${kind}`, `Nothing to ${kind}`);
      const tx = await this.apply(kind, await this.inverse(target.moves), target.id);
      from.pop();
      // If every file of it has vanished, there is nothing to take back: the step leaves history.
      if (tx.moves.length > 0) to.push({ id: tx.id, moves: tx.moves });
      return tx;
    });
  }

  private requireWritable(consequence: string): void {
    if (this.unwritable) throw new UserError('read-only', `${this.unwritable}: ${consequence}`);
  }

  private async plan(paths: string[], targetDir: string): Promise<{ moves: PlannedMove[]; failed: ApplyResult['failed'] }> {
    const targetAbsolute = targetDir === '' ? this.confinement.root : this.confinement.lexical(targetDir);
    const reserved = new Set<string>();
    const moves: PlannedMove[] = [];
    const failed: ApplyResult['failed'] = [];
    const seen = new Set<string>();
    for (const requested of paths) {
      let from: string;
      try {
        from = await this.relabelable(requested);
      } catch (error) {
        failed.push({ path: requested, message: error instanceof Error ? error.message : String(error) });
        continue;
      }
      if (seen.has(from)) continue;
      seen.add(from);
      const currentDir = path.posix.dirname(from) === '.' ? '' : path.posix.dirname(from);
      if (currentDir === targetDir) continue;
      const name = await uniqueName(targetAbsolute, path.posix.basename(from), reserved, this.fs);
      reserved.add(path.join(targetAbsolute, name));
      moves.push({ from, to: targetDir === '' ? name : `${targetDir}/${name}` });
    }
    return { moves, failed };
  }

  /** The project-relative path of an image file the user may relabel; a UserError says why not. */
  private async relabelable(requested: string): Promise<string> {
    const relative = this.confinement.toRelative(this.confinement.lexical(requested));
    if (relative === '') throw new UserError('not-an-image', `${requested} is the project folder: only image files can be relabeled`);
    if (relative.split('/').some((segment) => segment.startsWith('.'))) {
      throw new UserError('not-an-image', `${requested} is hidden or inside LabelLoop's .labelloop folder: only the project's images can be relabeled`);
    }
    const info = await this.fs.stat(await this.confinement.existing(relative));
    if (info.isDirectory()) throw new UserError('not-an-image', `${requested} is a folder: only image files can be relabeled`);
    if (!info.isFile() || !isImageName(path.posix.basename(relative))) {
      throw new UserError('not-an-image', `${requested} is not an image file (jpg, png, webp, bmp, gif or tiff): only images can be relabeled`);
    }
    return relative;
  }

  private async inverse(moves: PlannedMove[]): Promise<PlannedMove[]> {
    const reserved = new Set<string>();
    const inverse: PlannedMove[] = [];
    for (const move of [...moves].reverse()) {
      const originalDir = path.dirname(this.confinement.lexical(move.from));
      const name = await uniqueName(originalDir, path.posix.basename(move.from), reserved, this.fs);
      const to = path.posix.join(path.posix.dirname(move.from), name);
      reserved.add(path.join(originalDir, name));
      inverse.push({ from: move.to, to: to.startsWith('./') ? to.slice(2) : to });
    }
    return inverse;
  }

  private async apply(kind: Kind, planned: PlannedMove[], of?: string): Promise<ApplyResult & { id: string }> {
    const id = randomUUID();
    if (planned.length === 0) return { id, moves: [], failed: [] };
    const moves = planned.map((move) => ({ ...move }));
    const start = this.length;
    try {
      await this.append({ t: 'begin', id, kind, ...(of ? { of } : {}), moves, at: new Date().toISOString() });
    } catch (error) {
      throw this.refusal(error instanceof JournalWriteError ? error.failure : error);
    }
    this.crashPoints.afterBegin?.();
    const failedIndexes: number[] = [];
    const failed: ApplyResult['failed'] = [];
    let attempted = 0;
    let diskFailure: unknown = null;
    for (const [index, move] of moves.entries()) {
      attempted = index + 1;
      try {
        await this.moveOne(id, index, moves);
      } catch (error) {
        // A doubled image cannot be filed as one failed move: a committed step keeps both names for good.
        if (error instanceof JournalWriteError || isStorageFailure(error) || error instanceof DoubledImageError) {
          diskFailure = error instanceof JournalWriteError ? error.failure : error;
          break;
        }
        failedIndexes.push(index);
        failed.push({ path: move.from, message: moveFailure(error, move) });
      }
      this.crashPoints.afterMove?.(index);
    }
    if (diskFailure === null) {
      try {
        await this.append({ t: 'commit', id, failed: failedIndexes });
      } catch (error) {
        diskFailure = error instanceof JournalWriteError ? error.failure : error;
      }
    }
    if (diskFailure !== null) throw await this.takeBack(start, moves.slice(0, attempted), diskFailure);
    return { id, moves: moves.filter((_, i) => !failedIndexes.includes(i)), failed };
  }

  /** Moves one planned file; a target name taken since planning gets the next free name, recorded first. */
  private async moveOne(id: string, index: number, moves: PlannedMove[]): Promise<void> {
    for (let retargets = 0; ; retargets++) {
      const move = moves[index] as PlannedMove;
      const to = await this.destination(move.to);
      try {
        await moveFile(await this.confinement.existing(move.from), to, this.fs);
        return;
      } catch (error) {
        if (!(error instanceof NameTakenError) || retargets >= MAX_RETARGETS) throw error;
      }
      const reserved = new Set(moves.map((m) => this.confinement.lexical(m.to)));
      const name = await uniqueName(path.dirname(to), withoutCopyNumber(path.posix.basename(move.to)), reserved, this.fs);
      const retargeted = path.posix.join(path.posix.dirname(move.to), name);
      await this.append({ t: 'retarget', id, index, to: retargeted });
      moves[index] = { from: move.from, to: retargeted };
    }
  }

  /** The absolute target of a move; a class folder deleted since (undo into a removed class) comes back. */
  private async destination(relative: string): Promise<string> {
    try {
      return await this.confinement.creatable(relative);
    } catch (error) {
      if (!(error instanceof UserError) || error.code !== 'not-found') throw error;
      await this.fs.mkdir(path.dirname(this.confinement.lexical(relative)), { recursive: true });
      return this.confinement.creatable(relative);
    }
  }

  /**
   * Takes back a transaction whose moves or commit the disk refused, and cuts its begin record away,
   * so the relabel never happened. If the journal is in doubt or a file cannot go back, it stops
   * taking writes: on the next open, recovery reads the journal and the disk and finishes the job.
   */
  private async takeBack(start: number, attempted: PlannedMove[], cause: unknown): Promise<UserError> {
    // What restoring found (both names kept, a file gone) is said in the refusal: it is the only message the user sees.
    let found: string[] = [];
    if (!this.unwritable) {
      const { complete, report } = await this.restore(attempted);
      found = report;
      if (complete && (await this.cut(start).then(() => true, () => false))) return this.refusal(cause, sentences(NOTHING_MOVED, found));
      this.unwritable = `${failureReason(cause)} in the middle of a relabel, and LabelLoop could not take all of it back yet (reopen the project to finish)`;
    }
    return new UserError(errnoCode(cause) === 'ENOSPC' ? 'disk-full' : 'disk-error', `${this.unwritable}: ${sentences('no image is lost', found)}`);
  }

  private refusal(cause: unknown, consequence = NOTHING_MOVED): UserError {
    if (this.unwritable) return new UserError('disk-error', `${this.unwritable}: ${consequence}`);
    if (cause instanceof DoubledImageError) return new UserError('file-in-use', `${cause.message}: ${consequence}`);
    return storageRefusal(cause, consequence);
  }

  /** Rolls back a transaction a crash left open, then marks it aborted. */
  private async recover(begin: BeginLine): Promise<string[]> {
    const { report, restored, complete } = await this.restore(begin.moves);
    if (complete) {
      try {
        await this.append({ t: 'abort', id: begin.id, reason: 'rolled back after an interrupted run' });
      } catch (error) {
        this.unwritable = `${unwritableReason(error instanceof JournalWriteError ? error.failure : error)} while LabelLoop recorded a rollback (reopen the project to finish)`;
      }
    } else {
      this.unwritable = 'An interrupted relabel could not be fully rolled back (reopen the project to try again)';
    }
    report.unshift(
      `An interrupted relabel of ${begin.moves.length} image(s) was rolled back` +
        (restored > 0 ? ` (${restored} moved back)` : '') +
        (complete ? '.' : ', but not completely:'),
    );
    return report;
  }

  /** Puts each moved file back where it was, judging by what is on disk; `complete` unless an fs call failed. */
  private async restore(moves: PlannedMove[]): Promise<{ report: string[]; restored: number; complete: boolean }> {
    const report: string[] = [];
    let restored = 0;
    let complete = true;
    for (const move of [...moves].reverse()) {
      const from = this.confinement.lexical(move.from);
      const to = this.confinement.lexical(move.to);
      try {
        const [hasFrom, hasTo] = await Promise.all([exists(from, this.fs), exists(to, this.fs)]);
        if (hasTo && !hasFrom) {
          await moveFile(to, from, this.fs);
          restored++;
        } else if (hasTo && hasFrom) {
          // Linked or copied but the source not yet removed: drop the new copy only if it is the same image.
          if (await sameFile(from, to, this.fs)) await this.fs.unlink(to);
          else report.push(`Kept both ${move.from} and ${move.to}: they differ, so neither was removed`);
        } else if (!hasFrom && !hasTo) {
          report.push(`${move.from} is missing: it was moved or deleted outside LabelLoop`);
        }
      } catch (error) {
        complete = false;
        report.push(`Could not restore ${move.from}: ${describeFsError(error, move.to)}`);
      }
    }
    return { report, restored, complete };
  }

  private async removeStrayPartials(): Promise<string[]> {
    const report: string[] = [];
    const folders = [this.confinement.root];
    for (const entry of await this.fs.readdir(this.confinement.root, { withFileTypes: true })) {
      if (entry.isDirectory() && !entry.name.startsWith('.')) folders.push(path.join(this.confinement.root, entry.name));
    }
    for (const folder of folders) {
      const names = await this.fs.readdir(folder).catch(() => [] as string[]);
      for (const name of names.filter((n) => n.endsWith(PARTIAL_SUFFIX))) {
        await this.fs.unlink(path.join(folder, name)).catch(() => undefined);
        report.push(`Removed an unfinished copy ${name} left by an interrupted move`);
      }
    }
    return report;
  }

  private replay(begin: BeginLine, failed: number[]): void {
    const tx = { id: begin.id, moves: begin.moves.filter((_, i) => !failed.includes(i)) };
    // Popped even when every file had vanished: reverseTop drops such a step, so the restart must too.
    const reversed = begin.kind === 'undo' ? this.undoStack : begin.kind === 'redo' ? this.redoStack : null;
    if (reversed && reversed.at(-1)?.id === begin.of) reversed.pop();
    if (tx.moves.length === 0) return;
    if (begin.kind === 'do') {
      this.undoStack.push(tx);
      this.redoStack.length = 0;
    } else if (begin.kind === 'undo') {
      this.redoStack.push(tx);
    } else {
      this.undoStack.push(tx);
    }
  }

  private renameInStacks(from: string, to: string): void {
    const rewrite = (p: string) => (p.startsWith(`${from}/`) ? `${to}/${p.slice(from.length + 1)}` : p);
    for (const tx of [...this.undoStack, ...this.redoStack]) {
      tx.moves = tx.moves.map((m) => ({ from: rewrite(m.from), to: rewrite(m.to) }));
    }
  }

  /** Whether a recorded class rename happened on disk: the old folder gone, or (case only) both names one folder. */
  private async renamed(from: string, to: string): Promise<boolean> {
    const [hasFrom, hasTo] = await Promise.all([exists(this.confinement.lexical(from), this.fs), exists(this.confinement.lexical(to), this.fs)]);
    return hasTo || !hasFrom;
  }

  private async readBytes(): Promise<Buffer> {
    try {
      return await this.fs.readFile(this.file);
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') return Buffer.alloc(0);
      throw error;
    }
  }

  /** Opens the journal for appending, cut to its first `keep` bytes; returns why it cannot be written, or null. */
  private async openForWriting(keep: number, size: number): Promise<string | null> {
    try {
      await this.fs.mkdir(this.dataDir, { recursive: true });
      this.handle = await this.fs.open(this.file, 'a');
      this.length = size;
      if (keep < size) await this.cut(keep);
      return null;
    } catch (error) {
      if (!isUnwritable(error)) throw error;
      await this.handle?.close().catch(() => undefined);
      this.handle = null;
      return unwritableReason(error);
    }
  }

  /** Writes one whole record and syncs it; on any failure the file is cut back to the last good record. */
  private async append(line: JournalLine): Promise<void> {
    const handle = this.handle;
    if (!handle || this.unwritable) throw new JournalWriteError(new Error(this.unwritable ?? 'the journal is not open'));
    const bytes = Buffer.from(`${JSON.stringify(line)}\n`);
    const start = this.length;
    try {
      for (let written = 0; written < bytes.length; ) {
        const { bytesWritten } = await handle.write(bytes, written, bytes.length - written);
        if (bytesWritten <= 0) throw Object.assign(new Error('the disk accepted no bytes'), { code: 'ENOSPC' });
        written += bytesWritten;
      }
      await handle.datasync();
      this.length = start + bytes.length;
    } catch (error) {
      await this.cut(start).catch(() => {
        this.unwritable = `${unwritableReason(error)}, and LabelLoop could not remove a half-written journal entry (reopen the project)`;
      });
      throw new JournalWriteError(error);
    }
  }

  // No fsync: a cut lost to a crash leaves a torn or unfinished record, which the next open cuts or
  // rolls back; and the next append's fsync makes the new length durable anyway.
  private async cut(length: number): Promise<void> {
    if (!this.handle) throw new Error('the journal is not open');
    await this.handle.truncate(length);
    this.length = length;
  }

  private serialize<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }
}

/** Whole lines (up to the last newline), where the last one starts, and how many lines were damaged. */
function parseJournal(bytes: Buffer): { lines: JournalLine[]; goodLength: number; lastStart: number; damaged: number } {
  const goodLength = bytes.lastIndexOf(0x0a) + 1;
  const lastStart = goodLength >= 2 ? bytes.lastIndexOf(0x0a, goodLength - 2) + 1 : 0;
  const lines: JournalLine[] = [];
  let damaged = 0;
  for (const raw of bytes.subarray(0, goodLength).toString('utf8').split('\n')) {
    if (!raw.trim()) continue;
    const parsed = parseLine(raw);
    if (parsed.line) lines.push(parsed.line);
    if (!parsed.whole) damaged++;
  }
  return { lines, goodLength, lastStart, damaged };
}

/**
 * One record; where an older version appended a record to a torn line, the record at its end.
 * `{"t":` cannot occur inside a JSON string (its quotes would be escaped), so it marks a record start.
 */
function parseLine(raw: string): { line: JournalLine | null; whole: boolean } {
  for (let start = 0; start >= 0; start = raw.indexOf('{"t":', start + 1)) {
    try {
      return { line: JSON.parse(raw.slice(start)) as JournalLine, whole: start === 0 };
    } catch {
      /* not a whole record from here: try the next record start */
    }
  }
  return { line: null, whole: false };
}

function retarget(begin: BeginLine | undefined, index: number, to: string): void {
  const move = begin?.moves[index];
  if (move) move.to = to;
}

/** `a (3).jpg` → `a.jpg`: a retargeted move numbers from the plain name again. */
function withoutCopyNumber(name: string): string {
  return name.replace(/ \(\d+\)(?=\.[^.]*$|$)/, '');
}

function sentences(first: string, more: string[]): string {
  return [first, ...more].join('. ');
}

/** Why a whole step was refused, as the start of a sentence. */
function failureReason(cause: unknown): string {
  return cause instanceof DoubledImageError ? cause.message : unwritableReason(cause);
}

function moveFailure(error: unknown, move: PlannedMove): string {
  if (error instanceof NameTakenError) return `${move.to} kept being taken by other files while moving; ${move.from} was left where it was`;
  if (error instanceof UserError) return error.message;
  return describeFsError(error, move.from);
}
