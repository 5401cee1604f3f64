// The embedding map: every image of the project placed in 2-D from a run's backbone features, so
// that images the backbone sees alike lie together (clusters, strays, a class split in two). The
// features come from the run's embedding cache (those it lacks are computed with the run's own
// backbone and added to it), are reduced to 50 dimensions by PCA (subspace iteration on the
// covariance of up to 10,000 rows), then laid out by UMAP (umap-js). A layout is cached by the
// images' contents and the features' key, so the same project and run give the same map at once.
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { UMAP } from 'umap-js';
import type { FrozenEngine } from '../../shared/contract';
import type { TrainingReport } from '../../shared/report';
import { CancelledError } from '../common/errors';
import { loadBackbone, savedPooling } from '../engine/backbone';
import { frozenModelRunner } from '../engine/onnx/frozenRunner';
import type { Preprocessing } from '../engine/preprocess';
import { tf } from '../engine/tf';
import { seededRandom } from '../project/demo';
import { embedSamples } from '../training/embedding';
import { EmbeddingCache } from '../training/embeddingCache';

/** Bumped when the layout recipe changes, so older cached layouts are not reused. */
const LAYOUT_VERSION = 1;
export const PCA_DIMENSIONS = 50;
/**
 * Rows the covariance is estimated from: plenty for the 50 directions a map needs, and its cost
 * (rows × dim² on one wasm thread) stays a few seconds whatever the project's size.
 */
const PCA_SAMPLE_ROWS = 3_000;
/** Rows centred and projected at a time. */
const PROJECTION_BLOCK = 4_096;
const PCA_ITERATIONS = 25;
export const UMAP_NEIGHBOURS = 15;
const UMAP_MIN_DIST = 0.1;

export type MapPhase = 'embedding' | 'layout';

export interface MapInput {
  root: string;
  /** The project's embedding cache folder, and where converted models are kept. */
  cacheDir: string;
  onnxDir: string;
  /** Where finished layouts are kept. */
  layoutDir: string;
  engine: FrozenEngine;
  backbone: TrainingReport['backbone'];
  preprocessing: TrainingReport['preprocessing'];
  /** The images to place, with their content hashes. */
  items: { path: string; hash: string }[];
  /** The backbone's name in words, for `method`. */
  backboneName: string;
}

export interface MapLayout {
  paths: string[];
  coords: number[];
  skipped: { path: string; reason: string }[];
  embedded: number;
  method: string;
  cached: boolean;
}

export interface MapHooks {
  onProgress?: (phase: MapPhase, done: number, total: number) => void;
  isCancelled?: () => boolean;
}

/** Lays the images out in 2-D (coordinates scaled to 0..1); exact copies share one point. */
export async function layoutMap(input: MapInput, hooks: MapHooks = {}): Promise<MapLayout> {
  const { backbone } = input;
  const preprocessing = runPreprocessing(input.preprocessing);
  const cacheKey = EmbeddingCache.key(backbone.id, preprocessing);
  const cache = await EmbeddingCache.open(input.cacheDir, cacheKey, backbone.featureSize);
  const missing = uniqueHashes(input.items.filter((item) => !cache.get(item.hash)));
  const skipped: MapLayout['skipped'] = [];
  if (missing.length > 0) await embedMissing(input, missing, cache, skipped, hooks);
  if (hooks.isCancelled?.()) throw new CancelledError('The map');

  const lost = new Set(skipped.map((s) => s.path));
  const placed = input.items.filter((item) => !lost.has(item.path) && cache.get(item.hash));
  const hashes = [...new Set(placed.map((item) => item.hash))].sort();
  const method = `${input.backboneName} features (${backbone.featureSize} values) → PCA to ${Math.min(PCA_DIMENSIONS, backbone.featureSize)} → UMAP (${UMAP_NEIGHBOURS} neighbours)`;
  const layoutFile = path.join(input.layoutDir, `${layoutKey(cacheKey, hashes)}.json`);
  let pointOf = await readLayout(layoutFile, hashes);
  const cached = pointOf !== null;
  if (!pointOf) {
    const features = new Float32Array(hashes.length * backbone.featureSize);
    hashes.forEach((hash, i) => features.set(cache.get(hash) as Float32Array, i * backbone.featureSize));
    const xy = await layout(features, hashes.length, backbone.featureSize, hooks);
    pointOf = new Map(hashes.map((hash, i) => [hash, [xy[i * 2] as number, xy[i * 2 + 1] as number]]));
    await saveLayout(layoutFile, hashes, xy);
  }
  const points = pointOf;
  return {
    paths: placed.map((item) => item.path),
    coords: placed.flatMap((item) => points.get(item.hash) as [number, number]),
    skipped,
    embedded: missing.length - skipped.length,
    method,
    cached,
  };
}

