// The report every run writes (report.json), read by the CLI, the window and later runs.
import type { TrainingConfig } from './contract';

export type Split = 'train' | 'val' | 'test';

/** Where a two-class model says "positive": saved with the run and its exported model. */
export interface OperatingPoint {
  positiveClass: string;
  threshold: number;
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
    suggestedLabel: string;
    likelyMislabeled: boolean;
  }[];
  skipped: { path: string; reason: string }[];
  timing: { totalSeconds: number; embedSeconds: number; trainSeconds: number; imagesPerSecond: number; embedded: number; fromCache: number };
  preprocessing: { inputSize: number; scale: '0,1' | '-1,1'; resize: 'stretch' | 'center-crop' | 'pad' };
  backbone: TrainingConfig['backbone'] & { cutLayer: string; id: string; featureSize: number };
  /** Stage 2, when it ran: the saved model then starts at `cutLayer` of the backbone. */
  fineTune: { blocks: number; cutLayer: string; cutShape: number[] } | null;
  /** Augmented copies of train images used in training (not in the metrics above). */
  augmentedCopies: number;
  /** What the run repaired or worked around on its way, in words (e.g. damaged cached features). */
  notes?: string[];
  operatingPoint?: OperatingPoint;
}
