// Test data made on the spot with sharp: real images, and every kind of bad file a user meets.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';

export async function tempDir(prefix = 'labelloop-test-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** A web-mode app with its own config folder and the demo project open; `close` disposes it and removes the folder. */
export async function openDemoApp(): Promise<{ dir: string; app: import('../../src/main/app').LabelLoopApp; close: () => Promise<void> }> {
  const { LabelLoopApp } = await import('../../src/main/app');
  const { dir, cleanup } = await tempDir();
  const app = new LabelLoopApp({ host: 'web', version: 'test', configDir: dir, projectOptions: { watchIntervalMs: 0, backgroundValidation: false } });
  const opened = await app.handle('project.openDemo', {});
  if (!opened.ok) throw new Error(opened.error.message);
  return {
    dir,
    app,
    close: async () => {
      await app.dispose();
      await cleanup();
    },
  };
}

export async function jpeg(color = '#c84', width = 40, height = 30): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: color } }).jpeg().toBuffer();
}

export async function writeJpeg(file: string, color = '#c84', width = 40, height = 30): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, await jpeg(color, width, height));
}

/** A small project: OK/ with 3 images (one in a subfolder), NG/ with 2, one unlabeled in the root. */
export async function makeProject(root: string): Promise<void> {
  await writeJpeg(path.join(root, 'OK/a.jpg'), '#111');
  await writeJpeg(path.join(root, 'OK/b.JPG'), '#222');
  await writeJpeg(path.join(root, 'OK/day1/c.jpeg'), '#333');
  await writeJpeg(path.join(root, 'NG/a.jpg'), '#444');
  await writeJpeg(path.join(root, 'NG/d.jpg'), '#555');
  await writeJpeg(path.join(root, 'loose.jpg'), '#666');
}

/** Every awkward input the issue names, keyed by what it is. */
export async function writeAwkwardImages(folder: string): Promise<Record<string, string>> {
  await mkdir(folder, { recursive: true });
  const good = await jpeg('#8a5', 64, 48);
  const png = await sharp({ create: { width: 64, height: 48, channels: 4, background: { r: 10, g: 200, b: 30, alpha: 0.5 } } }).png().toBuffer();
  const files: Record<string, Buffer> = {
    'zero.jpg': Buffer.alloc(0),
    'truncated.jpg': good.subarray(0, Math.floor(good.length / 2)),
    'truncated.png': png.subarray(0, png.length - 40),
    'text.jpg': Buffer.from('this is a text file with an image extension\n'),
    'random.png': Buffer.from(Array.from({ length: 2048 }, (_, i) => (i * 7919) % 256)),
    'alpha.png': png,
    'cmyk.jpg': await sharp({ create: { width: 64, height: 48, channels: 3, background: '#c84' } }).toColourspace('cmyk').jpeg().toBuffer(),
    'deep16.png': await sharp({ create: { width: 64, height: 48, channels: 3, background: '#c84' } }).toColourspace('rgb16').png().toBuffer(),
    'gray.png': await sharp(Buffer.alloc(64 * 48, 128), { raw: { width: 64, height: 48, channels: 1 } }).toColourspace('b-w').png().toBuffer(),
    'rotated.jpg': await sharp({ create: { width: 64, height: 32, channels: 3, background: '#48c' } }).jpeg().withMetadata({ orientation: 6 }).toBuffer(),
    'bomb.png': await sharp({ create: { width: 12_000, height: 12_000, channels: 3, background: '#000' } }).png({ compressionLevel: 9 }).toBuffer(),
    'good.jpg': good,
  };
  const paths: Record<string, string> = {};
  for (const [name, data] of Object.entries(files)) {
    await writeFile(path.join(folder, name), data);
    paths[name] = path.join(folder, name);
  }
  return paths;
}
