// Heatmaps: CAM and Grad-CAM against tiny models worked by hand, the shared and per-image scales,
// and trained runs on a generated set whose class is a mark in one corner: the map peaks there.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LabelLoopApp } from '../../../../src/main/app';
import { selectBackend } from '../../../../src/main/engine/backend';
import { tf, type TF } from '../../../../src/main/engine/tf';
import { explainFiles, heatmapModel, scaleMaps, writeOverlays } from '../../../../src/main/inspection/heatmaps';
import { heatColour } from '../../../../src/shared/heatmap';
import { seededRandom } from '../../../../src/main/project/demo';
import { tempDir } from '../../../helpers/fixtures';

const setWeights = (layer: TF.layers.Layer, values: number[][]) => layer.setWeights(layer.getWeights().map((w, i) => tf.tensor(values[i] as number[], w.shape)));

/** Pixels [[1, 2], [3, 4]] (one channel): a 1×1 conv with filters +1 and −1, global pooling, an identity dense with bias [0.5, 0], softmax. */
function tinyCamModel(): TF.LayersModel {
  const input = tf.input({ shape: [2, 2, 1] });
  const conv = tf.layers.conv2d({ filters: 2, kernelSize: 1, name: 'conv' });
  const dense = tf.layers.dense({ units: 2, name: 'head' });
  const logits = dense.apply(tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(conv.apply(input))) as TF.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: tf.layers.softmax({ name: 'probabilities' }).apply(logits) as TF.SymbolicTensor });
  setWeights(conv, [[1, -1], [0, 0]]);
  setWeights(dense, [[1, 0, 0, 1], [0.5, 0]]);
  return model;
}

/** A corner mark decides the class: "mark" has a dark square in the top-left quadrant, "clean" none; both have noise and a random light blob elsewhere. */
async function cornerProject(dir: string, perClass: number, size = 96): Promise<void> {
  for (const [label, name] of ['clean', 'mark'].entries()) {
    await mkdir(path.join(dir, name), { recursive: true });
    for (let i = 0; i < perClass; i++) {
      const random = seededRandom(500 * label + i + 3);
      const px = Buffer.alloc(size * size * 3);
      for (let k = 0; k < px.length; k++) px[k] = 150 + Math.floor(random() * 60);
      const square = (x0: number, y0: number, side: number, value: number) => {
        for (let y = y0; y < y0 + side; y++) for (let x = x0; x < x0 + side; x++) for (let c = 0; c < 3; c++) px[(y * size + x) * 3 + c] = value;
      };
      // A distractor in the other three quadrants, in both classes.
      const quadrant = 1 + Math.floor(random() * 3);
      square(((quadrant % 2) * size) / 2 + 8 + Math.floor(random() * 12), (Math.floor(quadrant / 2) * size) / 2 + 8 + Math.floor(random() * 12), 14, 250);
      if (label === 1) square(6 + Math.floor(random() * 16), 6 + Math.floor(random() * 16), 18, 20);
      await writeFile(path.join(dir, name, `${name}_${String(i).padStart(3, '0')}.png`), await sharp(px, { raw: { width: size, height: size, channels: 3 } }).png().toBuffer());
    }
  }
}

