// The backbones besides MobileNetV2's top features: MobileNetV2 pooled at three depths, and the
// InceptionV3 trunk up to mixed5. Each is checked against the nsfwjs model loaded with every weight
// it ships (so loading only the kept layers' weights loses nothing), and on ONNX Runtime against TF.js.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { loadBackbone, nsfwjsModelFiles, savedPooling } from '../../../../src/main/engine/backbone';
import { selectBackend } from '../../../../src/main/engine/backend';
import { convertCached } from '../../../../src/main/engine/onnx/modelCache';
import { openOnnxModel } from '../../../../src/main/engine/onnx/runtime';
import { DEFAULT_PREPROCESSING } from '../../../../src/main/engine/preprocess';
import { tf, type TF } from '../../../../src/main/engine/tf';
import { maxAbsDiff } from '../../../helpers/arrays';
import { tempDir } from '../../../helpers/fixtures';

const TOLERANCE = 1e-4;

/**
 * `layers` pooled (by their mean, and with `withMax` their maximum beside it) and concatenated,
 * from the nsfwjs model cut after the last of them by hand and loaded with every weight it ships,
 * at input `size`.
 */
async function referenceFeatures(folder: string, size: number, layers: string[], input: TF.Tensor, withMax: boolean): Promise<Float32Array> {
  const { modelJson, weights } = await nsfwjsModelFiles(folder);
  type Layer = { name: string; config: Record<string, unknown> };
  const topology = structuredClone(modelJson.modelTopology) as { model_config: { config: { layers: Layer[]; output_layers: unknown[] } } };
  const config = topology.model_config.config;
  config.layers = config.layers.slice(0, Math.max(...layers.map((name) => config.layers.findIndex((l) => l.name === name))) + 1);
  config.output_layers = layers.map((name) => [name, 0, 0]);
  (config.layers[0] as Layer).config.batch_input_shape = [null, size, size, 3];
  const cut = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: topology, weightSpecs: modelJson.weightsManifest.flatMap((g) => g.weights), weightData: weights }), { strict: false });
  const values = tf.tidy(() => {
    const maps = [cut.predict(input)].flat() as TF.Tensor4D[];
    return tf.concat(maps.flatMap((m) => (withMax ? [tf.mean(m, [1, 2]), tf.max(m, [1, 2])] : [tf.mean(m, [1, 2])])), 1).dataSync() as Float32Array;
  });
  cut.dispose();
  return values;
}

/** The backbone's features on TF.js equal the reference model's, and on ONNX Runtime equal TF.js's, both within TOLERANCE. */
async function expectFaithful(extractor: TF.LayersModel, folder: string, layers: string[], input: TF.Tensor, dir: string, withMax = false): Promise<number[]> {
  const [images, size] = input.shape as [number, number];
  const ours = tf.tidy(() => (extractor.predict(input) as TF.Tensor).dataSync() as Float32Array);
  expect(maxAbsDiff(ours, await referenceFeatures(folder, size, layers, input, withMax))).toBeLessThan(TOLERANCE);
  const onnx = await openOnnxModel(await convertCached(extractor, dir));
  expect(maxAbsDiff(await onnx.run(input.dataSync() as Float32Array, images), ours)).toBeLessThan(TOLERANCE);
  await onnx.release();
  return onnx.outputShape;
}