/** The images the run's cache lacks, through the run's own backbone (so their features match the others'), into the cache. */
async function embedMissing(input: MapInput, missing: { path: string; hash: string }[], cache: EmbeddingCache, skipped: MapLayout['skipped'], hooks: MapHooks): Promise<void> {
  const { backbone: spec } = input;
  const preprocessing = runPreprocessing(input.preprocessing);
  if (spec.kind === 'small_cnn') throw new Error('This run has no backbone (a small CNN trained from scratch): choose a run with a backbone to map the project');
  const backbone = await loadBackbone(spec, preprocessing.inputSize, preprocessing, savedPooling(spec));
  try {
    if (backbone.id !== spec.id) throw new Error(`The run's backbone is not the one that loads now (${spec.id} against ${backbone.id}): train again to map the project`);
    const runner = await frozenModelRunner(backbone.extractor, input.engine, input.onnxDir);
    await embedSamples(missing, input.root, runner, backbone.preprocessing, null, cache, skipped, () => hooks.isCancelled?.() ?? false, (done) => hooks.onProgress?.('embedding', done, missing.length));
  } finally {
    await cache.save();
    backbone.dispose();
  }
}

/** The run's preprocessing; runs from before the resampling filter was stored used Lanczos 3. */
function runPreprocessing(saved: TrainingReport['preprocessing']): Preprocessing {
  return { ...saved, interpolation: saved.interpolation ?? 'lanczos3' };
}

function uniqueHashes(items: { path: string; hash: string }[]): { path: string; hash: string }[] {
  const seen = new Set<string>();
  return items.filter((item) => (seen.has(item.hash) ? false : (seen.add(item.hash), true)));
}

/** PCA, then UMAP (a few images: PCA alone), scaled to the unit square: x then y per row. */
export async function layout(features: Float32Array, rows: number, dim: number, hooks: MapHooks = {}): Promise<Float32Array> {
  // PCA and the neighbour graph come before the first epoch: the window says "laying out" from here.
  hooks.onProgress?.('layout', 0, 1);
  const reduced = principalComponents(features, rows, dim, Math.min(PCA_DIMENSIONS, dim, Math.max(rows - 1, 1)));
  const k = reduced.length / rows;
  let xy: Float32Array;
  if (rows <= UMAP_NEIGHBOURS) {
    // Too few images for a neighbour graph: the first two principal components say it.
    xy = Float32Array.from({ length: rows * 2 }, (_, i) => (k > (i % 2) ? (reduced[Math.floor(i / 2) * k + (i % 2)] as number) : 0));
  } else {
    const vectors = Array.from({ length: rows }, (_, r) => Array.from(reduced.subarray(r * k, (r + 1) * k)));
    const umap = new UMAP({ nComponents: 2, nNeighbors: UMAP_NEIGHBOURS, minDist: UMAP_MIN_DIST, random: seededRandom(7) });
    const epochs = umap.initializeFit(vectors);
    for (let epoch = 0; epoch < epochs; epoch++) {
      if (epoch % 10 === 0) {
        if (hooks.isCancelled?.()) throw new CancelledError('The map');
        hooks.onProgress?.('layout', epoch, epochs);
        // Lets the worker hear a cancel between chunks of epochs.
        await new Promise((resolve) => setImmediate(resolve));
      }
      umap.step();
    }
    hooks.onProgress?.('layout', epochs, epochs);
    xy = Float32Array.from(umap.getEmbedding().flat());
  }
  return toUnitSquare(xy);
}

/**
 * The rows projected on their `k` leading principal components: subspace iteration on the
 * covariance of (an even sample of) the centred rows, orthonormalised each step; the rows are
 * centred and projected a block at a time, so 50,000 rows never sit in TensorFlow.js at once.
 * Deterministic.
 */
