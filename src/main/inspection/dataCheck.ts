// The data check: what in a project will mislead a model before it trains. Exact duplicates (same
// bytes), near-duplicates (resized, re-encoded, slightly cropped or brightened copies: a DCT
// perceptual hash within a few bits), near-duplicates that straddle the train/val/test split
// (leakage) or carry different labels (conflicts), and image-quality outliers judged against the
// project itself with robust scores (median and MAD), so a dark project does not flag all its images.
import path from 'node:path';
import sharp from 'sharp';
import type { CheckReport, QualityKind } from '../../shared/contract';
import type { ProjectSession } from '../project/project';
import { DATA_DIR } from '../project/scan';
import { readSplits } from '../training/splits';
import { CancelledError } from '../common/errors';

/** What the check measures of one image. */
export interface ImageStats {
  width: number;
  height: number;
  /** Mean luma, 0..1. */
  brightness: number;
  /** Variance of the Laplacian of the luma at 256 px: low is blurry. */
  sharpness: number;
  /** Entropy of the luma histogram in bits (0..8): low is a flat or nearly flat image. */
  entropy: number;
  /** Mean spread between the strongest and weakest colour channel, 0..1: about 0 is grayscale. */
  colourfulness: number;
  /** 64-bit DCT perceptual hash as two 32-bit halves. */
  hash: [number, number];
  /** The 16×16 luma, zero mean and unit length: a hash match is confirmed by its correlation. */
  thumb: Float32Array;
}

/**
 * Near-duplicates: hashes at most this many bits of 64 apart. Measured on 20 demo images: resized
 * and re-encoded (q40) copies differ by 0–4 bits, brightened (+15%) by 0–6, 6% crops by 2–16; and
 * distinct images of small grayscale sets come as close as 2–6 bits (Fashion-MNIST, digits), so a
 * looser bound flags distinct images: crops need the embeddings' confirmation (not built yet).
 */
export const NEAR_DUPLICATE_BITS = 4;
/** …and whose 16×16 thumbnails correlate at least this much (the similarity reported). */
export const NEAR_DUPLICATE_CORRELATION = 0.97;
/** A robust z-score beyond this marks an outlier. */
const OUTLIER_Z = 3.5;

/** The side of the one decoded copy every measure is taken from (so they compare across image sizes). */
const SIDE = 256;

/**
 * One decode per image: the file's header for its size, and one sRGB copy at 256×256 from which
 * the luma (sharpness, histogram), the 32×32 colour, the 32×32 luma of the hash and the 16×16
 * thumbnail are all averaged down, instead of a decode and resize for each.
 */
export async function imageStats(file: string): Promise<ImageStats> {
  const [meta, { data: rgb }] = await Promise.all([
    sharp(file).metadata(),
    sharp(file, { failOn: 'error' }).rotate().flatten({ background: '#000000' }).toColourspace('srgb').removeAlpha().resize(SIDE, SIDE, { fit: 'fill' }).raw().toBuffer({ resolveWithObject: true }),
  ]);
  const { width = 0, height = 0, orientation } = meta;
  const [w, h] = orientation && orientation >= 5 ? [height, width] : [width, height];
  const gray = new Uint8Array(SIDE * SIDE);
  let sum = 0;
  const histogram = new Float64Array(256);
  for (let i = 0; i < gray.length; i++) {
    // Rec. 601 luma, as greyscale conversions of sRGB usually weigh it.
    const v = Math.round(0.299 * (rgb[i * 3] as number) + 0.587 * (rgb[i * 3 + 1] as number) + 0.114 * (rgb[i * 3 + 2] as number));
    gray[i] = v;
    sum += v;
    histogram[v] = (histogram[v] as number) + 1;
  }
  let entropy = 0;
  for (const count of histogram) if (count > 0) entropy -= (count / gray.length) * Math.log2(count / gray.length);
  let lapSum = 0;
  let lapSq = 0;
  let n = 0;
  for (let y = 1; y < SIDE - 1; y++) {
    for (let x = 1; x < SIDE - 1; x++) {
      const i = y * SIDE + x;
      const lap = (gray[i - SIDE] as number) + (gray[i + SIDE] as number) + (gray[i - 1] as number) + (gray[i + 1] as number) - 4 * (gray[i] as number);
      lapSum += lap;
      lapSq += lap * lap;
      n++;
    }
  }
  const colour = boxAverage(rgb, SIDE, 3, 32);
  let spread = 0;
  for (let i = 0; i < colour.length; i += 3) {
    const [r, g, b] = [colour[i] as number, colour[i + 1] as number, colour[i + 2] as number];
    spread += Math.max(r, g, b) - Math.min(r, g, b);
  }
  return {
    width: w,
    height: h,
    brightness: sum / gray.length / 255,
    sharpness: lapSq / n - (lapSum / n) ** 2,
    entropy,
    colourfulness: spread / (colour.length / 3) / 255,
    hash: perceptualHash(boxAverage(gray, SIDE, 1, 32)),
    thumb: normalized(boxAverage(gray, SIDE, 1, 16)),
  };
}

