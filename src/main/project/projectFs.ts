// The file-system calls that move images and write the journal, behind one seam: tests hand in a
// copy that fails with ENOSPC or EIO at any single call and check that no image is lost or doubled.
import * as fsp from 'node:fs/promises';
import { errnoCode, UserError } from '../common/errors';

export type ProjectFs = Pick<
  typeof fsp,
  'open' | 'readFile' | 'readdir' | 'lstat' | 'stat' | 'mkdir' | 'link' | 'unlink' | 'rename' | 'copyFile'
>;

export const realFs: ProjectFs = fsp;

/** Errors that say the disk cannot take writes at all, rather than something about one file. */
const STORAGE_CODES = new Set(['ENOSPC', 'EDQUOT', 'EIO', 'EROFS']);
/** Errors that make the whole project read-only when LabelLoop's own folder hits them. */
const UNWRITABLE_CODES = new Set([...STORAGE_CODES, 'EACCES', 'EPERM']);

export function isStorageFailure(error: unknown): boolean {
  return STORAGE_CODES.has(errnoCode(error) ?? '');
}

export function isUnwritable(error: unknown): boolean {
  return UNWRITABLE_CODES.has(errnoCode(error) ?? '');
}

/** Why the disk refused, in a few words that start a sentence. */
export function unwritableReason(error: unknown): string {
  switch (errnoCode(error)) {
    case 'ENOSPC':
    case 'EDQUOT':
      return 'The disk is full';
    case 'EROFS':
      return 'The project is on a read-only disk';
    case 'EACCES':
    case 'EPERM':
      return 'There is no permission to write in the project folder';
    case 'EIO':
      return 'The disk reported an input/output error (EIO)';
    default:
      return `The disk refused a write (${error instanceof Error ? error.message : String(error)})`;
  }
}

/** The refusal the user sees when a write failed and `consequence` ("nothing was moved") holds. */
export function storageRefusal(error: unknown, consequence: string): UserError {
  const code = errnoCode(error);
  const kind = code === 'ENOSPC' || code === 'EDQUOT' ? 'disk-full' : code === 'EIO' ? 'disk-error' : 'read-only';
  return new UserError(kind, `${unwritableReason(error)}: ${consequence}`);
}
