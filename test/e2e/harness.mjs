// Shared by the e2e tests and the benchmarks: a web-mode server in a child process and Debian's
// headless Chromium driven by playwright-core.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { chromium } from 'playwright-core';

export const root = path.resolve(import.meta.dirname, '../..');
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export function requireBuild() {
  if (!existsSync(path.join(root, 'out/main/web.js'))) throw new Error('Build first: npm run build');
  if (!existsSync(CHROMIUM)) throw new Error(`No Chromium at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
}

/** Starts `node out/main/web.js` with its own config folder; resolves once it prints its URL. */
export async function startServer({ project, configDir } = {}) {
  const config = configDir ?? (await mkdtemp(path.join(os.tmpdir(), 'labelloop-e2e-config-')));
  const token = randomBytes(16).toString('hex');
  const args = [path.join(root, 'out/main/web.js'), '--port', '0', '--token', token];
  if (project) args.push('--project', project);
  const child = spawn(process.execPath, args, { env: { ...process.env, LABELLOOP_CONFIG_DIR: config }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${output}`)), 60_000);
    const onData = (chunk) => {
      output += chunk;
      const match = /(http:\/\/127\.0\.0\.1:\d+\/\?token=\w+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`server exited with ${code}:\n${output}`)));
  });
  return {
    url,
    token,
    port: Number(new URL(url).port),
    configDir: config,
    output: () => output,
    /** kill -9: no handler runs, nothing is flushed or closed. */
    kill: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', resolve);
        child.kill('SIGKILL');
      }),
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', resolve);
        child.kill('SIGTERM');
      }),
  };
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

/** Waits until at least `count` grid thumbnails have decoded with real pixels. */
export async function waitForPaintedThumbnails(page, count = 6, timeout = 120_000) {
  await page.waitForFunction(
    (n) => [...document.querySelectorAll('.cell img')].filter((img) => img.complete && img.naturalWidth > 0).length >= n,
    count,
    { timeout },
  );
}

/** A server, a browser and one page, as every e2e file needs; `close` tears all three down. */
export async function openSession(viewport = { width: 1280, height: 800 }) {
  requireBuild();
  const server = await startServer();
  const browser = await launchBrowser();
  const page = await browser.newPage({ viewport });
  page.on('pageerror', (error) => console.error('page error:', error.message));
  return {
    server,
    browser,
    page,
    close: async () => {
      await browser.close();
      await server.stop();
      await rm(server.configDir, { recursive: true, force: true });
    },
  };
}
