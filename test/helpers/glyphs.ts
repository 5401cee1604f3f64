// A generated project where only a CNN on the pixels can win: frozen ImageNet features barely see a small glyph among clutter.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { seededRandom } from '../../src/main/project/demo';
import type { JobSample } from '../../src/main/training/job';

/**
 * 32×32 grayscale images of random rectangles over noise, each with a small "+" (class 0) or "×"
 * (class 1) near the centre: frozen ImageNet features pool the clutter and barely see the glyph,
 * a CNN trained on the pixels learns it.
 */
export async function glyphProject(dir: string, perClass: number, { stroke = 1 }: { stroke?: number } = {}): Promise<JobSample[]> {
  const samples: JobSample[] = [];
  for (const [label, name] of ['plus', 'cross'].entries()) {
    await mkdir(path.join(dir, name), { recursive: true });
    for (let i = 0; i < perClass; i++) {
      const random = seededRandom(1000 * label + i + 7);
      const px = Buffer.alloc(32 * 32);
      for (let k = 0; k < px.length; k++) px[k] = Math.floor(random() * 256);
      for (let shape = 0; shape < 6; shape++) {
        const [x0, y0, w, h, v] = [random() * 32, random() * 32, 6 + random() * 14, 6 + random() * 14, Math.floor(random() * 256)];
        for (let y = Math.floor(y0); y < Math.min(32, y0 + h); y++) for (let x = Math.floor(x0); x < Math.min(32, x0 + w); x++) px[y * 32 + x] = v;
      }
      const [gx, gy] = [12 + Math.floor(random() * 3), 12 + Math.floor(random() * 3)];
      for (let d = -3; d <= 3; d++) {
        const points = label === 0 ? [[gx + d, gy], [gx, gy + d]] : [[gx + d, gy + d], [gx + d, gy - d]];
        for (const [x, y] of points as [number, number][]) for (let t = 0; t < stroke; t++) px[y * 32 + Math.min(31, x + t)] = 255;
      }
      const file = `${name}/${String(i).padStart(3, '0')}.png`;
      await writeFile(path.join(dir, file), await sharp(px, { raw: { width: 32, height: 32, channels: 1 } }).png().toBuffer());
      samples.push({ path: file, hash: `${name}-${i}`, label, split: i % 5 === 0 ? 'val' : 'train' });
    }
  }
  return samples;
}
