// Exporting a run as a self-describing folder: one TF.js LayersModel from preprocessed image to
// class probabilities (backbone + the trained classifier, flattened into one graph), the same model
// as model.onnx, labels.json, preprocessing.json (input size, scaling, resize, threshold) and a
// README on loading either.
import { FACES_SCRIPT, facesReadme, facesScript } from './faces/exportPipeline';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { OperatingPoint, TrainingReport } from '../../shared/report';
import { loadBackbone, savedPooling } from '../engine/backbone';
import { reapplyLayers } from '../training/fineTune';
import { runModelDir } from '../training/checkpoint';
import { UserError } from '../common/errors';
import { savedPreprocessing, sharpKernel, type Preprocessing } from '../engine/preprocess';
import { convertLayersModel } from '../engine/onnx/convert';
import { type TF, tf } from '../engine/tf';

interface RunModelInfo {
  classes: string[];
  backbone: TrainingReport['backbone'];
  preprocessing: Preprocessing;
  classifier: string;
  input: { layer: string; pooled?: boolean; shape: number[] };
  /** A CNN beside the head on the input average-pooled by `pool`; the model is the mean of the two softmaxes. */
  cnnBranch?: { classifier: string; pool: number; shape: number[] };
  operatingPoint?: OperatingPoint;
}

/** The whole model in ONNX beside the TF.js files: NHWC float input, class probabilities out. */
export const EXPORTED_ONNX = 'model.onnx';

export interface ExportedModel {
  model: TF.LayersModel;
  /** The model averages a CNN branch's softmax with the head's. */
  cnnBranch?: boolean;
  classes: string[];
  preprocessing: Preprocessing & { threshold: OperatingPoint | null };
}

/** Loads a LayersModel saved as model.json + shards in a folder (no network, no tfjs-node). */
export async function loadLayersModelFromDir(dir: string, file: string): Promise<TF.LayersModel> {
  const json = JSON.parse(await readFile(path.join(dir, file), 'utf8')) as { modelTopology: object; weightsManifest: { paths: string[]; weights: TF.io.WeightsManifestEntry[] }[] };
  const shards = await Promise.all(json.weightsManifest.flatMap((g) => g.paths.map((p) => readFile(path.join(dir, p)))));
  const weights = Buffer.concat(shards);
  return tf.loadLayersModel(
    tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest.flatMap((g) => g.weights), weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength) as ArrayBuffer }),
  );
}

/** Rebuilds the full image → probabilities model of a run from its model/ folder (or the checkpoint an interrupted run kept). */
export async function buildRunModel(runDir: string): Promise<ExportedModel> {
  const modelDir = await runModelDir(runDir);
  if (!modelDir) throw new UserError('no-model', `${path.basename(runDir)} has no saved model: it was cancelled or failed before the end`);
  const info = JSON.parse(await readFile(path.join(modelDir, 'labelloop.json'), 'utf8')) as RunModelInfo;
  const classifier = await loadLayersModelFromDir(modelDir, info.classifier);
  const threshold = info.operatingPoint ?? null;
  if (info.backbone.kind === 'small_cnn') {
    // A CNN from scratch is the whole model already: pixels in, logits out.
    const probabilities = tf.layers.softmax({ name: 'probabilities' }).apply(classifier.outputs[0] as TF.SymbolicTensor) as TF.SymbolicTensor;
    const model = tf.model({ inputs: classifier.inputs, outputs: probabilities, name: 'labelloop_classifier' });
    return { model, classes: info.classes, preprocessing: { ...savedPreprocessing(info.preprocessing), threshold } };
  }
  const backboneSpec = info.backbone.kind === 'keras' ? { kind: 'keras' as const, source: info.backbone.source, cutLayer: info.backbone.cutLayer } : { kind: info.backbone.kind };
  const preprocessing = savedPreprocessing(info.preprocessing);
  const backbone = await loadBackbone(backboneSpec, preprocessing.inputSize, preprocessing, savedPooling(info.backbone));
  const layers = classifier.layers.filter((l) => l.getClassName() !== 'InputLayer');
  const logits = info.input.pooled
    ? reapplyLayers(layers, null, backbone.extractor.outputs[0] as TF.SymbolicTensor)
    : reapplyLayers(layers, classifier.layers[0]?.name ?? null, backbone.extractor.getLayer(info.input.layer).output as TF.SymbolicTensor);
  const input = backbone.extractor.inputs[0] as TF.SymbolicTensor;
  let probabilities: TF.SymbolicTensor;
  if (info.cnnBranch) {
    const cnn = await loadLayersModelFromDir(modelDir, info.cnnBranch.classifier);
    const { pool } = info.cnnBranch;
    const pooled = tf.layers.averagePooling2d({ poolSize: pool, strides: pool, padding: 'valid', name: 'cnn_branch_pixels' }).apply(input) as TF.SymbolicTensor;
    const cnnLogits = reapplyLayers(cnn.layers.filter((l) => l.getClassName() !== 'InputLayer'), null, pooled);
    // The head's branch first: heatmaps explain it (its class activation map).
    const fromHead = tf.layers.softmax({ name: 'head_probabilities' }).apply(logits) as TF.SymbolicTensor;
    const fromCnn = tf.layers.softmax({ name: 'cnn_probabilities' }).apply(cnnLogits) as TF.SymbolicTensor;
    probabilities = tf.layers.average({ name: 'probabilities' }).apply([fromHead, fromCnn]) as TF.SymbolicTensor;
  } else {
    probabilities = tf.layers.softmax({ name: 'probabilities' }).apply(logits) as TF.SymbolicTensor;
  }
  const model = tf.model({ inputs: backbone.extractor.inputs, outputs: probabilities, name: 'labelloop_classifier' });
  return { model, classes: info.classes, preprocessing: { ...preprocessing, threshold }, cnnBranch: info.cnnBranch !== undefined };
}