describe('bundled backbones', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir());
    await selectBackend('wasm');
  });
  afterAll(() => cleanup());

  it('InceptionV3 to mixed5: 768 mean and 768 maximum features, [-1, 1] input whatever is asked, equal to the model with all its weights and on ONNX Runtime', async () => {
    const backbone = await loadBackbone({ kind: 'inception_v3' }, 96, { ...DEFAULT_PREPROCESSING, scale: '0,1' });
    try {
      expect(backbone).toMatchObject({ featureSize: 1536, cutLayer: 'mixed5', pooling: 'avg+max' });
      expect(backbone.preprocessing.scale).toBe('-1,1');
      // Only the layers up to mixed5 are built.
      expect(backbone.extractor.layers.some((l) => l.name === 'mixed6')).toBe(false);
      const input = tf.randomUniform([2, 96, 96, 3], -1, 1, 'float32', 11);
      expect(await expectFaithful(backbone.extractor, 'inception_v3', ['mixed5'], input, dir, true)).toEqual([1536]);
      input.dispose();
    } finally {
      backbone.dispose();
    }
  });

  it('InceptionV3 for a run saved before pooling was stored: the mean alone, under the identity its cached features have', async () => {
    const preprocessing = { ...DEFAULT_PREPROCESSING, scale: '-1,1' as const };
    const [saved, current] = await Promise.all([loadBackbone({ kind: 'inception_v3' }, 96, preprocessing, savedPooling({})), loadBackbone({ kind: 'inception_v3' }, 96, preprocessing)]);
    try {
      expect(saved).toMatchObject({ featureSize: 768, pooling: 'avg', id: createHash('sha1').update('nsfwjs-4.3.0/inception_v3|mixed5|96').digest('hex').slice(0, 16) });
      expect(current.id).not.toBe(saved.id);
      const input = tf.randomUniform([2, 96, 96, 3], -1, 1, 'float32', 14);
      expect(await expectFaithful(saved.extractor, 'inception_v3', ['mixed5'], input, dir)).toEqual([768]);
      // The mean is the first half of the current features.
      const run = (model: TF.LayersModel) => tf.tidy(() => (model.predict(input) as TF.Tensor).dataSync() as Float32Array);
      const currentRows = run(current.extractor);
      expect(maxAbsDiff(run(saved.extractor), Float32Array.from({ length: 2 * 768 }, (_, i) => currentRows[Math.floor(i / 768) * 1536 + (i % 768)] as number))).toBeLessThan(1e-5);
      input.dispose();
    } finally {
      saved.dispose();
      current.dispose();
    }
  });

  it('MobileNetV2 at three depths: block_6 and block_10 (plain ImageNet) and out_relu pooled side by side, equal to the model with all its weights and on ONNX Runtime', async () => {
    const backbone = await loadBackbone({ kind: 'mobilenet_v2_depths' }, 128, DEFAULT_PREPROCESSING);
    try {
      const layers = ['block_6_expand_relu', 'block_10_expand_relu', 'out_relu'];
      expect(backbone.cutLayer).toBe(layers.join('+'));
      expect(backbone.featureSize).toBe(192 + 384 + 1280);
      expect(backbone.preprocessing.scale).toBe('0,1');
      const input = tf.randomUniform([1, 128, 128, 3], 0, 1, 'float32', 12);
      expect(await expectFaithful(backbone.extractor, 'mobilenet_v2', layers, input, dir)).toEqual([1856]);
      input.dispose();
    } finally {
      backbone.dispose();
    }
  });

  it("MobileNetV2's top features are the last 1,280 of its three depths (Auto embeds both in one pass), on TF.js and on ONNX Runtime", async () => {
    const [top, depths] = await Promise.all([loadBackbone({ kind: 'mobilenet_v2' }, 96, DEFAULT_PREPROCESSING), loadBackbone({ kind: 'mobilenet_v2_depths' }, 96, DEFAULT_PREPROCESSING)]);
    try {
      const input = tf.randomUniform([2, 96, 96, 3], 0, 1, 'float32', 13);
      const run = (model: TF.LayersModel) => tf.tidy(() => (model.predict(input) as TF.Tensor).dataSync() as Float32Array);
      const lastColumns = (rows: Float32Array) => Float32Array.from({ length: 2 * 1280 }, (_, i) => rows[Math.floor(i / 1280) * 1856 + 576 + (i % 1280)] as number);
      expect(maxAbsDiff(lastColumns(run(depths.extractor)), run(top.extractor))).toBeLessThan(1e-5);
      const [topOnnx, depthsOnnx] = await Promise.all([openOnnxModel(await convertCached(top.extractor, dir)), openOnnxModel(await convertCached(depths.extractor, dir))]);
      const pixels = input.dataSync() as Float32Array;
      expect(maxAbsDiff(lastColumns(await depthsOnnx.run(pixels, 2)), await topOnnx.run(pixels, 2))).toBeLessThan(1e-5);
      await Promise.all([topOnnx.release(), depthsOnnx.release()]);
      input.dispose();
    } finally {
      top.dispose();
      depths.dispose();
    }
  });

  it('refuses a backbone kind it does not know (a newer or damaged labelloop.json) in words', async () => {
    await expect(loadBackbone({ kind: 'resnet50' as 'inception_v3' }, 96, DEFAULT_PREPROCESSING)).rejects.toThrow('Unknown backbone "resnet50": the model was made by a newer LabelLoop, or its labelloop.json is damaged');
  });

  it('each bundled backbone has its own identity, so their cached features never mix', async () => {
    const ids = new Set<string>();
    for (const kind of ['mobilenet_v2', 'mobilenet_v2_depths', 'inception_v3'] as const) {
      const backbone = await loadBackbone({ kind }, 96, DEFAULT_PREPROCESSING);
      ids.add(backbone.id);
      backbone.dispose();
    }
    expect(ids.size).toBe(3);
  });
});
