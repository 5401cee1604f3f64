// `npm run bench`, engine part: the frozen backbone on ONNX Runtime against TensorFlow.js (wasm)
// and Debian's PyTorch on the same images: conversion time, embedding and stage-2 cut images/s,
// and memory over a 10,000-image embed (BENCH_EMBED_IMAGES=50000 for the 50,000). PyTorch
// is measured eager and frozen (TorchScript optimised for inference, its fastest CPU path here).
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, it } from 'vitest';
import { selectBackend } from '../src/main/engine/backend';
import { loadBackbone } from '../src/main/engine/backbone';
import { convertLayersModel } from '../src/main/engine/onnx/convert';
import { convertCached } from '../src/main/engine/onnx/modelCache';
import { openOnnxModel, type OnnxModel } from '../src/main/engine/onnx/runtime';
import { runImageFiles } from '../src/main/engine/imageBatches';
import { decodeForModel, scalePixels } from '../src/main/engine/preprocess';
import { tf } from '../src/main/engine/tf';
import { generateDemoProject } from '../src/main/project/demo';
import { MOBILENET_FINE_TUNE_CUTS } from '../src/main/training/fineTune';

const INPUT_SIZE = 224;
const BATCH = 16;
const PREP = { inputSize: INPUT_SIZE, scale: '0,1', resize: 'stretch', interpolation: 'bilinear' } as const;
const lines: string[] = [];
const report = (line: string) => {
  lines.push(line);
  console.log(line);
};

async function imageFiles(project: string): Promise<string[]> {
  const files: string[] = [];
  for (const label of ['NG', 'OK']) for (const name of (await readdir(path.join(project, label))).sort()) files.push(path.join(project, label, name));
  return files;
}

/** Images/s of decode + forward over `files` on ONNX Runtime; also the peak RSS, and the RSS after each 2,000 images. */
async function onnxImagesPerSecond(model: OnnxModel, files: string[]): Promise<{ perSecond: number; seconds: number; peakRss: number; rssEvery2000: number[] }> {
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);
  const started = performance.now();
  let done = 0;
  const rssEvery2000: number[] = [];
  for await (const batch of runImageFiles(model, files, PREP, { batchSize: BATCH })) {
    done += batch.length;
    if (Math.floor(done / 2000) > Math.floor((done - batch.length) / 2000)) rssEvery2000.push(process.memoryUsage().rss);
  }
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  return { perSecond: done / seconds, seconds, peakRss, rssEvery2000 };
}

interface TorchSpeed {
  perSecond: number;
  frozenPerSecond: number;
  version: string;
}