/** A square image of `side` pixels averaged down to `to` (which divides it): each output pixel the mean of its block. */
function boxAverage(pixels: Uint8Array, side: number, channels: number, to: number): Uint8Array {
  const block = side / to;
  const out = new Uint8Array(to * to * channels);
  for (let y = 0; y < to; y++) {
    for (let x = 0; x < to; x++) {
      for (let c = 0; c < channels; c++) {
        let total = 0;
        for (let dy = 0; dy < block; dy++) for (let dx = 0; dx < block; dx++) total += pixels[((y * block + dy) * side + x * block + dx) * channels + c] as number;
        out[(y * to + x) * channels + c] = Math.round(total / (block * block));
      }
    }
  }
  return out;
}

function normalized(values: Uint8Array): Float32Array {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const out = Float32Array.from(values, (v) => v - mean);
  const length = Math.hypot(...out) || 1;
  return out.map((v) => v / length);
}

/** Correlation of two normalized thumbnails, −1..1. */
export function thumbCorrelation(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += (a[i] as number) * (b[i] as number);
  return dot;
}

/** pHash: the 8×8 lowest frequencies of the 32×32 DCT (DC left out), each bit above or below their median. */
export function perceptualHash(gray32: Uint8Array): [number, number] {
  const N = 32;
  const cos = Array.from({ length: 8 }, (_, u) => Float64Array.from({ length: N }, (_, x) => Math.cos(((2 * x + 1) * u * Math.PI) / (2 * N))));
  const rows = Array.from({ length: N }, (_, y) => Float64Array.from({ length: 8 }, (_, u) => {
    let s = 0;
    for (let x = 0; x < N; x++) s += (gray32[y * N + x] as number) * (cos[u] as Float64Array)[x]!;
    return s;
  }));
  const coefficients: number[] = [];
  for (let v = 0; v < 8; v++) {
    for (let u = 0; u < 8; u++) {
      let s = 0;
      for (let y = 0; y < N; y++) s += (rows[y] as Float64Array)[u]! * (cos[v] as Float64Array)[y]!;
      coefficients.push(s);
    }
  }
  const ac = coefficients.slice(1);
  const median = [...ac].sort((a, b) => a - b)[Math.floor(ac.length / 2)] as number;
  let high = 0;
  let low = 0;
  coefficients.forEach((c, i) => {
    if (i === 0 || c <= median) return;
    if (i < 32) low |= 1 << i;
    else high |= 1 << (i - 32);
  });
  return [low >>> 0, high >>> 0];
}

/**
 * Every pair of hashes at most `bits` apart, without comparing all n² pairs: split the 64 bits into
 * bits + 1 bands; two hashes that differ in at most `bits` bits agree exactly on at least one band
 * (pigeonhole), so only images sharing a band's value are compared. Pairs as [i, j] with i < j, once.
 */
