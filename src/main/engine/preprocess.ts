// Turning an image file into the backbone's input: decode with sharp (EXIF rotation applied,
// alpha flattened, CMYK/16-bit/grayscale to 8-bit sRGB), resize by policy, scale to floats.
// The same settings are stored with every run and export so predictions match training.
import { explainDecodeError, openRaster, UndecodableImage } from '../project/imageDecode';

export interface Preprocessing {
  inputSize: number;
  /** nsfwjs' MobileNetV2 wants [0,1]; Keras applications' mobilenet preprocess_input gives [-1,1]. */
  scale: '0,1' | '-1,1';
  /** stretch: squash to a square; center-crop: fill then crop; pad: fit inside on black. */
  resize: 'stretch' | 'center-crop' | 'pad';
}

export const DEFAULT_PREPROCESSING: Omit<Preprocessing, 'inputSize'> = { scale: '0,1', resize: 'stretch' };

/** RGB pixels, row-major, inputSize² × 3 bytes; an UndecodableImage with a short reason if the file is no image. */
export async function decodeForModel(file: string, prep: Preprocessing): Promise<Uint8Array> {
  const fit = prep.resize === 'stretch' ? 'fill' : prep.resize === 'center-crop' ? 'cover' : 'contain';
  let decoded;
  try {
    decoded = await decodeRgb(file, prep.inputSize, fit);
  } catch (error) {
    throw new UndecodableImage(await explainDecodeError(file, error));
  }
  const { data, info } = decoded;
  if (info.channels !== 3 || data.length !== prep.inputSize * prep.inputSize * 3) {
    throw new Error(`unexpected decoded shape ${info.width}×${info.height}×${info.channels}`);
  }
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

async function decodeRgb(file: string, size: number, fit: 'fill' | 'cover' | 'contain') {
  const { image } = await openRaster(file);
  return image
    .rotate()
    .flatten({ background: '#000000' })
    .toColourspace('srgb')
    .resize(size, size, { fit, position: 'centre', background: '#000000' })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
}

/** Bytes → floats in the backbone's range, written into `out` at `offset`. */
export function scalePixels(pixels: Uint8Array, prep: Preprocessing, out: Float32Array, offset: number): void {
  if (prep.scale === '0,1') for (let i = 0; i < pixels.length; i++) out[offset + i] = (pixels[i] as number) / 255;
  else for (let i = 0; i < pixels.length; i++) out[offset + i] = (pixels[i] as number) / 127.5 - 1;
}
