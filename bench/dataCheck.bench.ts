// `npm run bench`, data check: `check` time on a generated project of 10,000 images (set
// BENCH_CHECK_IMAGES for more), near-duplicate recall and precision on 250 injected copies of
// known kinds (resized, re-encoded, brightened, cropped on every side or off one), and the same on
// real pictures.
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, it } from 'vitest';
import { EventBus } from '../src/main/common/events';
import { loadBackbone } from '../src/main/engine/backbone';
import { frozenModelRunner } from '../src/main/engine/onnx/frozenRunner';
import { DEFAULT_PREPROCESSING } from '../src/main/engine/preprocess';
import { checkProject, imageStats } from '../src/main/inspection/dataCheck';
import { embedSamples } from '../src/main/training/embedding';
import { EmbeddingCache } from '../src/main/training/embeddingCache';
import { generateDemoProject } from '../src/main/project/demo';
import { ProjectSession } from '../src/main/project/project';
import type { CheckReport } from '../src/shared/contract';
import { benchDatasets, cappedCopy } from './realData';

const lines: string[] = [];
const IMAGES = Number(process.env.BENCH_CHECK_IMAGES ?? 10_000);

const COPIES: Record<string, (file: string) => Promise<Buffer>> = {
  'resized to 70%': async (file) => sharp(file).resize(Math.round(((await sharp(file).metadata()).width ?? 96) * 0.7)).jpeg({ quality: 85 }).toBuffer(),
  're-encoded (JPEG q40)': async (file) => sharp(file).jpeg({ quality: 40 }).toBuffer(),
  'brightened 8%': async (file) => sharp(file).modulate({ brightness: 1.08 }).jpeg({ quality: 90 }).toBuffer(),
  'cropped 4% a side': async (file) => {
    const { width = 96, height = 96 } = await sharp(file).metadata();
    const dx = Math.round(width * 0.04);
    const dy = Math.round(height * 0.04);
    return sharp(file).extract({ left: dx, top: dy, width: width - 2 * dx, height: height - 2 * dy }).jpeg({ quality: 90 }).toBuffer();
  },
  'cropped 8% off one side': async (file) => {
    const { width = 96, height = 96 } = await sharp(file).metadata();
    const dx = Math.round(width * 0.08);
    return sharp(file).extract({ left: dx, top: 0, width: width - dx, height }).jpeg({ quality: 90 }).toBuffer();
  },
};

/** Each injected copy (project-relative) → its original. */
async function injectCopies(root: string, originals: string[]): Promise<Map<string, string>> {
  const truth = new Map<string, string>();
  const kinds = Object.keys(COPIES);
  for (const [i, original] of originals.entries()) {
    const kind = kinds[i % kinds.length] as string;
    const copy = path.join(path.dirname(original), `copy_${i}_${path.basename(original, path.extname(original))}.jpg`);
    await writeFile(path.join(root, copy), await (COPIES[kind] as (f: string) => Promise<Buffer>)(path.join(root, original)));
    truth.set(copy, original);
  }
  return truth;
}

/**
 * Why near-duplicates are not looked for by the backbone's features: for each kind of copy, how
 * often its original is its nearest image by MobileNetV2's pooled features (cosine after taking
 * the set's mean away) and by the check's 16×16 luma thumbnail (correlation).
 */
async function nearestOriginal(root: string, originals: string[], truth: Map<string, string>): Promise<string> {
  const files = [...originals, ...truth.keys()];
  const backbone = await loadBackbone({ kind: 'mobilenet_v2' }, 224, DEFAULT_PREPROCESSING);
  const features = new Map<string, Float32Array>();
  try {
    const runner = await frozenModelRunner(backbone.extractor, 'auto', path.join(root, '..', 'onnx'));
    const cache = await EmbeddingCache.open(path.join(root, '..', 'features'), path.basename(root), backbone.featureSize);
    await embedSamples(files.map((f) => ({ path: f, hash: f })), root, runner, backbone.preprocessing, null, cache, [], () => false, () => undefined);
    const dim = backbone.featureSize;
    const mean = new Float32Array(dim);
    for (const f of files) (cache.get(f) as Float32Array).forEach((v, d) => (mean[d] += v / files.length));
    for (const f of files) features.set(f, unitLength(Float32Array.from(cache.get(f) as Float32Array, (v, d) => v - (mean[d] as number))));
  } finally {
    backbone.dispose();
  }
  const thumbs = new Map(await Promise.all(files.map(async (f) => [f, (await imageStats(path.join(root, f))).thumb] as const)));
  const kinds = Object.keys(COPIES);
  const nearestIs = (vectors: Map<string, Float32Array>, copy: string, original: string) => {
    const v = vectors.get(copy) as Float32Array;
    const score = (f: string) => (vectors.get(f) as Float32Array).reduce((sum, x, i) => sum + x * (v[i] as number), 0);
    return files.every((f) => f === copy || f === original || score(f) < score(original));
  };
  return kinds
    .map((kind, k) => {
      const mine = [...truth].filter((_, i) => i % kinds.length === k);
      return `${kind} ${mine.filter(([c, o]) => nearestIs(features, c, o)).length} by features, ${mine.filter(([c, o]) => nearestIs(thumbs, c, o)).length} by thumbnail (of ${mine.length})`;
    })
    .join('; ');
}

