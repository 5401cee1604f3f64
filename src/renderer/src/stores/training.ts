import { defineStore } from 'pinia';
import { computed, reactive, ref, watch } from 'vue';
import type { BundledBackbone, EngineInfo, FrozenEngine, RouteOutput, RunSummary, SplitPreview, TrainingConfigInput, TrainingEnded, TrainingProgress, TrainingStatus } from '../../../shared/contract';
import { useApi } from '../api/inject';
import { useNoticesStore } from './notices';

/** The form's settings: a subset of TrainingConfig with the knobs people actually turn. */
export interface TrainingForm {
  epochs: number;
  batchSize: number;
  learningRate: number;
  optimizer: 'sgd' | 'adam' | 'rmsprop';
  momentum: number;
  nesterov: boolean;
  dropout: number;
  inputSize: 96 | 128 | 160 | 192 | 224;
  balancing: 'none' | 'oversample' | 'class-weights';
  val: number;
  test: number;
  seed: number;
  schedule: 'constant' | 'exponential' | 'cosine';
  earlyStoppingPatience: number | null;
  reduceLrOnPlateau: boolean;
  backend: 'auto' | 'tensorflow' | 'wasm' | 'cpu';
  /** What runs the frozen backbone; TF.js (the backend above) always trains. */
  engine: FrozenEngine;
  /** Stage 1: fitted to convergence (default) or trained with the Keras-style epoch settings. */
  headFit: 'converged' | 'epochs';
  /** A small CNN beside the frozen head, the two averaged: tried on grayscale images (auto), always, or never. */
  cnnBranch: 'auto' | 'on' | 'off';
  fineTuneBlocks: number;
  fineTuneEpochs: number;
  fineTuneLearningRate: number;
  /**
   * A bundled backbone, `auto` (the best of them for this project, within `autoBudgetSeconds`),
   * `keras`: the model.json at `backboneSource`, or `small_cnn`: no backbone, a CNN from scratch at `cnnInputSize`.
   */
  backbone: BundledBackbone | 'auto' | 'keras' | 'small_cnn';
  cnnInputSize: 32 | 64 | 96 | 128;
  autoBudgetSeconds: number;
  backboneSource: string;
  cutLayer: string;
  scale: '0,1' | '-1,1';
  resize: 'stretch' | 'center-crop' | 'pad';
  augmentation: { copies: number; flip: boolean; rotation: number; cropScale: number; brightness: number; contrast: number; saturation: number };
}

export const DEFAULT_FORM: TrainingForm = {
  epochs: 50,
  batchSize: 32,
  learningRate: 0.001,
  optimizer: 'adam',
  momentum: 0.9,
  nesterov: false,
  dropout: 0.2,
  inputSize: 224,
  balancing: 'none',
  val: 0.2,
  test: 0,
  seed: 42,
  schedule: 'constant',
  earlyStoppingPatience: 5,
  reduceLrOnPlateau: false,
  backend: 'auto',
  engine: 'auto',
  headFit: 'converged',
  cnnBranch: 'auto',
  fineTuneBlocks: 0,
  fineTuneEpochs: 10,
  fineTuneLearningRate: 0.0001,
  backbone: 'inception_v3',
  cnnInputSize: 32,
  autoBudgetSeconds: 120,
  backboneSource: '',
  cutLayer: '',
  scale: '0,1',
  resize: 'stretch',
  augmentation: { copies: 0, flip: true, rotation: 10, cropScale: 0.8, brightness: 0.1, contrast: 0.1, saturation: 0.1 },
};

/** Turns the form into the contract's config; schedule lengths follow the run's epochs. */
export function toConfig(form: TrainingForm, stepsPerEpochGuess: number): TrainingConfigInput {
  const decaySteps = Math.max(1, form.epochs * stepsPerEpochGuess);
  return {
    epochs: form.epochs,
    batchSize: form.batchSize,
    learningRate: form.learningRate,
    optimizer: form.optimizer,
    momentum: form.momentum,
    nesterov: form.nesterov,
    dropout: form.dropout,
    inputSize: form.inputSize,
    balancing: form.balancing,
    val: form.val,
    test: form.test,
    seed: form.seed,
    backend: form.backend,
    engine: form.engine,
    headFit: form.headFit,
    cnnBranch: form.cnnBranch,
    backbone:
      form.backbone === 'keras'
        ? { kind: 'keras', source: form.backboneSource.trim(), ...(form.cutLayer.trim() ? { cutLayer: form.cutLayer.trim() } : {}) }
        : form.backbone === 'auto'
          ? { kind: 'auto', budgetSeconds: form.autoBudgetSeconds }
          : form.backbone === 'small_cnn'
            ? { kind: 'small_cnn', inputSize: form.cnnInputSize }
            : { kind: form.backbone },
    scale: form.scale,
    resize: form.resize,
    augmentation: { ...form.augmentation },
    // Stage 2 needs MobileNetV2's top features; the select is disabled for the others.
    fineTuneBlocks: form.backbone === 'mobilenet_v2' ? form.fineTuneBlocks : 0,
    fineTuneEpochs: form.fineTuneEpochs,
    fineTuneLearningRate: form.fineTuneLearningRate,
    schedule:
      form.schedule === 'exponential'
        ? { kind: 'exponential', decaySteps: Math.max(1, Math.round(decaySteps / 10)), decayRate: 0.8 }
        : form.schedule === 'cosine'
          ? { kind: 'cosine', decaySteps }
          : { kind: 'constant' },
    earlyStopping: form.earlyStoppingPatience === null ? null : { patience: form.earlyStoppingPatience },
    reduceLrOnPlateau: form.reduceLrOnPlateau ? {} : null,
  };
}

