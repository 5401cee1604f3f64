// Predicting per face: each photo's faces are found, cut out exactly as the import cuts them (the
// same square, margin and JPEG), and the classifier judges each crop. `annotatePhoto` draws the
// boxes, coloured by predicted class, onto a copy of the photo.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { decideLabel, type FacePredictionLine } from '../../../shared/predictions';
import type { Predictor } from '../predictor';
import { decodePhoto, type FaceDetector } from './detector';
import { facesOfPhoto, type PhotoFaces } from './importFaces';

export const NO_FACE = 'no face found';

export interface FacePredictOptions {
  minConfidence: number;
  /** The margin the training crops were cut with (the import's default is 0.25). */
  margin: number;
  /** Whether the training crops were turned to level the eyes. */
  align: boolean;
}

/** One line per face found (reading order), or one line with the reason for a photo without. */
export async function predictFaces(predictor: Predictor, detector: FaceDetector, files: string[], options: FacePredictOptions): Promise<FacePredictionLine[]> {
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'labelloop-faces-'));
  const lines: FacePredictionLine[] = [];
  const failed = (file: string, error: string): FacePredictionLine => ({ file, face: null, box: null, score: null, predicted: null, probabilities: null, error });
  try {
    for (const file of files) {
      let photo: PhotoFaces;
      try {
        // Cut as the import cuts (every face, however small), so the model sees what it was trained on.
        photo = await facesOfPhoto(detector, await readFile(file), { ...options, minSize: 1, preview: false });
      } catch (error) {
        lines.push(failed(file, error instanceof Error ? error.message : String(error)));
        continue;
      }
      if (photo.faces.length === 0) {
        lines.push(failed(file, NO_FACE));
        continue;
      }
      const crops = await Promise.all(
        photo.faces.map(async (face) => {
          const crop = path.join(scratch, `${lines.length}-${face.face}.jpg`);
          await writeFile(crop, face.jpeg);
          return crop;
        }),
      );
      const outcomes = await predictor.predict(crops);
      photo.faces.forEach((face, k) => {
        const outcome = outcomes[k];
        const probabilities = outcome?.probabilities ?? null;
        lines.push({
          file,
          face: face.face,
          box: face.box,
          score: face.score,
          probabilities,
          predicted: probabilities && decideLabel(probabilities, predictor.classes, predictor.preprocessing.threshold),
          error: outcome?.error ?? null,
        });
      });
      await Promise.all(crops.map((crop) => rm(crop, { force: true })));
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  return lines;
}

/** A colour per class, distinct for the first ten, the same in every photo. */
export function classColour(classes: string[], name: string): string {
  const palette = ['#e6194b', '#3cb44b', '#4363d8', '#f58231', '#911eb4', '#46f0f0', '#f032e6', '#bcf60c', '#fabebe', '#008080'];
  return palette[Math.max(0, classes.indexOf(name)) % palette.length] as string;
}

/** `<photo name>.jpg`, then `<photo name> (2).jpg` where photos of two folders share a name; the name is added to `taken`. */
export function annotationName(file: string, taken: Set<string>): string {
  const base = path.parse(file).name;
  for (let n = 1; ; n++) {
    const name = `${base}${n === 1 ? '' : ` (${n})`}.jpg`;
    if (!taken.has(name)) {
      taken.add(name);
      return name;
    }
  }
}

const escapeXml = (text: string) => text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * A copy of the photo (upright, as detected) with a box per face and its predicted class and
 * probability, written as JPEG to `out`. Lines without a face draw nothing.
 */
export async function annotatePhoto(file: string, lines: FacePredictionLine[], classes: string[], out: string): Promise<void> {
  const image = await decodePhoto(await readFile(file));
  const stroke = Math.max(2, Math.round(Math.max(image.width, image.height) / 300));
  const fontSize = Math.max(12, stroke * 7);
  const shapes = lines.flatMap((line) => {
    if (!line.box || !line.predicted) return [];
    const colour = classColour(classes, line.predicted);
    const p = line.probabilities?.[classes.indexOf(line.predicted)] ?? 0;
    const { x, y, width, height } = line.box;
    const label = escapeXml(`${line.predicted} ${(p * 100).toFixed(0)}%`);
    const textY = y - stroke > fontSize ? y - stroke : y + height + fontSize;
    return [
      `<rect x="${x}" y="${y}" width="${width}" height="${height}" fill="none" stroke="${colour}" stroke-width="${stroke}"/>`,
      `<text x="${x}" y="${textY}" font-family="sans-serif" font-size="${fontSize}" font-weight="bold" fill="${colour}" stroke="black" stroke-width="${Math.max(1, stroke / 3)}" paint-order="stroke">${label}</text>`,
    ];
  });
  const svg = Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${image.width}" height="${image.height}">${shapes.join('')}</svg>`);
  await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } }).composite([{ input: svg, top: 0, left: 0 }]).jpeg({ quality: 90 }).toFile(out);
}