describe('heatmaps', () => {
  beforeAll(async () => {
    await selectBackend('wasm');
  });

  it('CAM: the head on the last feature maps, each class less the mean, averaging to the logit contrast', () => {
    const model = tinyCamModel();
    const heatmaps = heatmapModel(model);
    expect(heatmaps.method).toBe('cam');
    const result = heatmaps.explain(Float32Array.from([1, 2, 3, 4]));
    expect([result.rows, result.cols]).toEqual([2, 2]);
    // Class 0's evidence is +x, class 1's −x; less their mean: x and −x.
    expect(Array.from(result.maps[0] as Float32Array)).toEqual([1, 2, 3, 4]);
    expect(Array.from(result.maps[1] as Float32Array)).toEqual([-1, -2, -3, -4]);
    // Logits 3 and −2.5: the map's mean (2.5) plus the bias's contrast (0.25) is logit 0 less the mean logit (2.75).
    const logit = [3, -2.5];
    const softmax = logit.map((l) => Math.exp(l) / (Math.exp(3) + Math.exp(-2.5)));
    result.probabilities.forEach((p, c) => expect(p).toBeCloseTo(softmax[c] as number, 6));
    model.dispose();
  });

  it('CAM over features pooled at two depths: the coarse map spreads over the fine grid and the means still add up to the logits', () => {
    const input = tf.input({ shape: [4, 4, 1] });
    const fine = tf.layers.conv2d({ filters: 2, kernelSize: 1, name: 'fine', kernelInitializer: tf.initializers.randomNormal({ seed: 1 }) }).apply(input) as TF.SymbolicTensor;
    const coarse = tf.layers.conv2d({ filters: 3, kernelSize: 2, strides: 2, name: 'coarse', kernelInitializer: tf.initializers.randomNormal({ seed: 2 }) }).apply(fine) as TF.SymbolicTensor;
    const features = tf.layers.concatenate().apply([tf.layers.globalAveragePooling2d({}).apply(fine), tf.layers.globalAveragePooling2d({}).apply(coarse)] as TF.SymbolicTensor[]) as TF.SymbolicTensor;
    const logits = tf.layers.dense({ units: 3, name: 'head', kernelInitializer: tf.initializers.randomNormal({ seed: 3 }), biasInitializer: tf.initializers.randomNormal({ seed: 4 }) }).apply(tf.layers.dropout({ rate: 0.3 }).apply(features)) as TF.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: tf.layers.softmax({}).apply(logits) as TF.SymbolicTensor });
    const logitModel = tf.model({ inputs: input, outputs: logits });
    const pixels = Float32Array.from({ length: 16 }, (_, i) => Math.sin(i));
    const heatmaps = heatmapModel(model);
    const result = heatmaps.explain(pixels);
    expect([result.rows, result.cols]).toEqual([4, 4]);
    const out = Array.from((logitModel.predict(tf.tensor(pixels, [1, 4, 4, 1])) as TF.Tensor).dataSync());
    const bias = Array.from((model.getLayer('head').getWeights()[1] as TF.Tensor).dataSync());
    const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
    for (let c = 0; c < 3; c++) {
      const mapMean = mean(Array.from(result.maps[c] as Float32Array));
      expect(mapMean + (bias[c] as number) - mean(bias)).toBeCloseTo((out[c] as number) - mean(out), 5);
    }
    model.dispose();
  });

  it('CAM over one map pooled by its mean and by its maximum: the maximum counts where it is, and the means still add up to the logits', () => {
    const input = tf.input({ shape: [2, 2, 1] });
    const map = tf.layers.conv2d({ filters: 2, kernelSize: 1, useBias: false, name: 'map', kernelInitializer: tf.initializers.ones() }).apply(input) as TF.SymbolicTensor;
    const features = tf.layers.concatenate().apply([tf.layers.globalAveragePooling2d({}).apply(map), tf.layers.globalMaxPooling2d({}).apply(map)] as TF.SymbolicTensor[]) as TF.SymbolicTensor;
    // Logit 0 reads only the maximum of channel 0, logit 1 only the mean of channel 1.
    const head = tf.layers.dense({ units: 2, name: 'head', kernelInitializer: tf.initializers.zeros() });
    const model = tf.model({ inputs: input, outputs: tf.layers.softmax({}).apply(head.apply(features)) as TF.SymbolicTensor });
    head.setWeights([tf.tensor2d([[0, 0], [0, 1], [1, 0], [0, 0]]), tf.zeros([2])]);
    // Pixels 1, 4, 2, 3: channel 0's maximum (4) is at the top right, so logit 0 = 4 and logit 1 = 2.5.
    const result = heatmapModel(model).explain(Float32Array.from([1, 4, 2, 3]));
    expect(heatmapModel(model).method).toBe('cam');
    // Class 0's own evidence: 4 × 4 positions at the top right, 0 elsewhere; class 1's: the pixels.
    // Each less the mean over the classes: (16 − 4) / 2 = 6 at the top right, (0 − 1) / 2 elsewhere…
    expect(Array.from(result.maps[0] as Float32Array)).toEqual([-0.5, 6, -1, -1.5]);
    expect(Array.from(result.maps[1] as Float32Array)).toEqual([0.5, -6, 1, 1.5]);
    const mean = (values: Float32Array) => values.reduce((a, b) => a + b, 0) / values.length;
    // …whose means are the logits less their mean: 4 − 3.25 and 2.5 − 3.25.
    expect(mean(result.maps[0] as Float32Array)).toBeCloseTo(0.75, 6);
    expect(mean(result.maps[1] as Float32Array)).toBeCloseTo(-0.75, 6);
    model.dispose();
  });

  it('Grad-CAM where flatten and dense layers follow the map: the map weighted by its mean class gradient, worked by hand', () => {
    // Pixels [[1, 2], [3, 4]] → 1×1 conv (weight 1) → flatten → dense K (4 × 2) → softmax.
    const input = tf.input({ shape: [2, 2, 1] });
    const conv = tf.layers.conv2d({ filters: 1, kernelSize: 1, name: 'conv' });
    const dense = tf.layers.dense({ units: 2, name: 'head' });
    const model = tf.model({ inputs: input, outputs: tf.layers.softmax({}).apply(dense.apply(tf.layers.flatten({}).apply(conv.apply(input)))) as TF.SymbolicTensor });
    setWeights(conv, [[1], [0]]);
    const K = [
      [1, 0],
      [0, 2],
      [3, 1],
      [-1, 1],
    ];
    setWeights(dense, [K.flat(), [0, 0]]);
    const heatmaps = heatmapModel(model);
    expect(heatmaps.method).toBe('grad-cam');
    const result = heatmaps.explain(Float32Array.from([1, 2, 3, 4]));
    // d(logit_c − mean logit)/dA_i = K[i][c] − mean_c' K[i][c']; α_c is its mean over the 4 positions.
    for (let c = 0; c < 2; c++) {
      const alpha = K.reduce((sum, row) => sum + ((row[c] as number) - ((row[0] as number) + (row[1] as number)) / 2), 0) / 4;
      expect(Array.from(result.maps[c] as Float32Array).map((v) => Number(v.toFixed(5)))).toEqual([1, 2, 3, 4].map((a) => Number((alpha * a).toFixed(5))));
    }
    model.dispose();
  });

  it('scales across the images by default (one hot spot is 1, a weaker image stays cool) or per image, and drops negative evidence', () => {
    const maps = [Float32Array.from([0, 2, 4, -1]), Float32Array.from([1, 1, 0, 0])];
    expect(scaleMaps(maps, 'shared').map((m) => Array.from(m))).toEqual([
      [0, 0.5, 1, 0],
      [0.25, 0.25, 0, 0],
    ]);
    expect(scaleMaps(maps, 'per-image').map((m) => Array.from(m))).toEqual([
      [0, 0.5, 1, 0],
      [1, 1, 0, 0],
    ]);
    expect(Array.from(scaleMaps([Float32Array.from([-1, -2])], 'shared')[0] as Float32Array)).toEqual([0, 0]);
    expect(heatColour(0)).toEqual([48, 18, 59]);
    expect(heatColour(1)).toEqual([122, 4, 3]);
  });

  describe('on trained runs of a set whose class is a mark in the top-left quadrant', () => {
    let dir: string;
    let cleanup: () => Promise<void>;
    let app: LabelLoopApp;
    const project = () => path.join(dir, 'corners');
    const train = async (config: Record<string, unknown>) => {
      const started = await app.handle('training.start', { config: { backend: 'wasm', ...config } });
      if (!started.ok) throw new Error(started.error.message);
      const { runId } = started.result as { runId: string };
      const done = await app.training.whenDone(runId);
      if (!done.report) throw new Error(done.status.ended?.message);
      return { runDir: path.join(project(), '.labelloop/runs', runId), report: done.report };
    };
    const marked = () => Array.from({ length: 12 }, (_, i) => path.join(project(), 'mark', `mark_${String(i * 5).padStart(3, '0')}.png`));
    /** The share of images whose hottest cell lies in the top-left quadrant of the map. */
    const peaksTopLeft = (grids: number[][][]) =>
      grids.filter((grid) => {
        const cells = grid.flatMap((row, r) => row.map((v, c) => ({ v, r, c })));
        const hottest = cells.reduce((a, b) => (b.v > a.v ? b : a));
        return hottest.r < grid.length / 2 && hottest.c < (grid[0]?.length ?? 0) / 2;
      }).length / grids.length;

    beforeAll(async () => {
      ({ dir, cleanup } = await tempDir());
      await cornerProject(project(), 60);
      app = new LabelLoopApp({ host: 'web', version: 'test', configDir: dir, projectOptions: { watchIntervalMs: 0, backgroundValidation: false } });
      const opened = await app.handle('project.open', { path: project() });
      if (!opened.ok) throw new Error(opened.error.message);
    });
    afterAll(async () => {
      await app.dispose();
      await cleanup();
    });

    it('a stage-1 run (CAM): the map of "mark" peaks top left, in the run and in its export alike, and the overlays are written', async () => {
      const { runDir, report } = await train({ inputSize: 224, backbone: { kind: 'mobilenet_v2' } });
      expect(report.accuracy?.value).toBeGreaterThan(0.85);
      const result = await explainFiles(runDir, marked());
      expect(result.method).toBe('cam');
      expect(result.entries.every((e) => e.predicted === 'mark' && e.class === 'mark' && e.width === 96 && e.height === 96)).toBe(true);
      expect(peaksTopLeft(result.entries.map((e) => e.grid))).toBeGreaterThanOrEqual(0.9);
      const { exportRun } = await import('../../../../src/main/inference/export');
      await exportRun(runDir, path.join(dir, 'export'));
      const fromExport = await explainFiles(path.join(dir, 'export'), marked());
      fromExport.entries.forEach((e, i) => e.grid.flat().forEach((v, k) => expect(Math.abs(v - (result.entries[i]?.grid.flat()[k] as number))).toBeLessThan(1e-3)));
      // The map of the other class, asked for: hot where "clean" has its evidence, not on the mark.
      const clean = await explainFiles(runDir, marked(), { className: 'clean' });
      expect(clean.entries.every((e) => e.class === 'clean' && e.predicted === 'mark')).toBe(true);
      expect(peaksTopLeft(clean.entries.map((e) => e.grid))).toBeLessThan(0.5);
      const out = path.join(dir, 'overlays');
      await mkdir(out);
      const names = await writeOverlays(result.entries.slice(0, 2), result.preprocessing.resize, out);
      expect(names).toEqual(['mark_000.heatmap.png', 'mark_005.heatmap.png']);
      const meta = await sharp(await readFile(path.join(out, 'mark_000.heatmap.png'))).metadata();
      expect([meta.width, meta.height]).toEqual([96, 96 + 14]); // the image and its legend strip
    }, 180_000);

    it('a small CNN from scratch (Grad-CAM): the map of "mark" peaks top left too', async () => {
      const { runDir, report } = await train({ backbone: { kind: 'small_cnn', inputSize: 32 }, epochs: 40 });
      expect(report.accuracy?.value).toBeGreaterThan(0.85);
      const result = await explainFiles(runDir, marked());
      expect(result.method).toBe('grad-cam');
      expect(result.entries[0]?.grid).toHaveLength(4);
      expect(peaksTopLeft(result.entries.map((e) => e.grid))).toBeGreaterThanOrEqual(0.75);
    }, 240_000);
  });
});
