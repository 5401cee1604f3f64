// "Auto": which model suits this project, decided before the run proper. Each bundled backbone
// embeds the same stratified sample of the train split (cached, so the winner's rows are not
// embedded twice), and a converged head is scored on them by inner folds. Where the images are far
// from ImageNet's photos (mostly grayscale, or small), the small CNN from scratch is tried on the
// same sample too. Val and test images are never looked at, so the accuracy the run reports stays
// honest. Cheapest candidates go first, and one that would overrun the time budget is skipped with
// the reason.
import path from 'node:path';
import sharp from 'sharp';
import { backboneOfChoice, type BundledBackbone, DEFAULT_BACKBONE } from '../../shared/contract';
import { mapLimit } from '../common/concurrency';
import { tf } from '../engine/tf';
import { ProgressReporter, TimeStopping } from './callbacks';
import { fitSmallCnn, innerHoldout, PIXELS, pixelStage, type SmallCnnSpec } from './smallCnn';
import { predictInBatches } from './trainHead';
import type { ModelChoice } from '../../shared/report';
import { logLossAndAccuracy } from '../../shared/metrics';
import { seededRandom } from '../project/demo';
import { frozenModelRunner } from '../engine/onnx/frozenRunner';
import { innerFoldScore } from './convergedHead';
import { embedSamples, loadRunBackbone, noteDiscarded, onnxCacheDir, uniqueByHash } from './embedding';
import { EmbeddingCache } from './embeddingCache';
import { CancelledError } from '../common/errors';
import type { JobEvent, JobSample, Memory, TrainingJob } from './job';

/**
 * The candidates, cheapest first, with their time per image relative to MobileNetV2 (InceptionV3's
 * trunk took 1.5–1.7× as long in `npm run bench`, model load and conversion included; the
 * three-depth MobileNetV2 is the same network).
 */
export const AUTO_CANDIDATES: readonly { backbone: BundledBackbone; cost: number }[] = [
  { backbone: 'mobilenet_v2', cost: 1 },
  { backbone: 'mobilenet_v2_depths', cost: 1 },
  { backbone: 'inception_v3', cost: 1.7 },
];

/** Progress steps of the choice: one per backbone, and the small CNN's. */
const STEPS = AUTO_CANDIDATES.length + 1;

/**
 * A candidate whose features are the last columns of a wider candidate's (the same network): one
 * pass of the wider one embeds both. MobileNetV2's `out_relu` is the last block of its three depths.
 */
const WIDER_PASS: Partial<Record<BundledBackbone, BundledBackbone>> = { mobilenet_v2: 'mobilenet_v2_depths' };

/** Train images the candidates are compared on: enough for inner folds to rank them, few enough to be quick. */
export const PROBE_IMAGES = 400;

/**
 * Lower held-out log-loss wins; within TIE of the best (relative) or TIE_FLOOR (absolute: near zero
 * a relative margin is noise) counts as a tie, and the cheaper, earlier candidate wins it.
 */
const TIE = 0.01;
const TIE_FLOOR = 0.005;

/** A stratified sample of the train split, the same for the same seed: each class in proportion, at least 3 each where it has them. */
export function probeSamples(samples: readonly JobSample[], classCount: number, size: number, seed: number): JobSample[] {
  const train = samples.filter((s) => s.split === 'train' && !s.augmentSeed);
  if (train.length <= size) return train;
  const random = seededRandom(seed + 11);
  const chosen: JobSample[] = [];
  for (let c = 0; c < classCount; c++) {
    const members = train.filter((s) => s.label === c).sort((a, b) => (a.hash < b.hash ? -1 : a.hash > b.hash ? 1 : 0));
    for (let i = members.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [members[i], members[j]] = [members[j] as JobSample, members[i] as JobSample];
    }
    chosen.push(...members.slice(0, Math.min(members.length, Math.max(3, Math.round((size * members.length) / train.length)))));
  }
  return chosen;
}

