// Where a model looked: a map over the image of each class's evidence. For a model whose logits are
// a linear layer over globally pooled feature maps (every stage-1 run, and stage 2 of MobileNetV2,
// whose fine-tuned blocks end in the same pooling and head) this is the class activation map (CAM):
// the head's weights applied to the last feature maps at each position, whose mean over the image
// is exactly the logit (a max-pooled channel counts where its maximum is). Otherwise (the small
// CNN: flatten and dense layers) it is Grad-CAM: the feature maps weighted by the mean gradient of
// the class score; a head with a CNN branch beside it, by its head's map. Either way the score is the class's
// logit minus the mean logit (softmax ignores a shift, so this is what tells classes apart), and the
// maps are scaled across the images explained together unless asked per image, because scaling
// each image to its own maximum paints every image red.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { UserError } from '../common/errors';
import { mapLimit } from '../common/concurrency';
import { decodeForModel, type Preprocessing, savedPreprocessing, scalePixels } from '../engine/preprocess';
import { tf, type TF } from '../engine/tf';
import { registerWasmGradients } from '../engine/wasmGradients';
import { reapplyLayers } from '../training/fineTune';
import { heatAlpha, heatColour } from '../../shared/heatmap';
import { runModelDir } from '../training/checkpoint';
import { buildRunModel, loadLayersModelFromDir } from '../inference/export';

export type HeatmapMethod = 'cam' | 'grad-cam';

export interface ClassMaps {
  rows: number;
  cols: number;
  /** Per class, rows × cols values (row-major, top row first), unscaled: positive where the class gains. */
  maps: Float32Array[];
  probabilities: number[];
}

export interface HeatmapModel {
  method: HeatmapMethod;
  explain(pixels: Float32Array): ClassMaps;
}

type Symbolic = TF.SymbolicTensor & { sourceLayer: TF.layers.Layer; nodeIndex: number };
type LayerNode = { inputTensors: Symbolic[] };

/** The layer that produced a tensor of this model, and that call's inputs (a layer reused in two graphs has a node per call). */
function producer(tensor: TF.SymbolicTensor): { layer: TF.layers.Layer; inputs: Symbolic[] } {
  const t = tensor as Symbolic;
  const node = (t.sourceLayer as unknown as { inboundNodes: LayerNode[] }).inboundNodes[t.nodeIndex] as LayerNode;
  return { layer: t.sourceLayer, inputs: node.inputTensors };
}

const className = (layer: TF.layers.Layer) => layer.getClassName();
const isSoftmax = (layer: TF.layers.Layer) => className(layer) === 'Softmax' || (className(layer) === 'Activation' && (layer.getConfig() as { activation?: string }).activation === 'softmax');
const isIdentity = (layer: TF.layers.Layer) => className(layer) === 'Dropout' || (className(layer) === 'Activation' && (layer.getConfig() as { activation?: string }).activation === 'linear');

/** A feature map that the head reads pooled (by its mean, or by its maximum), at `offset` of the head's input. */
type PooledMap = { tensor: TF.SymbolicTensor; offset: number; channels: number; max: boolean };

/**
 * What each position of a max-pooled map adds to the pooled value, scaled so that the mean over
 * the positions is the maximum, as a mean-pooled map's own values are: the maximum's positions
 * (shared where tied) hold it times their number, the others 0.
 */
function maximumPositions(map: TF.Tensor4D): TF.Tensor4D {
  const [, h, w] = map.shape;
  const atMaximum = tf.cast(tf.equal(map, tf.max(map, [1, 2], true)), 'float32');
  return tf.mul(map, tf.div(tf.mul(atMaximum, h * w), tf.sum(atMaximum, [1, 2], true))) as TF.Tensor4D;
}

/** The pooled maps under a linear head, in the order the head's features concatenate them; null when the head is not that. */
function pooledMaps(logits: TF.SymbolicTensor): { dense: TF.layers.Layer; maps: PooledMap[] } | null {
  const head = producer(logits);
  if (className(head.layer) !== 'Dense' || (head.layer.getConfig() as { activation?: string }).activation !== 'linear' || head.inputs.length !== 1) return null;
  const maps: PooledMap[] = [];
  let offset = 0;
  const visit = (tensor: TF.SymbolicTensor): boolean => {
    const { layer, inputs } = producer(tensor);
    if (isIdentity(layer) && inputs.length === 1) return visit(inputs[0] as Symbolic);
    if (className(layer) === 'Concatenate') return inputs.every((input) => visit(input));
    const pooling = className(layer);
    if ((pooling === 'GlobalAveragePooling2D' || pooling === 'GlobalMaxPooling2D') && inputs[0]?.shape.length === 4) {
      const channels = inputs[0].shape[3] as number;
      maps.push({ tensor: inputs[0], offset, channels, max: pooling === 'GlobalMaxPooling2D' });
      offset += channels;
      return true;
    }
    return false;
  };
  return visit(head.inputs[0] as Symbolic) ? { dense: head.layer, maps } : null;
}