export function principalComponents(features: Float32Array, rows: number, dim: number, k: number): Float32Array {
  const mean = new Float64Array(dim);
  for (let r = 0; r < rows; r++) for (let d = 0; d < dim; d++) mean[d] = (mean[d] as number) + (features[r * dim + d] as number) / rows;
  const centred = (from: number, to: number) => {
    const block = features.slice(from * dim, to * dim);
    for (let i = 0; i < block.length; i++) block[i] = (block[i] as number) - (mean[i % dim] as number);
    return block;
  };
  const step = Math.max(1, Math.ceil(rows / PCA_SAMPLE_ROWS));
  const sampleRows = Array.from({ length: Math.ceil(rows / step) }, (_, i) => i * step);
  const sample = new Float32Array(sampleRows.length * dim);
  sampleRows.forEach((r, i) => sample.set(centred(r, r + 1), i * dim));
  const random = seededRandom(3);
  let basis = orthonormalColumns(Float32Array.from({ length: dim * k }, () => random() - 0.5), dim, k);
  const covariance = tf.tidy(() => {
    const x = tf.tensor2d(sample, [sampleRows.length, dim]);
    return tf.div(tf.matMul(x, x, true, false), Math.max(sampleRows.length - 1, 1));
  });
  try {
    for (let i = 0; i < PCA_ITERATIONS; i++) basis = orthonormalColumns(tf.tidy(() => tf.matMul(covariance, tf.tensor2d(basis, [dim, k])).dataSync() as Float32Array), dim, k);
  } finally {
    covariance.dispose();
  }
  const projected = new Float32Array(rows * k);
  for (let from = 0; from < rows; from += PROJECTION_BLOCK) {
    const to = Math.min(rows, from + PROJECTION_BLOCK);
    projected.set(tf.tidy(() => tf.matMul(tf.tensor2d(centred(from, to), [to - from, dim]), tf.tensor2d(basis, [dim, k])).dataSync() as Float32Array), from * k);
  }
  return projected;
}

/** Modified Gram–Schmidt on the columns of a row-major [dim, k] matrix (a column that vanishes stays zero). */
function orthonormalColumns(matrix: Float32Array, dim: number, k: number): Float32Array {
  const q = Float64Array.from(matrix);
  for (let c = 0; c < k; c++) {
    for (let p = 0; p < c; p++) {
      let dot = 0;
      for (let r = 0; r < dim; r++) dot += (q[r * k + c] as number) * (q[r * k + p] as number);
      for (let r = 0; r < dim; r++) q[r * k + c] = (q[r * k + c] as number) - dot * (q[r * k + p] as number);
    }
    let norm = 0;
    for (let r = 0; r < dim; r++) norm += (q[r * k + c] as number) ** 2;
    norm = Math.sqrt(norm);
    for (let r = 0; r < dim; r++) q[r * k + c] = norm > 1e-12 ? (q[r * k + c] as number) / norm : 0;
  }
  return Float32Array.from(q);
}

/** x and y each scaled to 0..1, keeping the aspect ratio (the longer side spans 0..1, the other centred). */
function toUnitSquare(xy: Float32Array): Float32Array {
  let [minX, minY, maxX, maxY] = [Infinity, Infinity, -Infinity, -Infinity];
  for (let i = 0; i < xy.length; i += 2) {
    minX = Math.min(minX, xy[i] as number);
    maxX = Math.max(maxX, xy[i] as number);
    minY = Math.min(minY, xy[i + 1] as number);
    maxY = Math.max(maxY, xy[i + 1] as number);
  }
  const span = Math.max(maxX - minX, maxY - minY) || 1;
  const [offsetX, offsetY] = [(span - (maxX - minX)) / 2, (span - (maxY - minY)) / 2];
  return xy.map((v, i) => (i % 2 === 0 ? (v - minX + offsetX) / span : (v - minY + offsetY) / span));
}

function layoutKey(cacheKey: string, hashes: string[]): string {
  return createHash('sha256').update(`${LAYOUT_VERSION}|${cacheKey}|${hashes.join(',')}`).digest('hex').slice(0, 32);
}

async function readLayout(file: string, hashes: string[]): Promise<Map<string, [number, number]> | null> {
  const text = await readFile(file, 'utf8').catch(() => null);
  if (!text) return null;
  try {
    const stored = JSON.parse(text) as { hashes: string[]; coords: number[] };
    if (stored.hashes.length !== hashes.length || stored.coords.length !== hashes.length * 2 || stored.hashes.some((h, i) => h !== hashes[i])) return null;
    return new Map(stored.hashes.map((hash, i) => [hash, [stored.coords[i * 2] as number, stored.coords[i * 2 + 1] as number]]));
  } catch {
    // A damaged layout is laid out again.
    return null;
  }
}

async function saveLayout(file: string, hashes: string[], xy: Float32Array): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const partial = `${file}.${process.pid}.tmp`;
  await writeFile(partial, JSON.stringify({ hashes, coords: Array.from(xy) }));
  await rename(partial, file);
}
