// Keras-style training callbacks, written small and composable. A CallbackList is itself a
// Callback; EarlyStopping, ReduceLROnPlateau and BestCheckpoint share one monitor base.
// tfjs ships only a partial earlyStopping, so these are ours, and each is unit-tested.
import type { JobEvent, Memory } from './job';

export type Logs = Record<string, number>;

/** What a callback may read and change about the run in progress. */
export interface TrainingControl {
  stopTraining: boolean;
  /** Why the run stopped early, in words (set by whoever sets stopTraining). */
  stopReason?: string;
  getLearningRate(): number;
  setLearningRate(lr: number): void;
  /** A copy of the trainable weights, to restore later (EarlyStopping's restore_best_weights). */
  snapshotWeights(): WeightSnapshot;
  restoreWeights(snapshot: WeightSnapshot): void;
}

export interface WeightSnapshot {
  dispose(): void;
}

export interface Callback {
  onTrainBegin?(control: TrainingControl): void | Promise<void>;
  onEpochBegin?(epoch: number, control: TrainingControl): void | Promise<void>;
  /** `step` counts batches across epochs (what LR schedules key on). */
  onBatchBegin?(step: number, control: TrainingControl): void | Promise<void>;
  onBatchEnd?(step: number, logs: Logs, control: TrainingControl): void | Promise<void>;
  onEpochEnd?(epoch: number, logs: Logs, control: TrainingControl): void | Promise<void>;
  onTrainEnd?(logs: Logs, control: TrainingControl): void | Promise<void>;
}

export class CallbackList implements Callback {
  constructor(readonly callbacks: Callback[]) {}

  async onTrainBegin(control: TrainingControl): Promise<void> {
    for (const c of this.callbacks) await c.onTrainBegin?.(control);
  }
  async onEpochBegin(epoch: number, control: TrainingControl): Promise<void> {
    for (const c of this.callbacks) await c.onEpochBegin?.(epoch, control);
  }
  async onBatchBegin(step: number, control: TrainingControl): Promise<void> {
    for (const c of this.callbacks) await c.onBatchBegin?.(step, control);
  }
  async onBatchEnd(step: number, logs: Logs, control: TrainingControl): Promise<void> {
    for (const c of this.callbacks) await c.onBatchEnd?.(step, logs, control);
  }
  async onEpochEnd(epoch: number, logs: Logs, control: TrainingControl): Promise<void> {
    for (const c of this.callbacks) await c.onEpochEnd?.(epoch, logs, control);
  }
  async onTrainEnd(logs: Logs, control: TrainingControl): Promise<void> {
    for (const c of this.callbacks) await c.onTrainEnd?.(logs, control);
  }
}

export type MonitorMode = 'min' | 'max' | 'auto';

export interface MonitorOptions {
  monitor?: string;
  mode?: MonitorMode;
  minDelta?: number;
}

/** Watches one logged metric and says whether a value improves on the best so far. */
export abstract class MonitorCallback {
  readonly monitor: string;
  readonly mode: 'min' | 'max';
  readonly minDelta: number;
  best = Infinity;

  constructor(options: MonitorOptions = {}, defaultMinDelta = 0) {
    this.monitor = options.monitor ?? 'val_loss';
    const mode = options.mode ?? 'auto';
    // As in Keras: accuracy-like metrics are maximised, everything else minimised.
    this.mode = mode === 'auto' ? (/acc|auc|f1|precision|recall/.test(this.monitor) ? 'max' : 'min') : mode;
    this.minDelta = Math.abs(options.minDelta ?? defaultMinDelta);
    this.resetBest();
  }

  protected resetBest(): void {
    this.best = this.mode === 'min' ? Infinity : -Infinity;
  }

  isImprovement(current: number, reference: number): boolean {
    return this.mode === 'min' ? current < reference - this.minDelta : current > reference + this.minDelta;
  }

  protected current(logs: Logs): number | undefined {
    const value = logs[this.monitor];
    return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
  }
}

export interface EarlyStoppingOptions extends MonitorOptions {
  patience?: number;
  baseline?: number;
  restoreBestWeights?: boolean;
}

/** Stops when the monitored metric has not improved for `patience` epochs (Keras semantics). */
export class EarlyStopping extends MonitorCallback implements Callback {
  readonly patience: number;
  readonly baseline: number | undefined;
  readonly restoreBestWeights: boolean;
  wait = 0;
  stoppedEpoch = -1;
  bestEpoch = 0;
  private bestWeights: WeightSnapshot | null = null;

  constructor(options: EarlyStoppingOptions = {}) {
    super(options);
    this.patience = options.patience ?? 0;
    this.baseline = options.baseline;
    this.restoreBestWeights = options.restoreBestWeights ?? false;
  }

