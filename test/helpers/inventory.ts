// What is in a project folder, by content: proves that nothing was lost or duplicated.
import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';

/** Every visible file below `root` (LabelLoop's hidden folders skipped): relative path → sha256. */
export async function contentByPath(root: string): Promise<Map<string, string>> {
  const result = new Map<string, string>();
  const walk = async (dir: string) => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) await walk(full);
      else result.set(path.relative(root, full).split(path.sep).join('/'), createHash('sha256').update(await readFile(full)).digest('hex'));
    }
  };
  await walk(root);
  return result;
}

/** The content hashes present, sorted, one entry per file: equal lists mean every image exists exactly once. */
export async function contentHashes(root: string): Promise<string[]> {
  return [...(await contentByPath(root)).values()].sort();
}
