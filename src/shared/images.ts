/** File extensions LabelLoop treats as images, compared case-insensitively. */
export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp', '.bmp', '.gif', '.tif', '.tiff'] as const;

export function isImageName(name: string): boolean {
  const dot = name.lastIndexOf('.');
  if (dot <= 0) return false;
  return (IMAGE_EXTENSIONS as readonly string[]).includes(name.slice(dot).toLowerCase());
}

/**
 * The one order images are listed in everywhere: by file name, then by path. Relabeling moves a
 * file to another folder but keeps its name, so in the "all" view an image stays where it was.
 */
export function gridOrder(a: { path: string }, b: { path: string }): number {
  const nameA = a.path.slice(a.path.lastIndexOf('/') + 1);
  const nameB = b.path.slice(b.path.lastIndexOf('/') + 1);
  if (nameA !== nameB) return nameA < nameB ? -1 : 1;
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}

/**
 * The project's recoverable trash, inside LabelLoop's own folder: the data check's "keep one" moves
 * a group's other copies here (into a folder per class) as a journaled step that Undo takes back.
 */
export const TRASH_DIR = '.labelloop/trash';

export function inTrash(relative: string): boolean {
  return relative.startsWith(`${TRASH_DIR}/`);
}
