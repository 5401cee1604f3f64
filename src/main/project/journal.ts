// The labeling journal: every relabel is written to .labelloop/journal.jsonl (and fsynced) before a
// file moves, and marked committed after. Undo/redo stacks are rebuilt from it, so they survive
// restarts; a transaction a crash left open is rolled back on the next start.
import { mkdir, open, readFile, readdir, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { PathConfinement } from './confine';
import { describeFsError, errnoCode, UserError } from '../common/errors';
import { exists, moveFile, NameTakenError, PARTIAL_SUFFIX, sameFile, uniqueName } from './fileMove';

export interface PlannedMove {
  from: string;
  to: string;
}

type Kind = 'do' | 'undo' | 'redo';

type JournalLine =
  | { t: 'begin'; id: string; kind: Kind; of?: string; moves: PlannedMove[]; at: string }
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

export const JOURNAL_FILE = 'journal.jsonl';

export class LabelJournal {
  // Cleared in place, never reassigned: reverseTop holds on to them across the queue.
  private readonly undoStack: Transaction[] = [];
  private readonly redoStack: Transaction[] = [];
  private handle: FileHandle | null = null;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly confinement: PathConfinement,
    private readonly dataDir: string,
    private readonly crashPoints: CrashPoints = {},
  ) {}

  get file(): string {
    return path.join(this.dataDir, JOURNAL_FILE);
  }

  get history(): { canUndo: boolean; canRedo: boolean } {
    return { canUndo: this.undoStack.length > 0, canRedo: this.redoStack.length > 0 };
  }

  /** Reads the journal, finishes or rolls back what a crash left open; returns what it did, in words. */
  async open(): Promise<string[]> {
    await mkdir(this.dataDir, { recursive: true });
    const lines = await this.readLines();
    const begun = new Map<string, Extract<JournalLine, { t: 'begin' }>>();
    const report: string[] = [];
    for (const line of lines) {
      if (line.t === 'begin') begun.set(line.id, line);
      else if (line.t === 'abort') begun.delete(line.id);
      else if (line.t === 'renameClass') this.renameInStacks(line.from, line.to);
      else if (line.t === 'commit') {
        const begin = begun.get(line.id);
        begun.delete(line.id);
        if (begin) this.replay(begin, line.failed);
      }
    }
    this.handle = await open(this.file, 'a');
    for (const unfinished of begun.values()) report.push(...(await this.rollBack(unfinished)));
    report.push(...(await this.removeStrayPartials()));
    return report;
  }

  async close(): Promise<void> {
    await this.queue.catch(() => undefined);
    await this.handle?.close();
    this.handle = null;
  }

  /** Moves files as one transaction the user can undo. */
  relabel(moves: PlannedMove[]): Promise<ApplyResult> {
    return this.serialize(async () => {
      const tx = await this.apply('do', moves);
      if (tx.moves.length > 0) {
        this.undoStack.push({ id: tx.id, moves: tx.moves });
        this.redoStack.length = 0;
      }
      return tx;
    });
  }

  undo(): Promise<ApplyResult> {
    return this.reverseTop('undo', this.undoStack, this.redoStack);
  }

  redo(): Promise<ApplyResult> {
    return this.reverseTop('redo', this.redoStack, this.undoStack);
  }

  /** Undo and redo are the same step: reverse the top of one stack and push the result on the other. */
  private reverseTop(kind: 'undo' | 'redo', from: Transaction[], to: Transaction[]): Promise<ApplyResult> {
    return this.serialize(async () => {
      const target = from.at(-1);
      if (!target) throw new UserError(`nothing-to-${kind}`, `Nothing to ${kind}`);
      const tx = await this.apply(kind, await this.inverse(target.moves), target.id);
      from.pop();
      // If every file of it has vanished, there is nothing to take back: the step leaves history.
      if (tx.moves.length > 0) to.push({ id: tx.id, moves: tx.moves });
      return tx;
    });
  }

  /** Records a class folder rename so history still points at the files. */
  recordClassRename(from: string, to: string): Promise<void> {
    return this.serialize(async () => {
      await this.append({ t: 'renameClass', from, to, at: new Date().toISOString() });
      this.renameInStacks(from, to);
    });
  }

  /** Plans a move of each file into `targetDir` (relative; '' is the root) under a free name. */
  async plan(paths: string[], targetDir: string): Promise<{ moves: PlannedMove[]; failed: ApplyResult['failed'] }> {
    const targetAbsolute = targetDir === '' ? this.confinement.root : this.confinement.lexical(targetDir);
    const reserved = new Set<string>();
    const moves: PlannedMove[] = [];
    const failed: ApplyResult['failed'] = [];
    for (const from of new Set(paths)) {
      try {
        await this.confinement.existing(from);
      } catch (error) {
        failed.push({ path: from, message: error instanceof Error ? error.message : String(error) });
        continue;
      }
      const currentDir = path.posix.dirname(from) === '.' ? '' : path.posix.dirname(from);
      if (currentDir === targetDir) continue;
      const name = await uniqueName(targetAbsolute, path.posix.basename(from), reserved);
      reserved.add(path.join(targetAbsolute, name));
      moves.push({ from, to: targetDir === '' ? name : `${targetDir}/${name}` });
    }
    return { moves, failed };
  }

  private async inverse(moves: PlannedMove[]): Promise<PlannedMove[]> {
    const reserved = new Set<string>();
    const inverse: PlannedMove[] = [];
    for (const move of [...moves].reverse()) {
      const originalDir = path.dirname(this.confinement.lexical(move.from));
      const name = await uniqueName(originalDir, path.posix.basename(move.from), reserved);
      const to = path.posix.join(path.posix.dirname(move.from), name);
      reserved.add(path.join(originalDir, name));
      inverse.push({ from: move.to, to: to.startsWith('./') ? to.slice(2) : to });
    }
    return inverse;
  }

  private async apply(kind: Kind, moves: PlannedMove[], of?: string): Promise<ApplyResult & { id: string }> {
    const id = randomUUID();
    if (moves.length === 0) return { id, moves: [], failed: [] };
    await this.append({ t: 'begin', id, kind, ...(of ? { of } : {}), moves, at: new Date().toISOString() });
    this.crashPoints.afterBegin?.();
    const failedIndexes: number[] = [];
    const failed: ApplyResult['failed'] = [];
    for (const [index, move] of moves.entries()) {
      try {
        const to = await this.confinement.creatable(move.to).catch(async (error: unknown) => {
          if (!(error instanceof UserError) || error.code !== 'not-found') throw error;
          // The class folder was deleted since (undo into a removed class): bring it back.
          const absolute = this.confinement.lexical(move.to);
          await mkdir(path.dirname(absolute), { recursive: true });
          return this.confinement.creatable(move.to);
        });
        await moveFile(await this.confinement.existing(move.from), to);
      } catch (error) {
        failedIndexes.push(index);
        failed.push({ path: move.from, message: moveFailure(error, move) });
      }
      this.crashPoints.afterMove?.(index);
    }
    await this.append({ t: 'commit', id, failed: failedIndexes });
    return { id, moves: moves.filter((_, i) => !failedIndexes.includes(i)), failed };
  }

  private async rollBack(begin: Extract<JournalLine, { t: 'begin' }>): Promise<string[]> {
    const report: string[] = [];
    let restored = 0;
    for (const move of [...begin.moves].reverse()) {
      const from = this.confinement.lexical(move.from);
      const to = this.confinement.lexical(move.to);
      const [hasFrom, hasTo] = await Promise.all([exists(from), exists(to)]);
      try {
        if (hasTo && !hasFrom) {
          await moveFile(to, from);
          restored++;
        } else if (hasTo && hasFrom) {
          // Linked or copied but the source not yet removed: drop the new copy only if it is the same image.
          if (await sameFile(from, to)) await unlink(to);
          else report.push(`Kept both ${move.from} and ${move.to}: they differ, so neither was removed`);
        } else if (!hasFrom && !hasTo) {
          report.push(`${move.from} is missing: it was moved or deleted outside LabelLoop`);
        }
      } catch (error) {
        report.push(`Could not restore ${move.from}: ${describeFsError(error, move.to)}`);
      }
    }
    await this.append({ t: 'abort', id: begin.id, reason: 'rolled back after an interrupted run' });
    report.unshift(
      `An interrupted relabel of ${begin.moves.length} image(s) was rolled back` +
        (restored > 0 ? ` (${restored} moved back)` : '') +
        '.',
    );
    return report;
  }

  private async removeStrayPartials(): Promise<string[]> {
    const report: string[] = [];
    const folders = [this.confinement.root];
    for (const entry of await readdir(this.confinement.root, { withFileTypes: true })) {
      if (entry.isDirectory() && !entry.name.startsWith('.')) folders.push(path.join(this.confinement.root, entry.name));
    }
    for (const folder of folders) {
      const names = await readdir(folder).catch(() => [] as string[]);
      for (const name of names.filter((n) => n.endsWith(PARTIAL_SUFFIX))) {
        await unlink(path.join(folder, name)).catch(() => undefined);
        report.push(`Removed an unfinished copy ${name} left by an interrupted move`);
      }
    }
    return report;
  }

  private replay(begin: Extract<JournalLine, { t: 'begin' }>, failed: number[]): void {
    const tx = { id: begin.id, moves: begin.moves.filter((_, i) => !failed.includes(i)) };
    if (tx.moves.length === 0) return;
    if (begin.kind === 'do') {
      this.undoStack.push(tx);
      this.redoStack.length = 0;
    } else if (begin.kind === 'undo') {
      if (this.undoStack.at(-1)?.id === begin.of) this.undoStack.pop();
      this.redoStack.push(tx);
    } else {
      if (this.redoStack.at(-1)?.id === begin.of) this.redoStack.pop();
      this.undoStack.push(tx);
    }
  }

  private renameInStacks(from: string, to: string): void {
    const rewrite = (p: string) => (p.startsWith(`${from}/`) ? `${to}/${p.slice(from.length + 1)}` : p);
    for (const tx of [...this.undoStack, ...this.redoStack]) {
      tx.moves = tx.moves.map((m) => ({ from: rewrite(m.from), to: rewrite(m.to) }));
    }
  }

  private async readLines(): Promise<JournalLine[]> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') return [];
      throw error;
    }
    if (text.length > 0 && !text.endsWith('\n')) {
      // A crash mid-append left half a line: end it so the next entry starts clean.
      const handle = await open(this.file, 'a');
      await handle.write('\n');
      await handle.close();
    }
    const lines: JournalLine[] = [];
    for (const raw of text.split('\n')) {
      if (!raw.trim()) continue;
      try {
        lines.push(JSON.parse(raw) as JournalLine);
      } catch {
        /* a torn final line: its transaction never began */
      }
    }
    return lines;
  }

  private async append(line: JournalLine): Promise<void> {
    if (!this.handle) throw new Error('journal is not open');
    await this.handle.write(`${JSON.stringify(line)}\n`);
    await this.handle.datasync();
  }

  private serialize<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }
}

function moveFailure(error: unknown, move: PlannedMove): string {
  if (error instanceof NameTakenError) return `${move.to} appeared while moving; nothing was overwritten`;
  if (error instanceof UserError) return error.message;
  return describeFsError(error, move.from);
}
