// The report every run writes (report.json), read by the CLI, the window and later runs.
import type { AutoCandidate, FeaturePooling, TrainingConfig } from './contract';
import type { AccuracyEstimate } from './metrics';

export type Split = 'train' | 'val' | 'test';

/** Where a two-class model says "positive": saved with the run and its exported model. */
export interface OperatingPoint {
  positiveClass: string;
  threshold: number;
}

/** Auto's comparison of the bundled backbones, stored with the run; a retrain repeats its choice. */
export interface ModelChoice {
  /** Train images (a stratified sample; never val or test) that every candidate was scored on. */
  probeImages: number;
  budgetSeconds: number;
  /**
   * Held-out log-loss and accuracy on the sample: a converged head on each backbone's features by
   * inner folds, the small CNN on a held-out third; null where skipped. `note`: how it ran, where that matters.
   */
  candidates: { backbone: AutoCandidate; logLoss: number | null; accuracy: number | null; seconds: number; skipped: string | null; note?: string }[];
  chosen: AutoCandidate;
  reason: string;
}

/** An unlabeled image as the run's model judged it: the likeliest class and every class's probability. */
export interface UnlabeledSuggestion {
  path: string;
  suggested: string;
  probabilities: Record<string, number>;
}

/** The small CNN beside the frozen head: the saved model averages their probabilities when `used`. */
export interface CnnBranchReport {
  used: boolean;
  /** In words: why it is in the model, or why not. */
  reason: string;
  /** The model's input is average-pooled by `pool` into `inputSize`×`inputSize` for the CNN. */
  pool: number;
  inputSize: number;
  /** Both models fitted without the inner holdout, scored on it (train images only); null where it was not run. */
  holdout: { images: number; head: { logLoss: number; accuracy: number }; mean: { logLoss: number; accuracy: number } } | null;
  /** The CNN's kept epoch (chosen on the holdout) and how many it trained. */
  bestEpoch: number | null;
  epochs: number;
  seconds: number;
}

export interface TrainingReport {
  runId: string;
  backend: string;
  classes: string[];
  counts: Record<Split, Record<string, number>>;
  epochs: Record<string, number>[];
  bestEpoch: number;
  stopReason: string | null;
  evaluatedOn: Split;
  valAccuracy: number | null;
  /**
   * The accuracy to trust, with its 95% interval: the test split, else val, else (small projects
   * with a converged head) cross-validation of the whole recipe. Absent in reports of older runs.
   */
  accuracy?: AccuracyEstimate | null;
  /** How stage 1 was fitted: to convergence with a cross-validated L2 strength, or Keras-style epochs. */
  head?: { fit: 'converged'; l2: number; l2Scores: { l2: number; logLoss: number }[]; iterations: number; converged: boolean } | { fit: 'epochs' }
    /** The small CNN from scratch: `holdoutImages` train images chose its epoch and early stop. */
    | { fit: 'scratch'; holdoutImages: number };
  confusion: number[][];
  perClass: Record<string, { precision: number; recall: number; f1: number; support: number }>;
  samples: {
    path: string;
    label: string;
    split: Split;
    predicted: string;
    probabilities: Record<string, number>;
    /** 0..1 from out-of-fold predictions: how likely the label is wrong. */
    mislabelScore: number;
    /** The image's content hash, which finds it after a relabel; absent in older reports. */
    hash?: string;
    suggestedLabel: string;
    likelyMislabeled: boolean;
  }[];
  /** How many labels look wrong (the confident joint of the out-of-fold predictions); about that many are flagged. */
  labelErrorEstimate?: { count: number; share: number };
  skipped: { path: string; reason: string }[];
  timing: { totalSeconds: number; embedSeconds: number; trainSeconds: number; imagesPerSecond: number; embedded: number; fromCache: number };
  preprocessing: { inputSize: number; scale: '0,1' | '-1,1'; resize: 'stretch' | 'center-crop' | 'pad'; /** Absent in runs from before it was stored: Lanczos 3. */ interpolation?: 'bilinear' | 'lanczos3' };
  /** The backbone that ran (Auto's choice where the config said auto). */
  backbone: Exclude<TrainingConfig['backbone'], { kind: 'auto' }> & { cutLayer: string; id: string; featureSize: number; /** Absent in runs from before it was stored: 'avg'. */ pooling?: FeaturePooling };
  /** What Auto tried and why the winner won; absent when the config named the backbone. */
  modelChoice?: ModelChoice;
  /** The CNN branch beside the head (config `cnnBranch`): whether it is in the model, and why; absent where it was off or the run has no backbone. */
  cnnBranch?: CnnBranchReport;
  /** Stage 2, when it ran: the saved model then starts at `cutLayer` of the backbone. */
  fineTune: { blocks: number; cutLayer: string; cutShape: number[] } | null;
  /** Augmented copies of train images used in training (not in the metrics above). */
  augmentedCopies: number;
  /** What the run repaired or worked around on its way, in words (e.g. damaged cached features). */
  notes?: string[];
  operatingPoint?: OperatingPoint;
  /** The project's unlabeled images (its root) as the saved model judged them; absent in older reports. */
  unlabeled?: UnlabeledSuggestion[];
}