export async function chooseModel(
  job: TrainingJob,
  budgetSeconds: number,
  emit: (event: JobEvent) => void,
  isCancelled: () => boolean,
  memory: Memory,
  notes: string[],
): Promise<ModelChoice> {
  const { config } = job;
  // Two files with the same bytes are one image: as two rows they could straddle an inner fold.
  const probe = uniqueByHash(probeSamples(job.samples, job.classes.length, PROBE_IMAGES, config.seed));
  const started = performance.now();
  const candidates: ModelChoice['candidates'] = [];
  // Measured as candidates run: seconds per embedded image at cost 1, and each candidate's fixed part (load, conversion, scoring).
  const pace = { embedded: 0, embedSeconds: 0, overhead: 0 };
  const open = async (kind: BundledBackbone) => {
    const backbone = await loadRunBackbone(job, { kind });
    const cache = await EmbeddingCache.open(job.cacheDir, EmbeddingCache.key(backbone.id, backbone.preprocessing), backbone.featureSize).catch((error: unknown) => {
      backbone.dispose();
      throw error;
    });
    noteDiscarded(cache, notes);
    return { backbone, cache, missing: () => probe.filter((s) => !cache.get(s.hash)) };
  };
  /** Embeds the probe images the cache lacks (unreadable ones are reported by the run proper, which meets them again). */
  const embedMissing = async (k: number, { backbone, cache, missing }: Awaited<ReturnType<typeof open>>, cost: number) => {
    const todo = missing();
    if (todo.length === 0) return;
    const embedStarted = performance.now();
    const progress = (done: number, seconds: number) =>
      emit({ type: 'progress', progress: { phase: 'choosing', done: k * probe.length + (probe.length - todo.length) + done, total: STEPS * probe.length, imagesPerSecond: done / Math.max(seconds, 1e-6), etaSeconds: null, memory: memory() } });
    try {
      const runner = await frozenModelRunner(backbone.extractor, config.engine, onnxCacheDir(job));
      await embedSamples(todo, job.projectRoot, runner, backbone.preprocessing, null, cache, [], isCancelled, progress);
    } finally {
      await cache.save();
    }
    pace.embedded += todo.length * cost;
    pace.embedSeconds += (performance.now() - embedStarted) / 1000;
  };
  for (const [k, { backbone: kind, cost }] of AUTO_CANDIDATES.entries()) {
    const tooFew = candidates.find((c) => c.skipped?.startsWith(TOO_FEW));
    if (tooFew) {
      candidates.push({ backbone: kind, logLoss: null, accuracy: null, seconds: 0, skipped: tooFew.skipped });
      continue;
    }
    const candidateStarted = performance.now();
    let target: Awaited<ReturnType<typeof open>> | null = null;
    try {
      target = await open(kind);
      const wider = WIDER_PASS[kind];
      const elapsed = (performance.now() - started) / 1000;
      if (pace.embedded > 0) {
        const expected = pace.overhead + (pace.embedSeconds / pace.embedded) * cost * target.missing().length;
        if (elapsed + expected > budgetSeconds) {
          candidates.push({ backbone: kind, logLoss: null, accuracy: null, seconds: 0, skipped: `over the ${budgetSeconds} s budget (about ${Math.ceil(expected)} s more after ${Math.round(elapsed)} s)` });
          continue;
        }
      }
      if (wider && target.missing().length > 0) {
        // One pass of the wider network fills both caches: this backbone's features are its last columns.
        const source = await open(wider);
        try {
          await embedMissing(k, source, cost);
          const offset = source.backbone.featureSize - target.backbone.featureSize;
          for (const s of probe) {
            const row = source.cache.get(s.hash);
            if (row && !target.cache.get(s.hash)) target.cache.set(s.hash, row.slice(offset));
          }
        } finally {
          source.backbone.dispose();
        }
      }
      const embedBefore = pace.embedSeconds;
      await embedMissing(k, target, cost);
      const rows = probe.flatMap((s) => {
        const row = target?.cache.get(s.hash);
        return row ? [{ row, label: s.label }] : [];
      });
      const dim = target.backbone.featureSize;
      const features = new Float32Array(rows.length * dim);
      rows.forEach((r, i) => features.set(r.row, i * dim));
      const indices = rows.map((_, i) => i);
      const score = await innerFoldScore({ features, dim, labels: Int32Array.from(rows, (r) => r.label), classCount: job.classes.length, trainRows: indices, imageOf: (row) => row, seed: config.seed, isCancelled });
      const seconds = (performance.now() - candidateStarted) / 1000;
      if (k === 0) pace.overhead = Math.max(0, seconds - (pace.embedSeconds - embedBefore));
      candidates.push({ backbone: kind, logLoss: score?.logLoss ?? null, accuracy: score?.accuracy ?? null, seconds, skipped: score ? null : `${TOO_FEW} to fold` });
    } catch (error) {
      if (error instanceof CancelledError) throw error;
      // One candidate that cannot run (a conversion the engine refuses, say) leaves the others to choose from.
      candidates.push({ backbone: kind, logLoss: null, accuracy: null, seconds: (performance.now() - candidateStarted) / 1000, skipped: `failed: ${error instanceof Error ? error.message : String(error)}` });
    } finally {
      target?.backbone.dispose();
    }
  }
  const cnnStarted = performance.now();
  candidates.push(
    await scoreSmallCnn(job, probe, started + budgetSeconds * 1000, budgetSeconds, emit, isCancelled, memory).catch((error: unknown) => {
      if (error instanceof CancelledError) throw error;
      return { backbone: 'small_cnn' as const, logLoss: null, accuracy: null, seconds: (performance.now() - cnnStarted) / 1000, skipped: `failed: ${error instanceof Error ? error.message : String(error)}` };
    }),
  );
  return decide(candidates, probe.length, budgetSeconds);
}

