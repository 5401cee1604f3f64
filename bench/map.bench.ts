// `npm run bench`, embedding map part: layout time (PCA to 50 + UMAP) for 10,000 and 50,000 images
// of backbone-sized features (1,280 values, MobileNetV2's). The features are generated: clusters of
// different sizes and spreads, as classes and their sub-kinds lie in a backbone's feature space; the
// layout's cost depends on the number of rows and their dimension, not on what the pixels were.
import os from 'node:os';
import { afterAll, describe, it } from 'vitest';
import { selectBackend } from '../src/main/engine/backend';
import { layout } from '../src/main/inspection/embeddingMap';
import { seededRandom } from '../src/main/project/demo';

const DIM = 1280;
const lines: string[] = [];

function clusteredFeatures(rows: number): Float32Array {
  const random = seededRandom(rows);
  const centres = Array.from({ length: 40 }, () => Float32Array.from({ length: DIM }, () => Math.max(0, random() * 2 - 0.8)));
  const features = new Float32Array(rows * DIM);
  for (let r = 0; r < rows; r++) {
    const centre = centres[Math.floor(random() ** 2 * centres.length)] as Float32Array;
    const spread = 0.2 + (r % 5) * 0.1;
    for (let d = 0; d < DIM; d++) features[r * DIM + d] = Math.max(0, (centre[d] as number) + (random() - 0.5) * spread);
  }
  return features;
}

describe('embedding map benchmarks', () => {
  afterAll(() => console.log(`\n=== LabelLoop embedding map (${os.cpus().length} cores, ${DIM}-value features) ===\n${lines.join('\n')}\n`));

  it('lays out 10,000 and 50,000 images', async () => {
    // The map's worker selects the best backend, which is wasm wherever native TensorFlow is not installed.
    await selectBackend('auto');
    for (const rows of (process.env.BENCH_MAP_ROWS ?? '10000,50000').split(',').map(Number)) {
      const features = clusteredFeatures(rows);
      let peakRss = process.memoryUsage().rss;
      const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);
      const started = performance.now();
      // The first epoch's progress (of all the epochs) marks the end of PCA and the neighbour graph.
      let epochsStarted = 0;
      await layout(features, rows, DIM, { onProgress: (_phase, _done, total) => void (total > 1 && (epochsStarted ||= performance.now())) });
      const ended = performance.now();
      clearInterval(sampler);
      const line = `layout of ${rows.toLocaleString('en')} images: ${((ended - started) / 1000).toFixed(1)} s (PCA and the neighbour graph ${((epochsStarted - started) / 1000).toFixed(1)} s, UMAP's epochs ${((ended - epochsStarted) / 1000).toFixed(1)} s); peak resident memory ${(peakRss / 2 ** 20).toFixed(0)} MiB (features included)`;
      lines.push(line);
      console.log(line);
    }
  });
});