export function nearHashPairs(hashes: [number, number][], bits: number): [number, number][] {
  const bands = bits + 1;
  const width = Math.ceil(64 / bands);
  const bit = (h: [number, number], k: number) => (k < 32 ? (h[0] >>> k) & 1 : (h[1] >>> (k - 32)) & 1);
  // Each hash's value in each band.
  const keys = Array.from({ length: bands }, (_, band) =>
    Float64Array.from(hashes, (h) => {
      let key = 0;
      for (let k = band * width; k < Math.min(64, (band + 1) * width); k++) key = key * 2 + bit(h, k);
      return key;
    }),
  );
  const pairs: [number, number][] = [];
  for (let band = 0; band < bands; band++) {
    const buckets = new Map<number, number[]>();
    (keys[band] as Float64Array).forEach((key, i) => {
      const bucket = buckets.get(key);
      if (bucket) bucket.push(i);
      else buckets.set(key, [i]);
    });
    for (const bucket of buckets.values()) {
      for (let x = 0; x < bucket.length; x++) {
        for (let y = x + 1; y < bucket.length; y++) {
          const [i, j] = [bucket[x] as number, bucket[y] as number];
          // A pair that agrees on an earlier band was compared there.
          let earlier = false;
          for (let b = 0; b < band && !earlier; b++) earlier = (keys[b] as Float64Array)[i] === (keys[b] as Float64Array)[j];
          if (!earlier && hashDistance(hashes[i] as [number, number], hashes[j] as [number, number]) <= bits) pairs.push([i, j]);
        }
      }
    }
  }
  return pairs;
}

