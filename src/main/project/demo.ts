// The demo project: synthetic face crops rendered with sharp from SVG. OK/ wears a mask, NG/ does not.
// Skin tone, face size, position, rotation, background and noise vary; a seed makes it repeatable,
// so tests and benchmarks share the exact same images without downloading anything.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { mapLimit } from '../common/concurrency';

export interface DemoOptions {
  perClass?: number;
  seed?: number;
  /** Edge of the square images in pixels. */
  size?: number;
}

export const DEMO_MARKER = '.labelloop-demo.json';

/** mulberry32: tiny, fast and good enough for picking shapes and noise. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SKIN = ['#f6d7c3', '#eac0a0', '#d9a27e', '#c68863', '#a86b47', '#8a5536', '#6b3f27', '#4a2b1b'];
const HAIR = ['#1b1410', '#3b2416', '#6a4a2e', '#a67b4f', '#d8c08a', '#8c8c8c', '#5a1e12'];
const MASKS = ['#dfe9f3', '#9fc6e8', '#f4f4f4', '#2b2b2b', '#3f6fb5', '#c7d9c2', '#e7b8c8', '#6c7a89'];

export function faceSvg(masked: boolean, random: () => number, size: number): string {
  const pick = <T,>(list: readonly T[]) => list[Math.floor(random() * list.length)] as T;
  const between = (lo: number, hi: number) => lo + random() * (hi - lo);
  const bgA = `hsl(${Math.floor(between(0, 360))},${Math.floor(between(10, 60))}%,${Math.floor(between(25, 85))}%)`;
  const bgB = `hsl(${Math.floor(between(0, 360))},${Math.floor(between(10, 60))}%,${Math.floor(between(25, 85))}%)`;
  const skin = pick(SKIN);
  const scale = between(0.75, 1.15) * (size / 160);
  const cx = size / 2 + between(-0.12, 0.12) * size;
  const cy = size / 2 + between(-0.1, 0.1) * size;
  const rotation = between(-20, 20);
  const eyeY = between(-14, -8);
  const mouthCurve = between(-6, 10);
  const mask = pick(MASKS);
  const parts = [
    `<ellipse cx="0" cy="-14" rx="${between(44, 52)}" ry="${between(44, 54)}" fill="${pick(HAIR)}"/>`,
    `<ellipse cx="-41" cy="0" rx="7" ry="11" fill="${skin}"/><ellipse cx="41" cy="0" rx="7" ry="11" fill="${skin}"/>`,
    `<ellipse cx="0" cy="4" rx="${between(36, 42)}" ry="${between(46, 52)}" fill="${skin}"/>`,
    `<ellipse cx="-15" cy="${eyeY}" rx="7" ry="4.5" fill="#fff"/><ellipse cx="15" cy="${eyeY}" rx="7" ry="4.5" fill="#fff"/>`,
    `<circle cx="${-15 + between(-2, 2)}" cy="${eyeY}" r="3" fill="#2a1d14"/><circle cx="${15 + between(-2, 2)}" cy="${eyeY}" r="3" fill="#2a1d14"/>`,
    `<path d="M-23 ${eyeY - 9} q8 -5 15 0 M8 ${eyeY - 9} q8 -5 15 0" stroke="#2a1d14" stroke-width="2.5" fill="none"/>`,
  ];
  if (masked) {
    parts.push(
      `<path d="M-36 6 Q0 -2 36 6 L32 34 Q0 ${between(50, 58)} -32 34 Z" fill="${mask}" stroke="rgba(0,0,0,.25)" stroke-width="1.5"/>`,
      `<path d="M-30 16 Q0 10 30 16 M-30 26 Q0 20 30 26" stroke="rgba(0,0,0,.18)" stroke-width="1.5" fill="none"/>`,
      `<path d="M-36 8 L-44 -4 M36 8 L44 -4 M-33 30 L-44 6 M33 30 L44 6" stroke="${mask}" stroke-width="2"/>`,
    );
  } else {
    parts.push(
      `<path d="M0 ${eyeY + 6} l-5 16 h9" stroke="rgba(60,30,20,.6)" stroke-width="2" fill="none"/>`,
      `<path d="M-14 30 Q0 ${30 + mouthCurve} 14 30" stroke="#8c2f2f" stroke-width="${between(2.5, 4.5)}" fill="${random() < 0.4 ? '#b44a4a' : 'none'}"/>`,
    );
    if (random() < 0.25) parts.push(`<path d="M-30 30 Q0 62 30 30" stroke="${pick(HAIR)}" stroke-width="5" fill="none" opacity=".8"/>`);
  }
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}">` +
    `<defs><linearGradient id="bg" x1="0" y1="0" x2="${random()}" y2="1"><stop offset="0" stop-color="${bgA}"/><stop offset="1" stop-color="${bgB}"/></linearGradient></defs>` +
    `<rect width="${size}" height="${size}" fill="url(#bg)"/>` +
    `<g transform="translate(${cx.toFixed(1)} ${cy.toFixed(1)}) rotate(${rotation.toFixed(1)}) scale(${scale.toFixed(3)})">${parts.join('')}</g>` +
    `</svg>`
  );
}

/** Renders one face to JPEG bytes, with per-pixel noise added after rasterising. */
export async function renderFace(masked: boolean, random: () => number, size: number): Promise<Buffer> {
  const svg = faceSvg(masked, random, size);
  const { data, info } = await sharp(Buffer.from(svg)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const amplitude = 4 + random() * 22;
  for (let i = 0; i < data.length; i++) {
    const noisy = (data[i] as number) + (random() + random() - 1) * amplitude;
    data[i] = noisy < 0 ? 0 : noisy > 255 ? 255 : noisy;
  }
  return sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } })
    .jpeg({ quality: Math.floor(70 + random() * 25) })
    .toBuffer();
}

/** Writes OK/ and NG/ into `dir` (created if missing). Same seed, same bytes. */
export async function generateDemoProject(dir: string, options: DemoOptions = {}): Promise<{ files: number }> {
  const perClass = options.perClass ?? 300;
  const seed = options.seed ?? 1;
  const size = options.size ?? 160;
  const jobs: { file: string; masked: boolean; seed: number }[] = [];
  for (const [label, masked] of [['OK', true], ['NG', false]] as const) {
    await mkdir(path.join(dir, label), { recursive: true });
    for (let i = 0; i < perClass; i++) {
      // Each image gets its own stream, so the set is identical however the work is scheduled.
      jobs.push({ file: path.join(dir, label, `${label.toLowerCase()}_${String(i + 1).padStart(4, '0')}.jpg`), masked, seed: seed * 100_003 + i * 2 + (masked ? 1 : 0) });
    }
  }
  await mapLimit(jobs, 4, async (job) => writeFile(job.file, await renderFace(job.masked, seededRandom(job.seed), size)));
  await writeFile(path.join(dir, DEMO_MARKER), JSON.stringify({ generator: 'labelloop-demo', seed, perClass, size }, null, 2));
  return { files: jobs.length };
}