function unitLength(v: Float32Array): Float32Array {
  const length = Math.hypot(...v) || 1;
  return v.map((x) => x / length);
}

/** Recall per kind of copy, and how many of the reported pairs are an injected copy and its original. */
function scoreReport(report: CheckReport, truth: Map<string, string>): string[] {
  const kinds = Object.keys(COPIES);
  const together = (a: string, b: string) => report.duplicates.some((d) => d.paths.includes(a) && d.paths.includes(b));
  const recall = kinds.map((kind, k) => {
    const mine = [...truth].filter((_, i) => i % kinds.length === k);
    return `${kind} ${mine.filter(([copy, original]) => together(copy, original)).length}/${mine.length}`;
  });
  let pairs = 0;
  let right = 0;
  for (const d of report.duplicates) {
    for (let a = 0; a < d.paths.length; a++) {
      for (let b = a + 1; b < d.paths.length; b++) {
        pairs++;
        const [x, y] = [d.paths[a] as string, d.paths[b] as string];
        if (truth.get(x) === y || truth.get(y) === x) right++;
      }
    }
  }
  return [`  recall: ${recall.join(', ')}`, `  precision: ${right}/${pairs} reported pairs are injected copies (${pairs ? ((100 * right) / pairs).toFixed(1) : '–'}%)`];
}

describe('data check', () => {
  let work = '';
  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
    console.log(`\n=== Data check (${os.cpus().length} cores) ===\n${lines.join('\n')}\n`);
  });

  it(`checks ${IMAGES} images and finds injected copies`, async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'labelloop-bench-check-'));
    const root = path.join(work, 'project');
    await generateDemoProject(root, { perClass: IMAGES / 2, size: 96 });
    // 50 originals of each kind, each copied once next to its original.
    const originals = Array.from({ length: 50 * Object.keys(COPIES).length }, (_, i) => `OK/ok_${String(i + 1).padStart(4, '0')}.jpg`);
    const truth = await injectCopies(root, originals);
    const project = await ProjectSession.open(root, new EventBus(), { watchIntervalMs: 0, backgroundValidation: false });
    try {
      const started = performance.now();
      let comparing = 0;
      const report = await checkProject(project, { onProgress: ({ phase }) => void (phase === 'comparing' && !comparing && (comparing = performance.now())) });
      const seconds = (performance.now() - started) / 1000;
      lines.push(`check on ${report.images} images (96 px JPEGs): ${seconds.toFixed(1)} s (${(report.images / seconds).toFixed(0)} images/s), of which comparing close neighbours for cropped copies ${((performance.now() - comparing) / 1000).toFixed(1)} s`);
      lines.push(...scoreReport(report, truth));
      lines.push(`  ${report.issues.length} quality outlier(s) flagged among ${report.images} generated images`);
    } finally {
      await project.close();
    }
  }, 1_800_000);

  // Real pictures (Debian packages, bench/realData.ts): up to 1,500 of each set with 120 injected
  // copies. A set's own near-identical pictures (an icon under two names, one glyph in two
  // fonts) are reported too, so "other pairs" are not all false alarms: the first few are named.
  it('finds injected copies among real images', async () => {
    const sets = await benchDatasets((line) => lines.push(line));
    for (const set of sets) {
      const root = path.join(work || (work = await mkdtemp(path.join(os.tmpdir(), 'labelloop-bench-check-'))), `real-${set.name}`);
      await cappedCopy(set.dir, root, 1_500);
      const files = (await Promise.all(set.classes.map(async (c) => (await readdir(path.join(root, c))).sort().map((f) => path.join(c, f))))).flat();
      const step = Math.max(1, Math.floor(files.length / 120));
      const truth = await injectCopies(root, files.filter((_, i) => i % step === 0).slice(0, 120));
      const project = await ProjectSession.open(root, new EventBus(), { watchIntervalMs: 0, backgroundValidation: false });
      try {
        const started = performance.now();
        const report = await checkProject(project);
        lines.push(`${set.name} (${report.images} images): ${((performance.now() - started) / 1000).toFixed(1)} s`);
        lines.push(...scoreReport(report, truth));
        const others = report.duplicates.filter((d) => d.kind === 'near' && !d.paths.some((p) => truth.has(p)));
        lines.push(`  groups without an injected copy: ${others.length}${others.length ? `, e.g. ${others.slice(0, 3).map((d) => d.paths.join(' = ')).join('; ')}` : ''}`);
        lines.push(`  the original is its copy's nearest image: ${await nearestOriginal(root, files, truth)}`);
      } finally {
        await project.close();
      }
    }
  }, 1_800_000);
});
