// `npm run bench`, embedding map part 2: frame times of the Map tab's canvas at 10,000 and 50,000
// points in Debian's Chromium. The page (bench/mapFrame) mounts the real MapView on a fake main
// serving a finished map; the bench zooms with a wheel event in every frame (a full redraw each
// frame) and moves the pointer across the points in every frame (hover: no redraw), recording the
// requestAnimationFrame intervals.
import { createServer, type Server } from 'node:http';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import vue from '@vitejs/plugin-vue';
import { chromium } from 'playwright-core';
import { build } from 'vite';
import { afterAll, describe, it } from 'vitest';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const lines: string[] = [];

/** Serves the built page on 127.0.0.1 (module scripts do not load from file://). */
async function serve(dir: string): Promise<{ server: Server; url: string }> {
  const types: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' };
  const server = createServer((request, response) => {
    const segments = decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname).split('/').filter((segment) => segment !== '' && segment !== '..');
    const file = path.join(dir, ...(segments.length > 0 ? segments : ['index.html']));
    readFile(file).then(
      (body) => response.writeHead(200, { 'content-type': types[path.extname(file)] ?? 'application/octet-stream' }).end(body),
      () => response.writeHead(404).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  return { server, url: `http://127.0.0.1:${address.port}/index.html` };
}

describe('map frame benchmarks', () => {
  afterAll(() => console.log(`\n=== LabelLoop map canvas (Chromium ${CHROMIUM}) ===\n${lines.join('\n')}\n`));

  it('zooms and hovers 10,000 and 50,000 points', async () => {
    const out = await mkdtemp(path.join(os.tmpdir(), 'labelloop-map-frame-'));
    await build({ configFile: false, root: path.join(import.meta.dirname, 'mapFrame'), base: './', plugins: [vue()], logLevel: 'warn', build: { outDir: out, emptyOutDir: true } });
    const { server, url } = await serve(out);
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu'] });
    try {
      for (const points of [10_000, 50_000]) {
        const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
        page.on('pageerror', (error) => console.error('page error:', error.message));
        await page.goto(`${url}?points=${points}`);
        await page.waitForFunction((n) => Number(document.querySelector('[data-test=map-canvas]')?.getAttribute('data-points')) === n, points, { timeout: 60_000 });
        const box = await page.locator('[data-test=map-canvas]').boundingBox();
        if (!box) throw new Error('no canvas');
        const centre = { x: box.x + box.width / 2, y: box.y + box.height / 2 };
        // Frame intervals over 120 frames while `act(i)` runs in every frame (in the page, so that no frame goes without it).
        const timeFrames = (act: 'zoom' | 'hover') =>
          page.evaluate(
            ({ kind, at }) =>
              new Promise<{ median: number; p95: number; frames: number }>((resolve) => {
                const element = document.querySelector('[data-test=map-canvas]') as HTMLCanvasElement;
                const stamps: number[] = [];
                const tick = (t: number) => {
                  stamps.push(t);
                  const i = stamps.length;
                  if (kind === 'zoom') element.dispatchEvent(new WheelEvent('wheel', { deltaY: i <= 60 ? -40 : 40, clientX: at.x, clientY: at.y, bubbles: true, cancelable: true }));
                  else element.dispatchEvent(new PointerEvent('pointermove', { clientX: at.x - 200 + ((i * 37) % 400), clientY: at.y - 200 + ((i * 53) % 400), bubbles: true }));
                  if (i < 121) requestAnimationFrame(tick);
                  else {
                    const intervals = stamps.slice(1).map((s, k) => s - (stamps[k] as number)).sort((a, b) => a - b);
                    resolve({ median: intervals[Math.floor(intervals.length / 2)] as number, p95: intervals[Math.floor(intervals.length * 0.95)] as number, frames: intervals.length });
                  }
                };
                requestAnimationFrame(tick);
              }),
            { kind: act, at: centre },
          );
        const zooming = await timeFrames('zoom');
        const hovering = await timeFrames('hover');
        const line = `${points.toLocaleString('en')} points: zooming (a full redraw every frame) median ${zooming.median.toFixed(1)} ms, p95 ${zooming.p95.toFixed(1)} ms per frame over ${zooming.frames} frames; hovering median ${hovering.median.toFixed(1)} ms, p95 ${hovering.p95.toFixed(1)} ms (60 fps = 16.7 ms)`;
        lines.push(line);
        console.log(line);
        await page.close();
      }
    } finally {
      await browser.close();
      server.close();
      await rm(out, { recursive: true, force: true });
    }
  });
});