function torchImagesPerSecond(project: string, cut: boolean): TorchSpeed | string {
  const python = '/usr/bin/python3';
  if (spawnSync(python, ['-c', 'import torch, torchvision'], { encoding: 'utf8' }).status !== 0) return 'PyTorch reference not run: apt-get install python3-torch python3-torchvision';
  const args = [path.join(import.meta.dirname, 'torch_reference.py'), 'embed', project, String(INPUT_SIZE), ...(cut ? ['cut'] : [])];
  const run = spawnSync(python, args, { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (run.status !== 0) return `PyTorch reference failed: ${run.stderr.trim().split('\n').slice(-1)[0]}`;
  const result = JSON.parse(run.stdout.trim().split('\n').slice(-1)[0] as string) as { imagesPerSecond: number; imagesPerSecondFrozen: number; torch: string; threads: number };
  return { perSecond: result.imagesPerSecond, frozenPerSecond: result.imagesPerSecondFrozen, version: `${result.torch}, ${result.threads} threads` };
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
const vs = (ours: number, reference: TorchSpeed | string) =>
  typeof reference === 'string'
    ? reference
    : `PyTorch ${reference.perSecond.toFixed(1)} images/s eager, ${reference.frozenPerSecond.toFixed(1)} frozen; ratio ${(ours / reference.perSecond).toFixed(2)}× eager, ${(ours / reference.frozenPerSecond).toFixed(2)}× frozen`;
/** Images in the memory run: 10,000 by default (the README's figure), 50,000 on request. */
const MEMORY_RUN_IMAGES = Number(process.env.BENCH_EMBED_IMAGES ?? 10_000);
if (!Number.isInteger(MEMORY_RUN_IMAGES / 2) || MEMORY_RUN_IMAGES < 2) throw new Error(`BENCH_EMBED_IMAGES must be an even number of images (half per class), not ${process.env.BENCH_EMBED_IMAGES}`);

describe('engine benchmarks', () => {
  let work = '';
  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
    console.log(`\n=== LabelLoop engine benchmarks (${os.cpus().length} cores, MobileNetV2 at ${INPUT_SIZE} px, batch ${BATCH}) ===\n${lines.join('\n')}\n`);
  });

  it('ONNX Runtime against TensorFlow.js and PyTorch on the same images', async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'labelloop-bench-engine-'));
    const thousand = path.join(work, 'faces-1000');
    const many = path.join(work, `faces-${MEMORY_RUN_IMAGES}`);
    await generateDemoProject(thousand, { perClass: 500, seed: 21 });
    await generateDemoProject(many, { perClass: MEMORY_RUN_IMAGES / 2, seed: 22 });
    await selectBackend('wasm');
    const backbone = await loadBackbone({ kind: 'mobilenet_v2' }, INPUT_SIZE, PREP);
    try {
      let started = performance.now();
      const bytes = convertLayersModel(backbone.extractor);
      report(`convert MobileNetV2 (to out_relu + pooling) to ONNX: ${((performance.now() - started) / 1000).toFixed(2)} s, ${mib(bytes.byteLength)}`);

      const files = await imageFiles(thousand);
      const features = await openOnnxModel(await convertCached(backbone.extractor, path.join(work, 'onnx')));
      await onnxImagesPerSecond(features, files.slice(0, BATCH * 2)); // warm-up: the session's first runs plan its kernels
      const onnx = await onnxImagesPerSecond(features, files);

      // TF.js on wasm, the engine before ONNX Runtime, on the first 200 of the same images.
      const sample = files.slice(0, 200);
      const pixels = INPUT_SIZE * INPUT_SIZE * 3;
      started = performance.now();
      for (let i = 0; i < sample.length; i += BATCH) {
        const batch = sample.slice(i, i + BATCH);
        const input = new Float32Array(batch.length * pixels);
        (await Promise.all(batch.map((f) => decodeForModel(f, PREP)))).forEach((p, k) => scalePixels(p, PREP, input, k * pixels));
        const x = tf.tensor4d(input, [batch.length, INPUT_SIZE, INPUT_SIZE, 3]);
        const y = backbone.extractor.predict(x) as ReturnType<typeof tf.tensor>;
        await y.data();
        tf.dispose([x, y]);
      }
      const tfjs = sample.length / ((performance.now() - started) / 1000);
      const torch = torchImagesPerSecond(thousand, false);
      report(`embedding 1,000 images (decode + MobileNetV2 + pooling): ONNX Runtime ${onnx.perSecond.toFixed(1)} images/s; TF.js wasm ${tfjs.toFixed(1)} images/s (${(onnx.perSecond / tfjs).toFixed(1)}×); ${vs(onnx.perSecond, torch)}`);

      const cutLayer = MOBILENET_FINE_TUNE_CUTS[2] as string;
      const cut = await openOnnxModel(await convertCached(backbone.extractor, path.join(work, 'onnx'), { outputLayer: cutLayer }));
      await onnxImagesPerSecond(cut, files.slice(0, BATCH * 2));
      const cutRate = await onnxImagesPerSecond(cut, files);
      report(`stage-2 cut activations (${cutLayer}, ${cut.outputShape.join('×')}), 1,000 images: ONNX Runtime ${cutRate.perSecond.toFixed(1)} images/s; ${vs(cutRate.perSecond, torchImagesPerSecond(thousand, true))}`);
      await cut.release();

      const before = process.memoryUsage().rss;
      const big = await onnxImagesPerSecond(features, await imageFiles(many));
      report(
        `embedding ${MEMORY_RUN_IMAGES.toLocaleString('en')} images: ${big.seconds.toFixed(1)} s (${big.perSecond.toFixed(1)} images/s); resident memory ${mib(before)} before, peak ${mib(big.peakRss)} during; ` +
          `after each 2,000 images: ${big.rssEvery2000.map(mib).join(', ')}`,
      );
      if (typeof torch !== 'string') report(`PyTorch ${torch.version}, same images, same batch size`);
      await features.release();
    } finally {
      backbone.dispose();
    }
  });
});
