// Where a face is cut from its photo: the square and margin against hand-computed numbers, the
// black outside a photo's border, the eye tilt from landmarks and the turn that levels it.
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { cropFace, cropSquare, cutByBorder, eyeTiltDegrees, MAX_CROP_SIDE, type RgbImage } from '../../../../src/main/inference/faces/crop';

/** A w×h RGB image, each pixel coloured by `colour(x, y)`. */
function image(width: number, height: number, colour: (x: number, y: number) => [number, number, number]): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set(colour(x, y), (y * width + x) * 3);
  return { data, width, height };
}

async function pixels(jpeg: Buffer) {
  const { data, info } = await sharp(jpeg).raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, at: (x: number, y: number) => Array.from(data.subarray((y * info.width + x) * 3, (y * info.width + x) * 3 + 3)) };
}

const RED: [number, number, number] = [255, 0, 0];
const BLUE: [number, number, number] = [0, 0, 255];
const WHITE: [number, number, number] = [255, 255, 255];
const near = (actual: number[], expected: number[]) => actual.every((v, i) => Math.abs(v - (expected[i] as number)) <= 40);

describe('face crops', () => {
  it('takes a square about the box: its longer side plus the margin on every side, the same centre', () => {
    // Longer side 60 × (1 + 2 × 0.25) = 90, centred on (120, 80).
    expect(cropSquare({ x: 100, y: 50, width: 40, height: 60 }, 0.25)).toEqual({ left: 75, top: 35, side: 90 });
    expect(cropSquare({ x: 10, y: 10, width: 20, height: 20 }, 0)).toEqual({ left: 10, top: 10, side: 20 });
    expect(cutByBorder({ left: 75, top: 35, side: 90 }, 200, 200)).toBe(false);
    expect(cutByBorder({ left: 75, top: 35, side: 90 }, 160, 200)).toBe(true);
    expect(cutByBorder({ left: -1, top: 0, side: 10 }, 100, 100)).toBe(true);
  });

  it('cuts the square\'s pixels, and fills with black where a face is cut by the photo\'s border', async () => {
    const photo = image(100, 100, (x, y) => (x >= 40 && x < 60 && y >= 40 && y < 60 ? RED : WHITE));
    const inside = await pixels(await cropFace(photo, cropSquare({ x: 40, y: 40, width: 20, height: 20 }, 0.5), null));
    // side 40 from (30, 30): the red box fills its middle 20 pixels, white around.
    expect(inside.width).toBe(40);
    expect(near(inside.at(20, 20), RED)).toBe(true);
    expect(near(inside.at(3, 3), WHITE)).toBe(true);
    const corner = image(100, 100, (x, y) => (x < 20 && y < 20 ? RED : WHITE));
    const cut = await pixels(await cropFace(corner, cropSquare({ x: 0, y: 0, width: 20, height: 20 }, 0.5), null));
    // From (-10, -10): the first ten rows and columns lie outside the photo.
    expect(near(cut.at(3, 3), [0, 0, 0])).toBe(true);
    expect(near(cut.at(20, 20), RED)).toBe(true);
    expect(near(cut.at(35, 35), WHITE)).toBe(true);
  });

  it('measures the eye line\'s tilt from the 68 landmarks, clockwise positive', () => {
    const landmarks = Array.from({ length: 68 }, () => ({ x: 0, y: 0 }));
    const tilted = landmarks.map((p, i) => (i >= 36 && i < 42 ? { x: 10, y: 10 } : i >= 42 && i < 48 ? { x: 20, y: 20 } : p));
    expect(eyeTiltDegrees(tilted)).toBeCloseTo(45, 10);
    const level = landmarks.map((p, i) => (i >= 36 && i < 42 ? { x: 10, y: 30 } : i >= 42 && i < 48 ? { x: 50, y: 30 } : p));
    expect(eyeTiltDegrees(level)).toBe(0);
    expect(() => eyeTiltDegrees(landmarks.slice(0, 5))).toThrow(/68 face landmarks/);
  });

  it('turns an aligned crop back by the tilt about its centre: a 90° clockwise tilt puts the top on the left', async () => {
    const photo = image(200, 200, (_, y) => (y < 100 ? RED : BLUE));
    const turned = await pixels(await cropFace(photo, { left: 50, top: 50, side: 100 }, 90));
    expect(turned.width).toBe(100);
    expect(near(turned.at(10, 50), RED)).toBe(true);
    expect(near(turned.at(90, 50), BLUE)).toBe(true);
    const straight = await pixels(await cropFace(photo, { left: 50, top: 50, side: 100 }, null));
    expect(near(straight.at(50, 10), RED)).toBe(true);
    expect(near(straight.at(50, 90), BLUE)).toBe(true);
  });

  it('scales a large face down to the crop size limit', async () => {
    const photo = image(1200, 1000, () => WHITE);
    expect((await pixels(await cropFace(photo, { left: 100, top: 100, side: 800 }, null))).width).toBe(MAX_CROP_SIDE);
  });
});
