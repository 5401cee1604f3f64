// Photos in, face crops out: every face the detector finds becomes a square JPEG crop saved into a
// class folder (or the project root: unlabeled) through the project's own import, so duplicates by
// content are skipped and nothing is overwritten. Where each crop came from (photo, content hash,
// box, score, landmarks) is appended to .labelloop/faces.jsonl. One photo at a time: a cancel keeps
// what is done, and a photo that cannot be read is a line in the summary, never a stop.
import { appendFile, readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { isImageName } from '../../../shared/images';
import { hashBuffer } from '../../project/contentHash';
import { EMPTY_FILE, UndecodableImage } from '../../project/imageDecode';
import type { ProjectSession } from '../../project/project';
import { DATA_DIR } from '../../project/scan';
import { cropFace, cropSquare, cutByBorder, eyeTiltDegrees } from './crop';
import { decodePhoto, type DetectedFace, type FaceDetector } from './detector';

export const FACES_FILE = 'faces.jsonl';

export interface FaceImportOptions {
  /** The class folder the crops go to; null: the project root (unlabeled). */
  className: string | null;
  minConfidence: number;
  /** Faces whose box is shorter than this on its longer side (in the photo's pixels) are skipped. */
  minSize: number;
  /** Added around the box on every side, as a share of its longer side. */
  margin: number;
  /** Turn each crop so the eyes lie level. */
  align: boolean;
}

export const DEFAULT_FACE_IMPORT: Omit<FaceImportOptions, 'className'> = { minConfidence: 0.5, minSize: 32, margin: 0.25, align: false };

/** One line of faces.jsonl: a crop in the project and where in which photo it was found. */
export interface FaceRecord {
  crop: string;
  source: string;
  sourceHash: string;
  face: number;
  box: { x: number; y: number; width: number; height: number };
  score: number;
  landmarks: [number, number][];
  margin: number;
  /** Degrees the crop was turned to level the eyes; 0 when not aligned. */
  turned: number;
  cutByBorder: boolean;
}

export interface FaceImportSummary {
  photos: number;
  facesFound: number;
  imported: string[];
  duplicates: { crop: string; existing: string }[];
  tooSmall: number;
  noFace: string[];
  unreadable: { path: string; reason: string }[];
  /** Crops saved whose record could not be appended to faces.jsonl (e.g. the disk filled up). */
  unrecorded: string[];
  cancelled: boolean;
}

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

export async function importFaces(
  project: ProjectSession,
  detector: FaceDetector,
  sources: string[],
  options: FaceImportOptions,
  hooks: { onProgress?: (done: number, total: number, photo: string) => void; isCancelled?: () => boolean } = {},
): Promise<FaceImportSummary> {
  project.requireWritable('faces cannot be imported');
  const { photos, unreadable } = await listPhotos(sources);
  const summary: FaceImportSummary = { photos: photos.length, facesFound: 0, imported: [], duplicates: [], tooSmall: 0, noFace: [], unreadable, unrecorded: [], cancelled: false };
  const recordsFile = path.join(project.root, DATA_DIR, FACES_FILE);
  for (const [index, photo] of photos.entries()) {
    if (hooks.isCancelled?.()) {
      summary.cancelled = true;
      break;
    }
    hooks.onProgress?.(index, photos.length, photo);
    let bytes: Buffer;
    let image;
    try {
      bytes = await readFile(photo);
      if (bytes.byteLength === 0) throw new UndecodableImage(EMPTY_FILE);
      image = await decodePhoto(bytes);
    } catch (error) {
      summary.unreadable.push({ path: photo, reason: error instanceof UndecodableImage ? error.message : error instanceof Error ? error.message : String(error) });
      continue;
    }
    const found = readingOrder(await detector.detect(image, { minConfidence: options.minConfidence }));
    summary.facesFound += found.length;
    const kept = found.filter((f) => Math.max(f.box.width, f.box.height) >= options.minSize);
    summary.tooSmall += found.length - kept.length;
    if (found.length === 0) summary.noFace.push(photo);
    const sourceHash = hashBuffer(bytes);
    for (const [k, face] of kept.entries()) {
      const square = cropSquare(face.box, options.margin);
      const turned = options.align ? eyeTiltDegrees(face.landmarks) : 0;
      const jpeg = await cropFace(image, square, options.align ? turned : null);
      const result = await project.importFile(options.className, cropName(photo, k + 1), jpeg);
      for (const duplicate of result.duplicates) summary.duplicates.push({ crop: duplicate.name, existing: duplicate.existing });
      for (const rejected of result.rejected) summary.unreadable.push({ path: `${photo} (face ${k + 1})`, reason: rejected.message });
      for (const crop of result.imported) {
        summary.imported.push(crop);
        const record: FaceRecord = {
          crop,
          source: photo,
          sourceHash,
          face: k + 1,
          box: { x: round1(face.box.x), y: round1(face.box.y), width: round1(face.box.width), height: round1(face.box.height) },
          score: Math.round(face.score * 1000) / 1000,
          landmarks: face.landmarks.map((p) => [round1(p.x), round1(p.y)]),
          margin: options.margin,
          turned: round1(turned),
          cutByBorder: cutByBorder(square, image.width, image.height),
        };
        await appendFile(recordsFile, `${JSON.stringify(record)}\n`).catch(() => summary.unrecorded.push(crop));
      }
    }
  }
  if (!summary.cancelled) hooks.onProgress?.(photos.length, photos.length, '');
  return summary;
}

/** The summary in lines for the CLI and the window: counts first, then one line per photo that needs a word. */
export function describeFaceImport(summary: FaceImportSummary): string[] {
  const lines = [
    `${summary.photos} photo(s): ${summary.facesFound} face(s) found, ${summary.imported.length} crop(s) saved, ${summary.duplicates.length} duplicate(s) skipped, ${summary.tooSmall} too small, ${summary.noFace.length} photo(s) without a face, ${summary.unreadable.length} unreadable${summary.cancelled ? ' (cancelled: what was done is kept)' : ''}`,
  ];
  for (const photo of summary.noFace) lines.push(`no face found: ${photo}`);
  for (const d of summary.duplicates) lines.push(`duplicate: ${d.crop} is already in the project as ${d.existing}`);
  for (const u of summary.unreadable) lines.push(`unreadable: ${u.path}: ${u.reason}`);
  for (const crop of summary.unrecorded) lines.push(`saved, but its source could not be recorded in ${DATA_DIR}/${FACES_FILE}: ${crop}`);
  return lines;
}
