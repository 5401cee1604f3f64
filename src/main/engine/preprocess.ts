// Turning an image file into the backbone's input: decode with sharp (EXIF rotation applied,
// alpha flattened, CMYK/16-bit/grayscale to 8-bit sRGB), resize by policy, scale to floats.
// The same settings are stored with every run and export so predictions match training.
import { readFile } from 'node:fs/promises';
import { explainDecodeError, rasterFromBytes, UndecodableImage } from '../project/imageDecode';

export interface Preprocessing {
  inputSize: number;
  /**
   * nsfwjs' MobileNetV2 wants [0,1], its InceptionV3 [-1,1]: a bundled backbone sets its own; for a
   * Keras model.json it is the user's (Keras applications' preprocess_input gives [-1,1]).
   */
  scale: '0,1' | '-1,1';
  /** stretch: squash to a square; center-crop: fill then crop; pad: fit inside on black. */
  resize: 'stretch' | 'center-crop' | 'pad';
  /**
   * The resampling filter. Bilinear, as Keras and torchvision resize, since it also decodes about a
   * tenth faster than Lanczos; runs saved before this field existed resized with Lanczos 3.
   */
  interpolation: 'bilinear' | 'lanczos3';
}

export const DEFAULT_PREPROCESSING: Omit<Preprocessing, 'inputSize'> = { scale: '0,1', resize: 'stretch', interpolation: 'bilinear' };

/** A run's or export's saved preprocessing, read as it was trained (those saved before `interpolation` used Lanczos 3). */
export function savedPreprocessing<T extends Omit<Preprocessing, 'interpolation'> & { interpolation?: Preprocessing['interpolation'] }>(saved: T): T & Preprocessing {
  return { ...saved, interpolation: saved.interpolation ?? 'lanczos3' };
}

/** RGB pixels, row-major, inputSize² × 3 bytes; an UndecodableImage with a short reason if the file is no image. */
export async function decodeForModel(file: string, prep: Preprocessing): Promise<Uint8Array> {
  const fit = prep.resize === 'stretch' ? 'fill' : prep.resize === 'center-crop' ? 'cover' : 'contain';
  let decoded;
  try {
    decoded = await decodeRgb(file, prep, fit);
  } catch (error) {
    throw new UndecodableImage(await explainDecodeError(file, error));
  }
  const { data, info } = decoded;
  if (info.channels !== 3 || data.length !== prep.inputSize * prep.inputSize * 3) {
    throw new Error(`unexpected decoded shape ${info.width}×${info.height}×${info.channels}`);
  }
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

async function decodeRgb(file: string, prep: Preprocessing, fit: 'fill' | 'cover' | 'contain') {
  // Read once: sharp reading the path itself cost a second open, and its header pass a fifth of the time.
  return rasterFromBytes(await readFile(file))
    .rotate()
    .flatten({ background: '#000000' })
    .toColourspace('srgb')
    .resize(prep.inputSize, prep.inputSize, { fit, position: 'centre', background: '#000000', kernel: sharpKernel(prep) })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
}

/** sharp's name for the run's resampling filter. */
export function sharpKernel(prep: Pick<Preprocessing, 'interpolation'>): 'linear' | 'lanczos3' {
  return prep.interpolation === 'bilinear' ? 'linear' : 'lanczos3';
}

/** Bytes → floats in the backbone's range, written into `out` at `offset`. */
export function scalePixels(pixels: Uint8Array, prep: Preprocessing, out: Float32Array, offset: number): void {
  if (prep.scale === '0,1') for (let i = 0; i < pixels.length; i++) out[offset + i] = (pixels[i] as number) / 255;
  else for (let i = 0; i < pixels.length; i++) out[offset + i] = (pixels[i] as number) / 127.5 - 1;
}
