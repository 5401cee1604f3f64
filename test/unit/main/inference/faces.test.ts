// Faces in real photos: the six group photos that ship in @vladmandic/face-api (MIT, demo/) hold
// 3, 3, 3, 4, 5 and 4 faces (counted by eye); their lower parts (bodies, furniture) hold none.
// Detection, the import into a project, per-face prediction, the CSV and the annotated copies.
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventBus } from '../../../../src/main/common/events';
import { decodePhoto, type FaceDetector, faceModelDir, loadFaceDetector } from '../../../../src/main/inference/faces/detector';
import { cropFace, cropSquare } from '../../../../src/main/inference/faces/crop';
import { DEFAULT_FACE_IMPORT, FACES_FILE, type FaceRecord, importFaces } from '../../../../src/main/inference/faces/importFaces';
import { describeFaceImport } from '../../../../src/shared/faces';
import { annotatePhoto, classColour, NO_FACE, predictFaces } from '../../../../src/main/inference/faces/predictFaces';
import type { Predictor } from '../../../../src/main/inference/predictor';
import { hashBuffer } from '../../../../src/main/project/contentHash';
import { ProjectSession } from '../../../../src/main/project/project';
import { facePredictionsCsv } from '../../../../src/shared/predictions';
import { tempDir } from '../../../helpers/fixtures';

const SAMPLE_FACES = [3, 3, 3, 4, 5, 4];
const sample = (n: number) => path.join(faceModelDir(), '..', 'demo', `sample${n}.jpg`);

