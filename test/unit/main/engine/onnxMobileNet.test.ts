import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INPUT_SIZES, loadBackbone } from '../../../../src/main/engine/backbone';
import { selectBackend } from '../../../../src/main/engine/backend';
import { convertCached } from '../../../../src/main/engine/onnx/modelCache';
import { openOnnxModel } from '../../../../src/main/engine/onnx/runtime';
import { type ImageFileResult, runImageFiles } from '../../../../src/main/engine/imageBatches';
import { decodeForModel, DEFAULT_PREPROCESSING, scalePixels } from '../../../../src/main/engine/preprocess';
import { tf, type TF } from '../../../../src/main/engine/tf';
import { MOBILENET_FINE_TUNE_CUTS } from '../../../../src/main/training/fineTune';
import { maxAbsDiff } from '../../../helpers/arrays';
import { tempDir } from '../../../helpers/fixtures';

const TOLERANCE = 1e-4;

/** The bundled MobileNetV2 on ONNX Runtime against TF.js (wasm), on 1–2 images each. */
describe('MobileNetV2 on ONNX Runtime', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir());
    await selectBackend('wasm');
  });
  afterAll(() => cleanup());

  async function compare(model: TF.LayersModel, images: number, seed: number, outputLayer?: string): Promise<{ diff: number; outputShape: number[] }> {
    const converted = await convertCached(model, dir, { outputLayer });
    const onnx = await openOnnxModel(converted);
    const input = tf.randomUniform([images, ...converted.inputShape], 0, 1, 'float32', seed);
    const reference = outputLayer ? tf.model({ inputs: model.inputs, outputs: model.getLayer(outputLayer).output as TF.SymbolicTensor }) : model;
    const expected = tf.tidy(() => (reference.predict(input) as TF.Tensor).dataSync());
    const actual = await onnx.run(input.dataSync() as Float32Array, images);
    input.dispose();
    await onnx.release();
    return { diff: maxAbsDiff(actual, expected), outputShape: converted.outputShape };
  }

  for (const size of INPUT_SIZES) {
    it(`at ${size} px, cut at out_relu + global average pooling: 1280 features equal to TF.js within ${TOLERANCE}`, async () => {
      const backbone = await loadBackbone({ kind: 'mobilenet_v2' }, size, DEFAULT_PREPROCESSING);
      const { diff, outputShape } = await compare(backbone.extractor, size === 224 ? 2 : 1, size);
      expect(outputShape).toEqual([1280]);
      expect(diff).toBeLessThan(TOLERANCE);
      backbone.dispose();
    });
  }

  it(`at every stage-2 cut (${Object.values(MOBILENET_FINE_TUNE_CUTS).join(', ')}), activations equal TF.js within ${TOLERANCE}`, async () => {
    const backbone = await loadBackbone({ kind: 'mobilenet_v2' }, 224, DEFAULT_PREPROCESSING);
    const shapes: Record<string, number[]> = {};
    for (const cut of Object.values(MOBILENET_FINE_TUNE_CUTS)) {
      const { diff, outputShape } = await compare(backbone.extractor, 1, 7, cut);
      expect(diff, cut).toBeLessThan(TOLERANCE);
      shapes[cut] = outputShape;
    }
    expect(Object.keys(shapes)).toHaveLength(18);
    expect(shapes).toMatchObject({ block_16_project_BN: [7, 7, 320], block_15_add: [7, 7, 160], block_13_project_BN: [7, 7, 160], block_12_add: [14, 14, 96], block_5_add: [28, 28, 32], block_2_add: [56, 56, 24], expanded_conv_project_BN: [112, 112, 16], Conv1_relu: [112, 112, 32] });
    backbone.dispose();
  });

  it('embeds image files in order, decoding with sharp, with a reason for an unreadable one', async () => {
    const backbone = await loadBackbone({ kind: 'mobilenet_v2' }, 96, DEFAULT_PREPROCESSING);
    const onnx = await openOnnxModel(await convertCached(backbone.extractor, dir));
    const files = await Promise.all(
      ['a', 'b', 'broken', 'c', 'd'].map(async (name, i) => {
        const file = path.join(dir, `${name}.jpg`);
        if (name === 'broken') await writeFile(file, 'not an image');
        else await sharp({ create: { width: 80 + i * 10, height: 60, channels: 3, background: '#7a4', noise: { type: 'gaussian', mean: 120, sigma: 40 + i } } }).jpeg().toFile(file);
        return file;
      }),
    );
    const prep = backbone.preprocessing;
    const batches: ImageFileResult[][] = [];
    for await (const batch of runImageFiles(onnx, files, prep, { batchSize: 2 })) batches.push(batch);
    expect(batches.map((b) => b.length)).toEqual([2, 2, 1]);
    const results = batches.flat();
    expect(results.map((r) => r.file)).toEqual(files);
    // The reason is decodeForModel's own, as the TF.js path reports it.
    const reason = await decodeForModel(files[2] as string, prep).then(
      () => null,
      (error: unknown) => (error instanceof Error ? error.message : String(error)),
    );
    expect(reason).toEqual(expect.any(String));
    expect(results[2]).toEqual({ file: files[2], error: reason });
    for (const [i, result] of results.entries()) {
      if (!('output' in result)) continue;
      const pixels = new Float32Array(prep.inputSize * prep.inputSize * 3);
      scalePixels(await decodeForModel(files[i] as string, prep), prep, pixels, 0);
      const expected = tf.tidy(() => (backbone.extractor.predict(tf.tensor4d(pixels, [1, prep.inputSize, prep.inputSize, 3])) as TF.Tensor).dataSync());
      expect(maxAbsDiff(result.output, expected), result.file).toBeLessThan(TOLERANCE);
    }
    await onnx.release();
    backbone.dispose();
  });
});
