// `npm run bench`, the small CNN from scratch: training images/s of the same network (Conv–Pool
// 32/64/128, dense 128, batch 32, Adam) on TF.js wasm with LabelLoop's gradient kernels, against
// Debian's PyTorch on the same 2 cores (bench/torch_reference.py `cnnspeed`), on random pixels.
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'vitest';
import { selectBackend } from '../src/main/engine/backend';
import { registerWasmGradients } from '../src/main/engine/wasmGradients';
import { tf } from '../src/main/engine/tf';
import { buildSmallCnn } from '../src/main/training/smallCnn';

const IMAGES = 256;

async function ourImagesPerSecond(size: number): Promise<number> {
  const model = buildSmallCnn(size, 10, 1);
  model.compile({ optimizer: tf.train.adam(1e-3), loss: (y, logits) => tf.losses.softmaxCrossEntropy(y, logits) });
  const x = tf.randomUniform([IMAGES, size, size, 3]);
  const y = tf.oneHot(tf.randomUniform([IMAGES], 0, 10, 'int32'), 10);
  await model.fit(x, y, { batchSize: 32, epochs: 1, verbose: 0 });
  const started = performance.now();
  await model.fit(x, y, { batchSize: 32, epochs: 2, verbose: 0 });
  const seconds = (performance.now() - started) / 1000;
  tf.dispose([x, y]);
  model.dispose();
  return (2 * IMAGES) / seconds;
}

function torchImagesPerSecond(size: number): number | string {
  const python = '/usr/bin/python3';
  if (spawnSync(python, ['-c', 'import torch'], { encoding: 'utf8' }).status !== 0) return 'not run: apt-get install python3-torch python3-torchvision';
  const run = spawnSync(python, [path.join(import.meta.dirname, 'torch_reference.py'), 'cnnspeed', String(size), String(IMAGES)], { encoding: 'utf8' });
  if (run.status !== 0) return `failed: ${run.stderr.trim().split('\n').slice(-1)[0]}`;
  return (JSON.parse(run.stdout.trim().split('\n').slice(-1)[0] as string) as { imagesPerSecond: number }).imagesPerSecond;
}

describe('small CNN from scratch', () => {
  it('training images/s on wasm against PyTorch', async () => {
    await selectBackend('wasm');
    registerWasmGradients();
    const lines: string[] = [];
    for (const size of [32, 64, 128]) {
      const ours = await ourImagesPerSecond(size);
      const torch = torchImagesPerSecond(size);
      lines.push(`${size} px: LabelLoop (TF.js wasm, 1 thread) ${ours.toFixed(1)} images/s; PyTorch (2 threads) ${typeof torch === 'string' ? torch : `${torch.toFixed(1)} images/s; ratio ${(ours / torch).toFixed(2)}×`}`);
    }
    console.log(`\n=== Small CNN training (${os.cpus().length} cores, batch 32, Adam) ===\n${lines.join('\n')}\n`);
  }, 600_000);
});
