// Where a detected face is cut from its photo: a square centred on the detector's box, widened by
// a margin on every side, optionally turned so the eyes lie level. The same geometry serves the
// import (crops saved into the project) and per-face prediction, so a classifier sees at
// prediction time what it was trained on.
import sharp from 'sharp';

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface Point {
  x: number;
  y: number;
}

/** A square in the photo's pixels; it may reach past the photo's edges (a face cut by the border). */
export interface Square {
  left: number;
  top: number;
  side: number;
}

/** A photo decoded once (EXIF orientation applied) as 8-bit RGB. */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

/** Crops are saved at most this many pixels wide: larger faces are scaled down. */
export const MAX_CROP_SIDE = 512;

/** The square around a box: side = the box's longer side × (1 + 2 × margin), same centre, whole pixels. */
export function cropSquare(box: Box, margin: number): Square {
  const side = Math.max(1, Math.round(Math.max(box.width, box.height) * (1 + 2 * margin)));
  const centreX = box.x + box.width / 2;
  const centreY = box.y + box.height / 2;
  return { left: Math.round(centreX - side / 2), top: Math.round(centreY - side / 2), side };
}

/** Whether the square reaches past the photo: its outside is filled with black. */
export function cutByBorder(square: Square, width: number, height: number): boolean {
  return square.left < 0 || square.top < 0 || square.left + square.side > width || square.top + square.side > height;
}

const mean = (points: Point[]): Point => ({ x: points.reduce((s, p) => s + p.x, 0) / points.length, y: points.reduce((s, p) => s + p.y, 0) / points.length });

/**
 * The tilt of the line through the eye centres, in degrees, clockwise positive (image y points
 * down), from the 68-point landmarks: 36–41 is the eye on the photo's left, 42–47 the other.
 */
export function eyeTiltDegrees(landmarks: Point[]): number {
  if (landmarks.length < 48) throw new Error(`Expected 68 face landmarks, got ${landmarks.length}`);
  const left = mean(landmarks.slice(36, 42));
  const right = mean(landmarks.slice(42, 48));
  return (Math.atan2(right.y - left.y, right.x - left.x) * 180) / Math.PI;
}

/** The pixels of a square of the photo, black where it lies outside: raw RGB, side × side. */
async function squarePixels(image: RgbImage, square: Square): Promise<Buffer> {
  const left = Math.max(0, square.left);
  const top = Math.max(0, square.top);
  const right = Math.min(image.width, square.left + square.side);
  const bottom = Math.min(image.height, square.top + square.side);
  if (right <= left || bottom <= top) return Buffer.alloc(square.side * square.side * 3);
  return sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .extract({ left, top, width: right - left, height: bottom - top })
    .extend({ left: left - square.left, top: top - square.top, right: square.left + square.side - right, bottom: square.top + square.side - bottom, background: { r: 0, g: 0, b: 0 } })
    .raw()
    .toBuffer();
}

/**
 * A face crop as a JPEG: the square's pixels, turned by `tiltDegrees` the other way about its
 * centre when aligning (so the eyes lie level), at most MAX_CROP_SIDE pixels wide.
 */
export async function cropFace(image: RgbImage, square: Square, tiltDegrees: number | null): Promise<Buffer> {
  let pixels: Buffer;
  if (tiltDegrees === null || Math.abs(tiltDegrees) < 0.01) {
    pixels = await squarePixels(image, square);
  } else {
    // Turn a square large enough that the turned crop has no empty corners, then cut its centre.
    const wide = Math.ceil(square.side * Math.SQRT2) + 2;
    const around = { left: square.left - Math.floor((wide - square.side) / 2), top: square.top - Math.floor((wide - square.side) / 2), side: wide };
    const turned = await sharp(await squarePixels(image, around), { raw: { width: wide, height: wide, channels: 3 } })
      .rotate(-tiltDegrees, { background: { r: 0, g: 0, b: 0 } })
      .raw()
      .toBuffer({ resolveWithObject: true });
    const offset = Math.floor((turned.info.width - square.side) / 2);
    pixels = await sharp(turned.data, { raw: { width: turned.info.width, height: turned.info.height, channels: 3 } })
      .extract({ left: offset, top: Math.floor((turned.info.height - square.side) / 2), width: square.side, height: square.side })
      .raw()
      .toBuffer();
  }
  const out = sharp(pixels, { raw: { width: square.side, height: square.side, channels: 3 } });
  if (square.side > MAX_CROP_SIDE) out.resize(MAX_CROP_SIDE, MAX_CROP_SIDE, { kernel: 'linear' });
  return out.jpeg({ quality: 92 }).toBuffer();
}
