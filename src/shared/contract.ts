// The one contract between the renderer and the main-process services.
// Every route's input is validated with its zod schema in main (the renderer is untrusted);
// outputs are typed from their schemas so both transports and the client share one shape.
import { z } from 'zod';
import type { TrainingReport } from './report';

export type { Envelope } from './envelope';
export { ApiError, unwrap } from './envelope';

/** A path relative to the project root, always with forward slashes. */
export const RelPath = z
  .string()
  .min(1)
  .max(4096)
  .refine((p) => !p.includes('\0'), 'path contains a NUL byte');

/** A class is a direct subfolder of the project: a plain folder name. */
export const ClassName = z
  .string()
  .trim()
  .min(1, 'class name is empty')
  .max(100, 'class name is longer than 100 characters')
  .refine((n) => !/[/\\\0:*?"<>|]/.test(n), 'class name may not contain / \\ : * ? " < > |')
  .refine((n) => n !== '.' && n !== '..' && !n.startsWith('.'), 'class name may not start with a dot');

export const ImageStatus = z.enum(['pending', 'ok', 'unreadable']);

export const ImageItem = z.object({
  path: RelPath,
  /** Class folder name, or null for images lying in the project root (unlabeled). */
  label: z.string().nullable(),
  size: z.number(),
  /** Changes whenever the file's content may have changed: keys the thumbnail cache. */
  version: z.string(),
  status: ImageStatus,
  problem: z.string().optional(),
});

export const DatasetSnapshot = z.object({
  root: z.string(),
  name: z.string(),
  classes: z.array(z.string()),
  items: z.array(ImageItem),
  /** Things the scan skipped or could not read, said in words a user understands. */
  warnings: z.array(z.string()),
  history: z.object({ canUndo: z.boolean(), canRedo: z.boolean() }),
  /** What start-up recovery did with moves a crash left unfinished. */
  recovered: z.array(z.string()),
  /** Why the project can only be browsed (a full or read-only disk), or null when it can be changed. */
  readOnly: z.string().nullable(),
});

export const Move = z.object({ from: RelPath, to: RelPath });
export const MoveResult = z.object({
  moves: z.array(Move),
  failed: z.array(z.object({ path: z.string(), message: z.string() })),
  history: DatasetSnapshot.shape.history,
});

export const RecentProject = z.object({ path: z.string(), name: z.string(), openedAt: z.string() });

export const ImageDetails = z.object({
  path: RelPath,
  status: ImageStatus,
  problem: z.string().optional(),
  width: z.number().optional(),
  height: z.number().optional(),
  format: z.string().optional(),
  /** Facts worth knowing that are not errors: CMYK, 16-bit, grayscale, alpha, EXIF rotation. */
  notes: z.array(z.string()),
});

export const ImportResult = z.object({
  imported: z.array(RelPath),
  duplicates: z.array(z.object({ name: z.string(), existing: RelPath })),
  rejected: z.array(z.object({ name: z.string(), message: z.string() })),
});

/** How photos become face crops: the window's "Import photos (faces)" and `labelloop faces`. */
export const FaceImportSettings = z
  .object({
    /** The detector's score threshold. */
    minConfidence: z.number().gt(0).lt(1).default(0.5),
    /** Faces shorter than this on their longer side, in the photo's pixels, are skipped. */
    minSize: z.number().int().min(1).max(100_000).default(32),
    /** Added around the face box on every side, as a share of its longer side. */
    margin: z.number().min(0).max(2).default(0.25),
    /** Turn each crop so the eyes lie level. */
    align: z.boolean().default(false),
  })
  .strict();
export type FaceImportSettings = z.output<typeof FaceImportSettings>;
/** Predict's "Detect faces first": the crops are cut as an import with these settings cuts them. */
export const FacePredictSettings = FaceImportSettings.pick({ minConfidence: true, margin: true, align: true }).strict();
export type FacePredictSettings = z.output<typeof FacePredictSettings>;

/** A face crop in its source photo: the photo's preview, this face's number, and every face of the photo. */
export const FaceContext = z.object({
  source: z.string(),
  sourceHash: z.string(),
  /** The photo's preview as a data URL; null when it was not kept (a full disk at import). */
  photo: z.string().nullable(),
  /** The upright photo's size, in which the boxes are given. */
  width: z.number(),
  height: z.number(),
  face: z.number(),
  /** `path`: where that face's crop is now; null when it left the project. */
  faces: z.array(z.object({ face: z.number(), box: z.object({ x: z.number(), y: z.number(), width: z.number(), height: z.number() }), path: RelPath.nullable() })),
});
export type FaceContext = z.output<typeof FaceContext>;

/** What a face import did: counts, the crops saved, and a line's worth for each photo that needs one. */
export const FaceImportSummary = z.object({
  photos: z.number(),
  facesFound: z.number(),
  imported: z.array(RelPath),
  duplicates: z.array(z.object({ crop: z.string(), existing: RelPath })),
  tooSmall: z.number(),
  noFace: z.array(z.string()),
  unreadable: z.array(z.object({ path: z.string(), reason: z.string() })),
  unrecorded: z.array(z.string()),
  /** Images inside the project itself (its training images, face crops among them): never cut again. */
  insideProject: z.array(z.string()),
  cancelled: z.boolean(),
});
export type FaceImportSummary = z.output<typeof FaceImportSummary>;

export const ThumbnailProgress = z.object({ done: z.number(), total: z.number(), unreadable: z.number() });

export const INPUT_SIZES = [96, 128, 160, 192, 224] as const;
/** Input sizes of the small CNN trained from scratch: small images train it fastest (README "Small CNN"). */
export const CNN_INPUT_SIZES = [32, 64, 96, 128] as const;

const monitorFields = {
  monitor: z.string().min(1).default('val_loss'),
  mode: z.enum(['auto', 'min', 'max']).default('auto'),
  minDelta: z.number().min(0).default(0),
};

/** Augmented copies of each training image (0 = off), embedded once and cached. */
export const AugmentationSettings = z
  .object({
    copies: z.number().int().min(0).max(16).default(0),
    flip: z.boolean().default(true),
    rotation: z.number().min(0).max(45).default(10),
    cropScale: z.number().min(0.3).max(1).default(0.8),
    brightness: z.number().min(0).max(0.5).default(0.1),
    contrast: z.number().min(0).max(0.5).default(0.1),
    saturation: z.number().min(0).max(0.5).default(0.1),
  })
  .default({ copies: 0, flip: true, rotation: 10, cropScale: 0.8, brightness: 0.1, contrast: 0.1, saturation: 0.1 });

export const BackendPreference = z.enum(['auto', 'tensorflow', 'wasm', 'cpu']);

/** An accuracy with its 95% interval and what it was measured on (see shared/metrics.ts). */
export const AccuracyEstimateSchema = z.object({
  on: z.enum(['val', 'test', 'cv', 'train']),
  value: z.number(),
  low: z.number(),
  high: z.number(),
  images: z.number(),
  folds: z.number().optional(),
  honest: z.boolean(),
});

/**
 * The backbones that ship with the app (inside nsfwjs, offline): MobileNetV2's top features,
 * MobileNetV2 pooled at three depths (its middle blocks are plain ImageNet), InceptionV3 up to mixed5.
 */
export const BundledBackbone = z.enum(['mobilenet_v2', 'mobilenet_v2_depths', 'inception_v3']);
export type BundledBackbone = z.infer<typeof BundledBackbone>;
/** InceptionV3's trunk: the best test accuracy on all six real datasets of `npm run bench` (README). */
export const DEFAULT_BACKBONE: BundledBackbone = 'inception_v3';
/**
 * How a backbone's feature maps become one vector per image: their mean per channel, or their
 * mean and maximum side by side (InceptionV3's, where the maximum keeps small shapes that the mean
 * dilutes: 0.9–4.8 points better on five of six real sets, README). Runs saved without it used the mean.
 */
export type FeaturePooling = 'avg' | 'avg+max';

/**
 * No pretrained backbone: a small CNN (the classic Keras tutorial's Conv–Pool stacks) trained
 * from scratch on the pixels, with the epochs, learning rate, schedule and callbacks of the run.
 */
export const SmallCnnBackbone = z.object({
  kind: z.literal('small_cnn'),
  inputSize: z.union(CNN_INPUT_SIZES.map((n) => z.literal(n)) as [z.ZodLiteral<32>, z.ZodLiteral<64>, z.ZodLiteral<96>, z.ZodLiteral<128>]).default(32),
  /** The learning rate's factor per epoch (the tutorial's ExponentialDecay) unless `schedule` names one; 1 keeps it constant. */
  decayPerEpoch: z.number().min(0.5).max(1).default(0.96),
});

/** What Auto can choose: a bundled backbone under a converged head, or the small CNN from scratch. */
export const AutoCandidate = z.enum([...BundledBackbone.options, 'small_cnn']);
export type AutoCandidate = z.infer<typeof AutoCandidate>;

/** The backbone setting that trains what Auto chose (the CNN with its defaults). */
export function backboneOfChoice(chosen: AutoCandidate): { kind: BundledBackbone } | z.output<typeof SmallCnnBackbone> {
  return chosen === 'small_cnn' ? SmallCnnBackbone.parse({ kind: chosen }) : { kind: chosen };
}

/**
 * What runs the frozen backbone (and predicts): `auto` is ONNX Runtime (its CUDA provider where
 * installed, else the CPU) falling back to TF.js; `onnx` insists on ONNX Runtime on the CPU; the
 * GPU routes fall back to the CPU; `tfjs` never converts. Training always runs on TF.js.
 */
export const FrozenEngine = z.enum(['auto', 'onnx', 'onnx-cuda', 'onnx-webgpu', 'tfjs']);
export type FrozenEngine = z.output<typeof FrozenEngine>;

/** Everything a run is configured by; defaults are what a practitioner would start with. */
export const TrainingConfig = z
  .object({
    epochs: z.number().int().min(1).max(1000).default(50),
    batchSize: z.number().int().min(1).max(1024).default(32),
    learningRate: z.number().positive().max(10).default(0.001),
    optimizer: z.enum(['sgd', 'adam', 'rmsprop']).default('adam'),
    momentum: z.number().min(0).max(0.999).default(0.9),
    nesterov: z.boolean().default(false),
    dropout: z.number().min(0).max(0.9).default(0.2),
    schedule: z
      .discriminatedUnion('kind', [
        z.object({ kind: z.literal('constant') }),
        z.object({ kind: z.literal('exponential'), decaySteps: z.number().positive(), decayRate: z.number().positive().max(1), staircase: z.boolean().default(false) }),
        z.object({ kind: z.literal('cosine'), decaySteps: z.number().positive(), alpha: z.number().min(0).max(1).default(0) }),
      ])
      .default({ kind: 'constant' }),
    reduceLrOnPlateau: z
      .object({ ...monitorFields, minDelta: z.number().min(0).default(1e-4), factor: z.number().gt(0).lt(1).default(0.2), patience: z.number().int().min(0).default(3), minLr: z.number().min(0).default(1e-6), cooldown: z.number().int().min(0).default(0) })
      .nullable()
      .default(null),
    earlyStopping: z
      .object({ ...monitorFields, patience: z.number().int().min(0).default(5), baseline: z.number().optional(), restoreBestWeights: z.boolean().default(true) })
      .nullable()
      .default({ monitor: 'val_loss', mode: 'auto', minDelta: 0, patience: 5, restoreBestWeights: true }),
    /**
     * Stage 1: `converged` fits the head (a softmax regression) to convergence with its L2 strength
     * chosen by cross-validation on the train split, so val chooses nothing; `epochs` trains it
     * Keras-style with the epochs, learning rate, schedule and callbacks below.
     */
    headFit: z.enum(['converged', 'epochs']).default('converged'),
    /**
     * A small CNN from scratch beside the frozen head, on the same decode pooled to 32×32, the two
     * softmaxes averaged (one model). `auto` tries it on mostly grayscale images (far from
     * ImageNet, where the two err on different images) and keeps it only where it beats the head
     * alone on an inner holdout of the train split; `on` always adds it; `off` never.
     */
    cnnBranch: z.enum(['auto', 'on', 'off']).default('auto'),
    /** The run keeps the weights of the epoch that was best by this metric. */
    checkpointMonitor: z.string().min(1).default('val_loss'),
    balancing: z.enum(['none', 'oversample', 'class-weights']).default('none'),
    val: z.number().min(0).max(0.9).default(0.2),
    test: z.number().min(0).max(0.9).default(0),
    seed: z.number().int().min(0).default(42),
    inputSize: z.union(INPUT_SIZES.map((n) => z.literal(n)) as [z.ZodLiteral<96>, z.ZodLiteral<128>, z.ZodLiteral<160>, z.ZodLiteral<192>, z.ZodLiteral<224>]).default(224),
    scale: z.enum(['0,1', '-1,1']).default('0,1'),
    resize: z.enum(['stretch', 'center-crop', 'pad']).default('stretch'),
    backbone: z
      .discriminatedUnion('kind', [
        z.object({ kind: BundledBackbone }),
        /** Auto: the bundled backbone (or, for small or grayscale images, the small CNN) that scores best on a sample of the train split, chosen within the budget. */
        z.object({ kind: z.literal('auto'), budgetSeconds: z.number().int().min(10).max(3600).default(120) }),
        z.object({ kind: z.literal('keras'), source: z.string().min(1), cutLayer: z.string().min(1).optional() }),
        SmallCnnBackbone,
      ])
      .default({ kind: DEFAULT_BACKBONE }),
    backend: BackendPreference.default('auto'),
    engine: FrozenEngine.default('auto'),
    /** Augmented copies of each training image (0 = off), embedded once and cached. */
    augmentation: AugmentationSettings,
    /**
     * Stage 2: unfreeze the top N MobileNetV2 units (1 = Conv_1, 2 = + block_16, … 17 = every
     * block, 18 = + expanded_conv, 19 = the whole network from the pixels). On wasm, as deep as fits.
     */
    fineTuneBlocks: z.number().int().min(0).max(19).default(0),
    fineTuneEpochs: z.number().int().min(1).max(1000).default(10),
    fineTuneLearningRate: z.number().positive().max(1).default(1e-4),
    fineTuneOptimizer: z.enum(['sgd', 'adam', 'rmsprop']).default('sgd'),
  })
  .strict()
  .refine((c) => c.val + c.test < 1, 'val + test must leave images to train on')
  .refine((c) => c.fineTuneBlocks === 0 || c.backbone.kind === 'mobilenet_v2', { message: 'Fine-tuning (stage 2) needs the MobileNetV2 backbone with its top features', path: ['fineTuneBlocks'] });

export type TrainingConfig = z.output<typeof TrainingConfig>;
export type TrainingConfigInput = z.input<typeof TrainingConfig>;

export const EpochLogs = z.record(z.string(), z.number());

export const TrainingProgress = z.object({
  runId: z.string(),
  /** `decoding`: the small CNN's pixels, where a backbone would be embedding. */
  phase: z.enum(['preparing', 'choosing', 'embedding', 'decoding', 'training', 'fine-tuning', 'evaluating', 'suggesting']),
  /** Embedding: images done of total; training: batches. */
  done: z.number(),
  total: z.number(),
  epoch: z.number().optional(),
  epochs: z.number().optional(),
  loss: z.number().optional(),
  imagesPerSecond: z.number(),
  etaSeconds: z.number().nullable(),
  memory: z.object({ numTensors: z.number(), numBytes: z.number() }),
});

/** How a run ended; `interrupted`: its process died mid-run (found when the runs are listed). */
export const RunEndReason = z.enum(['finished', 'early-stopped', 'cancelled', 'failed', 'interrupted']);

export const TrainingEnded = z.object({
  runId: z.string(),
  reason: RunEndReason,
  /** What a user wants to know: time taken, accuracy, which epoch was kept. */
  message: z.string(),
  /** Diagnostics (event-loop lag, throughput, cache), shown collapsed; null when there are none. */
  details: z.string().nullable(),
  valAccuracy: z.number().nullable(),
});

const NotUsed = z.array(z.object({ name: z.string(), reason: z.string() }));

/** What runs a frozen model (a backbone, or a whole model predicting), and why no faster engine does. */
export const ModelEngine = z.object({
  /** `none`: no backbone runs (a small CNN trained from scratch). */
  engine: z.enum(['onnx', 'tfjs', 'none']),
  /** "ONNX Runtime (CPU, 2 threads)", or "TensorFlow.js" / "TensorFlow.js (wasm)". */
  label: z.string(),
  notUsed: NotUsed,
});
export type ModelEngine = z.output<typeof ModelEngine>;

/**
 * The engines a run uses (or would use), and why no faster one does: the TensorFlow.js backend
 * that trains, and what runs the frozen backbone.
 */
export const EngineInfo = z.object({
  name: z.enum(['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']),
  /** Short, for people: "WebAssembly (CPU)". */
  label: z.string(),
  /** Technical: "wasm (SIMD, 1 thread: …)". */
  description: z.string(),
  notUsed: NotUsed,
  backbone: ModelEngine,
});
export type EngineInfo = z.output<typeof EngineInfo>;

export const TrainingStatus = z.object({
  runId: z.string(),
  state: z.union([z.literal('running'), RunEndReason]),
  config: z.custom<TrainingConfig>(),
  backend: z.string().nullable(),
  engine: EngineInfo.nullable(),
  classes: z.array(z.string()),
  counts: z.record(z.string(), z.record(z.string(), z.number())),
  epochs: z.array(EpochLogs),
  progress: TrainingProgress.nullable(),
  ended: TrainingEnded.nullable(),
  startedAt: z.string(),
  /** The kept model's evaluation, once the run has finished. */
  result: z
    .object({
      evaluatedOn: z.enum(['train', 'val', 'test']),
      valAccuracy: z.number().nullable(),
      accuracy: AccuracyEstimateSchema.nullable(),
      confusion: z.array(z.array(z.number())),
      perClass: z.record(z.string(), z.object({ precision: z.number(), recall: z.number(), f1: z.number(), support: z.number() })),
      /** What Auto tried and why the winner won (report.json's modelChoice); null when the backbone was named. */
      modelChoice: z
        .object({
          probeImages: z.number(),
          budgetSeconds: z.number(),
          candidates: z.array(z.object({ backbone: AutoCandidate, logLoss: z.number().nullable(), accuracy: z.number().nullable(), seconds: z.number(), skipped: z.string().nullable(), note: z.string().optional() })),
          chosen: AutoCandidate,
          reason: z.string(),
        })
        .nullable(),
      /** The CNN beside the frozen head (report.json's cnnBranch): in the model or not, and why; null where it was off or there is no backbone. */
      cnnBranch: z.object({ used: z.boolean(), reason: z.string() }).nullable(),
    })
    .nullable(),
});

export const SplitExample = z.object({ path: RelPath, label: z.string() });

export const SplitPreview = z.object({
  classes: z.array(z.string()),
  counts: z.object({ train: z.record(z.string(), z.number()), val: z.record(z.string(), z.number()), test: z.record(z.string(), z.number()) }),
  /** Train images per class after balancing (oversampling repeats; weights leave counts as they are). */
  balancedTrain: z.record(z.string(), z.number()),
  classWeights: z.record(z.string(), z.number()).nullable(),
  /** Images left out: unlabeled or unreadable. */
  excluded: z.number(),
  /** Labeled images left out by the exclusion list (the data check's "exclude from training"). */
  excludedByList: z.number(),
  /** A few images of each class in each split, for the Data tab's thumbnail strips. */
  examples: z.object({ train: z.array(SplitExample), val: z.array(SplitExample), test: z.array(SplitExample) }),
});
export type SplitPreview = z.output<typeof SplitPreview>;

/** The best model an interrupted run saved before its process died (epoch counts from 0, stage 2's after stage 1's). */
export const KeptModel = z.object({ epoch: z.number().int(), stage: z.union([z.literal(1), z.literal(2)]), monitor: z.string(), value: z.number() });
export type KeptModel = z.output<typeof KeptModel>;

export const RunSummary = z.object({
  runId: z.string(),
  name: z.string().nullable(),
  /** Per-epoch metrics, for overlaying two runs' curves. */
  epochs: z.array(EpochLogs),
  state: z.union([z.literal('running'), RunEndReason]),
  /** When an interrupted run was last seen alive (ISO time); null for every other state. */
  interruptedAt: z.string().nullable(),
  /** What an interrupted run kept (Predict and Export use it); null for every other run. */
  keptModel: KeptModel.nullable(),
  valAccuracy: z.number().nullable(),
  hasReport: z.boolean(),
});
export type RunSummary = z.output<typeof RunSummary>;

/** A run's model loaded for predicting new images in the window. */
export const PredictionSession = z.object({
  sessionId: z.string(),
  runId: z.string(),
  classes: z.array(z.string()),
  /** The run's saved operating point, applied to every prediction; null: the most probable class. */
  operatingPoint: z.object({ positiveClass: z.string(), threshold: z.number() }).nullable(),
  inputSize: z.number(),
  engine: ModelEngine,
});
export type PredictionSession = z.output<typeof PredictionSession>;

/** One predicted image; `path` (the stored copy, for its thumbnail) is null when it was refused. */
/** Where a predicted face lies in the photo it was found in (boxes in the upright photo's pixels). */
export const FaceOnPhoto = z.object({
  photo: z.string(),
  face: z.number(),
  box: z.object({ x: z.number(), y: z.number(), width: z.number(), height: z.number() }),
  score: z.number(),
  photoWidth: z.number(),
  photoHeight: z.number(),
});
export type FaceOnPhoto = z.output<typeof FaceOnPhoto>;

export const PredictionRow = z.object({
  name: z.string(),
  path: RelPath.nullable(),
  version: z.string().nullable(),
  predicted: z.string().nullable(),
  /** In `classes` order. */
  probabilities: z.array(z.number()).nullable(),
  error: z.string().nullable(),
  /** Set when faces were detected first: the row is one face of that photo. */
  face: FaceOnPhoto.optional(),
});
export type PredictionRow = z.output<typeof PredictionRow>;

/** Image-quality outliers the data check finds, each judged against the project's own images. */
export const QualityKind = z.enum(['blurry', 'dark', 'bright', 'low-information', 'odd-size', 'odd-aspect', 'grayscale']);
export type QualityKind = z.output<typeof QualityKind>;

/** What the data check found (`labelloop check --report` writes the same JSON); paths relative to the project. */
export const CheckReport = z.object({
  images: z.number(),
  duplicates: z.array(z.object({ kind: z.enum(['exact', 'near']), similarity: z.number(), paths: z.array(RelPath) })),
  /** Copies assigned to different splits (splits.json): they inflate val accuracy. */
  leaks: z.array(z.object({ paths: z.array(RelPath), splits: z.array(z.string()), similarity: z.number() })),
  /** Copies under different labels (null: unlabeled). */
  conflicts: z.array(z.object({ paths: z.array(RelPath), labels: z.array(z.string().nullable()), similarity: z.number() })),
  issues: z.array(z.object({ path: RelPath, kinds: z.array(QualityKind), scores: z.record(z.string(), z.number()) })),
  unreadable: z.array(z.object({ path: z.string(), reason: z.string() })),
});
export type CheckReport = z.output<typeof CheckReport>;

/** Where long work (a data check, a map) stands. */
export const SessionState = z.enum(['running', 'finished', 'cancelled', 'failed']);

/** Where a data check is: measuring each image, then comparing close neighbours for cropped copies (done/total: pairs). */
export const CheckPhase = z.enum(['measuring', 'comparing']);
export type CheckPhase = z.output<typeof CheckPhase>;
export const CheckProgress = z.object({ phase: CheckPhase.default('measuring'), done: z.number(), total: z.number() });
export type CheckProgress = z.output<typeof CheckProgress>;

/** The data check in progress or the last one finished (kept in .labelloop/check.json across restarts). */
export const CheckStatus = z.object({
  checkId: z.string(),
  state: SessionState,
  progress: CheckProgress,
  startedAt: z.string(),
  /** The findings, once finished; null while running or after a cancel or failure. */
  report: CheckReport.nullable(),
  /** Why it failed or was cancelled; null otherwise. */
  message: z.string().nullable(),
});
export type CheckStatus = z.output<typeof CheckStatus>;

/** Project-relative paths of the images left out of the split and every run (the exclusion list, by content). */
export const ExcludedImages = z.object({ excluded: z.array(RelPath) });

/**
 * The embedding map: every image of the project placed in 2-D from a run's backbone features (PCA,
 * then UMAP), so that images the backbone sees alike lie together. Arrays are per image, in `paths` order.
 */
export const EmbeddingMap = z.object({
  runId: z.string(),
  /** How it was computed, in words: "InceptionV3 trunk features (768 values) → PCA to 50 → UMAP (15 neighbours)". */
  method: z.string(),
  /** Project paths when the map was computed; a relabel since moves an image, not its point. */
  paths: z.array(RelPath),
  /** x then y of each image, scaled to 0..1. */
  coords: z.array(z.number()),
  /** From the run's report, matched by content; null for images the run did not have (unlabeled, added since). */
  split: z.array(z.enum(['train', 'val', 'test']).nullable()),
  predicted: z.array(z.string().nullable()),
  /** 0 = the out-of-fold model agrees with the label, 1 = sure of another class. */
  mislabelScore: z.array(z.number().nullable()),
  /** Images left off the map, with why (unreadable). */
  skipped: z.array(z.object({ path: z.string(), reason: z.string() })),
  /** Of `paths`, how many needed their features computed (the rest came from the run's cache). */
  embedded: z.number(),
  seconds: z.number(),
  /** True when the layout came from the cache (same images, same features). */
  cached: z.boolean(),
});
export type EmbeddingMap = z.output<typeof EmbeddingMap>;

export const MapPhase = z.enum(['embedding', 'layout']);

export const MapStatus = z.object({
  mapId: z.string(),
  runId: z.string(),
  state: SessionState,
  progress: z.object({ phase: MapPhase, done: z.number(), total: z.number() }),
  startedAt: z.string(),
  /** The map once finished; after a cancel or failure, null. */
  map: EmbeddingMap.nullable(),
  message: z.string().nullable(),
});
export type MapStatus = z.output<typeof MapStatus>;

const empty = z.object({}).strict();

function route<I extends z.ZodType, O extends z.ZodType>(input: I, output: O) {
  return { input, output };
}

export const routes = {
  /** demoProject: the folder that Open demo project makes (once) and opens. */
  'app.info': route(empty, z.object({ host: z.enum(['electron', 'web']), version: z.string(), canPickFolder: z.boolean(), demoProject: z.string() })),
  'project.recent': route(empty, z.object({ recent: z.array(RecentProject) })),
  'project.pickFolder': route(empty, z.object({ path: z.string().nullable() })),
  'project.open': route(z.object({ path: z.string().min(1).max(4096) }).strict(), DatasetSnapshot),
  'project.openDemo': route(empty, DatasetSnapshot),
  'project.current': route(empty, DatasetSnapshot.nullable()),
  'project.close': route(empty, z.object({ closed: z.boolean() })),
  'dataset.scan': route(empty, DatasetSnapshot),
  /** What the project holds now, without reading the folders again (after an import, say). */
  'dataset.snapshot': route(empty, DatasetSnapshot),
  'dataset.relabel': route(
    z.object({ paths: z.array(RelPath).min(1).max(100_000), to: ClassName.nullable() }).strict(),
    MoveResult,
  ),
  /** Several relabels as one undoable step (accepting suggested labels: each image to its own class). */
  'dataset.relabelEach': route(
    z
      .object({ groups: z.array(z.object({ paths: z.array(RelPath).min(1).max(100_000), to: ClassName.nullable() }).strict()).min(1).max(1000) })
      .strict()
      .refine((input) => input.groups.reduce((n, g) => n + g.paths.length, 0) <= 100_000, 'At most 100,000 images in one step'),
    MoveResult,
  ),
  /**
   * Moves images into the project's recoverable trash (.labelloop/trash/<class>/), journaled as one
   * step that Undo takes back: the data check's "keep one" of a group of copies.
   */
  'dataset.trash': route(z.object({ paths: z.array(RelPath).min(1).max(100_000) }).strict(), MoveResult),
  /** Leaves images out of the split and every run (`excluded: false` takes them back); kept by content, so a relabel or move keeps it. */
  'dataset.exclude': route(z.object({ paths: z.array(RelPath).min(1).max(100_000), excluded: z.boolean() }).strict(), ExcludedImages),
  'dataset.excluded': route(empty, ExcludedImages),
  'dataset.undo': route(empty, MoveResult),
  'dataset.redo': route(empty, MoveResult),
  'dataset.details': route(z.object({ path: RelPath }).strict(), ImageDetails),
  'classes.create': route(z.object({ name: ClassName }).strict(), DatasetSnapshot),
  'classes.rename': route(z.object({ from: ClassName, to: ClassName }).strict(), DatasetSnapshot),
  'classes.delete': route(z.object({ name: ClassName }).strict(), DatasetSnapshot),
  'thumbnails.status': route(empty, ThumbnailProgress),
  'training.start': route(z.object({ config: TrainingConfig }).strict(), z.object({ runId: z.string() })),
  'training.status': route(empty, TrainingStatus.nullable()),
  /** The engine a run with this backend preference would use, without loading a model. */
  /** `scratch`: the run trains a small CNN from scratch, so no backbone runs. */
  'training.engine': route(z.object({ backend: BackendPreference, engine: FrozenEngine.default('auto'), scratch: z.boolean().default(false) }).strict(), EngineInfo),
  'training.cancel': route(z.object({ runId: z.string().min(1) }).strict(), z.object({ cancelled: z.boolean() })),
  'training.augmentationPreview': route(
    z.object({ augmentation: AugmentationSettings, inputSize: z.number().int().min(32).max(224) }).strict(),
    z.object({ images: z.array(z.object({ path: z.string(), label: z.string(), original: z.string(), variants: z.array(z.string()) })) }),
  ),
  'runs.list': route(empty, z.object({ runs: z.array(RunSummary) })),
  'runs.report': route(z.object({ runId: z.string().min(1).max(64) }).strict(), z.custom<TrainingReport>()),
  'runs.setOperatingPoint': route(
    z.object({ runId: z.string().min(1).max(64), positiveClass: z.string().min(1), threshold: z.number().min(0).max(1) }).strict(),
    z.object({ saved: z.boolean() }),
  ),
  'runs.rename': route(z.object({ runId: z.string().min(1).max(64), name: z.string().trim().max(100) }).strict(), z.object({ renamed: z.boolean() })),
  /** Trains again with exactly the run's configuration (only new bytes are embedded again). */
  'runs.retrain': route(z.object({ runId: z.string().min(1).max(64) }).strict(), z.object({ runId: z.string() })),
  'runs.delete': route(z.object({ runId: z.string().min(1).max(64) }).strict(), z.object({ deleted: z.boolean() })),
  /**
   * Where the run's model looked on some of the project's images (the Evaluate large view): one map
   * per image for its predicted class or `className`, scaled across the images sent together
   * unless `scale` is per-image. Computed in a worker.
   */
  'runs.heatmaps': route(
    z.object({ runId: z.string().min(1).max(64), paths: z.array(RelPath).min(1).max(64), className: z.string().min(1).max(200).optional(), scale: z.enum(['shared', 'per-image']).default('shared') }).strict(),
    z.object({
      method: z.enum(['cam', 'grad-cam']),
      resize: z.enum(['stretch', 'center-crop', 'pad']),
      entries: z.array(z.object({ path: z.string(), predicted: z.string(), class: z.string(), grid: z.array(z.array(z.number())) })),
      unreadable: z.array(z.object({ path: z.string(), reason: z.string() })),
    }),
  ),
  'runs.export': route(z.object({ runId: z.string().min(1).max(64) }).strict(), z.object({ folder: z.string(), files: z.array(z.string()), notes: z.array(z.string()) })),
  /**
   * Loads a run's model for the Predict view (another run's session closes; the same run's is
   * returned, operating point reread). Sessions also close with the project and when training starts.
   */
  'predict.open': route(z.object({ runId: z.string().min(1).max(64) }).strict(), PredictionSession),
  /** The source photo of a face crop (null: the image is no crop of an import). */
  'faces.context': route(z.object({ path: RelPath }).strict(), FaceContext.nullable()),
  /** The photos the project's face crops came from, with their crops' current paths (the grid's photo filter). */
  'faces.photos': route(empty, z.object({ photos: z.array(z.object({ sourceHash: z.string(), source: z.string(), paths: z.array(RelPath) })) })),
  /** Starts the data check of the open project in a worker (one at a time); progress and end come as events. */
  'check.start': route(empty, z.object({ checkId: z.string() })),
  /** The check in progress, or the last finished one of this project; null when it was never checked. */
  'check.status': route(empty, CheckStatus.nullable()),
  'check.cancel': route(z.object({ checkId: z.string().min(1).max(64) }).strict(), z.object({ cancelled: z.boolean() })),
  /**
   * Lays the project out in 2-D from a run's backbone features (computing those it lacks), in a
   * worker; one at a time. Cached per embedding set: the same images and features give the same map at once.
   */
  'map.start': route(z.object({ runId: z.string().min(1).max(64) }).strict(), z.object({ mapId: z.string() })),
  /** The map in progress or the last one computed in this session of the project; null when none. */
  'map.status': route(empty, MapStatus.nullable()),
  'map.cancel': route(z.object({ mapId: z.string().min(1).max(64) }).strict(), z.object({ cancelled: z.boolean() })),
  'splits.preview': route(
    z.object({ val: z.number().min(0).max(0.9), test: z.number().min(0).max(0.9), seed: z.number().int().min(0), balancing: z.enum(['none', 'oversample', 'class-weights']) }).strict(),
    SplitPreview,
  ),
} as const;

export const events = {
  /** Probing found out whether images decode: badges update without a rescan. */
  'dataset.itemsUpdated': z.object({ items: z.array(ImageItem.pick({ path: true, status: true, problem: true })) }),
  /** Files changed behind our back (import, another window's relabel): the client should refetch. */
  'dataset.changed': z.object({ reason: z.string() }),
  'thumbnails.progress': ThumbnailProgress,
  /** The open project folder vanished or became unreadable; the app stays up and says so. */
  'project.lost': z.object({ root: z.string(), message: z.string() }),
  /** Throttled batch progress of the run in progress. */
  'training.progress': TrainingProgress,
  /** One per epoch: loss, accuracy, val_loss, val_accuracy, lr. */
  'training.epoch': z.object({ runId: z.string(), epoch: z.number(), logs: EpochLogs }),
  'training.ended': TrainingEnded,
  'check.progress': z.object({ checkId: z.string(), phase: CheckPhase, done: z.number(), total: z.number() }),
  'map.progress': z.object({ mapId: z.string(), phase: MapPhase, done: z.number(), total: z.number() }),
  'map.ended': z.object({ mapId: z.string(), state: SessionState.exclude(['running']), message: z.string() }),
  /** `message`: the findings in one line, or why it failed or stopped. */
  'check.ended': z.object({ checkId: z.string(), state: SessionState.exclude(['running']), message: z.string() }),
} as const;

export type Routes = typeof routes;
export type RouteName = keyof Routes;
export type RouteInput<R extends RouteName> = z.input<Routes[R]['input']>;
export type RouteOutput<R extends RouteName> = z.output<Routes[R]['output']>;
export type Events = typeof events;
export type EventName = keyof Events;
export type EventPayload<E extends EventName> = z.output<Events[E]>;

export type ImageItem = z.output<typeof ImageItem>;
export type DatasetSnapshot = z.output<typeof DatasetSnapshot>;
export type MoveResult = z.output<typeof MoveResult>;
export type ImageDetails = z.output<typeof ImageDetails>;
export type ImportResult = z.output<typeof ImportResult>;
export type RecentProject = z.output<typeof RecentProject>;
export type ThumbnailProgress = z.output<typeof ThumbnailProgress>;
export type TrainingProgress = z.output<typeof TrainingProgress>;
export type TrainingEnded = z.output<typeof TrainingEnded>;
export type TrainingStatus = z.output<typeof TrainingStatus>;

export const routeNames = Object.keys(routes) as RouteName[];
export const eventNames = Object.keys(events) as EventName[];

export function isRouteName(name: unknown): name is RouteName {
  return typeof name === 'string' && Object.hasOwn(routes, name);
}

export type ThumbnailSize = 'thumb' | 'large';

/** Upload limit for one imported file: a classifier's training image is never this big. */
export const MAX_IMPORT_BYTES = 200 * 1024 * 1024;

/** The interface the renderer talks to: window.api in Electron, the WebSocket client in web mode. */
export interface LabelLoopApi {
  readonly host: 'electron' | 'web';
  call<R extends RouteName>(route: R, input: RouteInput<R>): Promise<RouteOutput<R>>;
  on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): () => void;
  /** A URL the renderer can put in <img src>, confined to the open project by main. */
  imageUrl(path: string, version: string, size: ThumbnailSize): string;
  /** Copies a file's bytes into a class folder (null: the project root, unlabeled). */
  importFile(className: string | null, name: string, data: ArrayBuffer): Promise<ImportResult>;
  /** Sends a photo's bytes to be cut into face crops in a class folder (null: unlabeled); one photo per call. */
  importFaces(className: string | null, settings: FaceImportSettings, name: string, data: ArrayBuffer): Promise<FaceImportSummary>;
  /** Sends a photo to an open prediction session: a row per face found, or one row saying why there is none. */
  predictFaces(sessionId: string, settings: FacePredictSettings, name: string, data: ArrayBuffer): Promise<PredictionRow[]>;
  /** Sends a file's bytes to an open prediction session and resolves with its prediction. */
  predictFile(sessionId: string, name: string, data: ArrayBuffer): Promise<PredictionRow>;
  /** Web mode only: where the browser downloads a run's export (after runs.export) as a zip. */
  exportDownloadUrl?(runId: string): string;
}
