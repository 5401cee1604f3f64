// Photos in, face crops out: every face the detector finds becomes a square JPEG crop saved into a
// class folder (or the project root: unlabeled) through the project's own import, so duplicates by
// content are skipped and nothing is overwritten. Where each crop came from (photo, content hash,
// box, score, landmarks) is appended to .labelloop/faces.jsonl. One photo at a time: a cancel keeps
// what is done, and a photo that cannot be read is a line in the summary, never a stop.
import { appendFile, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { FaceImportSettings, type FaceImportSummary } from '../../../shared/contract';
import { emptySummary } from '../../../shared/faces';
import { isInside } from '../../project/confine';
import { isImageName } from '../../../shared/images';
import sharp from 'sharp';
import { errnoCode } from '../../common/errors';
import { hashBuffer } from '../../project/contentHash';
import { EMPTY_FILE, UndecodableImage } from '../../project/imageDecode';
import type { ProjectSession } from '../../project/project';
import { DATA_DIR } from '../../project/scan';
import { cropFace, cropSquare, cutByBorder, eyeTiltDegrees } from './crop';
import { decodePhoto, type DetectedFace, type FaceDetector } from './detector';

export const FACES_FILE = 'faces.jsonl';
/** Where each source photo's preview is kept, by content hash: `.labelloop/faces/sources/<hash>.jpg`. */
export const SOURCES_DIR = path.join('faces', 'sources');
export const PREVIEW_SIDE = 1600;

/** The settings, and the class folder the crops go to (null: the project root, unlabeled). */
export type FaceImportOptions = FaceImportSettings & { className: string | null };

export const DEFAULT_FACE_IMPORT: FaceImportSettings = FaceImportSettings.parse({});

/**
 * One line of faces.jsonl: a crop in the project and where in which photo it was found. `crop` is
 * where it was saved; `cropHash` finds it again after a relabel moved it.
 */
export interface FaceRecord {
  crop: string;
  cropHash: string;
  source: string;
  sourceHash: string;
  /** The upright photo's size, in which `box` and `landmarks` are given. */
  photoWidth: number;
  photoHeight: number;
  face: number;
  box: { x: number; y: number; width: number; height: number };
  score: number;
  landmarks: [number, number][];
  margin: number;
  /** Degrees the crop was turned to level the eyes; 0 when not aligned. */
  turned: number;
  cutByBorder: boolean;
}

export type { FaceImportSummary };

/** The image files given: files as they are, folders walked (hidden entries and .labelloop skipped), in name order. */
export async function listPhotos(sources: string[]): Promise<{ photos: string[]; unreadable: { path: string; reason: string }[] }> {
  const photos: string[] = [];
  const unreadable: { path: string; reason: string }[] = [];
  const walk = async (dir: string): Promise<void> => {
    const entries = (await readdir(dir, { withFileTypes: true })).filter((e) => !e.name.startsWith('.')).sort((a, b) => a.name.localeCompare(b.name));
    for (const entry of entries) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile() && isImageName(entry.name)) photos.push(full);
    }
  };
  for (const source of sources) {
    const absolute = path.resolve(source);
    const info = await stat(absolute).catch(() => null);
    if (!info) unreadable.push({ path: absolute, reason: 'No such file or folder' });
    else if (info.isDirectory()) await walk(absolute);
    else photos.push(absolute);
  }
  return { photos, unreadable };
}

/** The crop's file name: `<photo name without extension>__face<N>.jpg`. */
export function cropName(photo: string, face: number): string {
  return `${path.parse(photo).name}__face${face}.jpg`;
}

/** Faces in reading order (left to right, then top to bottom), so face numbers are stable. */
function readingOrder(faces: DetectedFace[]): DetectedFace[] {
  return [...faces].sort((a, b) => a.box.x - b.box.x || a.box.y - b.box.y);
}

const round1 = (v: number) => Math.round(v * 10) / 10;

/** A face found in a photo, cut out and ready to save. */
export interface FoundFace {
  face: number;
  jpeg: Uint8Array;
  box: FaceRecord['box'];
  score: number;
  landmarks: FaceRecord['landmarks'];
  turned: number;
  cutByBorder: boolean;
}

/** What one photo gave: the faces large enough to keep, cut out, and how many were too small. */
export interface PhotoFaces {
  /** The upright photo's size, in which the boxes are given. */
  width: number;
  height: number;
  /** A JPEG of the upright photo at most PREVIEW_SIDE wide, kept to show a crop in its photo; null unless asked for. */
  preview: Uint8Array | null;
  found: number;
  tooSmall: number;
  faces: FoundFace[];
}

/** How one photo's faces are cut; `preview` asks for the photo's preview too (the import keeps it, prediction does not). */
export type CropSettings = Omit<FaceImportOptions, 'className'> & { preview: boolean };

