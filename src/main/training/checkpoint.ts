// The best model so far, kept in <run>/checkpoint/ while a run trains, so that a run whose process
// is killed still leaves a usable model. Same files as model/ (the classifier + labelloop.json), plus
// which epoch it is and its monitored metric. Written whole into checkpoint.partial/ and renamed
// into place: a kill mid-write leaves only a folder nobody reads. A run that ends removes it.
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { KeptModel } from '../../shared/contract';
import type { TrainingReport } from '../../shared/report';
import type { Preprocessing } from '../engine/preprocess';
import type { TF } from '../engine/tf';
import type { Logs } from './callbacks';

const CHECKPOINT = 'checkpoint';
const PARTIAL = 'checkpoint.partial';
/** The checkpoint being replaced: still whole, so a kill between the two renames keeps it. */
const PREVIOUS = 'checkpoint.previous';

/** Improvements closer together than this are saved once, at the next one or at the stage's end. */
export const CHECKPOINT_INTERVAL_MS = 3_000;

/** What model/labelloop.json (and a checkpoint's) says about the classifier beside it. */
export interface ModelDescription {
  classes: string[];
  backbone: TrainingReport['backbone'];
  preprocessing: Preprocessing;
  /** Stage 2's classifier starts at the backbone's cut layer; stage 1's reads the pooled feature. */
  fineTune: { cutLayer: string; cutShape: number[] } | null;
  /** The CNN beside the head, reading the model's input average-pooled by `pool`: the model averages their softmaxes. */
  cnnBranch?: { model: TF.LayersModel; pool: number; inputSize: number } | null;
}

/** Writes the classifier in TF.js format and labelloop.json (last: it is what marks the folder as a model). */
export async function writeModelFiles(dir: string, model: TF.LayersModel, description: ModelDescription, extra: Record<string, unknown> = {}): Promise<void> {
  await mkdir(dir, { recursive: true });
  await saveLayers(dir, 'classifier', model);
  const { classes, backbone, preprocessing, fineTune, cnnBranch } = description;
  if (cnnBranch) await saveLayers(dir, 'cnn', cnnBranch.model);
  const info = {
    classes,
    backbone,
    preprocessing,
    classifier: 'classifier.json',
    // Stage 1: the classifier reads the pooled backbone feature; stage 2: the backbone's output at the cut layer; a CNN from scratch: the pixels.
    input: fineTune
      ? { layer: fineTune.cutLayer, shape: fineTune.cutShape }
      : backbone.kind === 'small_cnn'
        ? { layer: 'pixels', shape: [backbone.inputSize, backbone.inputSize, 3] }
        : { layer: backbone.cutLayer, pooled: true, shape: [backbone.featureSize] },
    output: 'logits (apply softmax)',
    ...(cnnBranch ? { cnnBranch: { classifier: 'cnn.json', pool: cnnBranch.pool, shape: [cnnBranch.inputSize, cnnBranch.inputSize, 3], output: 'logits (apply softmax; the model is the mean of both softmaxes)' } } : {}),
    ...extra,
  };
  await writeFile(path.join(dir, 'labelloop.json'), JSON.stringify(info, null, 2));
}

/** `<name>.json` and `<name>.weights.bin` in TF.js's layers format. */
async function saveLayers(dir: string, name: string, model: TF.LayersModel): Promise<void> {
  // A bare save handler rather than tf.io.withSaveHandler: listing runs and predict.open read this module and need no TF.js.
  await model.save({
    save: async (artifacts) => {
      const shards = artifacts.weightData instanceof ArrayBuffer ? [artifacts.weightData] : (artifacts.weightData ?? []);
      await writeFile(path.join(dir, `${name}.weights.bin`), Buffer.concat(shards.map((shard) => Buffer.from(shard))));
      await writeFile(path.join(dir, `${name}.json`), JSON.stringify({ modelTopology: artifacts.modelTopology, weightsManifest: [{ paths: [`${name}.weights.bin`], weights: artifacts.weightSpecs }], format: 'layers-model' }));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    },
  });
}

