// One training run, start to finish, as it runs inside the training worker: pick the backend,
// load the backbone, embed only the images the cache lacks, train the head, evaluate, save.
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { backboneOfChoice, type EngineInfo, type TrainingConfig, type TrainingProgress } from '../../shared/contract';
import type { ModelChoice, Split, TrainingReport } from '../../shared/report';
export type { TrainingReport } from '../../shared/report';
import { seededRandom } from '../project/demo';
import { type Augmentation, augmentationKey } from './augment';
import { chooseModel } from './modelChoice';
import { type FrozenModelRunner, frozenModelRunner, probeFrozenEngine } from '../engine/onnx/frozenRunner';
import { crossValidate, fitConvergedHead } from './convergedHead';
import { estimateLabelErrors, type LabelIssue, rankLabelIssues } from '../inspection/labelErrors';
import { type OutOfFoldHelper, prepareOutOfFold } from '../inspection/outOfFoldWorker';
import { suggestLabels } from '../inspection/suggestions';
import { engineInfo, selectBackend, summarizeBackend } from '../engine/backend';
import type { Logs } from './callbacks';
import { epochReporter } from './callbacks';
import { EmbeddingCache } from './embeddingCache';
import { embeddingProgress, embedSamples, loadRunBackbone, noteDiscarded, onnxCacheDir, uniqueByHash } from './embedding';
import { CheckpointWriter, writeModelFiles } from './checkpoint';
import { accuracy, type AccuracyEstimate, accuracyEstimate, confusionMatrix, perClassMetrics } from '../../shared/metrics';
import { savedPreprocessing } from '../engine/preprocess';
import { classWeights, oversample } from './splits';
import { hostLimit, planFineTune, splitForFineTuning, WASM_LIMIT, WHOLE_NETWORK } from './fineTune';
import { predictInBatches, trainHead } from './trainHead';
import { CancelledError } from '../common/errors';
import { registerWasmGradients } from '../engine/wasmGradients';
import { fitSmallCnn, HOLDOUT_SHARE, NO_BACKBONE, PIXELS, pixelStage, type SmallCnnInput } from './smallCnn';
import { type CnnBranch, trainCnnBranch } from './cnnBranch';
import { tf, type TF } from '../engine/tf';

export interface JobSample {
  path: string;
  label: number;
  /** Content hash; for an augmented copy, the hash plus the augmentation and copy index. */
  hash: string;
  split: Split;
  /** Set on augmented copies: fixes that copy's random flip/rotation/crop/colour. */
  augmentSeed?: string;
}

export interface TrainingJob {
  runId: string;
  projectRoot: string;
  runDir: string;
  cacheDir: string;
  classes: string[];
  samples: JobSample[];
  /** Project-relative paths of the readable unlabeled images: the saved model suggests a label for each. */
  unlabeled: string[];
  config: TrainingConfig;
  /** The worker bundle this run runs in, when it does: the label-error folds then run beside it on another thread. */
  workerFile?: string;
}

export type JobEvent =
  | { type: 'backend'; summary: string; engine: EngineInfo }
  | { type: 'progress'; progress: Omit<TrainingProgress, 'runId'> }
  | { type: 'epoch'; epoch: number; logs: Logs };


/** A val split smaller than this, in a project no larger than CV_MAX_IMAGES, is backed by cross-validation. */
const CV_BELOW_VAL_IMAGES = 200;
const CV_MAX_IMAGES = 2000;

function argMax(probabilities: Float32Array, row: number, classCount: number): number {
  let best = 0;
  for (let c = 1; c < classCount; c++) if ((probabilities[row * classCount + c] as number) > (probabilities[row * classCount + best] as number)) best = c;
  return best;
}

export async function runTrainingJob(job: TrainingJob, emit: (event: JobEvent) => void, isCancelled: () => boolean): Promise<TrainingReport> {
  // Started with the run, so that it is ready when the features are; ended however the run ends.
  const labelFolds = prepareOutOfFold(job.config.backend, job.workerFile);
  try {
    return await trainAndEvaluate(job, emit, isCancelled, labelFolds);
  } finally {
    labelFolds.stop();
  }
}