export interface ExportResult {
  files: string[];
  /** What the export could not include, in words (a backbone with a layer ONNX cannot take). */
  notes: string[];
}

export async function exportRun(runDir: string, outDir: string): Promise<ExportResult> {
  const { model, classes, preprocessing, cnnBranch } = await buildRunModel(runDir);
  await mkdir(outDir, { recursive: true });
  const notes: string[] = [];
  let onnx: Uint8Array | null = null;
  try {
    onnx = convertLayersModel(model);
  } catch (error) {
    notes.push(`model.onnx was not written: ${error instanceof Error ? error.message : String(error)}`);
  }
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const data = artifacts.weightData instanceof ArrayBuffer ? artifacts.weightData : tf.io.CompositeArrayBuffer.join(artifacts.weightData as ArrayBuffer[]);
      await writeFile(path.join(outDir, 'weights.bin'), Buffer.from(data));
      await writeFile(path.join(outDir, 'model.json'), JSON.stringify({ format: 'layers-model', generatedBy: 'LabelLoop', modelTopology: artifacts.modelTopology, weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }] }));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  model.dispose();
  if (onnx) {
    await writeFile(path.join(outDir, EXPORTED_ONNX), onnx);
    // The photo pipeline (detector, then this model on each face) runs on model.onnx.
    await writeFile(path.join(outDir, FACES_SCRIPT), facesScript());
  }
  await writeFile(path.join(outDir, 'labels.json'), JSON.stringify(classes, null, 2));
  await writeFile(
    path.join(outDir, 'preprocessing.json'),
    JSON.stringify({ ...preprocessing, layout: 'NHWC', channels: 'RGB', pixels: preprocessing.scale === '0,1' ? 'value / 255' : 'value / 127.5 - 1', output: 'probabilities in labels.json order' }, null, 2),
  );
  await writeFile(path.join(outDir, 'README.md'), exportReadme(classes, preprocessing, onnx !== null, cnnBranch === true));
  return { files: ['model.json', 'weights.bin', ...(onnx ? [EXPORTED_ONNX, FACES_SCRIPT] : []), 'labels.json', 'preprocessing.json', 'README.md'], notes };
}

function exportReadme(classes: string[], prep: ExportedModel['preprocessing'], withOnnx: boolean, cnnBranch: boolean): string {
  const scale = prep.scale === '0,1' ? 'x / 255' : 'x / 127.5 - 1';
  const threshold = prep.threshold ? `\nOperating point: "${prep.threshold.positiveClass}" when its probability ≥ ${prep.threshold.threshold}.\n` : '';
  return `# LabelLoop classifier

Classes (output order): ${classes.map((c) => `\`${c}\``).join(', ')}.
Input: RGB, ${prep.inputSize}×${prep.inputSize} (${prep.resize}, ${prep.interpolation} resampling), NHWC float32, pixels scaled as \`${scale}\`.
Output: class probabilities (${cnnBranch ? `the mean of two softmaxes: the classifier on the backbone's features, and a small CNN on the same input average-pooled to 32×32` : 'softmax'}). Everything is also in \`preprocessing.json\` and \`labels.json\`.
${threshold}
## Node