  onTrainBegin(): void {
    this.wait = 0;
    this.stoppedEpoch = -1;
    this.bestEpoch = 0;
    this.resetBest();
    this.releaseWeights();
  }

  onEpochEnd(epoch: number, logs: Logs, control: TrainingControl): void {
    const current = this.current(logs);
    if (current === undefined) return;
    if (this.restoreBestWeights && this.bestWeights === null) this.bestWeights = control.snapshotWeights();
    this.wait++;
    if (this.isImprovement(current, this.best)) {
      this.best = current;
      this.bestEpoch = epoch;
      if (this.restoreBestWeights) {
        this.releaseWeights();
        this.bestWeights = control.snapshotWeights();
      }
      // Only restart the count if we beat both the baseline and our previous best.
      if (this.baseline === undefined || this.isImprovement(current, this.baseline)) this.wait = 0;
      return;
    }
    if (this.wait >= this.patience && epoch > 0) {
      this.stoppedEpoch = epoch;
      control.stopTraining = true;
      control.stopReason = `${this.monitor} did not improve for ${this.wait} epoch(s) (best ${format(this.best)} at epoch ${this.bestEpoch + 1})`;
      if (this.restoreBestWeights && this.bestWeights) control.restoreWeights(this.bestWeights);
    }
  }

  onTrainEnd(): void {
    this.releaseWeights();
  }

  private releaseWeights(): void {
    this.bestWeights?.dispose();
    this.bestWeights = null;
  }
}

export interface ReduceLROnPlateauOptions extends MonitorOptions {
  factor?: number;
  patience?: number;
  minLr?: number;
  cooldown?: number;
}

/** Multiplies the learning rate by `factor` after `patience` epochs without improvement. */
export class ReduceLROnPlateau extends MonitorCallback implements Callback {
  readonly factor: number;
  readonly patience: number;
  readonly minLr: number;
  readonly cooldown: number;
  wait = 0;
  cooldownCounter = 0;

  constructor(options: ReduceLROnPlateauOptions = {}) {
    super(options, 1e-4);
    this.factor = options.factor ?? 0.1;
    if (this.factor >= 1) throw new Error('ReduceLROnPlateau factor must be below 1');
    this.patience = options.patience ?? 10;
    this.minLr = options.minLr ?? 0;
    this.cooldown = options.cooldown ?? 0;
  }

  onTrainBegin(): void {
    this.wait = 0;
    this.cooldownCounter = 0;
    this.resetBest();
  }

  onEpochEnd(_epoch: number, logs: Logs, control: TrainingControl): void {
    const current = this.current(logs);
    if (current === undefined) return;
    if (this.cooldownCounter > 0) {
      this.cooldownCounter--;
      this.wait = 0;
    }
    if (this.isImprovement(current, this.best)) {
      this.best = current;
      this.wait = 0;
    } else if (this.cooldownCounter <= 0) {
      this.wait++;
      if (this.wait >= this.patience) {
        const lr = control.getLearningRate();
        if (lr > this.minLr) {
          control.setLearningRate(Math.max(lr * this.factor, this.minLr));
          this.cooldownCounter = this.cooldown;
          this.wait = 0;
        }
      }
    }
  }
}

/** Calls `save` whenever the monitored metric improves: the run keeps its best model. */
export class BestCheckpoint extends MonitorCallback implements Callback {
  bestEpoch = -1;

  constructor(
    private readonly save: (epoch: number, logs: Logs) => Promise<void> | void,
    options: MonitorOptions = {},
  ) {
    super(options);
  }

  onTrainBegin(): void {
    this.bestEpoch = -1;
    this.resetBest();
  }

  async onEpochEnd(epoch: number, logs: Logs): Promise<void> {
    const current = this.current(logs);
    if (current === undefined || !this.isImprovement(current, this.best)) return;
    this.best = current;
    this.bestEpoch = epoch;
    await this.save(epoch, logs);
  }
}

export type ScheduleConfig =
  | { kind: 'constant' }
  | { kind: 'exponential'; decaySteps: number; decayRate: number; staircase?: boolean }
  | { kind: 'cosine'; decaySteps: number; alpha?: number };

/** The learning rate at a global step, as tf.keras.optimizers.schedules computes it. */
export function scheduledLearningRate(initial: number, schedule: ScheduleConfig, step: number): number {
  switch (schedule.kind) {
    case 'constant':
      return initial;
    case 'exponential': {
      const p = step / schedule.decaySteps;
      return initial * schedule.decayRate ** (schedule.staircase ? Math.floor(p) : p);
    }
    case 'cosine': {
      const alpha = schedule.alpha ?? 0;
      const progress = Math.min(step, schedule.decaySteps) / schedule.decaySteps;
      return initial * ((1 - alpha) * 0.5 * (1 + Math.cos(Math.PI * progress)) + alpha);
    }
  }
}