async function trainAndEvaluate(job: TrainingJob, emit: (event: JobEvent) => void, isCancelled: () => boolean, labelFolds: OutOfFoldHelper): Promise<TrainingReport> {
  const started = performance.now();
  const { config } = job;
  const memory = () => ({ numTensors: tf.memory().numTensors, numBytes: tf.memory().numBytes });
  const backend = await selectBackend(config.backend);
  let backendSummary = summarizeBackend(backend);
  emit({ type: 'backend', summary: backendSummary, engine: engineInfo(backend, config.backbone.kind === 'small_cnn' ? NO_BACKBONE : await probeFrozenEngine(config.engine)) });

  const notes: string[] = [];
  const modelChoice = config.backbone.kind === 'auto' ? await chooseModel(job, config.backbone.budgetSeconds, emit, isCancelled, memory, notes) : undefined;
  const backboneSpec = config.backbone.kind === 'auto' ? backboneOfChoice((modelChoice as ModelChoice).chosen) : config.backbone;
  const scratch = backboneSpec.kind === 'small_cnn' ? backboneSpec : null;
  const backbone = backboneSpec.kind === 'small_cnn' ? { ...pixelStage(backboneSpec, config.resize), dispose: () => undefined } : await loadRunBackbone(job, backboneSpec);
  const runner =
    'extractor' in backbone
      ? await frozenModelRunner(backbone.extractor, config.engine, onnxCacheDir(job)).catch((error: unknown) => {
          backbone.dispose();
          throw error;
        })
      : PIXELS;
  // Said again once the backbone's engine is known (converting it takes a moment the first time).
  const engine = engineInfo(backend, scratch ? NO_BACKBONE : runnerInfo(runner));
  backendSummary = scratch ? `${backendSummary}. No backbone: a small CNN trained from scratch on ${scratch.inputSize}×${scratch.inputSize} pixels.` : `${backendSummary}. ${describeRunner('Backbone', runner)}`;
  emit({ type: 'backend', summary: backendSummary, engine });
  const cache = await EmbeddingCache.open(job.cacheDir, EmbeddingCache.key(backbone.id, backbone.preprocessing), backbone.featureSize);
  noteDiscarded(cache, notes);
  const skipped: TrainingReport['skipped'] = [];
  const embedStarted = performance.now();
  const augmentation = config.augmentation.copies > 0 ? config.augmentation : null;
  const copies = augmentedCopies(job.samples, augmentation);
  const missing = uniqueByHash([...job.samples, ...copies].filter((s) => !cache.get(s.hash)));
  try {
    await embedSamples(missing, job.projectRoot, runner, backbone.preprocessing, augmentation, cache, skipped, isCancelled, embeddingProgress(missing.length, emit, memory, scratch ? 'decoding' : 'embedding'));
  } finally {
    await cache.save();
    backbone.dispose();
  }
  const embedSeconds = (performance.now() - embedStarted) / 1000;

  const unreadable = new Set(skipped.map((s) => s.path));
  const readable = (s: JobSample) => !unreadable.has(s.path) && cache.get(s.hash) !== undefined;
  // Rows: the images first (what is evaluated and reported), then their augmented copies (train only).
  const samples = job.samples.filter(readable);
  const rowsAll = [...samples, ...copies.filter(readable)];
  const dim = backbone.featureSize;
  const features = new Float32Array(rowsAll.length * dim);
  rowsAll.forEach((s, i) => features.set(cache.get(s.hash) as Float32Array, i * dim));
  const labels = Int32Array.from(rowsAll.map((s) => s.label));
  const rowsOf = (split: Split) => samples.flatMap((s, i) => (s.split === split ? [i] : []));
  const copyRows = rowsAll.map((_, i) => i).slice(samples.length);
  const trainByClass = job.classes.map((_, c) => [...rowsOf('train'), ...copyRows].filter((i) => labels[i] === c));
  const missingClass = job.classes.find((_, c) => (trainByClass[c] as number[]).length === 0);
  if (missingClass) throw new Error(`Class "${missingClass}" has no readable image in the train split`);
  const trainRows = config.balancing === 'oversample' ? oversample(trainByClass, seededRandom(config.seed + 1)) : trainByClass.flat();
  const valRows = rowsOf('val');
  // The label-error folds start now, on the other core where there is a worker, and are awaited after the evaluation.
  labelFolds.start({ features: features.subarray(0, samples.length * dim), dim, labels: labels.slice(0, samples.length), classCount: job.classes.length, seed: config.seed });

  const trainStarted = performance.now();
  const backboneInfo = { ...backboneSpec, cutLayer: backbone.cutLayer, id: backbone.id, featureSize: dim, ...('pooling' in backbone ? { pooling: backbone.pooling } : {}) };
  const checkpoints = new CheckpointWriter(job.runDir, { classes: job.classes, backbone: backboneInfo, preprocessing: backbone.preprocessing });
  const classWeightsUsed = config.balancing === 'class-weights' ? classWeights(trainByClass.map((r) => r.length)) : undefined;
  // The image a row is, or is a copy of: an image and its copies always stay on one side of a fold.
  const rowOfPath = new Map(samples.map((s, i) => [s.path, i]));
  const imageOf = (row: number) => (row < samples.length ? row : (rowOfPath.get((rowsAll[row] as JobSample).path) as number));
  const sampleShape = 'shape' in backbone ? backbone.shape : [dim];
  const result = scratch
    ? await trainSmallCnn({ spec: scratch, features, dim, sampleShape, labels, classCount: job.classes.length, trainRows, imageOf, classWeights: classWeightsUsed, config, backendName: backend.name, emit, memory, isCancelled, onBestEpoch: checkpoints.stage(0, null), notes })
    : config.headFit === 'converged'
      ? await fitConvergedStage({ features, dim, labels, classCount: job.classes.length, trainRows, valRows, imageOf, classWeights: classWeightsUsed, config, emit, memory, isCancelled, onBestEpoch: checkpoints.stage(0, null) })
      : {
          ...(await trainHead({
            features,
            dim,
            labels,
            classCount: job.classes.length,
            trainRows,
            valRows,
            classWeights: classWeightsUsed,
            config,
            callbacks: [epochReporter('training', config.epochs, trainRows.length, config.batchSize, emit, memory)],
            isCancelled,
            onBestEpoch: checkpoints.stage(0, null),
          })),
          head: { fit: 'epochs' as const },
        };
  let final: { model: TF.LayersModel; features: Float32Array; shape: number[]; cutLayer: string | null; units: number } = { model: result.model, features, shape: sampleShape, cutLayer: null, units: 0 };
  let fineTuneBackbone: { dispose(): void } | null = null;
  let history = result.history;
  let stopReason = result.stopReason;
  let bestEpoch = result.bestEpoch;
  let cutEmbedding = { computed: 0, fromCache: 0, seconds: 0 };
  let branch: CnnBranch | null = null;
  try {
    await checkpoints.settle(result.model);
    if (config.fineTuneBlocks > 0) {
      const stage2 = await fineTuneTop(job, rowsAll, labels, trainRows, valRows, result.model, backend.name, augmentation, emit, isCancelled, memory, result.history.length, notes, checkpoints);
      fineTuneBackbone = stage2.backbone;
      final = { model: stage2.model, features: stage2.features, shape: stage2.cutShape, cutLayer: stage2.cutLayer, units: stage2.units };
      history = [...result.history, ...stage2.history];
      // Stage 2 ran on after stage 1, so stage 1's early stop is not how the run ended.
      stopReason = stage2.stopReason;
      cutEmbedding = stage2.embedding;
      bestEpoch = result.history.length + stage2.bestEpoch;
      backendSummary = `${backendSummary} ${describeRunner('Stage-2 cut', stage2.runner)}`;
      emit({ type: 'backend', summary: backendSummary, engine });
    }
    if (config.cnnBranch !== 'off' && !scratch) {
      branch = await trainCnnBranch({
        setting: config.cnnBranch,
        config,
        projectRoot: job.projectRoot,
        cacheDir: job.cacheDir,
        preprocessing: backbone.preprocessing,
        rows: rowsAll,
        labels,
        classCount: job.classes.length,
        trainRows,
        imageOf,
        headFeatures: features,
        headDim: dim,
        classWeights: classWeightsUsed,
        backendName: backend.name,
        fineTuned: final.cutLayer !== null,
        emit,
        memory,
        isCancelled,
      });
      notes.push(`CNN branch: ${branch.report.reason}.`);
    }
  } catch (error) {
    if (final.model !== result.model) final.model.dispose();
    result.model.dispose();
    throw error;
  }
  const trainSeconds = (performance.now() - trainStarted) / 1000;

  try {
    emit({ type: 'progress', progress: { phase: 'evaluating', done: 0, total: samples.length, imagesPerSecond: 0, etaSeconds: null, memory: memory() } });
    const rowSize = final.shape.reduce((a, b) => a * b, 1);
    const headProbabilities = predictProbabilities(final.model, final.features.subarray(0, samples.length * rowSize), final.shape);
    const branchProbabilities = branch?.model && branch.pixels ? predictProbabilities(branch.model, branch.pixels.subarray(0, samples.length * (branch.pixels.length / rowsAll.length)), branchShape(branch)) : null;
    // The saved model averages the two softmaxes: so does the evaluation.
    const probabilities = branchProbabilities ? headProbabilities.map((p, i) => p.map((v, c) => (v + ((branchProbabilities[i] as number[])[c] as number)) / 2)) : headProbabilities;
    if (!probabilities.every((p) => p.every(Number.isFinite))) throw new Error("The trained model's predictions are not finite numbers: the run keeps no model");
    const predicted = probabilities.map((p) => p.indexOf(Math.max(...p)));
    const originalLabels = labels.subarray(0, samples.length);
    const foldProgress = (done: number, total: number) => emit({ type: 'progress', progress: { phase: 'evaluating', done, total, imagesPerSecond: 0, etaSeconds: null, memory: memory() } });
    // Val chose nothing only when stage 1 was fitted to convergence and no stage 2 kept its best val epoch.
    // (The small CNN's epoch and early stop were chosen on an inner holdout of the train split.)
    const valChoseNothing = (config.headFit === 'converged' || scratch !== null) && !final.cutLayer;
    const testRows = rowsOf('test');
    const evaluatedOn: Split = testRows.length > 0 ? 'test' : valRows.length > 0 ? 'val' : 'train';
    const smallestClass = Math.min(...job.classes.map((_, c) => samples.filter((_, i) => labels[i] === c).length));
    // Auto chose the backbone on train images that cross-validation would then judge: after it, the val split (which it never saw) says how good the model is.
    // Cross-validation refits the converged head on backbone features: it would judge another model than the CNN.
    const crossValidates = !modelChoice && !scratch && !branch?.model && valChoseNothing && testRows.length === 0 && valRows.length < CV_BELOW_VAL_IMAGES && samples.length <= CV_MAX_IMAGES && smallestClass >= 2;
    let estimate: AccuracyEstimate | null;
    if (crossValidates) {
      // A small project: the whole recipe cross-validated over every labeled image says more than a small val split.
      const images = samples.map((_, i) => i);
      const cv = await crossValidate({
        features,
        dim,
        labels,
        classCount: job.classes.length,
        trainRows: [...images, ...copyRows],
        images,
        imageOf,
        // Oversampling is weighting in expectation; a converged fit takes the weights directly.
        balanced: config.balancing !== 'none',
        dropout: config.dropout,
        seed: config.seed,
        isCancelled,
        onFold: foldProgress,
      });
      estimate = accuracyEstimate('cv', images.filter((i) => argMax(cv.probabilities, i, job.classes.length) === labels[i]).length, images.length, true, cv.folds);
    } else {
      const rows = rowsOf(evaluatedOn);
      estimate = rows.length > 0 ? accuracyEstimate(evaluatedOn, rows.filter((i) => predicted[i] === labels[i]).length, rows.length, evaluatedOn === 'test' || (evaluatedOn === 'val' && valChoseNothing)) : null;
    }
    // Label-error ranking over every image (train split included) from out-of-fold predictions of
    // their own regressions (a fixed, mild L2 on the raw features: on the benchmark sets they rank
    // flipped labels better than the accuracy recipe's folds); no image judges its own label.
    const outOfFold = await labelFolds.wait(isCancelled, foldProgress);
    const labelErrors = estimateLabelErrors(outOfFold, originalLabels, job.classes.length);
    const issues = rankLabelIssues(outOfFold, originalLabels, job.classes.length, labelErrors.count);
    const evalRows = rowsOf(evaluatedOn);
    const confusion = confusionMatrix(evalRows.map((i) => labels[i] as number), evalRows.map((i) => predicted[i] as number), job.classes.length);
    const metrics = perClassMetrics(confusion);
    const counts = { train: {}, val: {}, test: {} } as TrainingReport['counts'];
    for (const split of ['train', 'val', 'test'] as const) {
      for (const [c, name] of job.classes.entries()) counts[split][name] = rowsOf(split).filter((i) => labels[i] === c).length;
    }
    const report: TrainingReport = {
      runId: job.runId,
      backend: backendSummary,
      classes: job.classes,
      counts,
      epochs: history,
      bestEpoch,
      stopReason,
      evaluatedOn,
      valAccuracy: valRows.length > 0 ? accuracy(confusionMatrix(valRows.map((i) => labels[i] as number), valRows.map((i) => predicted[i] as number), job.classes.length)) : null,
      accuracy: estimate,
      head: result.head,
      confusion,
      perClass: Object.fromEntries(job.classes.map((name, c) => [name, metrics[c] as TrainingReport['perClass'][string]])),
      samples: samples.map((s, i) => ({
        path: s.path,
        label: job.classes[s.label] as string,
        split: s.split,
        predicted: job.classes[predicted[i] as number] as string,
        probabilities: Object.fromEntries(job.classes.map((name, c) => [name, (probabilities[i] as number[])[c] as number])),
        mislabelScore: (issues[i] as LabelIssue).mislabelScore,
        suggestedLabel: job.classes[(issues[i] as LabelIssue).suggested] as string,
        likelyMislabeled: (issues[i] as LabelIssue).likelyWrong,
        hash: s.hash,
      })),
      labelErrorEstimate: { count: labelErrors.count, share: labelErrors.share },
      skipped,
      // Every pass through frozen layers counts: stage 1's features and stage 2's activations at the cut.
      timing: {
        totalSeconds: (performance.now() - started) / 1000,
        embedSeconds: embedSeconds + cutEmbedding.seconds,
        trainSeconds: trainSeconds - cutEmbedding.seconds,
        imagesPerSecond: missing.length - skipped.length + cutEmbedding.computed > 0 ? (missing.length - skipped.length + cutEmbedding.computed) / Math.max(embedSeconds + cutEmbedding.seconds, 1e-6) : 0,
        embedded: missing.length - skipped.length + cutEmbedding.computed,
        fromCache: job.samples.length + copies.length - missing.length + cutEmbedding.fromCache,
      },
      preprocessing: backbone.preprocessing,
      backbone: backboneInfo,
      ...(modelChoice ? { modelChoice } : {}),
      ...(branch ? { cnnBranch: branch.report } : {}),
      fineTune: final.cutLayer ? { blocks: final.units, cutLayer: final.cutLayer, cutShape: final.shape } : null,
      augmentedCopies: copyRows.length,
      notes,
    };
    await saveModel(job, final.model, report, branch?.model ?? null);
    // The saved model, as Predict runs it, judges the unlabeled images: the grid's suggested labels.
    const suggested = await suggestLabels({
      runDir: job.runDir,
      projectRoot: job.projectRoot,
      paths: job.unlabeled,
      classes: job.classes,
      engine: config.engine,
      onProgress: (done, total) => emit({ type: 'progress', progress: { phase: 'suggesting', done, total, imagesPerSecond: 0, etaSeconds: null, memory: memory() } }),
      isCancelled,
    });
    if (isCancelled()) throw new CancelledError();
    if (suggested.unreadable.length > 0) notes.push(`${suggested.unreadable.length} unlabeled image(s) could not be read for a suggested label (first: ${suggested.unreadable[0]?.path}: ${suggested.unreadable[0]?.reason})`);
    const finished = { ...report, unlabeled: suggested.suggestions };
    await writeFile(path.join(job.runDir, 'report.json'), JSON.stringify(finished, null, 2));
    return finished;
  } finally {
    if (final.model !== result.model) final.model.dispose();
    result.model.dispose();
    branch?.model?.dispose();
    fineTuneBackbone?.dispose();
  }
}

