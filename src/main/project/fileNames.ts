// File names LabelLoop makes (imports, " (2)" copies, hidden partial files, prediction copies)
// must fit the file system's limit, or the write fails with ENAMETOOLONG after the user's
// image was accepted. ext4, btrfs, XFS and APFS all stop at 255 bytes of UTF-8.
import { Buffer } from 'node:buffer';
import path from 'node:path';

export const MAX_NAME_BYTES = 255;

/** The longest prefix of `text` that is at most `maxBytes` of UTF-8, never cutting a character in two. */
export function truncateUtf8(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text);
  if (bytes.length <= maxBytes) return text;
  let end = Math.max(0, maxBytes);
  // 10xxxxxx bytes continue a character: back up to the start of the one that does not fit.
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString();
}

/**
 * `name` with `tail` put before its extension (`a.jpg`, ` (2)` → `a (2).jpg`), the stem cut short
 * where needed so the whole stays within MAX_NAME_BYTES; the extension and the tail always survive.
 */
export function fitFileName(name: string, tail = ''): string {
  let ext = path.extname(name);
  // A "extension" too long to keep whole is just part of the name.
  if (Buffer.byteLength(ext) > 32) ext = '';
  const stem = name.slice(0, name.length - ext.length);
  return `${truncateUtf8(stem, MAX_NAME_BYTES - Buffer.byteLength(tail + ext))}${tail}${ext}`;
}
