// Why a file is unreadable, in a few words that stay the same: worked out from the file's bytes,
// never libvips' multi-line message (which can even be about another image decoded at the time).
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventBus } from '../../../../src/main/common/events';
import { decodeForModel } from '../../../../src/main/engine/preprocess';
import { explainDecodeError, openRaster } from '../../../../src/main/project/imageDecode';
import { ProjectSession } from '../../../../src/main/project/project';
import { ThumbnailService } from '../../../../src/main/project/thumbnails';
import { tempDir } from '../../../helpers/fixtures';

/** A photo-like JPEG/PNG (noise compresses badly, so cutting it loses real image data). */
async function noise(format: 'jpeg' | 'png', width = 320, height = 240): Promise<Buffer> {
  const pixels = Buffer.from(Array.from({ length: width * height * 3 }, (_, i) => (i * 2654435761) >>> 24));
  return sharp(pixels, { raw: { width, height, channels: 3 } })[format]().toBuffer();
}

/** The start of an ISO-BMFF file whose brand says HEIC: what an iPhone photo begins with. */
function heicHeader(): Buffer {
  const ftyp = Buffer.concat([Buffer.from([0, 0, 0, 0x18]), Buffer.from('ftypheic'), Buffer.from([0, 0, 0, 0]), Buffer.from('mif1heic')]);
  return Buffer.concat([ftyp, Buffer.from([0, 0, 0, 0x10]), Buffer.from('meta'), Buffer.alloc(64)]);
}

/** A 2×2, 24-bit Windows bitmap: a real image in a format this build of sharp cannot read. */
function bmp(): Buffer {
  const header = Buffer.alloc(54);
  header.write('BM', 0);
  header.writeUInt32LE(54 + 16, 2);
  header.writeUInt32LE(54, 10);
  header.writeUInt32LE(40, 14);
  header.writeInt32LE(2, 18);
  header.writeInt32LE(2, 22);
  header.writeUInt16LE(1, 26);
  header.writeUInt16LE(24, 28);
  return Buffer.concat([header, Buffer.alloc(16, 0x80)]);
}

const SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="48"><rect width="64" height="48" fill="#c84"/></svg>';

