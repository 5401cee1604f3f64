// Moving a user's image must never overwrite, lose or duplicate it.
// Same file system: hard-link to the new name (fails if taken) then unlink the old one;
// where links are unsupported, rename after checking the name is free.
// Across file systems: copy to a hidden partial file, fsync, link into place, then delete the source.
import { constants } from 'node:fs';
import path from 'node:path';
import { errnoCode } from '../common/errors';
import { type ProjectFs, realFs } from './projectFs';
import { fitFileName, MAX_NAME_BYTES, truncateUtf8 } from './fileNames';

export const PARTIAL_SUFFIX = '.labelloop-partial';

/** The hidden name a file is written under before it is linked to `target`; always a valid name. */
export function partialPath(target: string): string {
  const room = MAX_NAME_BYTES - Buffer.byteLength(`.${PARTIAL_SUFFIX}`);
  return path.join(path.dirname(target), `.${truncateUtf8(path.basename(target), room)}${PARTIAL_SUFFIX}`);
}

export class NameTakenError extends Error {
  constructor(readonly target: string) {
    super(`${target} already exists`);
  }
}

/** A move whose source could not be removed, nor its new name taken back: the image is under both names. */
export class DoubledImageError extends Error {
  constructor(
    readonly from: string,
    readonly to: string,
    readonly failure: unknown,
  ) {
    super(`Another program holds ${path.basename(from)} open (${errnoCode(failure) ?? String(failure)}), so it could not be moved`);
  }
}

/** `name.jpg` → `name (2).jpg`, `name (3).jpg`, … skipping names that exist or are reserved; cut to fit the file system. */
export async function uniqueName(
  directory: string,
  fileName: string,
  reserved: ReadonlySet<string>,
  fs: ProjectFs = realFs,
): Promise<string> {
  for (let n = 1; ; n++) {
    const candidate = fitFileName(fileName, n === 1 ? '' : ` (${n})`);
    const absolute = path.join(directory, candidate);
    if (reserved.has(absolute)) continue;
    if (!(await exists(absolute, fs))) return candidate;
  }
}

export async function exists(absolute: string, fs: ProjectFs = realFs): Promise<boolean> {
  try {
    await fs.lstat(absolute);
    return true;
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return false;
    throw error;
  }
}

/** Moves `from` to `to`, which must not exist. Throws NameTakenError rather than overwrite. */
export async function moveFile(from: string, to: string, fs: ProjectFs = realFs): Promise<void> {
  try {
    await fs.link(from, to);
  } catch (error) {
    const code = errnoCode(error);
    if (code === 'EEXIST') throw new NameTakenError(to);
    if (code === 'EXDEV') return copyAcrossDevices(from, to, fs);
    if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'ENOSYS') {
      if (await exists(to, fs)) throw new NameTakenError(to);
      return fs.rename(from, to);
    }
    throw error;
  }
  await dropSource(from, to, fs);
}

/**
 * The last step of a move; if the source cannot go, the new name goes instead so the image is not
 * doubled. Where that fails too (a file held open without delete sharing on Windows), a
 * DoubledImageError tells the journal to take the step back and leave the rest to recovery.
 */
async function dropSource(from: string, to: string, fs: ProjectFs): Promise<void> {
  try {
    await fs.unlink(from);
  } catch (error) {
    const stillDoubled = await fs.unlink(to).then(
      () => false,
      () => true,
    );
    throw stillDoubled ? new DoubledImageError(from, to, error) : error;
  }
}

async function copyAcrossDevices(from: string, to: string, fs: ProjectFs): Promise<void> {
  const partial = partialPath(to);
  try {
    await fs.copyFile(from, partial, constants.COPYFILE_EXCL);
    const handle = await fs.open(partial, 'r+');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.link(partial, to);
  } catch (error) {
    await fs.unlink(partial).catch(() => undefined);
    if (errnoCode(error) === 'EEXIST') throw new NameTakenError(to);
    throw error;
  }
  await fs.unlink(partial).catch(() => undefined);
  await syncDirectory(path.dirname(to), fs);
  await dropSource(from, to, fs);
}

async function syncDirectory(directory: string, fs: ProjectFs): Promise<void> {
  // Directory fsync makes the new name durable; not every platform allows opening a folder.
  try {
    const handle = await fs.open(directory, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    /* best effort */
  }
}

/** Same file (hard links) or same bytes: used by recovery to tell a finished copy from a stranger. */
export async function sameFile(a: string, b: string, fs: ProjectFs = realFs): Promise<boolean> {
  const [sa, sb] = await Promise.all([fs.lstat(a), fs.lstat(b)]);
  if (sa.ino === sb.ino && sa.dev === sb.dev) return true;
  if (sa.size !== sb.size) return false;
  const [ha, hb] = await Promise.all([fs.open(a, 'r'), fs.open(b, 'r')]);
  try {
    const chunk = 1 << 20;
    const ba = Buffer.alloc(chunk);
    const bb = Buffer.alloc(chunk);
    for (let offset = 0; offset < sa.size; offset += chunk) {
      const [ra, rb] = await Promise.all([ha.read(ba, 0, chunk, offset), hb.read(bb, 0, chunk, offset)]);
      if (ra.bytesRead !== rb.bytesRead || !ba.subarray(0, ra.bytesRead).equals(bb.subarray(0, rb.bytesRead))) return false;
    }
    return true;
  } finally {
    await Promise.all([ha.close(), hb.close()]);
  }
}
