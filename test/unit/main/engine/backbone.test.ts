import { mkdir, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { defaultCutLayer, loadBackbone, readKerasModel } from '../../../../src/main/engine/backbone';
import { selectBackend } from '../../../../src/main/engine/backend';
import { decodeForModel, DEFAULT_PREPROCESSING, savedPreprocessing, scalePixels } from '../../../../src/main/engine/preprocess';
import { tf, type TF } from '../../../../src/main/engine/tf';
import { tempDir, writeAwkwardImages } from '../../../helpers/fixtures';

describe('backbones', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir());
    await selectBackend('wasm');
  });
  afterAll(() => cleanup());

  it('loads the MobileNetV2 bundled in nsfwjs offline and gives 1280-d features at 224 and at 128', async () => {
    for (const size of [224, 128]) {
      const backbone = await loadBackbone({ kind: 'mobilenet_v2' }, size, DEFAULT_PREPROCESSING);
      expect(backbone.featureSize).toBe(1280);
      expect(backbone.cutLayer).toBe('out_relu');
      expect(backbone.layerNames).toContain('block_14_add');
      const features = tf.tidy(() => backbone.extractor.predict(tf.zeros([2, size, size, 3])) as TF.Tensor);
      expect(features.shape).toEqual([2, 1280]);
      features.dispose();
      backbone.extractor.dispose();
    }
  });

  it('at 224, the pooled out_relu equals the old head\'s flatten_1 feature', async () => {
    const backbone = await loadBackbone({ kind: 'mobilenet_v2' }, 224, DEFAULT_PREPROCESSING);
    const { nsfwjsModelFiles } = await import('../../../../src/main/engine/backbone');
    const files = await nsfwjsModelFiles('mobilenet_v2');
    const full = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: files.modelJson.modelTopology, weightSpecs: files.modelJson.weightsManifest[0]?.weights, weightData: files.weights }));
    const flatten = tf.model({ inputs: full.inputs, outputs: full.getLayer('flatten_1').output as TF.SymbolicTensor });
    const input = tf.randomUniform([1, 224, 224, 3], 0, 1, 'float32', 3);
    const [a, b] = [backbone.extractor.predict(input) as TF.Tensor, flatten.predict(input) as TF.Tensor];
    expect(tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]).toBeLessThan(1e-4);
    tf.dispose([a, b, input]);
    full.dispose();
    backbone.extractor.dispose();
  });

  it('loads a converted Keras model.json from a file and from a URL, cut at a chosen layer', async () => {
    // A small Keras-style model saved with its weights, as tensorflowjs_converter would write it.
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [32, 32, 3], filters: 4, kernelSize: 3, name: 'conv_a' }),
        tf.layers.globalAveragePooling2d({ name: 'pool' }),
        tf.layers.dense({ units: 2, activation: 'softmax', name: 'head' }),
      ],
    });
    const folder = path.join(dir, 'keras');
    await mkdir(folder, { recursive: true });
    await model.save(
      tf.io.withSaveHandler(async (artifacts) => {
        await writeFile(path.join(folder, 'group1-shard1of1.bin'), Buffer.from(artifacts.weightData as ArrayBuffer));
        await writeFile(
          path.join(folder, 'model.json'),
          JSON.stringify({ modelTopology: artifacts.modelTopology, weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: artifacts.weightSpecs }] }),
        );
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    const fromFile = await loadBackbone({ kind: 'keras', source: path.join(folder, 'model.json') }, 48, DEFAULT_PREPROCESSING);
    expect(fromFile.cutLayer).toBe('pool');
    expect(fromFile.featureSize).toBe(4);
    const convCut = await loadBackbone({ kind: 'keras', source: path.join(folder, 'model.json'), cutLayer: 'conv_a' }, 32, DEFAULT_PREPROCESSING);
    expect(convCut.featureSize).toBe(4); // pooled for us
    await expect(loadBackbone({ kind: 'keras', source: path.join(folder, 'model.json'), cutLayer: 'nope' }, 32, DEFAULT_PREPROCESSING)).rejects.toThrow(/no layer "nope"/);
    await expect(readKerasModel(path.join(folder, 'missing.json'))).rejects.toThrow(/not found/);

    const server = http.createServer((req, res) => {
      const file = path.join(folder, path.basename(req.url ?? ''));
      import('node:fs').then(({ createReadStream, existsSync }) => {
        if (!existsSync(file)) return void res.writeHead(404).end();
        createReadStream(file).pipe(res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/model.json`;
    try {
      const fromUrl = await loadBackbone({ kind: 'keras', source: url }, 32, DEFAULT_PREPROCESSING);
      expect(fromUrl.id).toBe((await loadBackbone({ kind: 'keras', source: path.join(folder, 'model.json') }, 32, DEFAULT_PREPROCESSING)).id);
      await expect(readKerasModel(url.replace('model.json', 'other.json'))).rejects.toThrow(/HTTP 404/);
    } finally {
      server.close();
    }
  });

  it('guesses the feature layer of a classifier', () => {
    expect(defaultCutLayer([{ name: 'c', class_name: 'Conv2D' }, { name: 'f', class_name: 'Flatten' }, { name: 'd', class_name: 'Dense' }])).toBe('f');
    expect(() => defaultCutLayer([{ name: 'd', class_name: 'Dense' }])).toThrow(/pick a cut layer/);
  });

  it('decodes awkward images to 8-bit sRGB at the input size: alpha on black, CMYK and 16-bit converted, EXIF rotation applied', async () => {
    const files = await writeAwkwardImages(path.join(dir, 'awkward'));
    const prep = { inputSize: 16, scale: '0,1', resize: 'center-crop', interpolation: 'bilinear' } as const;
    const centre = async (name: string) => {
      const pixels = await decodeForModel(files[name] as string, prep);
      expect(pixels.length).toBe(16 * 16 * 3);
      const at = (8 * 16 + 8) * 3;
      return [...pixels.subarray(at, at + 3)];
    };
    const near = (actual: number[], expected: number[], tolerance: number) => actual.forEach((v, i) => expect(Math.abs(v - (expected[i] as number)), `${actual} vs ${expected}`).toBeLessThanOrEqual(tolerance));
    near(await centre('alpha.png'), [5, 100, 15], 2); // rgb(10, 200, 30) at half opacity over black
    near(await centre('cmyk.jpg'), [0xcc, 0x88, 0x44], 20); // CMYK without a profile does not round-trip exactly
    near(await centre('deep16.png'), [0xcc, 0x88, 0x44], 1);
    near(await centre('gray.png'), [128, 128, 128], 1);
    // Stored 64×32, red on the left and blue on the right, with EXIF orientation 6 (turn 90° clockwise to view):
    // upright it is red at the top and blue at the bottom.
    const halves = Buffer.alloc(64 * 32 * 3);
    for (let i = 0; i < 64 * 32; i++) halves.set((i % 64) < 32 ? [255, 0, 0] : [0, 0, 255], i * 3);
    const rotated = path.join(dir, 'awkward', 'halves-rotated.jpg');
    await writeFile(rotated, await sharp(halves, { raw: { width: 64, height: 32, channels: 3 } }).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer());
    const upright = await decodeForModel(rotated, { ...prep, resize: 'stretch' });
    near([...upright.subarray(0, 3)], [255, 0, 0], 40);
    near([...upright.subarray(15 * 16 * 3, 15 * 16 * 3 + 3)], [0, 0, 255], 40);
    await expect(decodeForModel(files['truncated.jpg'] as string, { ...prep, resize: 'stretch' })).rejects.toThrow();
    // A photo whose metadata mentions "<svg" is still a photo: only unrecognised bytes are checked for SVG.
    const jpeg = await sharp({ create: { width: 16, height: 16, channels: 3, background: '#48c' } }).jpeg().toBuffer();
    const note = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/> in a comment');
    const length = Buffer.alloc(2);
    length.writeUInt16BE(note.length + 2);
    const commented = path.join(dir, 'awkward', 'svg-comment.jpg');
    await writeFile(commented, Buffer.concat([jpeg.subarray(0, 2), Buffer.from([0xff, 0xfe]), length, note, jpeg.subarray(2)]));
    near([...(await decodeForModel(commented, prep)).subarray(0, 3)], [0x44, 0x88, 0xcc], 6);
    const out = new Float32Array(4);
    scalePixels(new Uint8Array([0, 255]), { ...prep, inputSize: 1, scale: '-1,1' }, out, 1);
    expect([...out]).toEqual([0, -1, 1, 0]);
  });

  it('resizes with the saved filter: bilinear for new runs, Lanczos 3 for runs saved before the filter was stored', async () => {
    const checker = Buffer.alloc(8 * 8 * 3);
    for (let i = 0; i < 64; i++) checker.fill(((i >> 3) + i) % 2 ? 255 : 0, i * 3, i * 3 + 3);
    const file = path.join(dir, 'checker.png');
    await writeFile(file, await sharp(checker, { raw: { width: 8, height: 8, channels: 3 } }).png().toBuffer());
    const saved = { inputSize: 20, scale: '0,1' as const, resize: 'stretch' as const };
    expect(savedPreprocessing(saved).interpolation).toBe('lanczos3');
    expect(savedPreprocessing({ ...saved, interpolation: 'bilinear' }).interpolation).toBe('bilinear');
    const bilinear = await decodeForModel(file, { ...saved, interpolation: 'bilinear' });
    const lanczos = await decodeForModel(file, savedPreprocessing(saved));
    const expected = await sharp(file).resize(20, 20, { fit: 'fill', kernel: 'linear' }).removeAlpha().raw().toBuffer();
    expect(Buffer.from(bilinear).equals(expected)).toBe(true);
    expect(Buffer.from(lanczos).equals(Buffer.from(bilinear))).toBe(false);
    expect(DEFAULT_PREPROCESSING.interpolation).toBe('bilinear');
  });
});