/** The last feature map on the way to the output: Grad-CAM's. */
function lastFeatureMap(model: TF.LayersModel): TF.SymbolicTensor {
  let tensor = model.outputs[0] as TF.SymbolicTensor;
  for (;;) {
    const { layer, inputs } = producer(tensor);
    if (inputs.length !== 1 || className(layer) === 'InputLayer') throw new Error('This model has no feature map to explain (no convolutional layer on the way to its output)');
    tensor = inputs[0] as Symbolic;
    if (tensor.shape.length === 4 && className(producer(tensor).layer) !== 'InputLayer') return tensor;
  }
}

/** Every class's map for a model that takes pixels and gives probabilities (a softmax last). */
export function heatmapModel(model: TF.LayersModel): HeatmapModel {
  const output = model.outputs[0] as TF.SymbolicTensor;
  const last = producer(output);
  // A head with a CNN branch: the maps are the head's (the average's first input), the probabilities the whole model's.
  const headOutput = className(last.layer) === 'Average' ? (last.inputs[0] as Symbolic) : output;
  const head = producer(headOutput);
  const logits = isSoftmax(head.layer) ? (head.inputs[0] as Symbolic) : null;
  const linear = logits ? pooledMaps(logits) : null;
  const inputShape = (model.inputs[0] as TF.SymbolicTensor).shape.slice(1) as number[];
  if (!(linear && logits) && headOutput !== output) {
    // Grad-CAM on the head's branch alone, with the whole model's probabilities from a second pass.
    const fromHead = heatmapModel(tf.model({ inputs: model.inputs, outputs: headOutput }));
    return {
      method: fromHead.method,
      explain(pixels) {
        const probabilities = tf.tidy(() => Array.from((model.predict(tf.tensor(pixels, [1, ...inputShape])) as TF.Tensor).dataSync()));
        return { ...fromHead.explain(pixels), probabilities };
      },
    };
  }
  if (linear && logits) {
    // A map pooled both ways (by its mean and its maximum) is fetched once.
    const fetched = [...new Set(linear.maps.map((m) => m.tensor))];
    const probe = tf.model({ inputs: model.inputs, outputs: [...fetched, output] });
    const [kernel] = linear.dense.getWeights() as [TF.Tensor2D];
    return {
      method: 'cam',
      explain(pixels) {
        return tf.tidy(() => {
          const outputs = probe.predict(tf.tensor(pixels, [1, ...inputShape])) as TF.Tensor[];
          const probabilities = Array.from((outputs.at(-1) as TF.Tensor).dataSync());
          const mapTensors = linear.maps.map((m) => outputs[fetched.indexOf(m.tensor)] as TF.Tensor4D);
          const rows = Math.max(...mapTensors.map((m) => m.shape[1]));
          const cols = Math.max(...mapTensors.map((m) => m.shape[2]));
          let sum: TF.Tensor4D | null = null;
          for (const [d, map] of mapTensors.entries()) {
            const { offset, channels, max } = linear.maps[d] as PooledMap;
            const [, h, w] = map.shape;
            // Each position's share of the logits: the head's weights on that position's channels.
            const cam = tf.reshape(tf.matMul(tf.reshape(max ? maximumPositions(map) : map, [h * w, channels]), tf.slice(kernel, [offset, 0], [channels, -1])), [1, h, w, -1]) as TF.Tensor4D;
            // A coarser map spreads over the finest grid; repeating cells (an integer factor) keeps its mean.
            const spread = h === rows && w === cols ? cam : rows % h === 0 && cols % w === 0 ? tf.image.resizeNearestNeighbor(cam, [rows, cols]) : tf.image.resizeBilinear(cam, [rows, cols]);
            sum = sum ? (tf.add(sum, spread) as TF.Tensor4D) : spread;
          }
          return { rows, cols, maps: classContrast(sum as TF.Tensor4D), probabilities };
        });
      },
    };
  }
  // Grad-CAM: the model cut at its last feature map, the rest rebuilt on a new input to take gradients through.
  const features = lastFeatureMap(model);
  const cutLayer = producer(features).layer;
  const bottom = tf.model({ inputs: model.inputs, outputs: features });
  const mapShape = features.shape.slice(1) as number[];
  const cutInput = tf.input({ shape: mapShape });
  const after = model.layers.slice(model.layers.indexOf(cutLayer) + 1);
  const top = tf.model({ inputs: cutInput, outputs: reapplyLayers(after, cutLayer.name, cutInput) });
  if (tf.getBackend() === 'wasm') registerWasmGradients();
  return {
    method: 'grad-cam',
    explain(pixels) {
      return tf.tidy(() => {
        const map = bottom.predict(tf.tensor(pixels, [1, ...inputShape])) as TF.Tensor4D;
        const probabilities = Array.from((top.predict(map) as TF.Tensor).dataSync());
        const [, rows, cols, channels] = map.shape;
        const maps = probabilities.map((_, c) => {
          // The class's log-probability less the mean: its logit less the mean logit.
          const score = (a: TF.Tensor) => {
            const logProbabilities = tf.log(tf.add(top.apply(a) as TF.Tensor, 1e-12));
            return tf.sub(tf.slice(logProbabilities, [0, c], [1, 1]), tf.mean(logProbabilities)).sum() as TF.Scalar;
          };
          const weights = tf.mean(tf.grad(score)(map), [0, 1, 2]);
          return tf.reshape(tf.matMul(tf.reshape(map, [rows * cols, channels]), tf.reshape(weights, [channels, 1])), [rows * cols]).dataSync() as Float32Array;
        });
        return { rows, cols, maps, probabilities };
      });
    },
  };
}