function popcount(v: number): number {
  let x = v - ((v >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

export function hashDistance(a: [number, number], b: [number, number]): number {
  return popcount((a[0] ^ b[0]) >>> 0) + popcount((a[1] ^ b[1]) >>> 0);
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length / 2;
  return sorted.length % 2 ? (sorted[Math.floor(mid)] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

/** Robust z-scores: (x − median) / (1.4826 · MAD), with a floor on the spread so a uniform project flags nothing by noise. */
export function robustScores(values: number[], minSpread: number): number[] {
  const m = median(values);
  const spread = Math.max(1.4826 * median(values.map((v) => Math.abs(v - m))), minSpread);
  return values.map((v) => (v - m) / spread);
}

/** Each image's quality outliers against the others, with the robust score that flagged it. */
export function qualityIssues(stats: ImageStats[]): { kinds: QualityKind[]; scores: Partial<Record<QualityKind, number>> }[] {
  const z = {
    sharpness: robustScores(stats.map((s) => Math.log1p(s.sharpness)), 0.25),
    brightness: robustScores(stats.map((s) => s.brightness), 0.05),
    entropy: robustScores(stats.map((s) => s.entropy), 0.25),
    area: robustScores(stats.map((s) => Math.log(Math.max(1, s.width * s.height))), 0.35),
    aspect: robustScores(stats.map((s) => Math.log(Math.max(1, s.width) / Math.max(1, s.height))), 0.1),
  };
  const colourProject = median(stats.map((s) => s.colourfulness)) > 0.06;
  return stats.map((s, i) => {
    const scores: Partial<Record<QualityKind, number>> = {};
    const at = (values: number[]) => values[i] as number;
    if (at(z.sharpness) < -OUTLIER_Z) scores.blurry = at(z.sharpness);
    // Brightness and information also have absolute ends: a nearly black, white or flat image is one whatever the project.
    if ((at(z.brightness) < -OUTLIER_Z && s.brightness < 0.25) || s.brightness < 0.08) scores.dark = at(z.brightness);
    if ((at(z.brightness) > OUTLIER_Z && s.brightness > 0.75) || s.brightness > 0.92) scores.bright = at(z.brightness);
    if ((at(z.entropy) < -OUTLIER_Z && s.entropy < 4) || s.entropy < 1) scores['low-information'] = at(z.entropy);
    // A flat image has no edges to be sharp: it is low-information, not blurry.
    if (scores['low-information'] !== undefined) delete scores.blurry;
    if (Math.abs(at(z.area)) > OUTLIER_Z) scores['odd-size'] = at(z.area);
    if (Math.abs(at(z.aspect)) > OUTLIER_Z) scores['odd-aspect'] = at(z.aspect);
    if (colourProject && s.colourfulness < 0.02) scores.grayscale = s.colourfulness;
    const kinds = Object.keys(scores) as QualityKind[];
    return { kinds, scores: Object.fromEntries(kinds.map((k) => [k, Math.round((scores[k] as number) * 100) / 100])) };
  });
}

/** Groups of images: union-find over the pairs given, each group's similarity the least of its links. */
function groups(count: number, pairs: { a: number; b: number; similarity: number }[]): { members: number[]; similarity: number }[] {
  const parent = Array.from({ length: count }, (_, i) => i);
  const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i] as number)));
  for (const { a, b } of pairs) parent[find(a)] = find(b);
  const byRoot = new Map<number, { members: number[]; similarity: number }>();
  for (let i = 0; i < count; i++) {
    const root = find(i);
    const group = byRoot.get(root) ?? { members: [], similarity: 1 };
    group.members.push(i);
    byRoot.set(root, group);
  }
  for (const { a, similarity } of pairs) {
    const group = byRoot.get(find(a)) as { similarity: number };
    group.similarity = Math.min(group.similarity, similarity);
  }
  return [...byRoot.values()].filter((g) => g.members.length > 1);
}

/** What the check reads: the images with their labels and content hashes, the split assignment, the exclusion list. */
export interface CheckInput {
  root: string;
  items: { path: string; label: string | null; contentHash: string }[];
  /** Content hash → split (splits.json's assignments). */
  splits: Record<string, string>;
  /** Content hashes on the exclusion list: in no split, so they leak nothing. */
  excluded: string[];
}

/** The check's input from an open project (the content hashes are cached, so this is quick after the first time). */
export async function checkInput(project: ProjectSession): Promise<CheckInput> {
  const items = project.snapshot().items.filter((i) => i.status !== 'unreadable');
  const [hashes, splits, excluded] = await Promise.all([project.contentHashes(items), readSplits(path.join(project.root, DATA_DIR)), project.excludedHashes()]);
  return { root: project.root, items: items.map((i) => ({ path: i.path, label: i.label, contentHash: hashes.get(i.path) ?? '' })), splits: splits?.assignments ?? {}, excluded: [...excluded] };
}

export async function checkProject(project: ProjectSession, hooks: CheckHooks = {}): Promise<CheckReport> {
  return checkImages(await checkInput(project), hooks);
}

export interface CheckHooks {
  onProgress?: (done: number, total: number) => void;
  /** Asked between images: true stops the check with a CancelledError. */
  isCancelled?: () => boolean;
}

export async function checkImages(input: CheckInput, hooks: CheckHooks = {}): Promise<CheckReport> {
  const { items } = input;
  const excluded = new Set(input.excluded);
  const splits = Object.fromEntries(Object.entries(input.splits).filter(([hash]) => !excluded.has(hash)));
  const report: CheckReport = { images: items.length, duplicates: [], leaks: [], conflicts: [], issues: [], unreadable: [] };

  const measured: { path: string; label: string | null; contentHash: string; stats: ImageStats }[] = [];
  let done = 0;
  const queue = [...items];
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (let item = queue.shift(); item && !hooks.isCancelled?.(); item = queue.shift()) {
        // Without its content hash an image would be grouped with every other such image as "exact copies".
        if (!item.contentHash) {
          report.unreadable.push({ path: item.path, reason: 'the file could not be read to compute its content hash' });
          hooks.onProgress?.(++done, items.length);
          continue;
        }
        try {
          measured.push({ path: item.path, label: item.label, contentHash: item.contentHash, stats: await imageStats(path.join(input.root, item.path)) });
        } catch (error) {
          report.unreadable.push({ path: item.path, reason: error instanceof Error ? error.message : String(error) });
        }
        hooks.onProgress?.(++done, items.length);
      }
    }),
  );
  if (hooks.isCancelled?.()) throw new CancelledError();
  measured.sort((a, b) => a.path.localeCompare(b.path));

  // Exact duplicates by content; near ones by the perceptual hash, one representative per content.
  const byContent = new Map<string, number[]>();
  measured.forEach((m, i) => byContent.set(m.contentHash, [...(byContent.get(m.contentHash) ?? []), i]));
  const exactPairs = [...byContent.values()].flatMap((members) => members.slice(1).map((b) => ({ a: members[0] as number, b, similarity: 1 })));
  for (const members of byContent.values()) {
    if (members.length > 1) report.duplicates.push({ kind: 'exact', similarity: 1, paths: members.map((i) => measured[i]?.path as string) });
  }
  const representatives = [...byContent.values()].map((members) => members[0] as number);
  const nearPairs: { a: number; b: number; similarity: number }[] = [];
  const statsOf = (i: number) => (measured[i] as { stats: ImageStats }).stats;
  for (const [x, y] of nearHashPairs(representatives.map((i) => statsOf(i).hash), NEAR_DUPLICATE_BITS)) {
    const [a, b] = [representatives[x] as number, representatives[y] as number];
    // Similar-looking images of one kind (face crops, parts) share hashes: the thumbnails must agree too.
    const correlation = thumbCorrelation(statsOf(a).thumb, statsOf(b).thumb);
    if (correlation >= NEAR_DUPLICATE_CORRELATION) nearPairs.push({ a, b, similarity: Math.round(correlation * 1000) / 1000 });
  }
  for (const group of groups(measured.length, nearPairs)) {
    report.duplicates.push({ kind: 'near', similarity: group.similarity, paths: group.members.flatMap((i) => byContent.get((measured[i] as { contentHash: string }).contentHash)?.map((k) => measured[k]?.path as string) ?? []) });
  }
  // Leakage and conflicts within every group of copies, exact or near.
  for (const group of groups(measured.length, [...exactPairs, ...nearPairs])) {
    const members = group.members.map((i) => measured[i] as (typeof measured)[number]);
    const paths = members.map((m) => m.path);
    const splitsOf = members.map((m) => splits[m.contentHash] ?? null);
    if (new Set(splitsOf.filter((s) => s !== null)).size > 1) report.leaks.push({ paths, splits: splitsOf.map((s) => s ?? 'none'), similarity: group.similarity });
    const labels = members.map((m) => m.label);
    if (new Set(labels.filter((l) => l !== null)).size > 1) report.conflicts.push({ paths, labels, similarity: group.similarity });
  }
  const quality = qualityIssues(measured.map((m) => m.stats));
  measured.forEach((m, i) => {
    const q = quality[i] as ReturnType<typeof qualityIssues>[number];
    if (q.kinds.length > 0) report.issues.push({ path: m.path, ...q });
  });
  return report;
}

