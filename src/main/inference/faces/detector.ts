// Finding faces in photos, offline: the SSD MobileNetV1 detector and 68-point landmarks that ship
// inside @vladmandic/face-api (MIT), on this process's TensorFlow.js (its node-wasm build shares
// our tfjs instance and wasm backend). Photos are decoded once with their EXIF orientation and
// detected on a copy no wider than DETECT_MAX_SIDE (the detector looks at 512×512 anyway); boxes
// and landmarks come back in the original photo's pixels, where the crops are cut.
import path from 'node:path';
import sharp from 'sharp';
import { selectBackend } from '../../engine/backend';
import { nodeRequire, tf, type TF } from '../../engine/tf';
import { explainDecodeError, rasterFromBytes, UndecodableImage } from '../../project/imageDecode';
import type { Box, Point, RgbImage } from './crop';

export const DETECT_MAX_SIDE = 1024;
/** Far more than any crowd photo holds: the detector's own default of 100 would drop faces silently. */
const MAX_FACES = 1000;

export interface DetectedFace {
  box: Box;
  score: number;
  /** 68 points (face-api's order: jaw 0–16, brows, nose, eyes 36–47, mouth). */
  landmarks: Point[];
}

export interface FaceDetectionOptions {
  /** The detector's score threshold, 0–1 exclusive. */
  minConfidence: number;
}

export interface FaceDetector {
  detect(image: RgbImage, options: FaceDetectionOptions): Promise<DetectedFace[]>;
}

type FaceApi = {
  nets: { ssdMobilenetv1: { loadFromDisk(dir: string): Promise<void> }; faceLandmark68Net: { loadFromDisk(dir: string): Promise<void> } };
  SsdMobilenetv1Options: new (options: { minConfidence: number; maxResults: number }) => unknown;
  detectAllFaces(input: TF.Tensor3D, options: unknown): { withFaceLandmarks(): Promise<{ detection: { box: Box; score: number }; landmarks: { positions: Point[] } }[]> };
};

/** The package's model folder (weights and manifests), resolved from its package.json. */
export function faceModelDir(): string {
  return path.join(path.dirname(nodeRequire.resolve('@vladmandic/face-api/package.json')), 'model');
}

let loaded: Promise<FaceDetector> | null = null;

/** The detector, loaded once per process (about a quarter of a second). */
export function loadFaceDetector(): Promise<FaceDetector> {
  loaded ??= (async () => {
    // face-api's node-wasm build runs on whatever backend tfjs has: make it the wasm one.
    if (tf.getBackend() !== 'wasm') await selectBackend('wasm');
    const faceapi = nodeRequire('@vladmandic/face-api/dist/face-api.node-wasm.js') as FaceApi;
    await faceapi.nets.ssdMobilenetv1.loadFromDisk(faceModelDir());
    await faceapi.nets.faceLandmark68Net.loadFromDisk(faceModelDir());
    const detector: FaceDetector = {
      async detect(image, options) {
        const scale = Math.min(1, DETECT_MAX_SIDE / Math.max(image.width, image.height));
        const small = scale < 1 ? await downscale(image, scale) : image;
        const input = tf.tensor3d(small.data, [small.height, small.width, 3], 'int32');
        try {
          const found = await faceapi.detectAllFaces(input, new faceapi.SsdMobilenetv1Options({ minConfidence: options.minConfidence, maxResults: MAX_FACES })).withFaceLandmarks();
          const back = (p: Point) => ({ x: p.x * (image.width / small.width), y: p.y * (image.height / small.height) });
          return found.map((f) => {
            const { x, y, width, height } = f.detection.box;
            const corner = back({ x, y });
            const far = back({ x: x + width, y: y + height });
            return { box: { x: corner.x, y: corner.y, width: far.x - corner.x, height: far.y - corner.y }, score: f.detection.score, landmarks: f.landmarks.positions.map(back) };
          });
        } finally {
          input.dispose();
        }
      },
    };
    return detector;
  })().catch((error: unknown) => {
    loaded = null;
    throw error;
  });
  return loaded;
}

async function downscale(image: RgbImage, scale: number): Promise<RgbImage> {
  const width = Math.max(1, Math.round(image.width * scale));
  const height = Math.max(1, Math.round(image.height * scale));
  const data = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } }).resize(width, height, { fit: 'fill', kernel: 'linear' }).raw().toBuffer();
  return { data, width, height };
}

/**
 * A photo as 8-bit sRGB, upright by its EXIF orientation, alpha flattened onto black (as the
 * model's own decode does); grayscale, CMYK and 16-bit all end up here. Throws UndecodableImage
 * with a short reason for what is no photo.
 */
export async function decodePhoto(bytes: Uint8Array): Promise<RgbImage> {
  try {
    const { data, info } = await rasterFromBytes(bytes).rotate().flatten({ background: '#000000' }).toColourspace('srgb').removeAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`unexpected ${info.channels} channels`);
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
  } catch (error) {
    if (error instanceof UndecodableImage) throw error;
    throw new UndecodableImage(await explainDecodeError(bytes, error));
  }
}
