// Exporting a run as a self-describing folder: one TF.js LayersModel from preprocessed image to
// class probabilities (backbone + the trained classifier, flattened into one graph), labels.json,
// preprocessing.json (input size, scaling, resize, threshold) and a README on loading it.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { OperatingPoint, TrainingReport } from '../../shared/report';
import { loadBackbone } from '../engine/backbone';
import { reapplyLayers } from '../training/fineTune';
import { runModelDir } from '../training/checkpoint';
import { UserError } from '../common/errors';
import { explainDecodeError } from '../project/imageDecode';
import { decodeForModel, type Preprocessing, scalePixels } from '../engine/preprocess';
import { type TF, tf } from '../engine/tf';

interface RunModelInfo {
  classes: string[];
  backbone: TrainingReport['backbone'];
  preprocessing: Preprocessing;
  classifier: string;
  input: { layer: string; pooled?: boolean; shape: number[] };
  operatingPoint?: OperatingPoint;
}

export interface ExportedModel {
  model: TF.LayersModel;
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
  const backboneSpec = info.backbone.kind === 'keras' ? { kind: 'keras' as const, source: info.backbone.source, cutLayer: info.backbone.cutLayer } : { kind: 'mobilenet_v2' as const };
  const backbone = await loadBackbone(backboneSpec, info.preprocessing.inputSize, { scale: info.preprocessing.scale, resize: info.preprocessing.resize });
  const classifier = await loadLayersModelFromDir(modelDir, info.classifier);
  const layers = classifier.layers.filter((l) => l.getClassName() !== 'InputLayer');
  const logits = info.input.pooled
    ? reapplyLayers(layers, null, backbone.extractor.outputs[0] as TF.SymbolicTensor)
    : reapplyLayers(layers, classifier.layers[0]?.name ?? null, backbone.extractor.getLayer(info.input.layer).output as TF.SymbolicTensor);
  const probabilities = tf.layers.softmax({ name: 'probabilities' }).apply(logits) as TF.SymbolicTensor;
  const model = tf.model({ inputs: backbone.extractor.inputs, outputs: probabilities, name: 'labelloop_classifier' });
  return { model, classes: info.classes, preprocessing: { ...info.preprocessing, threshold: info.operatingPoint ?? null } };
}

export async function exportRun(runDir: string, outDir: string): Promise<string[]> {
  const { model, classes, preprocessing } = await buildRunModel(runDir);
  await mkdir(outDir, { recursive: true });
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const data = artifacts.weightData instanceof ArrayBuffer ? artifacts.weightData : tf.io.CompositeArrayBuffer.join(artifacts.weightData as ArrayBuffer[]);
      await writeFile(path.join(outDir, 'weights.bin'), Buffer.from(data));
      await writeFile(path.join(outDir, 'model.json'), JSON.stringify({ format: 'layers-model', generatedBy: 'LabelLoop', modelTopology: artifacts.modelTopology, weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }] }));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  model.dispose();
  await writeFile(path.join(outDir, 'labels.json'), JSON.stringify(classes, null, 2));
  await writeFile(
    path.join(outDir, 'preprocessing.json'),
    JSON.stringify({ ...preprocessing, layout: 'NHWC', channels: 'RGB', pixels: preprocessing.scale === '0,1' ? 'value / 255' : 'value / 127.5 - 1', output: 'probabilities in labels.json order' }, null, 2),
  );
  await writeFile(path.join(outDir, 'README.md'), exportReadme(classes, preprocessing));
  return ['model.json', 'weights.bin', 'labels.json', 'preprocessing.json', 'README.md'];
}

export type PredictionOutcome = { probabilities: number[]; error: null } | { probabilities: null; error: string };

/**
 * Class probabilities for image files, following preprocessing.json exactly as an export user would.
 * An unreadable file gets its reason and never stops the others.
 */
export async function predictFiles(model: TF.LayersModel, preprocessing: Preprocessing, files: string[]): Promise<PredictionOutcome[]> {
  const size = preprocessing.inputSize;
  const pixelsPerImage = size * size * 3;
  const outcomes: PredictionOutcome[] = [];
  for (let i = 0; i < files.length; i += 16) {
    const batch = files.slice(i, i + 16);
    const decoded = await Promise.all(
      batch.map((file) => decodeForModel(file, preprocessing).catch(async (error: unknown) => new Error(await explainDecodeError(file, error)))),
    );
    const readable = decoded.filter((d): d is Uint8Array => !(d instanceof Error));
    const input = new Float32Array(readable.length * pixelsPerImage);
    readable.forEach((pixels, k) => scalePixels(pixels, preprocessing, input, k * pixelsPerImage));
    const probabilities = readable.length > 0 ? tf.tidy(() => (model.predict(tf.tensor4d(input, [readable.length, size, size, 3])) as TF.Tensor2D).arraySync()) : [];
    let next = 0;
    for (const d of decoded) outcomes.push(d instanceof Error ? { probabilities: null, error: d.message } : { probabilities: probabilities[next++] as number[], error: null });
  }
  return outcomes;
}

function exportReadme(classes: string[], prep: ExportedModel['preprocessing']): string {
  const scale = prep.scale === '0,1' ? 'x / 255' : 'x / 127.5 - 1';
  const threshold = prep.threshold ? `\nOperating point: "${prep.threshold.positiveClass}" when its probability ≥ ${prep.threshold.threshold}.\n` : '';
  return `# LabelLoop classifier

Classes (output order): ${classes.map((c) => `\`${c}\``).join(', ')}.
Input: RGB, ${prep.inputSize}×${prep.inputSize} (${prep.resize}), NHWC float32, pixels scaled as \`${scale}\`.
Output: class probabilities (softmax). Everything is also in \`preprocessing.json\` and \`labels.json\`.
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
  .resize(${prep.inputSize}, ${prep.inputSize}, { fit: '${prep.resize === 'stretch' ? 'fill' : prep.resize === 'center-crop' ? 'cover' : 'contain'}' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
const x = tf.tensor4d(Float32Array.from(data, (v) => ${prep.scale === '0,1' ? 'v / 255' : 'v / 127.5 - 1'}), [1, ${prep.inputSize}, ${prep.inputSize}, 3]);
console.log(model.predict(x).dataSync()); // ${classes.join(', ')}
\`\`\`

## Browser

\`\`\`js
const model = await tf.loadLayersModel('model.json'); // served next to weights.bin
const x = tf.tidy(() => tf.browser.fromPixels(img).resizeBilinear([${prep.inputSize}, ${prep.inputSize}]).toFloat()${prep.scale === '0,1' ? '.div(255)' : '.div(127.5).sub(1)'}.expandDims());
const probabilities = model.predict(x).dataSync();
\`\`\`
`;
}
