// The data check on a generated project with known problems: injected copies (exact, resized,
// re-encoded, brightened, cropped on every side or off one), a copy across the split, a copy under another label, and one image of
// each quality kind among ordinary ones. Each must be found, and nothing else.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventBus } from '../../../../src/main/common/events';
import type { CheckProgress } from '../../../../src/shared/contract';
import { checkProject, robustScores } from '../../../../src/main/inspection/dataCheck';
import { hashDistance, nearHashPairs, perceptualHash } from '../../../../src/main/inspection/perceptualHash';
import { hashBuffer } from '../../../../src/main/project/contentHash';
import { seededRandom } from '../../../../src/main/project/demo';
import { ProjectSession } from '../../../../src/main/project/project';
import { DATA_DIR } from '../../../../src/main/project/scan';
import { writeSplits } from '../../../../src/main/training/splits';
import { tempDir } from '../../../helpers/fixtures';

/** A distinct colourful picture: random ellipses and bars on a random background. */
async function picture(seed: number, width = 120, height = 120): Promise<Buffer> {
  const random = seededRandom(seed);
  const colour = () => `rgb(${Math.floor(random() * 255)},${Math.floor(random() * 255)},${Math.floor(random() * 255)})`;
  // Shapes scale with the picture, so a large one is the same kind of picture, only bigger.
  const k = Math.max(width, height) / 120;
  const shapes = Array.from({ length: 30 }, () =>
    random() < 0.5
      ? `<ellipse cx="${random() * width}" cy="${random() * height}" rx="${k * (3 + random() * 20)}" ry="${k * (3 + random() * 20)}" fill="${colour()}"/>`
      : `<rect x="${random() * width}" y="${random() * height}" width="${k * (4 + random() * 30)}" height="${k * (2 + random() * 12)}" fill="${colour()}"/>`,
  ).join('');
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><rect width="100%" height="100%" fill="${colour()}"/>${shapes}</svg>`;
  return sharp(Buffer.from(svg)).jpeg({ quality: 92 }).toBuffer();
}

describe('the data check', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let root: string;
  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir());
    root = path.join(dir, 'project');
    for (const c of ['OK', 'NG']) await mkdir(path.join(root, c), { recursive: true });
  });
  afterAll(async () => cleanup());

  it('the perceptual hash: a copy is a few bits away, another picture about half of 64', async () => {
    const gray = async (bytes: Buffer) => sharp(bytes).greyscale().resize(32, 32, { fit: 'fill' }).raw().toBuffer();
    const a = perceptualHash(await gray(await picture(1)));
    const resized = perceptualHash(await gray(await sharp(await picture(1)).resize(90).jpeg({ quality: 50 }).toBuffer()));
    const other = perceptualHash(await gray(await picture(2)));
    expect(hashDistance(a, a)).toBe(0);
    expect(hashDistance(a, resized)).toBeLessThanOrEqual(4);
    expect(hashDistance(a, other)).toBeGreaterThan(16);
    // Robust scores: the median is 0, the MAD sets the scale, and the floor keeps a uniform set quiet.
    expect(robustScores([1, 2, 3, 4, 100], 0)).toEqual([-2, -1, 0, 1, 97].map((v) => expect.closeTo(v / 1.4826, 9)));
    expect(robustScores([5, 5, 5, 5.01], 0.5).every((z) => Math.abs(z) < 0.1)).toBe(true);
  });

  it('finds every pair of hashes within 4 bits by bands, the same pairs as comparing all of them', () => {
    const random = seededRandom(9);
    const word = () => Math.floor(random() * 2 ** 32) >>> 0;
    const hashes: [number, number][] = Array.from({ length: 400 }, () => [word(), word()]);
    // Plant near copies: 1–6 bits flipped anywhere in the 64.
    for (let k = 0; k < 120; k++) {
      const source = hashes[Math.floor(random() * 400)] as [number, number];
      const copy: [number, number] = [source[0], source[1]];
      for (let f = 1 + Math.floor(random() * 6); f > 0; f--) {
        const b = Math.floor(random() * 64);
        if (b < 32) copy[0] = (copy[0] ^ (1 << b)) >>> 0;
        else copy[1] = (copy[1] ^ (1 << (b - 32))) >>> 0;
      }
      hashes.push(copy);
    }
    const brute: string[] = [];
    for (let i = 0; i < hashes.length; i++) for (let j = i + 1; j < hashes.length; j++) if (hashDistance(hashes[i] as [number, number], hashes[j] as [number, number]) <= 4) brute.push(`${i}-${j}`);
    const banded = nearHashPairs(hashes, 4).map(([i, j]) => `${i}-${j}`);
    expect(brute.length).toBeGreaterThan(50);
    expect(banded.sort()).toEqual(brute.sort());
    expect(new Set(banded).size).toBe(banded.length); // each pair once
  });

  it('finds injected copies, the leak and the conflict among them, and one image of each quality kind', async () => {
    const ordinary = 30;
    for (let i = 0; i < ordinary; i++) await writeFile(path.join(root, i % 2 ? 'OK' : 'NG', `img_${i}.jpg`), await picture(100 + i));
    const base = await picture(100); // NG/img_0.jpg
    await writeFile(path.join(root, 'NG', 'exact_copy.jpg'), base);
    await writeFile(path.join(root, 'NG', 'resized_copy.jpg'), await sharp(base).resize(100).jpeg({ quality: 80 }).toBuffer());
    await writeFile(path.join(root, 'NG', 'reencoded_copy.jpg'), await sharp(base).webp({ quality: 60 }).toBuffer().then((b) => sharp(b).jpeg({ quality: 70 }).toBuffer()));
    await writeFile(path.join(root, 'NG', 'brighter_copy.jpg'), await sharp(base).modulate({ brightness: 1.08 }).jpeg().toBuffer());
    // img_3 (OK) copied into NG: a conflict; its split below puts the copy in val: a leak.
    const three = await picture(103);
    const conflicting = await sharp(three).resize(100).jpeg({ quality: 85 }).toBuffer();
    await writeFile(path.join(root, 'NG', 'conflict_copy.jpg'), conflicting);
    // Cropped copies: 4% off every side of img_5, 8% off the left of img_7 (both OK).
    await writeFile(path.join(root, 'OK', 'cropped_copy.jpg'), await sharp(await picture(105)).extract({ left: 5, top: 5, width: 110, height: 110 }).jpeg({ quality: 90 }).toBuffer());
    await writeFile(path.join(root, 'OK', 'side_cropped_copy.jpg'), await sharp(await picture(107)).extract({ left: 10, top: 0, width: 110, height: 120 }).jpeg({ quality: 90 }).toBuffer());
    // Quality outliers.
    const plain = await picture(500);
    await writeFile(path.join(root, 'OK', 'blurry.jpg'), await sharp(await picture(501)).blur(6).jpeg().toBuffer());
    await writeFile(path.join(root, 'OK', 'dark.jpg'), await sharp(await picture(502)).linear(0.12, 0).jpeg().toBuffer());
    await writeFile(path.join(root, 'OK', 'bright.jpg'), await sharp(await picture(503)).linear(0.1, 235).jpeg().toBuffer());
    await writeFile(path.join(root, 'OK', 'flat.jpg'), await sharp({ create: { width: 120, height: 120, channels: 3, background: '#7a6a5a' } }).jpeg().toBuffer());
    await writeFile(path.join(root, 'OK', 'huge.jpg'), await sharp(await picture(504)).resize(1200).jpeg().toBuffer());
    await writeFile(path.join(root, 'OK', 'wide.jpg'), await picture(505, 360, 60));
    await writeFile(path.join(root, 'OK', 'gray.jpg'), await sharp(plain).greyscale().jpeg().toBuffer());
    await writeSplits(path.join(root, DATA_DIR), {
      settings: { val: 0.2, test: 0, seed: 1 },
      assignments: { [hashBuffer(three)]: 'train', [hashBuffer(conflicting)]: 'val' },
    });

    const project = await ProjectSession.open(root, new EventBus(), { watchIntervalMs: 0, backgroundValidation: false });
    try {
      const progress: CheckProgress[] = [];
      const report = await checkProject(project, { onProgress: (step) => progress.push(step) });
      expect(report.images).toBe(ordinary + 7 + 7);
      // Every image measured, then the close neighbours compared, to the end.
      const measuring = progress.filter((p) => p.phase === 'measuring');
      expect(measuring.map((p) => p.done)).toEqual(Array.from({ length: report.images }, (_, i) => i + 1));
      expect(progress.slice(measuring.length).every((p) => p.phase === 'comparing')).toBe(true);
      expect(progress.at(-1)).toEqual({ phase: 'comparing', done: expect.any(Number), total: expect.any(Number) });
      expect(progress.at(-1)?.done).toBe(progress.at(-1)?.total);
      expect(report.unreadable).toEqual([]);
      expect(report.duplicates.filter((d) => d.kind === 'exact')).toEqual([{ kind: 'exact', similarity: 1, paths: ['NG/exact_copy.jpg', 'NG/img_0.jpg'] }]);
      const near = report.duplicates.filter((d) => d.kind === 'near').map((d) => [...d.paths].sort());
      expect(near).toEqual(
        expect.arrayContaining([
          ['NG/brighter_copy.jpg', 'NG/exact_copy.jpg', 'NG/img_0.jpg', 'NG/reencoded_copy.jpg', 'NG/resized_copy.jpg'],
          ['NG/conflict_copy.jpg', 'OK/img_3.jpg'],
          ['OK/cropped_copy.jpg', 'OK/img_5.jpg'],
          ['OK/img_7.jpg', 'OK/side_cropped_copy.jpg'],
        ]),
      );
      // …and none of the 30 distinct pictures is grouped with another.
      expect(near).toHaveLength(4);
      expect(report.leaks).toEqual([{ paths: ['NG/conflict_copy.jpg', 'OK/img_3.jpg'], splits: ['val', 'train'], similarity: expect.any(Number) }]);
      expect(report.conflicts).toEqual([{ paths: ['NG/conflict_copy.jpg', 'OK/img_3.jpg'], labels: ['NG', 'OK'], similarity: expect.any(Number) }]);
      const kinds = Object.fromEntries(report.issues.map((i) => [i.path, i.kinds]));
      expect(kinds).toEqual({
        'OK/blurry.jpg': ['blurry'],
        'OK/dark.jpg': expect.arrayContaining(['dark']),
        'OK/bright.jpg': expect.arrayContaining(['bright']),
        'OK/flat.jpg': expect.arrayContaining(['low-information']),
        'OK/huge.jpg': ['odd-size'],
        'OK/wide.jpg': expect.arrayContaining(['odd-aspect']),
        'OK/gray.jpg': ['grayscale'],
      });
      expect(report.issues.find((i) => i.path === 'OK/dark.jpg')?.scores.dark).toBeLessThan(-3);
    } finally {
      await project.close();
    }
  }, 120_000);
});
