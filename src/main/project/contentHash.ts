// Content hashes of the project's images, cached by file version in .labelloop/hashes.json:
// import uses them to spot duplicates, and training will key splits and embeddings on them.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { mapLimit } from '../common/concurrency';

export function hashBuffer(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export function hashFile(absolute: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(absolute)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}

export class HashCache {
  private byVersion = new Map<string, string>();
  private loaded = false;
  private dirty = false;
  private saves = 0;

  /** `persist` false: a read-only project keeps its hashes in memory only. */
  constructor(
    private readonly file: string,
    private readonly persist = true,
  ) {}

  private queue: Promise<unknown> = Promise.resolve();

  /** Hashes of the given files, reading only those whose version is not cached yet. */
  hashes(files: { absolute: string; version: string }[]): Promise<Map<string, string>> {
    // One caller at a time: two overlapping calls would hash the same files and race on save.
    const run = this.queue.then(() => this.hashNow(files));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async hashNow(files: { absolute: string; version: string }[]): Promise<Map<string, string>> {
    await this.load();
    const result = new Map<string, string>();
    await mapLimit(files, 8, async ({ absolute, version }) => {
      let hash = this.byVersion.get(version);
      if (!hash) {
        hash = await hashFile(absolute).catch(() => undefined);
        if (!hash) return;
        this.byVersion.set(version, hash);
        this.dirty = true;
      }
      result.set(absolute, hash);
    });
    await this.save();
    return result;
  }

  remember(version: string, hash: string): void {
    this.byVersion.set(version, hash);
    this.dirty = true;
  }

  async save(): Promise<void> {
    if (!this.dirty || !this.persist) return;
    const partial = `${this.file}.${process.pid}-${++this.saves}.tmp`;
    await writeFile(partial, JSON.stringify(Object.fromEntries(this.byVersion)));
    await rename(partial, this.file);
    this.dirty = false;
  }

  private async load(): Promise<void> {
    if (this.loaded) return;
    this.loaded = true;
    const text = await readFile(this.file, 'utf8').catch(() => null);
    if (!text) return;
    try {
      this.byVersion = new Map(Object.entries(JSON.parse(text) as Record<string, string>));
    } catch {
      /* a damaged cache is rebuilt */
    }
  }
}

export const HASH_FILE = 'hashes.json';
export const hashCachePath = (dataDir: string) => path.join(dataDir, HASH_FILE);