describe('faces in photos', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let detector: FaceDetector;
  /** Photos of real scenes without a face: the lower part of two samples. */
  let noFace: Buffer[];

  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir());
    detector = await loadFaceDetector();
    noFace = await Promise.all(
      [
        [2, 0.5],
        [6, 0.55],
      ].map(async ([n, share]) => {
        const meta = await sharp(sample(n as number)).metadata();
        const top = Math.round((meta.height as number) * (share as number));
        return sharp(sample(n as number)).extract({ left: 0, top, width: meta.width as number, height: (meta.height as number) - top }).jpeg().toBuffer();
      }),
    );
  }, 60_000);
  afterAll(() => cleanup());

  const detect = async (bytes: Buffer) => detector.detect(await decodePhoto(bytes), { minConfidence: 0.5 });

  it('finds every face in six real group photos, in the photo\'s own pixels, and none where there is none', async () => {
    for (const [k, expected] of SAMPLE_FACES.entries()) {
      const faces = await detect(await readFile(sample(k + 1)));
      expect(faces, `sample${k + 1}`).toHaveLength(expected);
      for (const face of faces) {
        expect(face.score).toBeGreaterThanOrEqual(0.5);
        expect(face.landmarks).toHaveLength(68);
        // Detected on a 1,024-px copy, reported on the 1,920-px photo.
        expect(face.box.x + face.box.width).toBeLessThanOrEqual(1920);
        expect(face.box.width).toBeGreaterThan(100);
      }
    }
    for (const bytes of noFace) expect(await detect(bytes)).toEqual([]);
  }, 120_000);

  it('reads EXIF orientation, grayscale, CMYK, 16-bit and alpha, and detects a 4,000-px photo on a smaller copy', async () => {
    const original = await readFile(sample(1));
    const reference = await detect(original);
    const centres = (faces: { box: { x: number; y: number; width: number; height: number } }[], scale = 1) => faces.map((f) => [(f.box.x + f.box.width / 2) / scale, (f.box.y + f.box.height / 2) / scale]);
    // Stored turned a quarter clockwise, with orientation 8 saying how to show it upright.
    const sideways = await sharp(original).rotate(90).withMetadata({ orientation: 8 }).jpeg().toBuffer();
    expect((await sharp(sideways).metadata()).width).toBe(1280);
    const variants: [string, Buffer][] = [
      ['EXIF orientation 8', sideways],
      ['grayscale', await sharp(original).greyscale().jpeg().toBuffer()],
      ['CMYK', await sharp(original).toColourspace('cmyk').jpeg().toBuffer()],
      ['16-bit', await sharp(original).toColourspace('rgb16').png().toBuffer()],
      ['alpha', await sharp(original).ensureAlpha(1).png().toBuffer()],
    ];
    for (const [name, bytes] of variants) {
      const faces = await detect(bytes);
      expect(faces, name).toHaveLength(3);
      centres(faces).forEach(([x, y], i) => {
        expect(Math.abs((x as number) - (centres(reference)[i]?.[0] as number)), name).toBeLessThan(15);
        expect(Math.abs((y as number) - (centres(reference)[i]?.[1] as number)), name).toBeLessThan(15);
      });
    }
    const huge = await sharp(original).resize(4000).jpeg().toBuffer();
    const big = await detect(huge);
    expect(big).toHaveLength(3);
    const scale = 4000 / 1920;
    centres(big, scale).forEach(([x, y], i) => {
      expect(Math.abs((x as number) - (centres(reference)[i]?.[0] as number))).toBeLessThan(10);
      expect(Math.abs((y as number) - (centres(reference)[i]?.[1] as number))).toBeLessThan(10);
    });
  }, 180_000);

  it('imports every face as a crop into a class or Unlabeled, records where it came from, skips duplicates and says what it could not read', async () => {
    const photos = path.join(dir, 'photos');
    await mkdir(path.join(photos, 'more'), { recursive: true });
    await writeFile(path.join(photos, 'party.jpg'), await readFile(sample(1)));
    await writeFile(path.join(photos, 'more', 'stairs.jpg'), await readFile(sample(5)));
    await writeFile(path.join(photos, 'sofa.jpg'), noFace[0] as Buffer);
    await writeFile(path.join(photos, 'empty.jpg'), '');
    await writeFile(path.join(photos, 'broken.jpg'), (await readFile(sample(2))).subarray(0, 300));
    await writeFile(path.join(photos, 'notes.png'), 'not an image');
    const root = path.join(dir, 'project');
    await mkdir(path.join(root, 'OK'), { recursive: true });
    await mkdir(path.join(root, 'NG'), { recursive: true });
    const project = await ProjectSession.open(root, new EventBus(), { watchIntervalMs: 0, backgroundValidation: false });
    try {
      const progress: number[] = [];
      const summary = await importFaces(project, detector, [photos], { ...DEFAULT_FACE_IMPORT, className: null }, { onProgress: (done) => progress.push(done) });
      expect(summary).toMatchObject({ photos: 6, facesFound: 8, tooSmall: 0, duplicates: [], unrecorded: [], cancelled: false });
      expect(summary.imported.sort()).toEqual([...[1, 2, 3].map((n) => `party__face${n}.jpg`), ...[1, 2, 3, 4, 5].map((n) => `stairs__face${n}.jpg`)].sort());
      expect(summary.noFace).toEqual([path.join(photos, 'sofa.jpg')]);
      expect(summary.unreadable.map((u) => path.basename(u.path)).sort()).toEqual(['broken.jpg', 'empty.jpg', 'notes.png']);
      expect(summary.unreadable.find((u) => u.path.endsWith('empty.jpg'))?.reason).toBe('Empty file (0 bytes)');
      expect(progress).toEqual([0, 1, 2, 3, 4, 5, 6]);
      expect(describeFaceImport(summary)[0]).toBe('6 photo(s): 8 face(s) found, 8 crop(s) saved, 0 duplicate(s) skipped, 0 too small, 1 photo(s) without a face, 3 unreadable');
      // Unlabeled: the crops lie in the project root, and the project lists them.
      expect((await readdir(root)).filter((f) => f.endsWith('.jpg')).sort()).toEqual(summary.imported.sort());
      expect(project.snapshot().items.filter((i) => i.label === null)).toHaveLength(8);
      // faces.jsonl: each crop with its photo, content hash, box (the detector's), score and landmarks; the crop is the square of that box.
      const records = (await readFile(path.join(root, '.labelloop', FACES_FILE), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as FaceRecord);
      expect(records).toHaveLength(8);
      const party = records.find((r) => r.crop === 'party__face1.jpg') as FaceRecord;
      expect(party).toMatchObject({ source: path.join(photos, 'party.jpg'), sourceHash: hashBuffer(await readFile(sample(1))), face: 1, margin: 0.25, turned: 0, cutByBorder: false });
      expect(party.landmarks).toHaveLength(68);
      const detected = (await detect(await readFile(sample(1)))).sort((a, b) => a.box.x - b.box.x)[0];
      expect(Math.abs(party.box.x - (detected?.box.x as number))).toBeLessThan(0.1);
      const crop = await readFile(path.join(root, 'party__face1.jpg'));
      const expectedCrop = await cropFace(await decodePhoto(await readFile(sample(1))), cropSquare(detected?.box as never, 0.25), null);
      expect(hashBuffer(crop)).toBe(hashBuffer(expectedCrop));
      // Again, into a class: every crop is a duplicate by content, and nothing is written.
      const again = await importFaces(project, detector, [path.join(photos, 'party.jpg')], { ...DEFAULT_FACE_IMPORT, className: 'OK' });
      expect(again.imported).toEqual([]);
      expect(again.duplicates.map((d) => d.existing).sort()).toEqual(['party__face1.jpg', 'party__face2.jpg', 'party__face3.jpg']);
      expect(await readdir(path.join(root, 'OK'))).toEqual([]);
      // Aligned crops differ in content, so they are new; into the class, named as before.
      const aligned = await importFaces(project, detector, [path.join(photos, 'party.jpg')], { ...DEFAULT_FACE_IMPORT, className: 'OK', align: true });
      expect(aligned.imported.sort()).toEqual(['OK/party__face1.jpg', 'OK/party__face2.jpg', 'OK/party__face3.jpg']);
      // A minimum size above every face: all found, none saved.
      const small = await importFaces(project, detector, [path.join(photos, 'party.jpg')], { ...DEFAULT_FACE_IMPORT, className: 'NG', minSize: 5000 });
      expect(small).toMatchObject({ facesFound: 3, tooSmall: 3, imported: [] });
      // Cancelled before the second photo: the first photo's crops stay, and the summary says so.
      let asked = 0;
      const cancelled = await importFaces(project, detector, [path.join(photos, 'more'), path.join(photos, 'party.jpg')], { ...DEFAULT_FACE_IMPORT, className: 'NG', margin: 0.4 }, { isCancelled: () => asked++ > 0 });
      expect(cancelled).toMatchObject({ photos: 2, cancelled: true });
      expect(cancelled.imported).toHaveLength(5);
      expect(describeFaceImport(cancelled)[0]).toMatch(/\(cancelled: what was done is kept\)$/);
      // `labelloop faces . --into .`: the project's own images (its crops) are not cut again; photos outside it still are.
      const before = (await readFile(path.join(root, '.labelloop', FACES_FILE), 'utf8')).length;
      const itself = await importFaces(project, detector, [root], { ...DEFAULT_FACE_IMPORT, className: null });
      expect(itself).toMatchObject({ photos: 0, imported: [], unreadable: [] });
      expect(itself.insideProject.length).toBe(project.snapshot().items.length);
      expect(describeFaceImport(itself)).toContain(`${itself.insideProject.length} image(s) inside the project skipped: they are its training images (face crops among them), not photos to cut; import photos from a folder outside it`);
      expect((await readFile(path.join(root, '.labelloop', FACES_FILE), 'utf8')).length).toBe(before);
    } finally {
      await project.close();
    }
  }, 180_000);

  it('imports a crowd of 144 real faces: over 100 found, each one saved once or named as a duplicate, none lost', async () => {
    // The six photos' 22 faces, each cut with room around it, tiled 12 × 12 at 80 px: a crowd photo.
    const tiles: Buffer[] = [];
    for (let n = 1; n <= 6; n++) {
      const image = await decodePhoto(await readFile(sample(n)));
      for (const face of await detector.detect(image, { minConfidence: 0.5 })) {
        const square = cropSquare(face.box, 0.4);
        const [left, top] = [Math.max(0, square.left), Math.max(0, square.top)];
        const side = Math.min(square.side, image.width - left, image.height - top);
        const raw = { raw: { width: image.width, height: image.height, channels: 3 as const } };
        tiles.push(await sharp(image.data, raw).extract({ left, top, width: side, height: side }).resize(80, 80).raw().toBuffer());
      }
    }
    expect(tiles).toHaveLength(22);
    const composite = Array.from({ length: 144 }, (_, k) => ({ input: tiles[k % 22] as Buffer, raw: { width: 80, height: 80, channels: 3 as const }, left: (k % 12) * 80, top: Math.floor(k / 12) * 80 }));
    const photos = path.join(dir, 'crowd');
    await mkdir(photos, { recursive: true });
    await writeFile(path.join(photos, 'crowd.jpg'), await sharp({ create: { width: 960, height: 960, channels: 3, background: '#808080' } }).composite(composite).jpeg({ quality: 90 }).toBuffer());
    const root = path.join(dir, 'crowd-project');
    await mkdir(path.join(root, 'OK'), { recursive: true });
    const project = await ProjectSession.open(root, new EventBus(), { watchIntervalMs: 0, backgroundValidation: false });
    try {
      const summary = await importFaces(project, detector, [photos], { ...DEFAULT_FACE_IMPORT, className: 'OK' });
      expect(summary.facesFound).toBeGreaterThan(100);
      expect(summary.unreadable).toEqual([]);
      // Every face is accounted for: saved, skipped as a copy of a saved crop, or too small.
      expect(summary.imported.length + summary.duplicates.length + summary.tooSmall).toBe(summary.facesFound);
      expect(new Set(summary.imported).size).toBe(summary.imported.length);
      expect((await readdir(path.join(root, 'OK'))).filter((f) => f.endsWith('.jpg')).sort()).toEqual(summary.imported.map((p) => path.basename(p)).sort());
      const records = (await readFile(path.join(root, '.labelloop', FACES_FILE), 'utf8')).trim().split('\n');
      expect(records).toHaveLength(summary.imported.length);
      expect(describeFaceImport(summary)[0]).toMatch(new RegExp(`^1 photo\\(s\\): ${summary.facesFound} face\\(s\\) found, ${summary.imported.length} crop\\(s\\) saved`));
    } finally {
      await project.close();
    }
  }, 180_000);

  it('predicts per face on the crops the import would cut, a row per face, and one row saying so for a photo without', async () => {
    const received: string[] = [];
    // A stand-in classifier: what matters is which crops it is shown; "red" is the mean red share.
    const predictor = {
      classes: ['NG', 'OK'],
      preprocessing: { threshold: null },
      predict: async (files: string[]) => {
        // In the order the crops were sent (reads finish in any order).
        received.push(...(await Promise.all(files.map(async (file) => hashBuffer(await readFile(file))))));
        return Promise.all(
          files.map(async (file) => {
            const { channels } = await sharp(file).stats();
            const red = (channels[0]?.mean as number) / ((channels[0]?.mean as number) + (channels[2]?.mean as number));
            return { probabilities: [1 - red, red], error: null };
          }),
        );
      },
    } as unknown as Predictor;
    const files = [sample(4), path.join(dir, 'sofa.jpg'), path.join(dir, 'nothing.jpg')];
    await writeFile(files[1] as string, noFace[1] as Buffer);
    await writeFile(files[2] as string, 'no image');
    const lines = await predictFaces(predictor, detector, files, { minConfidence: 0.5, margin: 0.25, align: false });
    expect(lines.map((l) => [path.basename(l.file), l.face, l.error === null])).toEqual([
      ...[1, 2, 3, 4].map((n) => ['sample4.jpg', n, true]),
      ['sofa.jpg', null, false],
      ['nothing.jpg', null, false],
    ]);
    expect(lines[4]?.error).toBe(NO_FACE);
    expect(lines[5]?.error).toMatch(/Not an image/);
    // The classifier saw exactly the crops an import cuts from that photo.
    const photo = await decodePhoto(await readFile(sample(4)));
    const expected = await Promise.all(lines.slice(0, 4).map(async (l) => hashBuffer(await cropFace(photo, cropSquare(l.box as never, 0.25), null))));
    expect(received).toEqual(expected);
    expect(lines[0]?.predicted).toBe((lines[0]?.probabilities?.[1] as number) >= 0.5 ? 'OK' : 'NG');
    const csv = facePredictionsCsv(predictor.classes, lines).trim().split('\n');
    expect(csv[0]).toBe('file,face,x,y,width,height,score,predicted,p_NG,p_OK,error');
    expect(csv).toHaveLength(7);
    const first = lines[0] as (typeof lines)[number];
    expect(csv[1]).toBe([first.file, 1, ...[first.box?.x, first.box?.y, first.box?.width, first.box?.height].map((v) => Math.round(v as number)), first.score?.toFixed(4), first.predicted, ...(first.probabilities ?? []).map((p) => p.toFixed(6)), ''].join(','));
    expect(csv[5]).toBe(`${files[1]},,,,,,,,,,${NO_FACE}`);

    // The annotated copy: a box edge in the predicted class's colour, the face inside it untouched.
    const out = path.join(dir, 'annotated.jpg');
    await annotatePhoto(sample(4), lines.slice(0, 4), predictor.classes, out);
    const { data, info } = await sharp(out).raw().toBuffer({ resolveWithObject: true });
    const original = await sharp(sample(4)).raw().toBuffer();
    const at = (buffer: Buffer, x: number, y: number) => Array.from(buffer.subarray((Math.round(y) * info.width + Math.round(x)) * 3, (Math.round(y) * info.width + Math.round(x)) * 3 + 3));
    const colour = classColour(predictor.classes, first.predicted as string);
    const rgb = [1, 3, 5].map((i) => parseInt(colour.slice(i, i + 2), 16));
    const box = first.box as { x: number; y: number; width: number; height: number };
    const edge = at(data, box.x + box.width / 2, box.y + box.height);
    expect(edge.every((v, i) => Math.abs(v - (rgb[i] as number)) < 60)).toBe(true);
    const inside = at(data, box.x + box.width / 2, box.y + box.height / 2);
    expect(inside.every((v, i) => Math.abs(v - (at(original, box.x + box.width / 2, box.y + box.height / 2)[i] as number)) < 25)).toBe(true);
  }, 120_000);
});
