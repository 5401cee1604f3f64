// A file system that fails on cue: the real one, except that from the Nth call that writes, it throws
// ENOSPC, EIO or EROFS. Used to prove the journal and moves lose and duplicate nothing whatever fails.
import * as fsp from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { PARTIAL_SUFFIX } from '../../src/main/project/fileMove';
import type { ProjectFs } from '../../src/main/project/projectFs';

export type FaultCode = 'ENOSPC' | 'EIO' | 'EROFS';

/** Calls that change the disk. A full disk still lets files be removed and truncated, which free space. */
const WRITES = new Set(['write', 'writeFile', 'datasync', 'sync', 'truncate', 'link', 'unlink', 'rename', 'copyFile', 'mkdir', 'open']);
const FREES_SPACE = new Set(['unlink', 'truncate']);

export class FaultyFs {
  /** Calls that write, counted since the last arm(). */
  writes = 0;
  /** Class folders on another disk: a hard link of an image fails with EXDEV, so moves copy. */
  crossDevice = false;
  /** Files (by inode) another program holds open without delete sharing, as on Windows: unlinking any of their names fails. */
  private readonly heldOpen = new Set<number>();
  private pause: { writesLeft: number; reached: () => void; resumed: Promise<void> } | null = null;
  private failAt = Infinity;
  private code: FaultCode = 'ENOSPC';
  private persistent = false;
  private short = false;

  /**
   * Fail the `n`th write from now (1-based); `persistent`: and every write after it, as a full disk
   * does; `short`: a failing write into an open file first writes half its bytes, as a disk that
   * fills up in the middle of a write does.
   */
  arm(n: number, code: FaultCode, persistent: boolean, options: { short?: boolean } = {}): void {
    this.writes = 0;
    this.failAt = n;
    this.code = code;
    this.persistent = persistent;
    this.short = options.short ?? false;
  }

  /** Counts writes from now without failing any. */
  count(): void {
    this.arm(Infinity, 'ENOSPC', false);
  }

  /** Every write fails from now on, as on a read-only disk. */
  readOnly(code: FaultCode = 'EROFS'): void {
    this.arm(1, code, true);
  }

  heal(): void {
    this.failAt = Infinity;
  }

  /** The `n`th write from now (1-based) waits for `resume()` before it runs (and fails, if armed to); `reached` settles when it waits. */
  pauseAt(n: number): { reached: Promise<void>; resume: () => void } {
    let reached = () => {};
    let resume = () => {};
    const reachedPromise = new Promise<void>((resolve) => {
      reached = resolve;
    });
    const resumed = new Promise<void>((resolve) => {
      resume = resolve;
    });
    this.pause = { writesLeft: n, reached, resumed };
    return { reached: reachedPromise, resume };
  }

  /** Another program opens `file` without delete sharing: removing it (or another link to it) fails with EBUSY. */
  async holdOpen(file: string): Promise<void> {
    this.heldOpen.add((await fsp.lstat(file)).ino);
  }

  release(): void {
    this.heldOpen.clear();
  }

  readonly fs: ProjectFs = {
    ...fsp,
    open: (async (file: Parameters<typeof fsp.open>[0], flags?: string | number, mode?: number) => {
      if (typeof flags === 'string' && /[wax+]/.test(flags)) {
        await this.waitIfPaused('open');
        this.check('open');
      }
      return this.wrapHandle(await fsp.open(file, flags, mode));
    }) as ProjectFs['open'],
    link: this.guard('link', async (from: Parameters<typeof fsp.link>[0], to: Parameters<typeof fsp.link>[1]) => {
      if (this.crossDevice && !String(from).endsWith(PARTIAL_SUFFIX)) {
        throw Object.assign(new Error('EXDEV: cross-device link not permitted (simulated)'), { code: 'EXDEV' });
      }
      return fsp.link(from, to);
    }),
    unlink: this.guard('unlink', async (file: Parameters<typeof fsp.unlink>[0]) => {
      const info = await fsp.lstat(file).catch(() => null);
      if (info && this.heldOpen.has(info.ino)) {
        throw Object.assign(new Error(`EBUSY: resource busy or locked, unlink '${String(file)}' (simulated)`), { code: 'EBUSY' });
      }
      return fsp.unlink(file);
    }),
    rename: this.guard('rename', fsp.rename),
    copyFile: this.guard('copyFile', fsp.copyFile),
    mkdir: this.guard('mkdir', fsp.mkdir) as ProjectFs['mkdir'],
  };

  /** Resolves at once, or when the paused write it is resumes. */
  private async waitIfPaused(call: string): Promise<void> {
    if (!this.pause || !WRITES.has(call) || --this.pause.writesLeft > 0) return;
    const { reached, resumed } = this.pause;
    this.pause = null;
    reached();
    await resumed;
  }

  private check(call: string): void {
    const fault = this.fault(call);
    if (fault) throw fault;
  }

  /** The error this call fails with, or null; counts the call as a write when it is one. */
  private fault(call: string): Error | null {
    if (!WRITES.has(call)) return null;
    this.writes++;
    const failing = this.writes === this.failAt || (this.persistent && this.writes > this.failAt);
    if (!failing) return null;
    if (this.code === 'ENOSPC' && FREES_SPACE.has(call) && this.writes !== this.failAt) return null;
    const messages: Record<FaultCode, string> = {
      ENOSPC: 'no space left on device',
      EIO: 'i/o error',
      EROFS: 'read-only file system',
    };
    return Object.assign(new Error(`${this.code}: ${messages[this.code]}, ${call} (injected)`), { code: this.code });
  }

  private guard<A extends unknown[], R>(call: string, real: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
    return async (...args: A) => {
      await this.waitIfPaused(call);
      this.check(call);
      return real(...args);
    };
  }

  private wrapHandle(handle: FileHandle): FileHandle {
    return new Proxy(handle, {
      get: (target, property, receiver) => {
        const value = Reflect.get(target, property, receiver) as unknown;
        if (typeof value !== 'function') return value;
        const real = (...a: unknown[]) => (value as (...b: unknown[]) => unknown).apply(target, a);
        const call = async (...args: unknown[]) => {
          const fault = typeof property === 'string' && property !== 'close' && property !== 'read' && property !== 'stat' ? this.fault(property) : null;
          if (!fault) return real(...args);
          // handle.write(buffer, offset, length): half of it reaches the disk before the failure.
          if (this.short && property === 'write' && Buffer.isBuffer(args[0])) {
            const [buffer, offset = 0, length = (args[0] as Buffer).length - Number(offset)] = args as [Buffer, number?, number?];
            await target.write(buffer, offset, Math.floor(length / 2));
          }
          throw fault;
        };
        return (...args: unknown[]) => (this.pause && typeof property === 'string' ? this.waitIfPaused(property).then(() => call(...args)) : call(...args));
      },
    });
  }
}
