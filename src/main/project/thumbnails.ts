// Thumbnails and image checks. Decoding an image fully is the only sure test that it is readable,
// so making its thumbnail doubles as validation: the result (a .webp, or a .err with the reason)
// is cached under .labelloop/thumbs keyed by the file's version, so a changed file is redone.
// The image is judged by decoding alone: a cache that cannot be written (a full disk) is the
// cache's problem, and the thumbnail is then served from memory.
import { lstat, mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { createHash, randomUUID } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import type { ImageDetails, ThumbnailSize } from '../../shared/contract';
import { errnoCode } from '../common/errors';
import { exists } from './fileMove';
import { diagnoseDecodeError, openRaster } from './imageDecode';

const EDGE: Record<ThumbnailSize, number> = { thumb: 256, large: 1024 };

// libvips parallelises inside one image; we parallelise across images instead.
sharp.concurrency(1);

export type Probe =
  | { ok: true; file: string }
  /** Decoded, but the cache could not be written: the thumbnail itself. */
  | { ok: true; webp: Buffer }
  /** `missing`: no file at that path (moved or deleted), which says nothing about the image. */
  | { ok: false; problem: string; missing?: true };

export interface ThumbnailOptions {
  /** How many images decode at once. */
  slots?: number;
  /** Writes a cache file; a test seam for a full or failing disk. */
  writeFile?: (file: string, data: Buffer | string) => Promise<void>;
}

interface Job {
  run(): Promise<void>;
  cancel(): void;
}

export class CancelledThumbnail extends Error {
  constructor() {
    super('Thumbnail work cancelled: the project closed');
  }
}

/** A small two-lane scheduler: what the user is looking at jumps ahead of background work. */
class Lanes {
  private readonly urgent: Job[] = [];
  private readonly background: Job[] = [];
  private running = 0;

  constructor(private readonly slots: number) {}

  push<T>(urgent: boolean, work: () => Promise<T>): { promise: Promise<T>; job: Job } {
    let job!: Job;
    const promise = new Promise<T>((resolve, reject) => {
      job = { run: () => work().then(resolve, reject), cancel: () => reject(new CancelledThumbnail()) };
    });
    (urgent ? this.urgent : this.background).push(job);
    this.pump();
    return { promise, job };
  }

  /** Moves a queued background job to the urgent lane (no-op once it has started). */
  promote(job: Job): void {
    const index = this.background.indexOf(job);
    if (index < 0) return;
    this.background.splice(index, 1);
    this.urgent.push(job);
  }

  /** Drops queued background jobs; their callers get a CancelledThumbnail, never a hang. */
  clearBackground(): void {
    for (const job of this.background.splice(0)) job.cancel();
  }

  private pump(): void {
    while (this.running < this.slots) {
      const job = this.urgent.shift() ?? this.background.shift();
      if (!job) return;
      this.running++;
      void job.run().finally(() => {
        this.running--;
        this.pump();
      });
    }
  }
}

export class ThumbnailService {
  private readonly lanes: Lanes;
  private readonly inFlight = new Map<string, { promise: Promise<Probe>; job: Job }>();

  private readonly write: NonNullable<ThumbnailOptions['writeFile']>;

  constructor(
    private readonly cacheDir: string,
    options: ThumbnailOptions = {},
  ) {
    this.lanes = new Lanes(options.slots ?? Math.max(2, os.cpus().length));
    // 'wx': a temporary name is never written through a file or link someone put there first.
    this.write = options.writeFile ?? ((file, data) => writeFile(file, data, { flag: 'wx' }));
  }

  cacheKey(version: string, size: ThumbnailSize): string {
    return createHash('sha1').update(`${version}|${size}|${EDGE[size]}`).digest('hex');
  }

  /**
   * The cached thumbnail, made now (ahead of background work) if missing. `locate` gives the
   * image's path when the work starts, so queued work follows a file that was moved meanwhile.
   */
  get(locate: string | (() => string), version: string, size: ThumbnailSize, urgent = true): Promise<Probe> {
    const key = this.cacheKey(version, size);
    const pending = this.inFlight.get(key);
    if (pending) {
      // The grid asks for an image background validation has queued but not reached: promote it,
      // or the visible thumbnail would wait behind thousands of others.
      if (urgent) this.lanes.promote(pending.job);
      return pending.promise;
    }
    const where = typeof locate === 'string' ? () => locate : locate;
    const queued = this.lanes.push(urgent, () => this.make(where(), key, size));
    const promise = queued.promise.finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, { promise, job: queued.job });
    return promise;
  }

  /** Drops queued background work, e.g. when the project closes. */
  cancelBackground(): void {
    this.lanes.clearBackground();
  }

  private async make(absolute: string, key: string, size: ThumbnailSize): Promise<Probe> {
    const folder = path.join(this.cacheDir, key.slice(0, 2));
    const file = path.join(folder, `${key}.webp`);
    const errorFile = path.join(folder, `${key}.err`);
    if (await exists(file)) return { ok: true, file };
    // An empty or unreadable .err (a write cut short) is no verdict: decode again.
    const known = (await readFile(errorFile, 'utf8').catch(() => '')).trim();
    if (known) return { ok: false, problem: known };
    let webp: Buffer;
    try {
      const { image } = await openRaster(absolute);
      webp = await image
        .rotate()
        .resize(EDGE[size], EDGE[size], { fit: 'inside', withoutEnlargement: true })
        .toColourspace('srgb')
        .webp({ quality: size === 'thumb' ? 75 : 85 })
        .toBuffer();
    } catch (error) {
      const gone = { ok: false, problem: 'The file is not there any more', missing: true } as const;
      if (await isGone(absolute)) return gone;
      const { reason, aboutContent } = await diagnoseDecodeError(absolute, error);
      // Only a verdict about the content is kept: a permission problem can be fixed without changing the file.
      if (aboutContent) await this.store(errorFile, reason);
      else if (await isGone(absolute)) return gone;
      return { ok: false, problem: reason };
    }
    return (await this.store(file, webp)) ? { ok: true, file } : { ok: true, webp };
  }

  /** Writes a cache file whole or not at all (via a temporary file and a rename); false if it could not. */
  private async store(file: string, data: Buffer | string): Promise<boolean> {
    const partial = `${file}.${randomUUID()}.tmp`;
    try {
      await mkdir(path.dirname(file), { recursive: true });
      await this.write(partial, data);
      await rename(partial, file);
      return true;
    } catch {
      await unlink(partial).catch(() => undefined);
      return false;
    }
  }
}

