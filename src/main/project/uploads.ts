// Files that arrive as bytes (import into a class, prediction in the window) are refused on the
// same grounds, in the same words, before anything decodes them.
import path from 'node:path';
import { MAX_IMPORT_BYTES } from '../../shared/contract';
import { isImageName } from '../../shared/images';
import { fitFileName } from './fileNames';

export const NOT_AN_IMAGE_NAME = 'Not an image file name (jpg, jpeg, png, webp, bmp, gif, tif, tiff)';

/**
 * The file's own name: the window may send folders ("line-2/a.jpg") or Windows separators. Control
 * characters (NUL ends a path in the OS) become "_" and an over-long name is shortened, extension
 * kept, so the image is kept under a name every file system accepts rather than refused.
 */
export function uploadBaseName(fileName: string): string {
  return fitFileName(path.posix.basename(fileName.replace(/\\/g, '/')).replace(/\p{Cc}/gu, '_'));
}

/** Why an upload cannot be used, judged by its name and size alone; null when it may go on. */
export function uploadProblem(baseName: string, byteLength: number): string | null {
  if (!baseName || !isImageName(baseName)) return NOT_AN_IMAGE_NAME;
  if (byteLength === 0) return 'The file is empty (0 bytes)';
  if (byteLength > MAX_IMPORT_BYTES) return `The file is over ${MAX_IMPORT_BYTES / 1024 / 1024} MB`;
  return null;
}
