// Stage 2 on wasm: the top blocks train through our gradient kernels, BatchNormalization stays
// frozen (moving statistics untouched), and nothing leaks.
import { beforeAll, describe, expect, it } from 'vitest';
import { TrainingConfig } from '../../../../src/shared/contract';
import { loadBackbone } from '../../../../src/main/engine/backbone';
import { selectBackend } from '../../../../src/main/engine/backend';
import { fineTuneBytes, fineTuneCut, hostLimit, MOBILENET_FINE_TUNE_CUTS, planFineTune, splitForFineTuning, TRAINING_BYTES_PER_VALUE, WASM_FIT_BYTES, WASM_LIMIT, WHOLE_NETWORK } from '../../../../src/main/training/fineTune';
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

  it.each([1, 2, 3, 4, 7, 12, 17, 18, WHOLE_NETWORK])('splits MobileNetV2 for %i unfrozen unit(s) and the top reproduces the full model', async (blocks) => {
    const backbone = await loadBackbone({ kind: 'mobilenet_v2' }, 96, DEFAULT_PREPROCESSING);
    const head = buildHead(1280, 2, 0, 1);
    const split = splitForFineTuning(backbone.extractor, fineTuneCut(backbone.extractor, blocks), head);
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

  it('counts what a fit keeps: cached activations at the cut, a batch above it in training mode, the weights with gradients and moments', () => {
    const input = tf.input({ shape: [4, 4, 2], name: 'in' });
    const conv = tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', name: 'conv' }).apply(input) as TF.SymbolicTensor;
    const flat = tf.layers.flatten({ name: 'flat' }).apply(conv) as TF.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: tf.layers.dense({ units: 2, name: 'dense' }).apply(flat) as TF.SymbolicTensor });
    // After the conv: 10 images × 48 values × 4 bytes; a batch of 5 × (48 flattened + 2 logits) × 16; the dense layer's 98 weights × 16.
    expect(fineTuneBytes(model, 'conv', 10, 5)).toBe(10 * 48 * 4 + 5 * 50 * TRAINING_BYTES_PER_VALUE + 98 * 16);
    // From the input: 32 pixel values cached; above it 48 + 48 + 2 values, 57 + 98 weights.
    expect(fineTuneBytes(model, 'in', 10, 5)).toBe(10 * 32 * 4 + 5 * 98 * TRAINING_BYTES_PER_VALUE + 155 * 16);
    expect(() => fineTuneBytes(model, 'nope', 1, 1)).toThrow(/No layer "nope"/);
    model.dispose();
  });

  it('goes as deep as asked without a limit, and on wasm as deep as fits in 4 GiB, saying why', async () => {
    const backbone = await loadBackbone({ kind: 'mobilenet_v2' }, 224, DEFAULT_PREPROCESSING);
    const features = backbone.extractor;
    expect(fineTuneCut(features, WHOLE_NETWORK)).toBe(features.layers[0]?.name);
    expect(planFineTune(features, WHOLE_NETWORK, 1000, 32, hostLimit(64e9))).toMatchObject({ units: WHOLE_NETWORK, note: null });
    // Native TensorFlow on a small machine: bounded by its memory, and said so.
    expect(planFineTune(features, WHOLE_NETWORK, 1000, 32, hostLimit(8e9)).note).toMatch(/^Fine-tuning 19 units needs about 1\d\.\d GB for 1000 images at batch 32 with 8\.0 GB of memory here \(a fit may take 60% of it\): the top \d+ were fine-tuned instead/);
    // The whole network at 224 px, batch 32: about 22 M values an image × 16 bytes × 32 is over 11 GB.
    const plan = planFineTune(features, WHOLE_NETWORK, 1000, 32, WASM_LIMIT);
    expect(plan.units).toBeGreaterThan(4);
    expect(plan.units).toBeLessThan(WHOLE_NETWORK);
    expect(plan.bytes).toBeLessThanOrEqual(WASM_FIT_BYTES);
    expect(fineTuneBytes(features, fineTuneCut(features, plan.units + 1), 1000, 32)).toBeGreaterThan(WASM_FIT_BYTES);
    expect(plan.cutLayer).toBe(MOBILENET_FINE_TUNE_CUTS[plan.units]);
    expect(plan.note).toMatch(new RegExp(`^Fine-tuning 19 units needs about 1\\d\\.\\d GB for 1000 images at batch 32 on WebAssembly, which addresses at most 4 GiB: the top ${plan.units} were fine-tuned instead \\(about \\d\\.\\d GB\\)\\. A smaller batch size`));
    // A smaller batch goes deeper; what fits is left alone.
    expect(planFineTune(features, WHOLE_NETWORK, 1000, 4, WASM_LIMIT).units).toBe(WHOLE_NETWORK);
    expect(planFineTune(features, 2, 1000, 32, WASM_LIMIT)).toMatchObject({ units: 2, cutLayer: 'block_15_add', note: null });
    expect(() => planFineTune(features, 2, 10_000_000, 32, WASM_LIMIT)).toThrow(/even for one unit with 10000000 images at batch 32, more than it may take on WebAssembly, which addresses at most 4 GiB/);
    backbone.dispose();
  });
});