/** The branch's input shape: [side, side, 3]. */
function branchShape(branch: CnnBranch): number[] {
  return [branch.report.inputSize, branch.report.inputSize, 3];
}

/** Stage 1's default: the head fitted to convergence, its L2 strength chosen on the train split alone. */
async function fitConvergedStage(input: {
  features: Float32Array;
  dim: number;
  labels: Int32Array;
  classCount: number;
  trainRows: number[];
  valRows: number[];
  imageOf: (row: number) => number;
  classWeights?: number[];
  config: TrainingConfig;
  emit: (event: JobEvent) => void;
  memory: Memory;
  isCancelled: () => boolean;
  onBestEpoch: (epoch: number, logs: Logs, monitor: string, model: TF.LayersModel) => Promise<void>;
}) {
  const started = performance.now();
  const fitted = await fitConvergedHead({
    features: input.features,
    dim: input.dim,
    labels: input.labels,
    classCount: input.classCount,
    trainRows: input.trainRows,
    imageOf: input.imageOf,
    valRows: input.valRows,
    classWeights: input.classWeights,
    dropout: input.config.dropout,
    seed: input.config.seed,
    isCancelled: input.isCancelled,
    onProgress: (done, total) => {
      const seconds = (performance.now() - started) / 1000;
      input.emit({ type: 'progress', progress: { phase: 'training', done, total, imagesPerSecond: (done * input.trainRows.length) / Math.max(seconds, 1e-6), etaSeconds: (seconds / done) * (total - done), memory: input.memory() } });
    },
    onLogs: (iteration, logs) => input.emit({ type: 'epoch', epoch: 0, logs: { ...logs, iteration } }),
  });
  const bestEpoch = fitted.history.length - 1;
  await input.onBestEpoch(bestEpoch, fitted.history[bestEpoch] as Logs, 'loss', fitted.model);
  return {
    model: fitted.model,
    history: fitted.history,
    stopReason: null,
    bestEpoch,
    head: { fit: 'converged' as const, l2: fitted.l2, l2Scores: fitted.l2Scores, iterations: fitted.iterations, converged: fitted.converged },
  };
}

