// Reads a project folder: each visible subfolder is a class, images anywhere below it are its
// members, images lying in the root are unlabeled. Hidden entries (.labelloop, .DS_Store) are skipped.
import type { Dirent } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import type { ImageItem } from '../../shared/contract';
import { isImageName } from '../../shared/images';
import type { PathConfinement } from './confine';
import { describeFsError } from '../common/errors';
import { mapLimit } from '../common/concurrency';
import { EMPTY_FILE } from './imageDecode';

export const DATA_DIR = '.labelloop';

export interface ScanResult {
  classes: string[];
  items: ImageItem[];
  warnings: string[];
}

interface Found {
  relative: string;
  label: string | null;
}

const STAT_CONCURRENCY = 64;

export function fileVersion(info: { ino: number; size: number; mtimeMs: number }): string {
  return `${info.ino.toString(36)}-${info.size.toString(36)}-${Math.floor(info.mtimeMs).toString(36)}`;
}

export async function scanProject(confinement: PathConfinement): Promise<ScanResult> {
  const root = confinement.root;
  const warnings: string[] = [];
  const found: Found[] = [];
  const classes: string[] = [];
  const entries = await readdir(root, { withFileTypes: true });
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue;
    if (entry.isDirectory() || entry.isSymbolicLink()) {
      const absolute = path.join(root, entry.name);
      if (entry.isSymbolicLink() && !(await linkStaysInside(confinement, absolute, entry.name, warnings, true))) continue;
      classes.push(entry.name);
      await walk(confinement, absolute, entry.name, found, warnings);
    } else if (entry.isFile() && isImageName(entry.name)) {
      found.push({ relative: entry.name, label: null });
    }
  }
  classes.sort((a, b) => a.localeCompare(b));
  const items = await mapLimit(found, STAT_CONCURRENCY, async ({ relative, label }): Promise<ImageItem | null> => {
    try {
      const info = await stat(path.join(root, relative));
      const item: ImageItem = { path: relative, label, size: info.size, version: fileVersion(info), status: 'pending' };
      if (info.size === 0) {
        item.status = 'unreadable';
        item.problem = EMPTY_FILE;
      }
      return item;
    } catch (error) {
      warnings.push(describeFsError(error, relative));
      return null;
    }
  });
  const present = items.filter((i): i is ImageItem => i !== null);
  return { classes, items: present, warnings };
}

async function walk(
  confinement: PathConfinement,
  directory: string,
  label: string,
  found: Found[],
  warnings: string[],
): Promise<void> {
  let entries: Dirent[];
  try {
    entries = await readdir(directory, { withFileTypes: true });
  } catch (error) {
    warnings.push(`Could not read folder: ${describeFsError(error, confinement.toRelative(directory))}`);
    return;
  }
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue;
    const absolute = path.join(directory, entry.name);
    if (entry.isSymbolicLink()) {
      if (!(await linkStaysInside(confinement, absolute, entry.name, warnings, false))) continue;
      const target = await stat(absolute).catch(() => null);
      if (target?.isFile() && isImageName(entry.name)) found.push({ relative: confinement.toRelative(absolute), label });
      // Linked folders inside the project are not followed: they would list the same image twice.
    } else if (entry.isDirectory()) {
      await walk(confinement, absolute, label, found, warnings);
    } else if (entry.isFile() && isImageName(entry.name)) {
      found.push({ relative: confinement.toRelative(absolute), label });
    }
  }
}

async function linkStaysInside(
  confinement: PathConfinement,
  absolute: string,
  name: string,
  warnings: string[],
  mustBeFolder: boolean,
): Promise<boolean> {
  try {
    const real = await realpath(absolute);
    if (!confinement.containsReal(real)) {
      warnings.push(`Skipped ${confinement.toRelative(absolute)}: it links to ${real}, outside the project`);
      return false;
    }
    if (mustBeFolder && !(await stat(real)).isDirectory()) return false;
    return true;
  } catch {
    warnings.push(`Skipped ${name}: a broken link`);
    return false;
  }
}
