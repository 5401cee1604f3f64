// Train/val/test assignment by image content, stratified per class and seeded. Assignments are
// kept in .labelloop/splits.json, so they are stable across runs, a relabeled image keeps its
// split (same bytes, same hash), and new images fill whichever split is short in their class.
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';

import type { Split } from '../../shared/report';
import { seededRandom } from '../project/demo';

export type { Split };

export interface SplitSettings {
  val: number;
  test: number;
  seed: number;
}

export interface SplitFile {
  settings: SplitSettings;
  /** content hash → split */
  assignments: Record<string, Split>;
}

export const SPLIT_FILE = 'splits.json';

export function validateSplitSettings(settings: SplitSettings): void {
  if (!(settings.val >= 0 && settings.test >= 0 && settings.val + settings.test < 1)) {
    throw new Error(`Split fractions must be ≥ 0 and leave room for training (val ${settings.val}, test ${settings.test})`);
  }
}

/** Assigns every image a split, keeping earlier assignments when the settings are unchanged. */
export function assignSplits(items: { hash: string; label: string }[], previous: SplitFile | null, settings: SplitSettings): SplitFile {
  validateSplitSettings(settings);
  const same = previous && previous.settings.val === settings.val && previous.settings.test === settings.test && previous.settings.seed === settings.seed;
  const assignments: Record<string, Split> = same ? { ...previous.assignments } : {};
  const fractions: [Split, number][] = [
    ['train', 1 - settings.val - settings.test],
    ['val', settings.val],
    ['test', settings.test],
  ];
  const byClass = new Map<string, string[]>();
  for (const item of items) {
    const list = byClass.get(item.label) ?? [];
    list.push(item.hash);
    byClass.set(item.label, list);
  }
  for (const hashes of byClass.values()) {
    const unique = [...new Set(hashes)];
    const counts: Record<Split, number> = { train: 0, val: 0, test: 0 };
    for (const hash of unique) if (assignments[hash]) counts[assignments[hash]]++;
    const order = (hash: string) => createHash('sha1').update(`${settings.seed}:${hash}`).digest('hex');
    const fresh = unique.filter((h) => !assignments[h]).sort((a, b) => (order(a) < order(b) ? -1 : 1));
    for (const hash of fresh) {
      const assigned = counts.train + counts.val + counts.test + 1;
      // The split furthest below its share of this class gets the image (ties go to train).
      let best: Split = 'train';
      let bestDeficit = -Infinity;
      for (const [split, fraction] of fractions) {
        if (fraction <= 0) continue;
        const deficit = fraction * assigned - counts[split];
        if (deficit > bestDeficit + 1e-12) {
          best = split;
          bestDeficit = deficit;
        }
      }
      assignments[hash] = best;
      counts[best]++;
    }
  }
  return { settings, assignments };
}

export async function readSplits(dataDir: string): Promise<SplitFile | null> {
  const text = await readFile(path.join(dataDir, SPLIT_FILE), 'utf8').catch(() => null);
  if (!text) return null;
  try {
    return JSON.parse(text) as SplitFile;
  } catch {
    return null;
  }
}

export async function writeSplits(dataDir: string, splits: SplitFile): Promise<void> {
  await mkdir(dataDir, { recursive: true });
  const file = path.join(dataDir, SPLIT_FILE);
  await writeFile(`${file}.tmp`, JSON.stringify(splits));
  await rename(`${file}.tmp`, file);
}

/** Repeats each minority class (train split only) until every class matches the largest. */
export function oversample(indicesByClass: number[][], random: () => number): number[] {
  const target = Math.max(0, ...indicesByClass.map((c) => c.length));
  const result: number[] = [];
  for (const indices of indicesByClass) {
    if (indices.length === 0) continue;
    const full = Math.floor(target / indices.length);
    for (let r = 0; r < full; r++) result.push(...indices);
    const rest = shuffled(indices, random).slice(0, target - full * indices.length);
    result.push(...rest);
  }
  return result;
}

/** Keras-style balanced weights: total / (classes × count). */
export function classWeights(counts: number[]): number[] {
  const total = counts.reduce((a, b) => a + b, 0);
  return counts.map((c) => (c > 0 ? total / (counts.length * c) : 0));
}

export function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy;
}

/** Up to `perClass` items of each class, the classes taken in turn: a small sample that shows every class. */
export function sampleByClass<T extends { label: string }>(items: readonly T[], perClass: number, limit = Infinity): T[] {
  const byClass = new Map<string, T[]>();
  for (const item of items) {
    const list = byClass.get(item.label) ?? [];
    if (list.length < perClass) list.push(item);
    byClass.set(item.label, list);
  }
  const sample: T[] = [];
  for (let round = 0; round < perClass; round++) {
    for (const list of byClass.values()) {
      const item = list[round];
      if (item) sample.push(item);
    }
  }
  return sample.slice(0, limit);
}

/** Stratified fold number for every row. */
export function assignFolds(labels: Int32Array, folds: number, seed: number): Int32Array {
  const fold = new Int32Array(labels.length);
  const random = seededRandom(seed);
  const byClass = new Map<number, number[]>();
  labels.forEach((label, row) => {
    const rows = byClass.get(label);
    if (rows) rows.push(row);
    else byClass.set(label, [row]);
  });
  for (const rows of byClass.values()) shuffled(rows, random).forEach((row, i) => (fold[row] = i % folds));
  return fold;
}