/** Detects and crops one photo's faces (reading order); throws UndecodableImage for what is no photo. */
export async function facesOfPhoto(detector: FaceDetector, bytes: Uint8Array, options: CropSettings): Promise<PhotoFaces> {
  if (bytes.byteLength === 0) throw new UndecodableImage(EMPTY_FILE);
  const image = await decodePhoto(bytes);
  const found = readingOrder(await detector.detect(image, { minConfidence: options.minConfidence }));
  const kept = found.filter((f) => Math.max(f.box.width, f.box.height) >= options.minSize);
  const faces: FoundFace[] = [];
  for (const [k, face] of kept.entries()) {
    const square = cropSquare(face.box, options.margin);
    const turned = options.align ? eyeTiltDegrees(face.landmarks) : 0;
    faces.push({
      face: k + 1,
      jpeg: await cropFace(image, square, options.align ? turned : null),
      box: { x: round1(face.box.x), y: round1(face.box.y), width: round1(face.box.width), height: round1(face.box.height) },
      score: Math.round(face.score * 1000) / 1000,
      landmarks: face.landmarks.map((p) => [round1(p.x), round1(p.y)]),
      turned: round1(turned),
      cutByBorder: cutByBorder(square, image.width, image.height),
    });
  }
  const preview = options.preview
    ? await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
        .resize(PREVIEW_SIDE, PREVIEW_SIDE, { fit: 'inside', withoutEnlargement: true, kernel: 'linear' })
        .jpeg({ quality: 85 })
        .toBuffer()
    : null;
  return { width: image.width, height: image.height, preview, found: found.length, tooSmall: found.length - kept.length, faces };
}

/**
 * Saves one photo's crops into the project (named after `photoName`) and records each in
 * faces.jsonl with `source` (a path, or an upload's name); adds what happened to `summary`.
 */
export async function saveFaces(project: ProjectSession, source: string, bytes: Uint8Array, photo: PhotoFaces, options: FaceImportOptions, summary: FaceImportSummary): Promise<void> {
  summary.facesFound += photo.found;
  summary.tooSmall += photo.tooSmall;
  if (photo.found === 0) summary.noFace.push(source);
  const sourceHash = hashBuffer(bytes);
  const recordsFile = path.join(project.root, DATA_DIR, FACES_FILE);
  const previewFile = path.join(project.root, DATA_DIR, SOURCES_DIR, `${sourceHash}.jpg`);
  const { preview } = photo;
  let previewSaved = false;
  for (const face of photo.faces) {
    const result = await project.importFile(options.className, cropName(source, face.face), face.jpeg);
    for (const duplicate of result.duplicates) summary.duplicates.push({ crop: duplicate.name, existing: duplicate.existing });
    for (const rejected of result.rejected) summary.unreadable.push({ path: `${source} (face ${face.face})`, reason: rejected.message });
    for (const crop of result.imported) {
      summary.imported.push(crop);
      if (!previewSaved && preview) {
        // Only a view of the photo: without it the crop is still imported and recorded.
        previewSaved = await mkdir(path.dirname(previewFile), { recursive: true })
          .then(() => writeFile(previewFile, preview, { flag: 'wx' }))
          .then(() => true)
          .catch((error: unknown) => errnoCode(error) === 'EEXIST');
      }
      const record: FaceRecord = {
        crop,
        cropHash: hashBuffer(face.jpeg),
        source,
        sourceHash,
        photoWidth: photo.width,
        photoHeight: photo.height,
        face: face.face,
        box: face.box,
        score: face.score,
        landmarks: face.landmarks,
        margin: options.margin,
        turned: face.turned,
        cutByBorder: face.cutByBorder,
      };
      await appendFile(recordsFile, `${JSON.stringify(record)}\n`).catch(() => summary.unrecorded.push(crop));
    }
  }
}

export async function importFaces(
  project: ProjectSession,
  detector: FaceDetector,
  sources: string[],
  options: FaceImportOptions,
  hooks: { onProgress?: (done: number, total: number, photo: string) => void; isCancelled?: () => boolean } = {},
): Promise<FaceImportSummary> {
  project.requireWritable('faces cannot be imported');
  const listed = await listPhotos(sources);
  // `labelloop faces . --into .` would otherwise cut faces out of the crops already there.
  const insideProject = listed.photos.filter((photo) => isInside(project.root, photo));
  const photos = listed.photos.filter((photo) => !isInside(project.root, photo));
  const summary = { ...emptySummary(photos.length), unreadable: listed.unreadable, insideProject };
  for (const [index, photo] of photos.entries()) {
    if (hooks.isCancelled?.()) {
      summary.cancelled = true;
      break;
    }
    hooks.onProgress?.(index, photos.length, photo);
    let bytes: Buffer;
    let faces: PhotoFaces;
    try {
      bytes = await readFile(photo);
      faces = await facesOfPhoto(detector, bytes, { ...options, preview: true });
    } catch (error) {
      summary.unreadable.push({ path: photo, reason: error instanceof Error ? error.message : String(error) });
      continue;
    }
    await saveFaces(project, photo, bytes, faces, options, summary);
  }
  if (!summary.cancelled) hooks.onProgress?.(photos.length, photos.length, '');
  return summary;
}
