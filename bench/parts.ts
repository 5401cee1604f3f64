// A second generated dataset for the label-error benchmark: machined washers photographed from
// above, OK (clean) or NG (a scratch or a chipped edge), with varied size, position, lighting and noise.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { mapLimit } from '../src/main/common/concurrency';
import { seededRandom } from '../src/main/project/demo';

function partSvg(defect: boolean, random: () => number, size: number): string {
  const between = (lo: number, hi: number) => lo + random() * (hi - lo);
  const cx = size / 2 + between(-10, 10);
  const cy = size / 2 + between(-10, 10);
  const r = between(size * 0.28, size * 0.38);
  const metal = Math.floor(between(120, 200));
  const light = Math.floor(between(30, 90));
  const parts = [
    `<rect width="${size}" height="${size}" fill="rgb(${light},${light + 5},${light + 10})"/>`,
    `<circle cx="${cx}" cy="${cy}" r="${r}" fill="rgb(${metal},${metal},${metal + 10})"/>`,
    `<circle cx="${cx}" cy="${cy}" r="${r * between(0.3, 0.45)}" fill="rgb(${light},${light + 5},${light + 10})"/>`,
  ];
  if (defect) {
    if (random() < 0.5) {
      const a = between(0, Math.PI * 2);
      const len = between(r * 0.5, r * 1.1);
      const x = cx + Math.cos(a) * r * 0.65;
      const y = cy + Math.sin(a) * r * 0.65;
      parts.push(`<line x1="${x}" y1="${y}" x2="${x + Math.cos(a + 1.7) * len}" y2="${y + Math.sin(a + 1.7) * len}" stroke="rgb(40,30,30)" stroke-width="${between(1.5, 3.5)}"/>`);
    } else {
      const a = between(0, Math.PI * 2);
      parts.push(`<circle cx="${cx + Math.cos(a) * r}" cy="${cy + Math.sin(a) * r}" r="${between(r * 0.12, r * 0.25)}" fill="rgb(${light},${light + 5},${light + 10})"/>`);
    }
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}">${parts.join('')}</svg>`;
}

export async function generateParts(dir: string, perClass: number, seed: number, size = 128): Promise<void> {
  const jobs = (['OK', 'NG'] as const).flatMap((label) => Array.from({ length: perClass }, (_, i) => ({ label, i })));
  for (const label of ['OK', 'NG']) await mkdir(path.join(dir, label), { recursive: true });
  await mapLimit(jobs, 4, async ({ label, i }) => {
    const random = seededRandom(seed * 7919 + i * 2 + (label === 'NG' ? 1 : 0));
    const image = await sharp(Buffer.from(partSvg(label === 'NG', random, size))).blur(0.6).jpeg({ quality: 85 }).toBuffer();
    await writeFile(path.join(dir, label, `${label.toLowerCase()}_${String(i + 1).padStart(4, '0')}.jpg`), image);
  });
}