\`\`\`js
const tf = require('@tensorflow/tfjs'); // or @tensorflow/tfjs-node
const sharp = require('sharp');
const fs = require('fs');
const json = JSON.parse(fs.readFileSync('model.json', 'utf8'));
const weights = fs.readFileSync('weights.bin');
const model = await tf.loadLayersModel(tf.io.fromMemory({
  modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights,
  weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength) }));
const { data } = await sharp('image.jpg').rotate().flatten().toColourspace('srgb')
  .resize(${prep.inputSize}, ${prep.inputSize}, { fit: '${prep.resize === 'stretch' ? 'fill' : prep.resize === 'center-crop' ? 'cover' : 'contain'}', kernel: '${sharpKernel(prep)}' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
const x = tf.tensor4d(Float32Array.from(data, (v) => ${prep.scale === '0,1' ? 'v / 255' : 'v / 127.5 - 1'}), [1, ${prep.inputSize}, ${prep.inputSize}, 3]);
console.log(model.predict(x).dataSync()); // ${classes.join(', ')}
\`\`\`

## Browser

\`\`\`js
const model = await tf.loadLayersModel('model.json'); // served next to weights.bin
const x = tf.tidy(() => tf.browser.fromPixels(img).resizeBilinear([${prep.inputSize}, ${prep.inputSize}]).toFloat()${prep.scale === '0,1' ? '.div(255)' : '.div(127.5).sub(1)'}.expandDims());
const probabilities = model.predict(x).dataSync();
\`\`\`
${withOnnx ? onnxReadme(classes, prep, cnnBranch) + facesReadme(prep) : ''}`;
}

/** Loading model.onnx: the same pixels as the TF.js model (NHWC float32), probabilities out. */
function onnxReadme(classes: string[], prep: ExportedModel['preprocessing'], cnnBranch: boolean): string {
  const size = prep.inputSize;
  const fit = prep.resize === 'stretch' ? 'fill' : prep.resize === 'center-crop' ? 'cover' : 'contain';
  const filter = prep.interpolation === 'bilinear' ? 'Image.BILINEAR' : 'Image.LANCZOS';
  return `
## ONNX (\`model.onnx\`)

The whole model (${cnnBranch ? 'backbone, classifier and softmax, beside the CNN branch and its softmax, averaged' : 'backbone, any fine-tuned blocks, classifier, softmax'}) for ONNX Runtime, opset 13.
Input: float32 \`[N, ${size}, ${size}, 3]\` (NHWC, RGB, scaled as above); output: \`[N, ${classes.length}]\` probabilities.

\`\`\`js
const ort = require('onnxruntime-node');
const session = await ort.InferenceSession.create('model.onnx');
const { data } = await sharp('image.jpg').rotate().flatten().toColourspace('srgb')
  .resize(${size}, ${size}, { fit: '${fit}', kernel: '${sharpKernel(prep)}' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
const x = new ort.Tensor('float32', Float32Array.from(data, (v) => ${prep.scale === '0,1' ? 'v / 255' : 'v / 127.5 - 1'}), [1, ${size}, ${size}, 3]);
const out = await session.run({ [session.inputNames[0]]: x });
console.log(out[session.outputNames[0]].data); // ${classes.join(', ')}
\`\`\`

\`\`\`python
import numpy as np, onnxruntime as ort
from PIL import Image, ImageOps
session = ort.InferenceSession("model.onnx")
image = ImageOps.exif_transpose(Image.open("image.jpg")).convert("RGB")
image = ${prep.resize === 'stretch' ? `image.resize((${size}, ${size}), ${filter})` : prep.resize === 'center-crop' ? `ImageOps.fit(image, (${size}, ${size}), ${filter})` : `ImageOps.pad(image, (${size}, ${size}), ${filter}, color=(0, 0, 0))`}
x = np.asarray(image, dtype=np.float32)[None]${prep.scale === '0,1' ? ' / 255' : ' / 127.5 - 1'}
print(session.run(None, {session.get_inputs()[0].name: x})[0])  # ${classes.join(', ')}
\`\`\`
`;
}