/** The report in words: the counts, then a line per group or image (the first 20 of each). */
export function describeCheck(report: CheckReport): string[] {
  const exact = report.duplicates.filter((d) => d.kind === 'exact');
  const near = report.duplicates.filter((d) => d.kind === 'near');
  const lines = [
    `${report.images} image(s): ${exact.length} group(s) of exact duplicates, ${near.length} of near-duplicates, ${report.leaks.length} across the split (leaks), ${report.conflicts.length} under different labels (conflicts), ${report.issues.length} quality outlier(s), ${report.unreadable.length} unreadable`,
  ];
  const some = <T>(list: T[], line: (item: T) => string) => {
    for (const item of list.slice(0, 20)) lines.push(line(item));
    if (list.length > 20) lines.push(`  … and ${list.length - 20} more (see --report)`);
  };
  some(exact, (d) => `exact duplicates: ${d.paths.join(', ')}`);
  some(near, (d) => `near-duplicates (similarity ${d.similarity.toFixed(3)}): ${d.paths.join(', ')}`);
  some(report.leaks, (l) => `leak: ${l.paths.map((p, i) => `${p} (${l.splits[i]})`).join(', ')}`);
  some(report.conflicts, (c) => `conflict: ${c.paths.map((p, i) => `${p} (${c.labels[i] ?? 'unlabeled'})`).join(', ')}`);
  some(report.issues, (i) => `${i.kinds.join(', ')}: ${i.path}`);
  some(report.unreadable, (u) => `unreadable: ${u.path}: ${u.reason}`);
  return lines;
}
