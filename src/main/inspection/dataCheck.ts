// The data check: what in a project will mislead a model before it trains. Exact duplicates (same
// bytes), near-duplicates (resized, re-encoded or brightened copies: a DCT perceptual hash within a
// few bits; slightly cropped ones: registered against their nearest neighbours), near-duplicates
// that straddle the train/val/test split (leakage) or carry different labels (conflicts), and
// image-quality outliers judged against the project itself with robust scores (median and MAD), so
// a dark project does not flag all its images.
import path from 'node:path';
import sharp from 'sharp';
import type { CheckProgress, CheckReport, QualityKind } from '../../shared/contract';
import type { ProjectSession } from '../project/project';
import { DATA_DIR } from '../project/scan';
import { readSplits } from '../training/splits';
import { CancelledError } from '../common/errors';
import { centredUnit, coarseThumb, COLOUR_SIDE, dot, GRAY_SIDE, matchCrop, nearestPairs } from './croppedCopies';
import { nearHashPairs, perceptualHash } from './perceptualHash';

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
  /** The 32×32 luma the hash is taken from: cropped copies are registered on it. */
  gray: Uint8Array;
  /** 8×8 sRGB (3 bytes a pixel): registered copies must keep their colours. */
  colour: Uint8Array;
}

/**
 * Near-duplicates: hashes at most this many bits of 64 apart. Measured on 20 demo images: resized
 * and re-encoded (q40) copies differ by 0–4 bits, brightened (+15%) by 0–6, 6% crops by 2–16; and
 * distinct images of small grayscale sets come as close as 2–6 bits (Fashion-MNIST, digits), so a
 * looser bound flags distinct images: crops are registered instead (croppedCopies.ts).
 */
export const NEAR_DUPLICATE_BITS = 4;
/** …and whose 16×16 thumbnails correlate at least this much (the similarity reported). */
export const NEAR_DUPLICATE_CORRELATION = 0.97;
/**
 * A registered crop: the aligned 16×16 thumbnails correlate at least this much, the aligned
 * pictures' hashes are at most CROP_HASH_BITS apart and their 8×8 colours differ by at most
 * CROP_COLOUR_DIFFERENCE (of 255) on average. Chosen on `bench/dataCheck.bench.ts`: injected crops
 * of generated faces and of six real sets against the pairs each rule added that were not copies
 * (generated faces share their luma; the colours tell them apart).
 */
export const CROP_CORRELATION = 0.97;
export const CROP_HASH_BITS = 4;
export const CROP_COLOUR_DIFFERENCE = 15;
/** Pairs of neighbours compared between a look at cancel and a progress event. */
const COMPARE_STEP = 500;
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
  const gray32 = boxAverage(gray, SIDE, 1, GRAY_SIDE);
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
    hash: perceptualHash(gray32),
    thumb: centredUnit(Float32Array.from(boxAverage(gray, SIDE, 1, 16))),
    gray: gray32,
    colour: boxAverage(colour, 32, 3, COLOUR_SIDE),
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
  const items = (await project.settledSnapshot()).items.filter((i) => i.status !== 'unreadable');
  const [hashes, splits, excluded] = await Promise.all([project.contentHashes(items), readSplits(path.join(project.root, DATA_DIR)), project.excludedHashes()]);
  return { root: project.root, items: items.map((i) => ({ path: i.path, label: i.label, contentHash: hashes.get(i.path) ?? '' })), splits: splits?.assignments ?? {}, excluded: [...excluded] };
}

export async function checkProject(project: ProjectSession, hooks: CheckHooks = {}): Promise<CheckReport> {
  return checkImages(await checkInput(project), hooks);
}

export interface CheckHooks {
  onProgress?: (progress: CheckProgress) => void;
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
          hooks.onProgress?.({ phase: 'measuring', done: ++done, total: items.length });
          continue;
        }
        try {
          measured.push({ path: item.path, label: item.label, contentHash: item.contentHash, stats: await imageStats(path.join(input.root, item.path)) });
        } catch (error) {
          report.unreadable.push({ path: item.path, reason: error instanceof Error ? error.message : String(error) });
        }
        hooks.onProgress?.({ phase: 'measuring', done: ++done, total: items.length });
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
    const correlation = dot(statsOf(a).thumb, statsOf(b).thumb);
    if (correlation >= NEAR_DUPLICATE_CORRELATION) nearPairs.push({ a, b, similarity: Math.round(correlation * 1000) / 1000 });
  }
  // Cropped copies: each image's nearest neighbours by thumbnail, registered (croppedCopies.ts).
  // Representatives rise with the image's index, so both kinds of pair have a < b.
  const paired = new Set(nearPairs.map(({ a, b }) => `${a}|${b}`));
  const neighbours = nearestPairs(representatives.map((i) => coarseThumb(statsOf(i).gray)));
  for (const [k, { a: x, b: y }] of neighbours.entries()) {
    if (k % COMPARE_STEP === 0) {
      // A worker hears a cancel only between tasks: a 50,000-image check compares for a minute or more.
      await new Promise((resolve) => setImmediate(resolve));
      if (hooks.isCancelled?.()) throw new CancelledError();
      hooks.onProgress?.({ phase: 'comparing', done: k, total: neighbours.length });
    }
    const [a, b] = [representatives[x] as number, representatives[y] as number];
    if (paired.has(`${a}|${b}`)) continue;
    const match = matchCrop(statsOf(a), statsOf(b), CROP_CORRELATION);
    if (match && match.hashBits <= CROP_HASH_BITS && match.colourDifference <= CROP_COLOUR_DIFFERENCE) nearPairs.push({ a, b, similarity: Math.round(match.correlation * 1000) / 1000 });
  }
  hooks.onProgress?.({ phase: 'comparing', done: neighbours.length, total: neighbours.length });
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
