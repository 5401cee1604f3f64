// Folders that belong to the person running LabelLoop, as each platform names them.
import os from 'node:os';
import path from 'node:path';

/** This user's cache folder: ~/.cache (or $XDG_CACHE_HOME), ~/Library/Caches, %LOCALAPPDATA%. */
export function userCacheDir(): string {
  if (process.platform === 'win32') return process.env.LOCALAPPDATA ?? path.join(os.homedir(), 'AppData', 'Local');
  if (process.platform === 'darwin') return path.join(os.homedir(), 'Library', 'Caches');
  const xdg = process.env.XDG_CACHE_HOME;
  return xdg && path.isAbsolute(xdg) ? xdg : path.join(os.homedir(), '.cache');
}