/** The small CNN is tried where the images are far from ImageNet's photos: this share of them grayscale, or this small. */
export const CNN_GRAYSCALE_SHARE = 0.9;
export const CNN_SMALL_SIDE = 64;
/** Images the traits are read from (a decode each, at the CNN's input size). */
const TRAIT_IMAGES = 50;

export interface ImageTraits {
  images: number;
  grayscaleShare: number;
  /** The median of each image's shorter side, in pixels. */
  medianShortSide: number;
}

/** Why the small CNN is not tried on images like these, or null where it can win. */
export function cnnUnsuited(traits: ImageTraits): string | null {
  if (traits.images === 0) return 'no image could be read';
  if (traits.grayscaleShare >= CNN_GRAYSCALE_SHARE || traits.medianShortSide <= CNN_SMALL_SIDE) return null;
  return `not tried: the images are in colour (${Math.round(traits.grayscaleShare * 100)}% grayscale) and ${traits.medianShortSide} px on their shorter side (median), where ImageNet features do better`;
}

/** An image whose channels agree everywhere (within JPEG's noise) is grayscale, whatever its file stores; `span` is its pixels' range (1 for [0, 1], 2 for [-1, 1]). */
export function isGrayscale(pixels: Float32Array, span = 1): boolean {
  let spread = 0;
  for (let i = 0; i < pixels.length; i += 3) {
    const r = pixels[i] as number;
    const g = pixels[i + 1] as number;
    const b = pixels[i + 2] as number;
    spread += Math.max(r, g, b) - Math.min(r, g, b);
  }
  return spread / (pixels.length / 3) / span < 0.02;
}

/**
 * The small CNN on the sample: trained on two thirds of it (its own inner holdout picking the
 * epoch) and scored on the other third, where the heads are scored by inner folds over the same
 * images; so both learn from about as many images. Stopped at the budget's end if still training.
 */
async function scoreSmallCnn(
  job: TrainingJob,
  probe: JobSample[],
  deadline: number,
  budgetSeconds: number,
  emit: (event: JobEvent) => void,
  isCancelled: () => boolean,
  memory: Memory,
): Promise<ModelChoice['candidates'][number]> {
  const started = performance.now();
  const skip = (skipped: string) => ({ backbone: 'small_cnn' as const, logLoss: null, accuracy: null, seconds: (performance.now() - started) / 1000, skipped });
  if (started >= deadline) return skip(`over the ${budgetSeconds} s budget`);
  const { config } = job;
  const spec = backboneOfChoice('small_cnn') as SmallCnnSpec;
  const stage = pixelStage(spec, config.resize);
  const cache = await EmbeddingCache.open(job.cacheDir, EmbeddingCache.key(stage.id, stage.preprocessing), stage.featureSize);
  const decode = async (samples: JobSample[]) => {
    try {
      await embedSamples(samples.filter((s) => !cache.get(s.hash)), job.projectRoot, PIXELS, stage.preprocessing, null, cache, [], isCancelled, () => undefined);
    } finally {
      await cache.save();
    }
  };
  const traitSamples = probe.slice(0, TRAIT_IMAGES);
  await decode(traitSamples);
  const unsuited = cnnUnsuited(await imageTraits(job, traitSamples, cache));
  if (unsuited) return skip(unsuited);
  await decode(probe);
  const rows = probe.flatMap((s) => {
    const row = cache.get(s.hash);
    return row ? [{ row, label: s.label }] : [];
  });
  const labels = Int32Array.from(rows, (r) => r.label);
  const { fitRows, holdoutRows: scoreRows } = innerHoldout(rows.map((_, i) => i), labels, (row) => row, config.seed + 5, 1 / 3);
  if (scoreRows.length === 0) return skip(`${TOO_FEW} to hold some out`);
  const features = new Float32Array(rows.length * stage.featureSize);
  rows.forEach((r, i) => features.set(r.row, i * stage.featureSize));
  const classCount = job.classes.length;
  const stopper = new TimeStopping(deadline);
  const trained = await fitSmallCnn({
    spec,
    features,
    dim: stage.featureSize,
    sampleShape: stage.shape,
    labels,
    classCount,
    trainRows: fitRows,
    imageOf: (row) => row,
    config,
    backendName: tf.getBackend(),
    callbacks: (fitted) => [
      stopper,
      new ProgressReporter({
        epochs: config.epochs,
        batchesPerEpoch: Math.ceil(fitted / config.batchSize),
        batchSize: config.batchSize,
        onProgress: (p) => {
          const share = (p.epoch * p.batches + p.batch) / (p.epochs * p.batches);
          emit({ type: 'progress', progress: { phase: 'choosing', done: Math.round((AUTO_CANDIDATES.length + share) * probe.length), total: STEPS * probe.length, imagesPerSecond: p.imagesPerSecond, etaSeconds: null, memory: memory() } });
        },
        // The candidate's epochs are not the run's: nothing goes to the run's curves.
        onEpoch: () => undefined,
      }),
    ],
    isCancelled,
  });
  try {
    const probabilities = tf.tidy(() => tf.softmax(predictInBatches(trained.model, tf.tensor(features, [rows.length, ...stage.shape]).gather(scoreRows))).dataSync() as Float32Array);
    const score = logLossAndAccuracy(probabilities, labels, scoreRows, classCount);
    const note = `trained on ${trained.fitImages} of the images (${trained.holdoutImages} more chose its epoch), scored on the other ${scoreRows.length}` + (stopper.stoppedAt !== null ? `; stopped at the budget after ${stopper.stoppedAt + 1} epochs` : '');
    return { backbone: 'small_cnn', ...score, seconds: (performance.now() - started) / 1000, skipped: null, note };
  } finally {
    trained.model.dispose();
  }
}