/** The toast when a run ends: the message for people only (diagnostics stay in the run's details). */
export function endedNotice(ended: TrainingEnded): string {
  return ended.reason === 'failed' ? `Training failed: ${ended.message}` : ended.message;
}

/** The training session as the window sees it: resynced from main after a reload, fed by events. */
export const useTrainingStore = defineStore('training', () => {
  const api = useApi();
  const notices = useNoticesStore();
  const form = reactive<TrainingForm>(structuredClone(DEFAULT_FORM));
  const augmentationPreview = ref<RouteOutput<'training.augmentationPreview'>['images']>([]);
  const status = ref<TrainingStatus | null>(null);
  const preview = ref<SplitPreview | null>(null);
  const starting = ref(false);
  const formError = ref<string | null>(null);

  /** The engine the chosen backend gives, known before a run starts; or why none starts. */
  const engine = ref<EngineInfo | null>(null);
  const engineError = ref<string | null>(null);
  /** The newest run when its process died mid-run (found after a restart), else null. */
  const interrupted = ref<RunSummary | null>(null);

  const running = computed(() => status.value?.state === 'running');
  const progress = computed<TrainingProgress | null>(() => status.value?.progress ?? null);

  async function resync(): Promise<void> {
    status.value = (await notices.guard(() => api.call('training.status', {}))) ?? null;
  }

  let previewRequest = 0;
  async function refreshPreview(): Promise<void> {
    // Settings change faster than main answers: only the latest request's answer is shown.
    const request = ++previewRequest;
    const result = await notices.guard(() =>
      api.call('splits.preview', { val: form.val, test: form.test, seed: form.seed, balancing: form.balancing }),
    );
    if (result && request === previewRequest) preview.value = result;
  }

  async function checkInterrupted(): Promise<void> {
    const newest = (await notices.guard(() => api.call('runs.list', {})))?.runs[0];
    interrupted.value = newest?.state === 'interrupted' ? newest : null;
  }

  async function refreshEngine(): Promise<void> {
    const asked = { backend: form.backend, engine: form.engine, scratch: form.backbone === 'small_cnn' };
    const stale = () => asked.backend !== form.backend || asked.engine !== form.engine || asked.scratch !== (form.backbone === 'small_cnn');
    try {
      const answer = await api.call('training.engine', asked);
      if (stale()) return;
      engine.value = answer;
      engineError.value = null;
    } catch (error) {
      if (stale()) return;
      engine.value = null;
      engineError.value = error instanceof Error ? error.message : String(error);
    }
  }
  watch(() => [form.backend, form.engine, form.backbone === 'small_cnn'], () => void refreshEngine());

  async function previewAugmentation(): Promise<void> {
    const result = await notices.guard(() => api.call('training.augmentationPreview', { augmentation: { ...form.augmentation }, inputSize: form.inputSize }));
    if (result) augmentationPreview.value = result.images;
  }

  async function start(): Promise<void> {
    formError.value = null;
    starting.value = true;
    try {
      const trainImages = preview.value ? Object.values(preview.value.balancedTrain).reduce((a, b) => a + b, 0) : 1000;
      const { runId } = await api.call('training.start', { config: toConfig(form, Math.ceil(trainImages / form.batchSize)) });
      await resync();
      if (status.value?.runId !== runId) status.value = null;
    } catch (error) {
      formError.value = error instanceof Error ? error.message : String(error);
    } finally {
      starting.value = false;
    }
  }

  /** Reruns a finished run with its own saved configuration. */
  async function retrain(runId: string): Promise<void> {
    const started = await notices.guard(() => api.call('runs.retrain', { runId }));
    if (started) await resync();
  }

  async function cancel(): Promise<void> {
    if (status.value) await notices.guard(() => api.call('training.cancel', { runId: (status.value as TrainingStatus).runId }));
  }

  api.on('training.progress', (payload) => {
    if (status.value?.runId === payload.runId) status.value = { ...status.value, progress: payload };
    else void resync();
  });
  api.on('training.epoch', ({ runId, logs }) => {
    if (status.value?.runId === runId) status.value = { ...status.value, epochs: [...status.value.epochs, logs] };
    else void resync();
  });
  api.on('training.ended', (ended) => {
    notices.push(ended.reason === 'failed' ? 'error' : 'info', endedNotice(ended), 8000);
    void resync();
  });

  return { form, status, preview, augmentationPreview, starting, formError, running, progress, engine, engineError, interrupted, resync, refreshPreview, refreshEngine, checkInterrupted, previewAugmentation, start, retrain, cancel };
});