/**
 * No file at that path: also when a folder on the way became a file (ENOTDIR). Any other failure to
 * look (no permission on the folder) is not a miss: the decode's diagnosis says what it is.
 */
async function isGone(absolute: string): Promise<boolean> {
  try {
    await lstat(absolute);
    return false;
  } catch (error) {
    return ['ENOENT', 'ENOTDIR'].includes(errnoCode(error) ?? '');
  }
}

/** Dimensions and the facts worth a note (CMYK, 16-bit, grayscale, alpha, rotation) for the large view. */
export async function describeImage(absolute: string): Promise<Omit<ImageDetails, 'path' | 'status' | 'problem'>> {
  const { meta } = await openRaster(absolute);
  const notes: string[] = [];
  if (meta.space === 'cmyk') notes.push('CMYK colour: converted to sRGB for display and training');
  if (meta.depth && !['uchar', 'char'].includes(meta.depth)) notes.push(`${meta.depth === 'ushort' ? '16' : meta.depth}-bit samples: reduced to 8-bit`);
  if (meta.space === 'b-w' || meta.space === 'grey16' || meta.channels === 1 || (meta.channels === 2 && meta.hasAlpha)) {
    notes.push('Grayscale: expanded to RGB');
  }
  if (meta.hasAlpha) notes.push('Has transparency: flattened for training');
  if (meta.orientation && meta.orientation > 1) notes.push(`EXIF orientation ${meta.orientation}: shown upright`);
  if ((meta.pages ?? 1) > 1) notes.push(`${meta.pages} frames: only the first is used`);
  const rotated = (meta.orientation ?? 1) >= 5;
  return {
    width: rotated ? meta.height : meta.width,
    height: rotated ? meta.width : meta.height,
    format: meta.format,
    notes,
  };
}
