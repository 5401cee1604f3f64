// Recently opened projects, kept in the user's config folder (not in any project).
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { RecentProject } from '../../shared/contract';

const LIMIT = 10;

export class RecentProjects {
  constructor(private readonly configDir: string) {}

  private get file(): string {
    return path.join(this.configDir, 'recent.json');
  }

  async list(): Promise<RecentProject[]> {
    const text = await readFile(this.file, 'utf8').catch(() => null);
    if (!text) return [];
    try {
      const parsed = JSON.parse(text) as unknown;
      return Array.isArray(parsed) ? (parsed as RecentProject[]).filter((r) => typeof r?.path === 'string') : [];
    } catch {
      return [];
    }
  }

  async remember(root: string): Promise<void> {
    const rest = (await this.list()).filter((r) => r.path !== root);
    const next = [{ path: root, name: path.basename(root), openedAt: new Date().toISOString() }, ...rest].slice(0, LIMIT);
    await mkdir(this.configDir, { recursive: true });
    const partial = `${this.file}.tmp`;
    await writeFile(partial, JSON.stringify(next, null, 2));
    await rename(partial, this.file);
  }
}