/** [1, rows, cols, classes] → per class, its map less the mean over classes (row-major). */
function classContrast(sum: TF.Tensor4D): Float32Array[] {
  const [, rows, cols, classes] = sum.shape;
  const contrast = tf.sub(sum, tf.mean(sum, 3, true));
  const values = contrast.dataSync();
  return Array.from({ length: classes }, (_, c) => Float32Array.from({ length: rows * cols }, (_, i) => values[i * classes + c] as number));
}

/**
 * Maps scaled into 0..1: the negative part (evidence against) is 0, and the positive part is divided
 * by the largest value of all the maps together (`shared`) or of each map alone (`per-image`).
 */
export function scaleMaps(maps: Float32Array[], scale: 'shared' | 'per-image'): Float32Array[] {
  const peak = (m: Float32Array) => m.reduce((best, v) => Math.max(best, v), 0);
  const shared = Math.max(0, ...maps.map(peak));
  return maps.map((m) => {
    const top = scale === 'shared' ? shared : peak(m);
    return Float32Array.from(m, (v) => (top > 0 ? Math.max(0, v) / top : 0));
  });
}

export interface HeatmapEntry {
  file: string;
  predicted: string;
  /** The class the map is for: the one asked for, else the predicted one. */
  class: string;
  /** The image's own size (after its EXIF orientation). */
  width: number;
  height: number;
  /** Rows × columns in 0..1, top row first, over the model's view of the image (its `resize`). */
  grid: number[][];
}

export interface ExplainResult {
  method: HeatmapMethod;
  classes: string[];
  preprocessing: Preprocessing;
  entries: HeatmapEntry[];
  unreadable: { file: string; reason: string }[];
}

/** A run folder's or export folder's model with its classes and preprocessing. */
async function loadClassifier(source: string): Promise<{ model: TF.LayersModel; classes: string[]; preprocessing: Preprocessing }> {
  if (await runModelDir(source)) {
    const built = await buildRunModel(source);
    return { model: built.model, classes: built.classes, preprocessing: built.preprocessing };
  }
  const saved = await readFile(path.join(source, 'preprocessing.json'), 'utf8').catch(() => null);
  if (saved === null) throw new UserError('no-model', `${source} is neither an export folder (preprocessing.json) nor a run folder (model/labelloop.json)`);
  return {
    model: await loadLayersModelFromDir(source, 'model.json'),
    classes: JSON.parse(await readFile(path.join(source, 'labels.json'), 'utf8')) as string[],
    preprocessing: savedPreprocessing(JSON.parse(saved) as Preprocessing),
  };
}

