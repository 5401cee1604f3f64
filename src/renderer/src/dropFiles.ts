// Files dropped on the window: plain files, or whole folders walked through the entries API.
import { isImageName } from '../../shared/images';

export interface DroppedFile {
  /** The file name, with its folders when a folder was dropped or chosen (e.g. "line-2/0413.jpg"). */
  name: string;
  data: () => Promise<ArrayBuffer>;
}

export async function collectDroppedFiles(transfer: DataTransfer): Promise<DroppedFile[]> {
  const entries = [...transfer.items]
    .map((item) => (typeof item.webkitGetAsEntry === 'function' ? item.webkitGetAsEntry() : null))
    .filter((e): e is FileSystemEntry => e !== null);
  if (entries.length === 0) return [...transfer.files].map((file) => fromFile(file));
  const files: DroppedFile[] = [];
  for (const entry of entries) await walk(entry, files);
  return files;
}

export function fromFile(file: File, name = file.webkitRelativePath || file.name): DroppedFile {
  return { name, data: () => file.arrayBuffer() };
}

async function walk(entry: FileSystemEntry, out: DroppedFile[]): Promise<void> {
  if (entry.isFile) {
    if (!isImageName(entry.name)) return;
    const file = await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject));
    out.push(fromFile(file, entry.fullPath.replace(/^\//, '')));
  } else if (entry.isDirectory) {
    const reader = (entry as FileSystemDirectoryEntry).createReader();
    // readEntries returns batches (100 in Chromium) until an empty one.
    for (;;) {
      const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
      if (batch.length === 0) break;
      for (const child of batch) await walk(child, out);
    }
  }
}