/**
 * The small CNN from scratch, with the run's Keras controls: an inner holdout of the train split
 * (never val) picks the kept epoch and stops early, so val stays an honest estimate.
 */
async function trainSmallCnn(input: Omit<SmallCnnInput, 'callbacks'> & { emit: (event: JobEvent) => void; memory: Memory; notes: string[] }) {
  const { config } = input;
  const trained = await fitSmallCnn({ ...input, callbacks: (fitRows) => [epochReporter('training', config.epochs, fitRows, config.batchSize, input.emit, input.memory)] });
  input.notes.push(
    trained.holdoutImages > 0
      ? `The small CNN trained on ${trained.fitImages} train images; ${trained.holdoutImages} more (${Math.round(HOLDOUT_SHARE * 100)}% of each class) chose its epoch and early stop, so val and test chose nothing. Label errors are ranked from regressions on the pixels.`
      : `The small CNN trained on all ${trained.fitImages} train images: no class had enough to hold some out, so the training loss chose its epoch and early stop (val and test chose nothing). Label errors are ranked from regressions on the pixels.`,
  );
  return { ...trained, head: { fit: 'scratch' as const, holdoutImages: trained.holdoutImages } };
}

/** Stage 2: cache the frozen part's output at the cut, then train the top blocks and the head. */
async function fineTuneTop(
  job: TrainingJob,
  samples: JobSample[],
  labels: Int32Array,
  trainRows: number[],
  valRows: number[],
  head: TF.LayersModel,
  backendName: string,
  augmentation: Augmentation | null,
  emit: (event: JobEvent) => void,
  isCancelled: () => boolean,
  memory: Memory,
  epochOffset: number,
  notes: string[],
  checkpoints: CheckpointWriter,
) {
  const { config } = job;
  if (config.backbone.kind !== 'mobilenet_v2') throw new Error('Fine-tuning (stage 2) is available for the MobileNetV2 backbone only');
  if (backendName === 'wasm') registerWasmGradients();
  const backbone = await loadRunBackbone(job, config.backbone);
  try {
    // As deep as asked where memory allows; else as deep as fits (wasm's 4 GiB, or this machine's memory), and the report says so.
    const plan = planFineTune(backbone.extractor, config.fineTuneBlocks, samples.length, config.batchSize, backendName === 'wasm' ? WASM_LIMIT : hostLimit(os.totalmem()));
    if (plan.note) notes.push(plan.note);
    const cutLayer = plan.cutLayer;
    const split = splitForFineTuning(backbone.extractor, cutLayer, head);
    const cutDim = split.cutShape.reduce((a, b) => a * b, 1);
    const cache = await EmbeddingCache.open(job.cacheDir, EmbeddingCache.key(`${backbone.id}|cut:${cutLayer}`, backbone.preprocessing), cutDim);
    noteDiscarded(cache, notes);
    const missing = uniqueByHash(samples.filter((s) => !cache.get(s.hash)));
    const skipped: TrainingReport['skipped'] = [];
    // Nothing frozen below the whole network: the cached "activations" are the scaled pixels.
    const runner = plan.units === WHOLE_NETWORK ? PIXELS : await frozenModelRunner(split.bottom, config.engine, onnxCacheDir(job));
    const embedStarted = performance.now();
    try {
      await embedSamples(missing, job.projectRoot, runner, backbone.preprocessing, augmentation, cache, skipped, isCancelled, embeddingProgress(missing.length, emit, memory));
    } finally {
      await cache.save();
    }
    const embedding = { computed: missing.length - skipped.length, fromCache: samples.length - missing.length, seconds: (performance.now() - embedStarted) / 1000 };
    // Stage 1 trained on exactly these images: stage 2 cannot leave one out.
    const lost = skipped[0];
    if (lost) throw new Error(`Fine-tuning could not compute ${lost.path} at the cut: ${lost.reason}`);
    const features = new Float32Array(samples.length * cutDim);
    samples.forEach((s, i) => features.set(cache.get(s.hash) as Float32Array, i * cutDim));
    const stageConfig = { ...config, epochs: config.fineTuneEpochs, learningRate: config.fineTuneLearningRate, optimizer: config.fineTuneOptimizer, schedule: { kind: 'constant' as const } };
    const reporter = epochReporter('fine-tuning', stageConfig.epochs, trainRows.length, config.batchSize, emit, memory, { epochOffset, extraLogs: { stage: 2 } });
    const onBestEpoch = checkpoints.stage(epochOffset, { cutLayer, cutShape: split.cutShape });
    const result = await trainHead({ features, dim: cutDim, sampleShape: split.cutShape, model: split.top, labels, classCount: job.classes.length, trainRows, valRows, config: stageConfig, callbacks: [reporter], isCancelled, onBestEpoch });
    await checkpoints.settle(split.top);
    return { model: split.top, units: plan.units, features, cutShape: split.cutShape, cutLayer, history: result.history.map((h) => ({ ...h, stage: 2 })), stopReason: result.stopReason, bestEpoch: result.bestEpoch, backbone, runner, embedding };
  } catch (error) {
    backbone.dispose();
    throw error;
  }
}

