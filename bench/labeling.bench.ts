/// <reference lib="dom" />
// `npm run bench`: scan, thumbnail and open-to-first-paint figures for the labeling workspace,
// each beside a named reference measured in the same run on the same machine.
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, it } from 'vitest';
import { mapLimit } from '../src/main/common/concurrency';
import { generateDemoProject } from '../src/main/project/demo';
import { EventBus } from '../src/main/common/events';
import { ProjectSession } from '../src/main/project/project';
import { ThumbnailService } from '../src/main/project/thumbnails';
// @ts-expect-error plain ESM harness shared with the e2e tests
import { openSession, waitForPaintedThumbnails } from '../test/e2e/harness.mjs';

const work = path.join(os.tmpdir(), `labelloop-bench-${process.pid}`);
const figures: string[] = [];
const report = (line: string) => {
  figures.push(line);
  console.log(line);
};
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/** A project of `count` small JPEGs (demo faces reused round-robin), 1,000 per subfolder. */
async function bigProject(count: number): Promise<string> {
  const dir = path.join(work, `p${count}`);
  const templates = path.join(work, 'templates');
  await generateDemoProject(templates, { perClass: 8, seed: 5, size: 96 });
  const faces = await Promise.all(
    ['OK', 'NG'].flatMap((c) => Array.from({ length: 8 }, (_, i) => readFile(path.join(templates, c, `${c.toLowerCase()}_000${i + 1}.jpg`)))),
  );
  const jobs = Array.from({ length: count }, (_, i) => {
    const label = i % 2 === 0 ? 'OK' : 'NG';
    return { file: path.join(dir, label, `batch${Math.floor(i / 2000)}`, `img_${i}.jpg`), data: faces[i % faces.length] as Buffer };
  });
  for (const folder of new Set(jobs.map((j) => path.dirname(j.file)))) await mkdir(folder, { recursive: true });
  await mapLimit(jobs, 64, (job) => writeFile(job.file, job.data));
  return dir;
}

function timeFind(dir: string): number {
  const started = performance.now();
  execFileSync('find', [dir, '-type', 'f', '-printf', '%s %T@ %p\\n'], { maxBuffer: 1 << 30 });
  return performance.now() - started;
}

describe('labeling benchmarks', () => {
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
    console.log(`\n=== LabelLoop labeling benchmarks (${os.cpus().length} cores, ${os.cpus()[0]?.model ?? 'cpu'}) ===\n${figures.join('\n')}\n`);
  });

  it('scan: 10k and 50k files', async () => {
    for (const count of [10_000, 50_000]) {
      const dir = await bigProject(count);
      const reference = timeFind(dir); // GNU find listing with size + mtime: the floor for a walk with stat
      const started = performance.now();
      const project = await ProjectSession.open(dir, new EventBus(), { watchIntervalMs: 0, backgroundValidation: false });
      const elapsed = performance.now() - started;
      const listed = project.snapshot().items.length;
      await project.close();
      report(`scan ${count.toLocaleString('en')} files: ${seconds(elapsed)} (${Math.round(listed / (elapsed / 1000)).toLocaleString('en')} files/s); GNU find -printf size+mtime: ${seconds(reference)}; ratio ${(elapsed / reference).toFixed(1)}×`);
    }
  });

  it('thumbnails per second on this machine', async () => {
    const dir = path.join(work, 'thumbs-src');
    await generateDemoProject(dir, { perClass: 150, seed: 9, size: 640 });
    const files = ['OK', 'NG'].flatMap((c) => Array.from({ length: 150 }, (_, i) => path.join(dir, c, `${c.toLowerCase()}_${String(i + 1).padStart(4, '0')}.jpg`)));
    const service = new ThumbnailService(path.join(work, 'thumb-cache'));
    let started = performance.now();
    await Promise.all(files.map((file, i) => service.get(file, `bench-${i}`, 'thumb', false)));
    const ours = files.length / ((performance.now() - started) / 1000);
    // Reference: bare sharp decode + resize + webp encode, 4 in flight, no cache and no checks.
    started = performance.now();
    await mapLimit(files, 4, (file) => sharp(file).resize(256, 256, { fit: 'inside' }).webp({ quality: 75 }).toBuffer());
    const bare = files.length / ((performance.now() - started) / 1000);
    started = performance.now();
    await Promise.all(files.map((file, i) => service.get(file, `bench-${i}`, 'thumb', false)));
    const cached = files.length / ((performance.now() - started) / 1000);
    report(`thumbnails 640×480→256 webp: ${ours.toFixed(0)} images/s made (with validation + cache write), ${cached.toFixed(0)} images/s from cache; bare sharp pipeline: ${bare.toFixed(0)} images/s; ratio ${(ours / bare).toFixed(2)}×`);
  });

  it('open a 10k-image project to the first painted grid, and scrolling 50k', async () => {
    for (const count of [10_000, 50_000]) {
      const dir = await bigProject(count);
      const { server, page, close } = await openSession();
      try {
        await page.goto(server.url);
        await page.waitForSelector('.start input[name=folder]');
        const started = performance.now();
        await page.fill('.start input[name=folder]', dir);
        await page.press('.start input[name=folder]', 'Enter');
        await waitForPaintedThumbnails(page, 12);
        const firstPaint = performance.now() - started;
        const cellsInDom = await page.locator('.cell').count();
        // Scroll through the grid a screen per frame and record frame times.
        const frames: number[] = await page.evaluate(async () => {
          const scroller = document.querySelector('[data-test=grid]') as HTMLElement;
          const times: number[] = [];
          let last = performance.now();
          for (let i = 0; i < 120; i++) {
            scroller.scrollTop += scroller.clientHeight;
            await new Promise((r) => requestAnimationFrame(r));
            const now = performance.now();
            times.push(now - last);
            last = now;
          }
          return times;
        });
        frames.sort((a, b) => a - b);
        const p95 = frames[Math.floor(frames.length * 0.95)] ?? 0;
        report(`open ${count.toLocaleString('en')}-image project → first painted grid: ${seconds(firstPaint)}; ${cellsInDom} cells in the DOM; scrolling a screen per frame: median ${frames[frames.length >> 1]?.toFixed(1)} ms, p95 ${p95.toFixed(1)} ms per frame (60 fps = 16.7 ms)`);
      } finally {
        await close();
      }
    }
  });
});
