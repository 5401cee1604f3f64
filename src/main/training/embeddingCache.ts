// Backbone features cached on disk by image content hash, per backbone + preprocessing, so a
// retrain after relabeling only embeds the images whose bytes are new. Rows that are not finite
// numbers (a damaged file of the right size) are dropped on reading, so they are embedded again.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createHash } from 'node:crypto';
import type { Preprocessing } from '../engine/preprocess';

export class EmbeddingCache {
  private rows = new Map<string, Float32Array>();
  private unsaved = false;
  /** Rows dropped on reading because they held NaN or ±Infinity. */
  discarded = 0;

  private constructor(
    private readonly base: string,
    readonly dim: number,
  ) {}

  static key(backboneId: string, preprocessing: Preprocessing): string {
    return createHash('sha1').update(`${backboneId}|${JSON.stringify(preprocessing)}`).digest('hex').slice(0, 16);
  }

  static async open(dir: string, key: string, dim: number): Promise<EmbeddingCache> {
    await mkdir(dir, { recursive: true });
    const cache = new EmbeddingCache(path.join(dir, key), dim);
    const [index, data] = await Promise.all([
      readFile(`${cache.base}.json`, 'utf8').catch(() => null),
      readFile(`${cache.base}.f32`).catch(() => null),
    ]);
    if (index && data) {
      try {
        const { dim: storedDim, hashes } = JSON.parse(index) as { dim: number; hashes: string[] };
        const floats = new Float32Array(data.buffer, data.byteOffset, data.byteLength / 4);
        if (storedDim === dim && floats.length === hashes.length * dim) {
          hashes.forEach((hash, i) => {
            const row = floats.slice(i * dim, (i + 1) * dim);
            if (allFinite(row)) cache.rows.set(hash, row);
            else cache.discarded++;
          });
          cache.unsaved = cache.discarded > 0;
        }
      } catch {
        /* a damaged cache is rebuilt */
      }
    }
    return cache;
  }

  get size(): number {
    return this.rows.size;
  }

  get(hash: string): Float32Array | undefined {
    return this.rows.get(hash);
  }

  set(hash: string, features: Float32Array): void {
    if (features.length !== this.dim) throw new Error(`feature length ${features.length}, expected ${this.dim}`);
    if (!allFinite(features)) throw new Error('features with NaN or Infinity are not cached');
    this.rows.set(hash, features);
    this.unsaved = true;
  }

  async save(): Promise<void> {
    if (!this.unsaved) return;
    const hashes = [...this.rows.keys()];
    const data = new Float32Array(hashes.length * this.dim);
    hashes.forEach((hash, i) => data.set(this.rows.get(hash) as Float32Array, i * this.dim));
    await writeFile(`${this.base}.f32.tmp`, Buffer.from(data.buffer));
    await writeFile(`${this.base}.json.tmp`, JSON.stringify({ dim: this.dim, hashes }));
    // Data first, then the index: a crash in between leaves a mismatch that open() rejects.
    await rename(`${this.base}.f32.tmp`, `${this.base}.f32`);
    await rename(`${this.base}.json.tmp`, `${this.base}.json`);
    this.unsaved = false;
  }
}

export function allFinite(values: Float32Array): boolean {
  for (const value of values) if (!Number.isFinite(value)) return false;
  return true;
}