export type Memory = () => { numTensors: number; numBytes: number };

/** "Backbone: ONNX Runtime (CPU, 2 threads)." with why each faster engine is not used. */
function describeRunner(what: string, runner: FrozenModelRunner): string {
  const notUsed = runner.notUsed.map((n) => `${n.name} not used: ${n.reason}`).join('; ');
  return notUsed ? `${what}: ${runner.description}; ${notUsed}.` : `${what}: ${runner.description}.`;
}

function runnerInfo(runner: FrozenModelRunner): EngineInfo['backbone'] {
  return { engine: runner.engine, label: runner.engine === 'onnx' ? runner.description : 'TensorFlow.js', notUsed: runner.notUsed };
}



/** `copies` augmented variants of every train image, keyed so that the cache can hold them. */
function augmentedCopies(samples: JobSample[], augmentation: Augmentation | null): JobSample[] {
  if (!augmentation) return [];
  const key = augmentationKey(augmentation);
  return samples
    .filter((s) => s.split === 'train')
    .flatMap((s) => Array.from({ length: augmentation.copies }, (_, k) => ({ ...s, hash: `${s.hash}|aug:${key}:${k}`, augmentSeed: `${s.hash}:${key}:${k}` })));
}



function predictProbabilities(model: TF.LayersModel, features: Float32Array, sampleShape: number[]): number[][] {
  const size = sampleShape.reduce((a, b) => a * b, 1);
  return tf.tidy(() => tf.softmax(predictInBatches(model, tf.tensor(features, [features.length / size, ...sampleShape]))).arraySync() as number[][]);
}

/** The head in TF.js format plus what is needed to rebuild the pipeline around it. */
async function saveModel(job: TrainingJob, model: TF.LayersModel, report: TrainingReport, cnn: TF.LayersModel | null): Promise<void> {
  const fineTune = report.fineTune ? { cutLayer: report.fineTune.cutLayer, cutShape: report.fineTune.cutShape } : null;
  const cnnBranch = cnn && report.cnnBranch ? { model: cnn, pool: report.cnnBranch.pool, inputSize: report.cnnBranch.inputSize } : null;
  await writeModelFiles(path.join(job.runDir, 'model'), model, { classes: job.classes, backbone: report.backbone, preprocessing: savedPreprocessing(report.preprocessing), fineTune, cnnBranch });
}
