import { readdir } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../../../src/main/engine/backend';
import { UnsupportedLayerError } from '../../../../src/main/engine/onnx/convert';
import { frozenModelRunner } from '../../../../src/main/engine/onnx/frozenRunner';
import { convertCached } from '../../../../src/main/engine/onnx/modelCache';
import { openOnnxModel } from '../../../../src/main/engine/onnx/runtime';
import { tf, type TF } from '../../../../src/main/engine/tf';
import { tempDir } from '../../../helpers/fixtures';

const TOLERANCE = 1e-4;

/** Gives every weight seeded random values, so folded and moved weights are really checked. */
function randomiseWeights(model: TF.LayersModel, seed: number): void {
  model.layers.forEach((layer, l) => {
    const weights = layer.getWeights();
    if (weights.length === 0) return;
    layer.setWeights(
      weights.map((w, i) => {
        const name = layer.weights[i]?.originalName ?? '';
        // Variances must stay positive; the rest spans both signs.
        const [low, high] = /moving_variance/.test(name) ? [0.2, 2] : [-1, 1];
        return tf.randomUniform(w.shape, low, high, 'float32', seed * 1000 + l * 10 + i);
      }),
    );
  });
}

describe('TF.js → ONNX conversion', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir());
    await selectBackend('wasm');
  });
  afterAll(() => cleanup());

  /** Max |TF.js − ONNX Runtime| over a seeded random batch of 3. */
  async function parity(model: TF.LayersModel, seed = 1): Promise<number> {
    randomiseWeights(model, seed);
    const converted = await convertCached(model, dir);
    const onnx = await openOnnxModel(converted);
    const shape = [3, ...converted.inputShape];
    const input = tf.randomUniform(shape, -1, 1, 'float32', seed);
    const expected = (model.predict(input) as TF.Tensor).dataSync();
    const actual = await onnx.run(input.dataSync() as Float32Array, 3);
    await onnx.release();
    input.dispose();
    expect(actual.length).toBe(expected.length);
    return actual.reduce((max, v, i) => Math.max(max, Math.abs(v - (expected[i] as number))), 0);
  }

  function sequential(inputShape: number[], layers: TF.layers.Layer[]): TF.Sequential {
    return tf.sequential({ layers: [tf.layers.inputLayer({ inputShape }), ...layers] });
  }

  const image = [9, 11, 4];
  const cases: [string, () => TF.LayersModel][] = [
    ['Conv2D same, strided, with bias and relu', () => sequential(image, [tf.layers.conv2d({ filters: 5, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' })])],
    ['Conv2D valid, dilated, no bias, 1×2 kernel', () => sequential(image, [tf.layers.conv2d({ filters: 3, kernelSize: [1, 2], dilationRate: 2, useBias: false })])],
    ['Conv2D + BatchNormalization (folded)', () => sequential(image, [tf.layers.conv2d({ filters: 6, kernelSize: 3, padding: 'same', useBias: false }), tf.layers.batchNormalization({ epsilon: 1e-3 }), tf.layers.reLU({ maxValue: 6 })])],
    ['DepthwiseConv2D with multiplier 2 + BatchNormalization (folded)', () => sequential(image, [tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, strides: 2, padding: 'same' }), tf.layers.batchNormalization()])],
    ['ZeroPadding2D folded into a valid DepthwiseConv2D', () => sequential(image, [tf.layers.zeroPadding2d({ padding: [[0, 1], [1, 2]] }), tf.layers.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: 'valid' })])],
    ['SeparableConv2D', () => sequential(image, [tf.layers.separableConv2d({ filters: 7, kernelSize: 3, depthMultiplier: 2, padding: 'same', activation: 'relu6' })])],
    ['BatchNormalization on its own (no conv before), without scale', () => sequential(image, [tf.layers.batchNormalization({ scale: false }), tf.layers.flatten(), tf.layers.dense({ units: 4 }), tf.layers.batchNormalization()])],
    ['ZeroPadding2D and Cropping2D as ops', () => sequential(image, [tf.layers.zeroPadding2d({ padding: [[1, 2], [3, 0]] }), tf.layers.cropping2D({ cropping: [[2, 1], [0, 3]] }), tf.layers.maxPooling2d({ poolSize: 2 })])],
    ['MaxPooling2D and AveragePooling2D, same and valid', () => sequential(image, [tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' }), tf.layers.averagePooling2d({ poolSize: 2, strides: 1, padding: 'same' }), tf.layers.averagePooling2d({ poolSize: [2, 3], padding: 'valid' })])],
    ['GlobalAveragePooling2D', () => sequential(image, [tf.layers.globalAveragePooling2d({})])],
    ['GlobalMaxPooling2D', () => sequential(image, [tf.layers.globalMaxPooling2d({})])],
    ['Flatten (NHWC order) + Dense with softmax', () => sequential(image, [tf.layers.flatten(), tf.layers.dense({ units: 5, activation: 'softmax' })])],
    ['Dense on an image tensor (last axis) and Reshape', () => sequential(image, [tf.layers.dense({ units: 3, activation: 'tanh' }), tf.layers.reshape({ targetShape: [11, 9, 3] }), tf.layers.reshape({ targetShape: [-1] })])],
    ['Permute', () => sequential(image, [tf.layers.permute({ dims: [2, 3, 1] }), tf.layers.conv2d({ filters: 2, kernelSize: 2 }), tf.layers.permute({ dims: [3, 1, 2] })])],
    ['Permute on a rank-3 tensor', () => sequential([5, 6], [tf.layers.permute({ dims: [2, 1] }), tf.layers.dense({ units: 2 })])],
    ['LeakyReLU, ELU, Softmax layer over the channels', () => sequential(image, [tf.layers.leakyReLU({ alpha: 0.2 }), tf.layers.elu(), tf.layers.softmax({ axis: -1 })])],
    ['Dropout and other identity-at-inference layers', () => sequential(image, [tf.layers.dropout({ rate: 0.5 }), tf.layers.gaussianNoise({ stddev: 1 }), tf.layers.gaussianDropout({ rate: 0.3 }), tf.layers.alphaDropout({ rate: 0.3 })])],
    ['Rescaling', () => sequential(image, [tf.layers.rescaling({ scale: 1 / 127.5, offset: -1 })])],
  ];

  for (const [name, build] of cases) {
    it(`${name}: ONNX Runtime equals TF.js within ${TOLERANCE}`, async () => {
      expect(await parity(build())).toBeLessThan(TOLERANCE);
    });
  }

  const activations = ['linear', 'relu', 'relu6', 'sigmoid', 'tanh', 'softmax', 'swish', 'mish', 'elu', 'selu', 'hardSigmoid', 'softplus', 'softsign'] as const;
  it(`Activation layers and fused activations (${activations.join(', ')}) equal TF.js within ${TOLERANCE}`, async () => {
    for (const activation of activations) {
      // Scaled up so that the clipping and saturating ranges are reached.
      const model = sequential(image, [tf.layers.rescaling({ scale: 4, offset: 0 }), tf.layers.activation({ activation }), tf.layers.dense({ units: 3, activation })]);
      expect(await parity(model), activation).toBeLessThan(TOLERANCE);
    }
  });

  it(`merge layers (Add of 2 and 3, Multiply, Average, Maximum, Minimum, Concatenate) equal TF.js within ${TOLERANCE}`, async () => {
    const input = tf.input({ shape: image });
    const [a, b, c] = [3, 4, 5].map((k) => tf.layers.conv2d({ filters: 4, kernelSize: k, padding: 'same' }).apply(input) as TF.SymbolicTensor) as [TF.SymbolicTensor, TF.SymbolicTensor, TF.SymbolicTensor];
    const merged = [
      tf.layers.add().apply([a, b]),
      tf.layers.add().apply([a, b, c]),
      tf.layers.multiply().apply([a, b, c]),
      tf.layers.average().apply([a, c]),
      tf.layers.maximum().apply([b, c]),
      tf.layers.minimum().apply([a, b]),
    ] as TF.SymbolicTensor[];
    const channels = tf.layers.concatenate({ axis: -1 }).apply(merged) as TF.SymbolicTensor;
    const rows = tf.layers.concatenate({ axis: 1 }).apply([channels, channels]) as TF.SymbolicTensor;
    const pooled = tf.layers.globalAveragePooling2d({}).apply(rows) as TF.SymbolicTensor;
    const vectors = tf.layers.concatenate().apply([pooled, tf.layers.globalMaxPooling2d({}).apply(c) as TF.SymbolicTensor]) as TF.SymbolicTensor;
    expect(await parity(tf.model({ inputs: input, outputs: vectors }))).toBeLessThan(TOLERANCE);
  });

  it(`inlines a model used as a layer (a Keras application inside a Sequential) within ${TOLERANCE}`, async () => {
    const input = tf.input({ shape: image });
    const padded = tf.layers.zeroPadding2d({ padding: 1 }).apply(input) as TF.SymbolicTensor;
    const conv = tf.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, useBias: false }).apply(padded) as TF.SymbolicTensor;
    const normalised = tf.layers.batchNormalization().apply(conv) as TF.SymbolicTensor;
    const base = tf.model({ inputs: input, outputs: tf.layers.reLU({ maxValue: 6 }).apply(normalised) as TF.SymbolicTensor, name: 'base' });
    const model = tf.sequential({ layers: [tf.layers.inputLayer({ inputShape: image }), base, tf.layers.globalAveragePooling2d({}), tf.layers.dense({ units: 3, activation: 'softmax' })] });
    expect(await parity(model)).toBeLessThan(TOLERANCE);
  });

  it('converts a model cut at an inner layer, keeping the image output NHWC', async () => {
    const model = sequential(image, [tf.layers.conv2d({ filters: 3, kernelSize: 3, name: 'inner' }), tf.layers.flatten(), tf.layers.dense({ units: 2 })]);
    const cut = tf.model({ inputs: model.inputs, outputs: model.getLayer('inner').output as TF.SymbolicTensor });
    expect(await parity(cut)).toBeLessThan(TOLERANCE);
    const converted = await convertCached(model, dir, { outputLayer: 'inner' });
    expect(converted.outputShape).toEqual([7, 9, 3]);
  });

  it('names a layer it cannot convert in a typed error', async () => {
    const model = sequential(image, [tf.layers.conv2d({ filters: 2, kernelSize: 1, name: 'fine' }), tf.layers.upSampling2d({ size: [2, 2], name: 'grow' })]);
    const error = await convertCached(model, dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnsupportedLayerError);
    expect(error).toMatchObject({ layerName: 'grow', className: 'UpSampling2D', message: 'Cannot convert layer "grow" (UpSampling2D) to ONNX' });
    const gelu = sequential(image, [tf.layers.activation({ activation: 'gelu', name: 'smooth' })]);
    await expect(convertCached(gelu, dir)).rejects.toThrow('Cannot convert layer "smooth" (Activation) to ONNX: activation gelu');
  });

  it('runs a frozen model on ONNX Runtime where it converts, on TF.js with the reason where it does not', async () => {
    const convertible = sequential(image, [tf.layers.conv2d({ filters: 2, kernelSize: 3 }), tf.layers.globalAveragePooling2d({})]);
    const unconvertible = sequential(image, [tf.layers.upSampling2d({ size: [2, 2], name: 'grow' }), tf.layers.globalAveragePooling2d({})]);
    const images = tf.randomUniform([2, ...image], 0, 1, 'float32', 3);
    const onnx = await frozenModelRunner(convertible, 'auto', dir);
    // Auto tries the CUDA provider first; it is not installed here, and that is said.
    expect(onnx).toMatchObject({
      engine: 'onnx',
      description: expect.stringMatching(/^ONNX Runtime \(CPU, \d+ threads?\)$/),
      notUsed: [{ name: 'ONNX Runtime CUDA', reason: expect.stringMatching(/CUDA provider is not installed/) }],
    });
    const fallback = await frozenModelRunner(unconvertible, 'auto', dir);
    expect(fallback).toMatchObject({ engine: 'tfjs', description: 'TensorFlow.js (wasm)', notUsed: [{ name: 'ONNX Runtime', reason: 'Cannot convert layer "grow" (UpSampling2D) to ONNX' }] });
    const pixels = (await images.data()) as Float32Array;
    const expected = (unconvertible.predict(images) as TF.Tensor).dataSync();
    expect(Array.from(await fallback.run(pixels, 2))).toEqual(Array.from(expected));
    expect(await frozenModelRunner(convertible, 'tfjs', dir)).toMatchObject({ engine: 'tfjs', notUsed: [{ name: 'ONNX Runtime', reason: 'the engine is set to tfjs' }] });
    await expect(frozenModelRunner(unconvertible, 'onnx', dir)).rejects.toThrow('ONNX Runtime was asked for but cannot run this model: Cannot convert layer "grow" (UpSampling2D) to ONNX');
    const viaOnnx = await onnx.run(pixels, 2);
    const viaTfjs = (convertible.predict(images) as TF.Tensor).dataSync();
    expect(viaOnnx.reduce((max, v, i) => Math.max(max, Math.abs(v - (viaTfjs[i] as number))), 0)).toBeLessThan(TOLERANCE);
    images.dispose();
  });

  it('caches a conversion on disk by weights, cut and input size', async () => {
    const cacheDir = `${dir}/cache`;
    const build = (size: number) => sequential([size, size, 3], [tf.layers.conv2d({ filters: 2, kernelSize: 3, name: 'c' }), tf.layers.globalAveragePooling2d({ name: 'gap' })]);
    const model = build(16);
    randomiseWeights(model, 7);
    const first = await convertCached(model, cacheDir);
    expect(await convertCached(model, cacheDir)).toEqual(first);
    expect((await convertCached(model, cacheDir, { outputLayer: 'c' })).key).not.toBe(first.key);
    const resized = build(24);
    resized.setWeights(model.getWeights());
    expect((await convertCached(resized, cacheDir)).key).not.toBe(first.key);
    randomiseWeights(model, 8);
    expect((await convertCached(model, cacheDir)).key).not.toBe(first.key);
    expect((await readdir(cacheDir)).filter((f) => f.endsWith('.onnx'))).toHaveLength(4);
  });
});