describe('unreadable reasons', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  const files: Record<string, string> = {};

  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir());
    const jpeg = await noise('jpeg');
    const png = await noise('png');
    // A CRC broken in the middle of the pixel data: complete, but damaged.
    const badCrc = Buffer.from(png);
    const idat = badCrc.indexOf('IDAT');
    badCrc[idat + 40] = (badCrc[idat + 40] ?? 0) ^ 0xff;
    const contents: Record<string, Buffer | string> = {
      'truncated.jpg': jpeg.subarray(0, Math.floor(jpeg.length * 0.6)),
      'header-only.jpg': jpeg.subarray(0, 200),
      'truncated.png': png.subarray(0, Math.floor(png.length * 0.6)),
      'truncated-png-named.jpg': png.subarray(0, Math.floor(png.length * 0.6)),
      'damaged.png': badCrc,
      'empty.png': Buffer.alloc(0),
      'random.jpg': Buffer.from(Array.from({ length: 4096 }, (_, i) => ((i * 7919) >>> 3) % 256)),
      'notes.png': 'these are notes, not a picture\n',
      'photo.heic.jpg': heicHeader(),
      'drawing.png': SVG,
      'bitmap.bmp': bmp(),
      'report.png': '%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n',
      'bomb.png': await sharp({ create: { width: 12_000, height: 10_000, channels: 3, background: '#000' } }).png({ compressionLevel: 9 }).toBuffer(),
      'good.png': png,
    };
    for (const [name, data] of Object.entries(contents)) {
      files[name] = path.join(dir, name);
      await writeFile(files[name], data);
    }
  });
  afterAll(() => cleanup());

  const expected: [string, string][] = [
    ['truncated.jpg', 'Truncated file (JPEG)'],
    ['header-only.jpg', 'Truncated file (JPEG)'],
    ['truncated.png', 'Truncated file (PNG)'],
    ['truncated-png-named.jpg', 'Truncated file (PNG)'],
    ['damaged.png', 'Damaged file (PNG)'],
    ['empty.png', 'Empty file (0 bytes)'],
    ['random.jpg', 'Not an image'],
    ['notes.png', 'Not an image (text)'],
    ['photo.heic.jpg', 'Unsupported format HEIC'],
    ['drawing.png', 'Not a raster image (SVG)'],
    ['bitmap.bmp', 'Unsupported format BMP'],
    ['report.png', 'Not an image (PDF)'],
    ['bomb.png', 'Over the 100 MP limit (12000×10000, 120 MP)'],
  ];

  it.each(expected)('%s: "%s", the same for a thumbnail and for training', async (name, reason) => {
    const file = files[name] as string;
    const thumbnails = new ThumbnailService(path.join(dir, 'cache', name));
    expect(await thumbnails.get(file, name, 'thumb')).toEqual({ ok: false, problem: reason });
    await expect(decodeForModel(file, { inputSize: 32, scale: '0,1', resize: 'stretch', interpolation: 'bilinear' as const })).rejects.toThrow(new RegExp(`^${reason.replace(/[()]/g, '\\$&')}$`));
  });

  it('gives an upload (bytes, not a file) the same reasons', async () => {
    for (const [name, reason] of expected) {
      const data = await readFile(files[name] as string);
      const error = await openRaster(data)
        .then(({ image }) => image.stats())
        .then(
          () => null,
          (e: unknown) => e,
        );
      expect(await explainDecodeError(data, error), name).toBe(reason);
    }
  });

  it('keeps every reason to one short line with no libvips wording', () => {
    for (const [, reason] of expected) {
      expect(reason).not.toMatch(/\n|Vips|failOn|Warning treated/);
      expect(reason.length).toBeLessThan(60);
    }
  });

  it('names the right format when many bad files decode at once (libvips errors can cross over)', async () => {
    const names = Array.from({ length: 12 }, (_, i) => (i % 2 ? 'truncated.png' : 'truncated.jpg'));
    const service = new ThumbnailService(path.join(dir, 'cache', 'parallel'), { slots: 4 });
    const probes = await Promise.all(names.map((name, i) => service.get(files[name] as string, `p${i}`, 'thumb')));
    probes.forEach((probe, i) => expect(probe).toEqual({ ok: false, problem: names[i] === 'truncated.png' ? 'Truncated file (PNG)' : 'Truncated file (JPEG)' }));
  });

  it('still reads good images, AVIF included', async () => {
    const avif = path.join(dir, 'good.avif.png');
    await writeFile(avif, await sharp({ create: { width: 32, height: 24, channels: 3, background: '#48c' } }).avif().toBuffer());
    const service = new ThumbnailService(path.join(dir, 'cache', 'good'));
    expect(await service.get(files['good.png'] as string, 'good', 'thumb')).toMatchObject({ ok: true });
    expect(await service.get(avif, 'avif', 'thumb')).toMatchObject({ ok: true });
  });

  it('refuses an SVG renamed .png at import, and shows the reason in the details', async () => {
    const { dir: root, cleanup: done } = await tempDir();
    try {
      await writeFile(path.join(root, 'drawing.png'), SVG);
      const project = await ProjectSession.open(root, new EventBus(), { watchIntervalMs: 0, backgroundValidation: false });
      expect((await project.importFile(null, 'other.png', Buffer.from(SVG.replace('64', '65')))).rejected).toEqual([{ name: 'other.png', message: 'Not a raster image (SVG)' }]);
      expect(await project.details('drawing.png')).toMatchObject({ status: 'unreadable', problem: 'Not a raster image (SVG)' });
      await project.close();
    } finally {
      await done();
    }
  });
});