/** Sets the learning rate before every batch from a schedule. */
export class LearningRateScheduler implements Callback {
  constructor(
    private readonly initial: number,
    private readonly schedule: ScheduleConfig,
  ) {}

  onBatchBegin(step: number, control: TrainingControl): void {
    control.setLearningRate(scheduledLearningRate(this.initial, this.schedule, step));
  }
}

/**
 * Stops at the end of the first epoch that ends past a deadline (TensorFlow Addons' TimeStopping):
 * how a fit keeps within a time budget. `deadline` is in the clock's milliseconds.
 */
export class TimeStopping implements Callback {
  stoppedAt: number | null = null;

  constructor(private readonly deadline: number, private readonly now: () => number = () => performance.now()) {}

  onEpochEnd(epoch: number, _logs: Logs, control: TrainingControl): void {
    if (this.now() < this.deadline || control.stopTraining) return;
    this.stoppedAt = epoch;
    control.stopTraining = true;
    control.stopReason = `time budget reached after epoch ${epoch + 1}`;
  }
}

/** Throttled batch progress and per-epoch metrics, for the window and the CLI. */
export class ProgressReporter implements Callback {
  private lastReport = 0;
  private epochStarted = 0;
  private trainStarted = 0;
  private imagesThisEpoch = 0;
  private epoch = 0;

  constructor(
    private readonly options: {
      epochs: number;
      batchesPerEpoch: number;
      batchSize: number;
      throttleMs?: number;
      now?: () => number;
      onProgress(progress: BatchProgress): void;
      onEpoch(epoch: number, logs: Logs): void;
    },
  ) {}

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }

  onTrainBegin(): void {
    this.trainStarted = this.now();
    this.lastReport = -Infinity; // the first batch is always shown
  }

  onEpochBegin(epoch: number): void {
    this.epoch = epoch;
    this.epochStarted = this.now();
    this.imagesThisEpoch = 0;
  }

  onBatchEnd(step: number, logs: Logs): void {
    this.imagesThisEpoch += logs.size ?? this.options.batchSize;
    const now = this.now();
    const batch = step - this.epoch * this.options.batchesPerEpoch;
    const last = batch + 1 >= this.options.batchesPerEpoch;
    if (!last && now - this.lastReport < (this.options.throttleMs ?? 250)) return;
    this.lastReport = now;
    const seconds = Math.max(1e-6, (now - this.epochStarted) / 1000);
    const doneBatches = step + 1;
    const totalBatches = this.options.epochs * this.options.batchesPerEpoch;
    const elapsed = (now - this.trainStarted) / 1000;
    this.options.onProgress({
      epoch: this.epoch,
      epochs: this.options.epochs,
      batch: batch + 1,
      batches: this.options.batchesPerEpoch,
      loss: logs.loss ?? NaN,
      imagesPerSecond: this.imagesThisEpoch / seconds,
      etaSeconds: doneBatches > 0 ? (elapsed / doneBatches) * (totalBatches - doneBatches) : 0,
    });
  }

  onEpochEnd(epoch: number, logs: Logs, control: TrainingControl): void {
    this.options.onEpoch(epoch, { ...logs, lr: control.getLearningRate() });
  }
}

export interface BatchProgress {
  epoch: number;
  epochs: number;
  batch: number;
  batches: number;
  loss: number;
  imagesPerSecond: number;
  etaSeconds: number;
}

function format(value: number): string {
  return Number.isFinite(value) ? value.toFixed(4) : String(value);
}

/**
 * Batch progress and per-epoch events for one stage of a run. `curves` puts its epochs on the run's
 * curves (stage 2's continue stage 1's count); null keeps them off, for a model beside the run's own.
 */
export function epochReporter(
  phase: 'training' | 'fine-tuning',
  epochs: number,
  trainRows: number,
  batchSize: number,
  emit: (event: JobEvent) => void,
  memory: Memory,
  curves: { epochOffset: number; extraLogs: Logs } | null = { epochOffset: 0, extraLogs: {} },
): ProgressReporter {
  return new ProgressReporter({
    epochs,
    batchesPerEpoch: Math.ceil(trainRows / batchSize),
    batchSize,
    onProgress: (p) =>
      emit({
        type: 'progress',
        progress: { phase, done: p.epoch * p.batches + p.batch, total: p.epochs * p.batches, epoch: p.epoch, epochs: p.epochs, loss: p.loss, imagesPerSecond: p.imagesPerSecond, etaSeconds: p.etaSeconds, memory: memory() },
      }),
    onEpoch: (epoch, logs) => {
      if (curves) emit({ type: 'epoch', epoch: curves.epochOffset + epoch, logs: { ...logs, ...curves.extraLogs } });
    },
  });
}