/** Where a run's model lies: model/ once the run saved it, else the checkpoint it kept; null when it has none. */
export async function runModelDir(runDir: string): Promise<string | null> {
  const final = path.join(runDir, 'model');
  if (await exists(path.join(final, 'labelloop.json'))) return final;
  return (await keptCheckpoint(runDir))?.dir ?? null;
}

/** The checkpoint a run kept (never a partial one), with the epoch and metric it was saved at. */
export async function keptCheckpoint(runDir: string): Promise<{ dir: string; kept: KeptModel } | null> {
  for (const name of [CHECKPOINT, PREVIOUS]) {
    const dir = path.join(runDir, name);
    const text = await readFile(path.join(dir, 'labelloop.json'), 'utf8').catch(() => null);
    if (text === null) continue;
    try {
      const kept = (JSON.parse(text) as { checkpoint?: KeptModel }).checkpoint;
      if (kept && typeof kept.epoch === 'number' && typeof kept.monitor === 'string' && typeof kept.value === 'number') return { dir, kept };
    } catch {
      // A labelloop.json that does not parse is no checkpoint: try the previous one.
    }
  }
  return null;
}

/** A run that ended keeps model/ (or nothing): its checkpoint folders go. */
export async function removeCheckpoint(runDir: string): Promise<void> {
  await Promise.all([CHECKPOINT, PARTIAL, PREVIOUS].map((name) => rm(path.join(runDir, name), { recursive: true, force: true })));
}

/**
 * Saves a stage's best model as it improves, at most once per CHECKPOINT_INTERVAL_MS; an improvement
 * that came too soon is saved by settle() once the stage has restored its best weights.
 */
export class CheckpointWriter {
  private lastSavedAt = -Infinity;
  private pending: { kept: KeptModel; fineTune: ModelDescription['fineTune'] } | null = null;
  private warned = false;

  constructor(
    private readonly runDir: string,
    private readonly description: Omit<ModelDescription, 'fineTune'>,
    private readonly options: { intervalMs?: number; now?: () => number } = {},
  ) {}

  /**
   * For trainHead's onBestEpoch: `epochOffset` counts the epochs of earlier stages (as the run's
   * epoch list does), `fineTune` says where stage 2's classifier starts.
   */
  stage(epochOffset: number, fineTune: ModelDescription['fineTune']): (epoch: number, logs: Logs, monitor: string, model: TF.LayersModel) => Promise<void> {
    return async (epoch, logs, monitor, model) => {
      const kept: KeptModel = { epoch: epochOffset + epoch, stage: fineTune ? 2 : 1, monitor, value: logs[monitor] as number };
      if (this.now() - this.lastSavedAt < (this.options.intervalMs ?? CHECKPOINT_INTERVAL_MS)) {
        this.pending = { kept, fineTune };
        return;
      }
      await this.save(model, kept, fineTune);
    };
  }

  /** At a stage's end, `model` holds its best weights: saves them if that epoch was not saved yet. */
  async settle(model: TF.LayersModel): Promise<void> {
    if (this.pending) await this.save(model, this.pending.kept, this.pending.fineTune);
  }

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }

  private async save(model: TF.LayersModel, kept: KeptModel, fineTune: ModelDescription['fineTune']): Promise<void> {
    this.pending = null;
    this.lastSavedAt = this.now();
    const partial = path.join(this.runDir, PARTIAL);
    const current = path.join(this.runDir, CHECKPOINT);
    const previous = path.join(this.runDir, PREVIOUS);
    try {
      await rm(partial, { recursive: true, force: true });
      await writeModelFiles(partial, model, { ...this.description, fineTune }, { checkpoint: kept });
      // A folder cannot be renamed over a non-empty one: the old checkpoint steps aside first.
      await rm(previous, { recursive: true, force: true });
      if (await exists(current)) await rename(current, previous);
      await rename(partial, current);
      await rm(previous, { recursive: true, force: true });
    } catch (error) {
      // A checkpoint is a safety net: a full disk must not stop the run, which saves its model at the end.
      if (!this.warned) console.warn(`[labelloop] could not save a checkpoint in ${this.runDir}:`, error);
      this.warned = true;
    }
  }
}

async function exists(file: string): Promise<boolean> {
  return (await stat(file).catch(() => null)) !== null;
}