/** Grayscale share (from the decoded pixels) and median shorter side (from the file headers) of some images. */
async function imageTraits(job: TrainingJob, samples: JobSample[], cache: EmbeddingCache): Promise<ImageTraits> {
  const sides = await mapLimit(samples, 4, async (s) => {
    const meta = await sharp(path.join(job.projectRoot, s.path)).metadata().catch(() => null);
    return meta?.width && meta.height ? Math.min(meta.width, meta.height) : null;
  });
  const known = sides.filter((side): side is number => side !== null).sort((a, b) => a - b);
  const pixels = samples.flatMap((s) => cache.get(s.hash) ?? []);
  return {
    images: Math.min(known.length, pixels.length),
    grayscaleShare: pixels.length > 0 ? pixels.filter((p) => isGrayscale(p)).length / pixels.length : 0,
    medianShortSide: known[Math.floor(known.length / 2)] ?? 0,
  };
}

const TOO_FEW = 'a class has fewer than 2 train images';

/** The winner by inner log-loss (a near tie goes to the cheaper, earlier candidate), and why, in words. */
export function decide(candidates: ModelChoice['candidates'], probeImages: number, budgetSeconds: number): ModelChoice {
  const scored = candidates.filter((c) => c.logLoss !== null);
  if (scored.length === 0) {
    return { probeImages, budgetSeconds, candidates, chosen: DEFAULT_BACKBONE, reason: `nothing could be scored (${candidates[0]?.skipped ?? 'no candidate ran'}), so the default backbone, ${DEFAULT_BACKBONE}, is used` };
  }
  const best = Math.min(...scored.map((c) => c.logLoss as number));
  const winner = scored.find((c) => (c.logLoss as number) <= Math.max(best * (1 + TIE), best + TIE_FLOOR) + 1e-9) as (typeof scored)[number];
  const percent = (value: number | null) => `${((value ?? 0) * 100).toFixed(1)}%`;
  const others = scored.filter((c) => c !== winner).map((c) => `${c.backbone} ${percent(c.accuracy)}, log-loss ${(c.logLoss as number).toFixed(3)}`);
  const how = winner.backbone === 'small_cnn' ? 'on a held-out third' : 'on inner folds';
  const reason =
    `${winner.backbone} scored best ${how} of ${probeImages} train images: ${percent(winner.accuracy)}, log-loss ${(winner.logLoss as number).toFixed(3)}` +
    (others.length > 0 ? ` (against ${others.join('; ')})` : '') +
    ((winner.logLoss as number) > best ? `; within 1% (or ${TIE_FLOOR}) of the best and no slower, so it is preferred` : '');
  return { probeImages, budgetSeconds, candidates, chosen: winner.backbone, reason };
}
