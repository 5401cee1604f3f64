// Stage 2 on wasm: the top blocks train through our gradient kernels, BatchNormalization stays
// frozen (moving statistics untouched), and nothing leaks.
import { beforeAll, describe, expect, it } from 'vitest';
import { TrainingConfig } from '../../../../src/shared/contract';
import { loadBackbone } from '../../../../src/main/engine/backbone';
import { selectBackend } from '../../../../src/main/engine/backend';
import { MOBILENET_FINE_TUNE_CUTS, splitForFineTuning } from '../../../../src/main/training/fineTune';
import { DEFAULT_PREPROCESSING } from '../../../../src/main/engine/preprocess';
import { buildHead, trainHead } from '../../../../src/main/training/trainHead';
import { tf, type TF } from '../../../../src/main/engine/tf';
import { registerWasmGradients } from '../../../../src/main/engine/wasmGradients';

const weightOf = (model: TF.LayersModel, layer: string, index = 0) => (model.getLayer(layer).getWeights()[index] as TF.Tensor).dataSync().slice();

describe('stage 2 fine-tuning', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
    registerWasmGradients();
  });

  it.each([1, 2, 3, 4])('splits MobileNetV2 for %i unfrozen block(s) and the top reproduces the full model', async (blocks) => {
    const backbone = await loadBackbone({ kind: 'mobilenet_v2' }, 96, DEFAULT_PREPROCESSING);
    const head = buildHead(1280, 2, 0, 1);
    const split = splitForFineTuning(backbone.extractor, MOBILENET_FINE_TUNE_CUTS[blocks] as string, head);
    const images = tf.randomUniform([2, 96, 96, 3], 0, 1, 'float32', 4);
    const direct = head.predict(backbone.extractor.predict(images) as TF.Tensor) as TF.Tensor;
    const viaCut = split.top.predict(split.bottom.predict(images) as TF.Tensor) as TF.Tensor;
    expect(tf.max(tf.abs(tf.sub(direct, viaCut))).dataSync()[0]).toBeLessThan(1e-4);
    tf.dispose([images, direct, viaCut]);
    head.dispose();
    backbone.dispose();
  });

  it('trains the unfrozen convolutions on wasm and leaves BatchNorm moving statistics alone', async () => {
    const backbone = await loadBackbone({ kind: 'mobilenet_v2' }, 96, DEFAULT_PREPROCESSING);
    const head = buildHead(1280, 2, 0.2, 1);
    const split = splitForFineTuning(backbone.extractor, MOBILENET_FINE_TUNE_CUTS[2] as string, head);
    const n = 24;
    const activations = tf.tidy(() => split.bottom.predict(tf.randomUniform([n, 96, 96, 3], 0, 1, 'float32', 5)) as TF.Tensor);
    const features = activations.dataSync().slice() as Float32Array;
    activations.dispose();
    const labels = Int32Array.from({ length: n }, (_, i) => i % 2);
    const rows = Array.from({ length: n }, (_, i) => i);
    const movingMean = weightOf(split.top, 'block_16_expand_BN', 2);
    const gamma = weightOf(split.top, 'block_16_expand_BN', 0);
    const kernel = weightOf(split.top, 'block_16_expand', 0);
    const frozen = weightOf(split.bottom, 'block_14_expand', 0);
    const tensorsBefore = tf.memory().numTensors;
    const result = await trainHead({
      features,
      dim: features.length / n,
      sampleShape: split.cutShape,
      model: split.top,
      labels,
      classCount: 2,
      trainRows: rows.slice(0, 16),
      valRows: rows.slice(16),
      config: TrainingConfig.parse({ epochs: 2, batchSize: 8, optimizer: 'sgd', learningRate: 0.01, earlyStopping: null }),
    });
    expect(result.history).toHaveLength(2);
    expect(weightOf(split.top, 'block_16_expand_BN', 2)).toEqual(movingMean);
    expect(weightOf(split.top, 'block_16_expand_BN', 0)).toEqual(gamma);
    expect(weightOf(split.top, 'block_16_expand', 0)).not.toEqual(kernel);
    expect(weightOf(split.bottom, 'block_14_expand', 0)).toEqual(frozen);
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    head.dispose();
    backbone.dispose();
  });
});
