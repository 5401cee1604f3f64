// kill -9 at random moments of bulk relabels, undos and redos: after every restart each image's
// content exists exactly once, recovery leaves no doubt, and undo works.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventBus } from '../../../../src/main/common/events';
import { ProjectSession } from '../../../../src/main/project/project';
import { tempDir } from '../../../helpers/fixtures';
import { contentHashes } from '../../../helpers/inventory';

const TRIALS = 24;
const IMAGES = 120;
const repo = path.resolve(import.meta.dirname, '../../../..');
// Inside the repository, so the bundled driver finds node_modules (sharp) the way the app does.
const driverDir = path.join(repo, 'node_modules/.cache/labelloop-tests', `kill-driver-${process.pid}`);
const driver = path.join(driverDir, 'relabelDriver.mjs');

/** Starts the driver, waits until its project is open, lets it work for `ms`, then SIGKILLs it. */
async function runAndKill(root: string, seed: number, ms: number): Promise<void> {
  const child = spawn(process.execPath, [driver, root, String(seed)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`driver did not start:\n${output}`)), 30_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('ready\n')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`driver exited with ${code} before it was killed:\n${output}`)));
  });
  await new Promise((resolve) => setTimeout(resolve, ms));
  if (child.exitCode !== null) throw new Error(`driver stopped by itself:\n${output}`);
  child.kill('SIGKILL');
  await exited;
}

describe('kill -9 during bulk relabels', () => {
  let root: string;
  let cleanup: () => Promise<void>;
  let original: string[];

  beforeAll(async () => {
    await build({
      configFile: false,
      logLevel: 'silent',
      root: repo,
      build: {
        ssr: path.join(repo, 'test/helpers/relabelDriver.ts'),
        outDir: driverDir,
        emptyOutDir: true,
        target: 'node20',
        rollupOptions: { output: { entryFileNames: 'relabelDriver.mjs' } },
      },
    });
    ({ dir: root, cleanup } = await tempDir());
    // Relabeling never decodes, so distinct random bytes stand in for images: each content is unique.
    for (const folder of ['A', 'B', 'C']) await mkdir(path.join(root, folder));
    for (let i = 0; i < IMAGES; i++) {
      const folder = ['A', 'B', 'C', ''][Math.floor((i * 4) / IMAGES)] as string;
      // The same names in every folder, so relabels keep making " (2)" names.
      await writeFile(path.join(root, folder, `img_${String(i % (IMAGES / 4)).padStart(3, '0')}.jpg`), randomBytes(256 + i));
    }
    original = await contentHashes(root);
    expect(original).toHaveLength(IMAGES);
  });
  afterAll(async () => {
    await cleanup();
    await rm(driverDir, { recursive: true, force: true });
  });

  it(`keeps every image exactly once through ${TRIALS} kills, and undo works after each`, async () => {
    let rolledBack = 0;
    for (let trial = 1; trial <= TRIALS; trial++) {
      await runAndKill(root, trial, 30 + ((trial * 97) % 300));
      const project = await ProjectSession.open(root, new EventBus(), { watchIntervalMs: 0, backgroundValidation: false });
      const recovered = project.snapshot().recovered.join('\n');
      if (/rolled back/.test(recovered)) rolledBack++;
      expect(recovered, `trial ${trial}`).not.toMatch(/Could not|not completely|Kept both|missing/);
      expect(project.readOnly, `trial ${trial}`).toBeNull();
      expect(await contentHashes(root), `trial ${trial}`).toEqual(original);
      if (project.snapshot().history.canUndo) {
        expect((await project.undo()).failed, `trial ${trial}`).toEqual([]);
        expect(await contentHashes(root), `trial ${trial}`).toEqual(original);
        expect((await project.redo()).failed, `trial ${trial}`).toEqual([]);
      }
      await project.close();
      const journal = await readFile(path.join(root, '.labelloop/journal.jsonl'), 'utf8');
      expect(journal.endsWith('\n'), `trial ${trial}`).toBe(true);
    }
    // The kills landed inside transactions, so recovery itself was exercised.
    expect(rolledBack).toBeGreaterThan(0);
  }, 120_000);
});
