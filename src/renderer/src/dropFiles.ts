// Files dropped on the window: plain files, or whole folders walked through the entries API.
import { isImageName } from '../../shared/images';

export interface DroppedFile {
  name: string;
  data: () => Promise<ArrayBuffer>;
}

export async function collectDroppedFiles(transfer: DataTransfer): Promise<DroppedFile[]> {
  const entries = [...transfer.items]
    .map((item) => (typeof item.webkitGetAsEntry === 'function' ? item.webkitGetAsEntry() : null))
    .filter((e): e is FileSystemEntry => e !== null);
  if (entries.length === 0) return [...transfer.files].map(fromFile);
  const files: DroppedFile[] = [];
  for (const entry of entries) await walk(entry, files);
  return files;
}

export function fromFile(file: File): DroppedFile {
  return { name: file.name, data: () => file.arrayBuffer() };
}

async function walk(entry: FileSystemEntry, out: DroppedFile[]): Promise<void> {
  if (entry.isFile) {
    if (!isImageName(entry.name)) return;
    const file = await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject));
    out.push(fromFile(file));
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