/** Heatmaps for image files, for the predicted class or `className`, scaled across them (or per image). */
export async function explainFiles(source: string, files: string[], options: { className?: string; scale?: 'shared' | 'per-image' } = {}): Promise<ExplainResult> {
  const { model, classes, preprocessing } = await loadClassifier(source);
  try {
    const heatmaps = heatmapModel(model);
    if (options.className !== undefined && !classes.includes(options.className)) throw new UserError('bad-class', `The model has no class "${options.className}" (its classes: ${classes.join(', ')})`);
    const explained: { file: string; predicted: string; target: string; width: number; height: number; rows: number; cols: number; map: Float32Array }[] = [];
    const unreadable: ExplainResult['unreadable'] = [];
    const size = preprocessing.inputSize;
    for (const file of files) {
      try {
        const [pixels, meta] = await Promise.all([decodeForModel(file, preprocessing), sharp(file).metadata()]);
        const input = new Float32Array(size * size * 3);
        scalePixels(pixels, preprocessing, input, 0);
        const result = heatmaps.explain(input);
        const predicted = result.probabilities.indexOf(Math.max(...result.probabilities));
        const target = options.className !== undefined ? classes.indexOf(options.className) : predicted;
        const turned = (meta.orientation ?? 1) >= 5;
        explained.push({ file, predicted: classes[predicted] as string, target: classes[target] as string, width: (turned ? meta.height : meta.width) ?? 0, height: (turned ? meta.width : meta.height) ?? 0, rows: result.rows, cols: result.cols, map: result.maps[target] as Float32Array });
      } catch (error) {
        unreadable.push({ file, reason: error instanceof Error ? error.message : String(error) });
      }
    }
    const scaled = scaleMaps(explained.map((e) => e.map), options.scale ?? 'shared');
    const entries = explained.map((e, i) => ({
      file: e.file,
      predicted: e.predicted,
      class: e.target,
      width: e.width,
      height: e.height,
      grid: Array.from({ length: e.rows }, (_, r) => Array.from((scaled[i] as Float32Array).subarray(r * e.cols, (r + 1) * e.cols), (v) => Math.round(v * 1e4) / 1e4)),
    }));
    return { method: heatmaps.method, classes, preprocessing, entries, unreadable };
  } finally {
    // The maps' models share the classifier's layers and weights: disposing it frees them all.
    model.dispose();
  }
}

/**
 * The image (at most 768 px) with the map laid over the part the model saw, coloured cold to hot,
 * `opacity` where the map is hottest and a third of it where it is coldest, and a legend strip below.
 */
export async function overlayPng(file: string, entry: HeatmapEntry, resize: Preprocessing['resize'], opacity = 0.5): Promise<Buffer> {
  // Grayscale, CMYK and alpha images all become plain sRGB, three channels, as the model's decoder makes them.
  const { data: image, info } = await sharp(file).rotate().flatten({ background: '#000000' }).toColourspace('srgb').removeAlpha().resize(768, 768, { fit: 'inside', withoutEnlargement: true }).raw().toBuffer({ resolveWithObject: true });
  const [width, height] = [info.width, info.height];
  // The model's view in display pixels: the whole image (stretch), its centre square (center-crop), or the image padded to a square (pad).
  const side = Math.max(width, height);
  const square = Math.min(width, height);
  const view = resize === 'stretch' ? { left: 0, top: 0, w: width, h: height } : resize === 'center-crop' ? { left: (width - square) / 2, top: (height - square) / 2, w: square, h: square } : { left: (width - side) / 2, top: (height - side) / 2, w: side, h: side };
  const rows = entry.grid.length;
  const cols = entry.grid[0]?.length ?? 0;
  const gridBytes = Buffer.from(entry.grid.flat().map((v) => Math.round(v * 255)));
  const smooth = await sharp(gridBytes, { raw: { width: cols, height: rows, channels: 1 } }).resize(Math.round(view.w), Math.round(view.h), { kernel: 'cubic', fit: 'fill' }).raw().toBuffer();
  const legend = 14;
  const out = Buffer.alloc(width * (height + legend) * 3, 255);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const at = (y * width + x) * 3;
      const gx = Math.floor(x - view.left);
      const gy = Math.floor(y - view.top);
      const inside = gx >= 0 && gy >= 0 && gx < Math.round(view.w) && gy < Math.round(view.h);
      const value = inside ? (smooth[gy * Math.round(view.w) + gx] as number) / 255 : 0;
      const colour = heatColour(value);
      const alpha = inside ? heatAlpha(value, opacity) : 0;
      for (let k = 0; k < 3; k++) out[at + k] = Math.round((image[at + k] as number) * (1 - alpha) + colour[k] * alpha);
    }
  }
  // Legend: 0 on the left to 1 on the right.
  for (let y = height + 3; y < height + legend - 2; y++) {
    for (let x = 0; x < width; x++) out.set(heatColour(x / Math.max(1, width - 1)), (y * width + x) * 3);
  }
  return sharp(out, { raw: { width, height: height + legend, channels: 3 } }).png().toBuffer();
}

/** Overlay PNGs for the entries, into `outDir`, named after each image (numbered where two share a name). */
export async function writeOverlays(entries: HeatmapEntry[], resize: Preprocessing['resize'], outDir: string, opacity?: number): Promise<string[]> {
  const taken = new Set<string>();
  const names = entries.map((e) => {
    const base = path.basename(e.file, path.extname(e.file));
    let name = `${base}.heatmap.png`;
    for (let k = 2; taken.has(name); k++) name = `${base}-${k}.heatmap.png`;
    taken.add(name);
    return name;
  });
  await mapLimit(entries.map((entry, i) => ({ entry, name: names[i] as string })), 2, async ({ entry, name }) => writeFile(path.join(outDir, name), await overlayPng(entry.file, entry, resize, opacity)));
  return names;
}

