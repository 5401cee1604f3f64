// The exclusion list: images the user left out of training (the data check's "exclude from
// training") without moving them. Kept by content hash in .labelloop/excluded.json, so an image
// stays excluded when it is relabeled, moved or renamed; the split and every run leave it out.
import path from 'node:path';
import { UserError } from '../common/errors';
import { type ProjectFs, realFs, storageRefusal } from './projectFs';

export const EXCLUSIONS_FILE = 'excluded.json';

interface ExclusionFile {
  version: 1;
  /** Content hash → the path it had and when it was excluded (for a person reading the file). */
  excluded: Record<string, { path: string; at: string }>;
}

export class ExclusionList {
  private entries: ExclusionFile['excluded'] | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private saves = 0;

  constructor(
    private readonly dataDir: string,
    private readonly fs: ProjectFs = realFs,
  ) {}

  get file(): string {
    return path.join(this.dataDir, EXCLUSIONS_FILE);
  }

  /** The excluded content hashes. */
  async hashes(): Promise<Set<string>> {
    return new Set(Object.keys(await this.load()));
  }

  /**
   * Adds (or with `excluded` false, removes) images by content hash, written whole or not at all:
   * a failed write leaves the list as it was and says why.
   */
  update(images: { path: string; hash: string }[], excluded: boolean): Promise<Set<string>> {
    const run = this.queue.then(async () => {
      const next = { ...(await this.load()) };
      const at = new Date().toISOString();
      for (const image of images) {
        if (excluded) next[image.hash] = { path: image.path, at };
        else delete next[image.hash];
      }
      await this.save(next);
      this.entries = next;
      return new Set(Object.keys(next));
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async load(): Promise<ExclusionFile['excluded']> {
    if (this.entries) return this.entries;
    let text: string | null = null;
    try {
      text = await this.fs.readFile(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new UserError('fs', `Cannot read the exclusion list ${this.file}: ${(error as Error).message}`);
    }
    this.entries = text === null ? {} : parse(text, this.file);
    return this.entries;
  }

  /** A temporary file synced, then renamed over the list: a crash leaves the old list or the new one. */
  private async save(entries: ExclusionFile['excluded']): Promise<void> {
    const partial = `${this.file}.${process.pid}-${++this.saves}.tmp`;
    try {
      const handle = await this.fs.open(partial, 'w');
      try {
        await handle.writeFile(JSON.stringify({ version: 1, excluded: entries } satisfies ExclusionFile, null, 1));
        await handle.sync();
      } finally {
        await handle.close();
      }
      await this.fs.rename(partial, this.file);
    } catch (error) {
      await this.fs.unlink(partial).catch(() => undefined);
      throw storageRefusal(error, 'the exclusion list was not changed');
    }
  }
}

/** A damaged list is refused in words rather than read as empty: that would quietly put images back into training. */
function parse(text: string, file: string): ExclusionFile['excluded'] {
  try {
    const data = JSON.parse(text) as Partial<ExclusionFile>;
    if (data.version === 1 && data.excluded && typeof data.excluded === 'object') return data.excluded;
  } catch {
    /* said below */
  }
  throw new UserError('damaged-exclusions', `The exclusion list ${file} is damaged: fix or delete it (deleting it puts every excluded image back into training)`);
}
