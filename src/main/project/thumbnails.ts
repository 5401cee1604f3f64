// Thumbnails and image checks. Decoding an image fully is the only sure test that it is readable,
// so making its thumbnail doubles as validation: the result (a .webp, or a .err with the reason)
// is cached under .labelloop/thumbs keyed by the file's version, so a changed file is redone.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import type { ImageDetails, ThumbnailSize } from '../../shared/contract';
import { exists } from './fileMove';

/** Larger images are refused: a decompression bomb or a scan no classifier needs (100 MP). */
export const MAX_INPUT_PIXELS = 100_000_000;
const EDGE: Record<ThumbnailSize, number> = { thumb: 256, large: 1024 };

// libvips parallelises inside one image; we parallelise across images instead.
sharp.concurrency(1);

export type Probe = { ok: true; file: string } | { ok: false; problem: string };

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

  constructor(
    private readonly cacheDir: string,
    slots = Math.max(2, os.cpus().length),
  ) {
    this.lanes = new Lanes(slots);
  }

  cacheKey(version: string, size: ThumbnailSize): string {
    return createHash('sha1').update(`${version}|${size}|${EDGE[size]}`).digest('hex');
  }

  /** The cached thumbnail file, made now (ahead of background work) if missing. */
  get(absolute: string, version: string, size: ThumbnailSize, urgent = true): Promise<Probe> {
    const key = this.cacheKey(version, size);
    const pending = this.inFlight.get(key);
    if (pending) {
      // The grid asks for an image background validation has queued but not reached: promote it,
      // or the visible thumbnail would wait behind thousands of others.
      if (urgent) this.lanes.promote(pending.job);
      return pending.promise;
    }
    const queued = this.lanes.push(urgent, () => this.make(absolute, key, size));
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
    const known = await readFile(errorFile, 'utf8').catch(() => null);
    if (known !== null) return { ok: false, problem: known };
    await mkdir(folder, { recursive: true });
    try {
      const partial = `${file}.${process.pid}.tmp`;
      await sharp(absolute, { limitInputPixels: MAX_INPUT_PIXELS, failOn: 'warning', animated: false })
        .rotate()
        .resize(EDGE[size], EDGE[size], { fit: 'inside', withoutEnlargement: true })
        .toColourspace('srgb')
        .webp({ quality: size === 'thumb' ? 75 : 85 })
        .toFile(partial);
      await rename(partial, file);
      return { ok: true, file };
    } catch (error) {
      const problem = await explainDecodeError(absolute, error);
      // Only a verdict about the file is cached; a vanished file or a full disk is not.
      if (!(await exists(absolute))) return { ok: false, problem: 'The file no longer exists' };
      await writeFile(errorFile, problem).catch(() => undefined);
      return { ok: false, problem };
    }
  }
}

/** Turns libvips' terse messages into what a user can act on. */
export async function explainDecodeError(absolute: string, error: unknown): Promise<string> {
  const message = error instanceof Error ? error.message : String(error);
  if (/pixel limit/i.test(message)) {
    const meta = await sharp(absolute, { limitInputPixels: false }).metadata().catch(() => null);
    const dims = meta?.width && meta.height ? `${meta.width}×${meta.height} (${((meta.width * meta.height) / 1e6).toFixed(0)} MP)` : 'too large';
    return `The image is ${dims}, over the ${MAX_INPUT_PIXELS / 1e6} MP limit (a decompression bomb, or far larger than training needs)`;
  }
  if (/unsupported image format/i.test(message)) {
    return 'Not an image: the content is not a supported image format, whatever its extension says';
  }
  if (/premature end|truncated|corrupt|read error|unexpected end|not enough data/i.test(message)) {
    return `The file is truncated or damaged (${message.split('\n')[0]})`;
  }
  return `Cannot decode the image: ${message.split('\n')[0]}`;
}

/** Dimensions and the facts worth a note (CMYK, 16-bit, grayscale, alpha, rotation) for the large view. */
export async function describeImage(absolute: string): Promise<Omit<ImageDetails, 'path' | 'status' | 'problem'>> {
  const meta = await sharp(absolute, { limitInputPixels: MAX_INPUT_PIXELS }).metadata();
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
