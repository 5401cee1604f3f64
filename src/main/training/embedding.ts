// Backbone features for a run's images: decoded with sharp ahead of the engine, augmented copies
// drawn in TF.js before the backbone, every finite row cached by content hash.
import path from 'node:path';
import type { TrainingReport } from '../../shared/report';
import { mapLimit } from '../common/concurrency';
import { type Backbone, type BackboneSpec, loadBackbone } from '../engine/backbone';
import type { FrozenModelRunner } from '../engine/onnx/frozenRunner';
import { decodeForModel, DEFAULT_PREPROCESSING, scalePixels, type Preprocessing } from '../engine/preprocess';
import { tf } from '../engine/tf';
import { type Augmentation, augmentBatch, drawAugmentation } from './augment';
import { allFinite, type EmbeddingCache } from './embeddingCache';
import type { JobEvent, JobSample, Memory, TrainingJob } from './job';
import { CancelledError } from '../common/errors';

const EMBED_BATCH = 16;

/** The run's backbone with the run's preprocessing (resize policy, pixel scale, the current resampling filter). */
export function loadRunBackbone(job: TrainingJob, spec: BackboneSpec): Promise<Backbone> {
  const { config } = job;
  return loadBackbone(spec, config.inputSize, { scale: config.scale, resize: config.resize, interpolation: DEFAULT_PREPROCESSING.interpolation });
}

/** Where a run's frozen models are kept once converted to ONNX, beside the cached features. */
export function onnxCacheDir(job: TrainingJob): string {
  return path.join(job.cacheDir, 'onnx');
}
const UNIT_SCALE: Preprocessing = { inputSize: 0, ...DEFAULT_PREPROCESSING };
const IDENTITY_DRAW = { flip: false, radians: 0, box: [0, 0, 1, 1] as [number, number, number, number], brightness: 0, contrast: 1, saturation: 1 };

export function uniqueByHash(samples: JobSample[]): JobSample[] {
  const seen = new Set<string>();
  return samples.filter((s) => (seen.has(s.hash) ? false : (seen.add(s.hash), true)));
}

export function noteDiscarded(cache: EmbeddingCache, notes: string[]): void {
  if (cache.discarded === 0) return;
  const note = `${cache.discarded} cached feature row(s) held NaN or Infinity (a damaged cache file) and were computed again`;
  console.warn(`[labelloop] ${note}`);
  notes.push(note);
}

export function embeddingProgress(total: number, emit: (event: JobEvent) => void, memory: Memory, phase: 'embedding' | 'decoding' = 'embedding') {
  return (done: number, seconds: number) =>
    emit({ type: 'progress', progress: { phase, done, total, imagesPerSecond: done / Math.max(seconds, 1e-6), etaSeconds: done > 0 ? (seconds / done) * (total - done) : null, memory: memory() } });
}

/** What embedding needs of an image: where it is, its content hash (the cache key), an augmented copy's seed. */
export type EmbeddedSample = Pick<JobSample, 'path' | 'hash' | 'augmentSeed'>;

/** Decodes the next batch with sharp while the backbone runs on the current one. */
export async function embedSamples(
  samples: EmbeddedSample[],
  projectRoot: string,
  runner: FrozenModelRunner,
  prep: Preprocessing,
  augmentation: Augmentation | null,
  cache: EmbeddingCache,
  skipped: TrainingReport['skipped'],
  isCancelled: () => boolean,
  onProgress: (done: number, seconds: number) => void,
): Promise<void> {
  const started = performance.now();
  const pixelsPerImage = prep.inputSize * prep.inputSize * 3;
  const decode = (batch: EmbeddedSample[]) =>
    mapLimit(batch, 4, async (s) => {
      try {
        return await decodeForModel(path.join(projectRoot, s.path), prep);
      } catch (error) {
        skipped.push({ path: s.path, reason: error instanceof Error ? error.message : String(error) });
        return null;
      }
    });
  const batches: EmbeddedSample[][] = [];
  for (let i = 0; i < samples.length; i += EMBED_BATCH) batches.push(samples.slice(i, i + EMBED_BATCH));
  let next = batches.length > 0 ? decode(batches[0] as EmbeddedSample[]) : null;
  let done = 0;
  for (let b = 0; b < batches.length; b++) {
    if (isCancelled()) throw new CancelledError();
    const decoded = await (next as Promise<(Uint8Array | null)[]>);
    next = b + 1 < batches.length ? decode(batches[b + 1] as EmbeddedSample[]) : null;
    const batch = batches[b] as EmbeddedSample[];
    const ok = batch.flatMap((s, i) => (decoded[i] ? [{ sample: s, pixels: decoded[i] as Uint8Array }] : []));
    if (ok.length > 0) {
      const input = new Float32Array(ok.length * pixelsPerImage);
      let pixels: Float32Array = input;
      if (augmentation && ok.some((o) => o.sample.augmentSeed)) {
        // Augmentation works on [0, 1] pixels in TF.js; the backbone's range comes after it.
        ok.forEach((o, i) => scalePixels(o.pixels, UNIT_SCALE, input, i * pixelsPerImage));
        const images = tf.tidy(() => {
          const x = augmentBatch(
            tf.tensor4d(input, [ok.length, prep.inputSize, prep.inputSize, 3]),
            ok.map((o) => (o.sample.augmentSeed ? drawAugmentation(augmentation, o.sample.augmentSeed) : IDENTITY_DRAW)),
          );
          return prep.scale === '-1,1' ? tf.sub(tf.mul(x, 2), 1) : x;
        });
        pixels = (await images.data()) as Float32Array;
        images.dispose();
      } else {
        // No copies in this batch: straight to the backbone's range, without a round trip through TF.js.
        ok.forEach((o, i) => scalePixels(o.pixels, prep, input, i * pixelsPerImage));
      }
      const values = await runner.run(pixels, ok.length);
      const dim = values.length / ok.length;
      ok.forEach((o, i) => {
        const row = values.slice(i * dim, (i + 1) * dim);
        if (allFinite(row)) cache.set(o.sample.hash, row);
        // A bad augmented copy is left out on its own (uncached rows are not used); only a bad original skips the image.
        else if (!o.sample.augmentSeed) skipped.push({ path: o.sample.path, reason: 'the backbone gave features that are not finite numbers (NaN or Infinity)' });
      });
    }
    done += batch.length;
    onProgress(done, (performance.now() - started) / 1000);
    if (b % 25 === 24) await cache.save();
  }
}
