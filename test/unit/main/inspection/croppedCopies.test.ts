// Cropped copies: the forest's neighbours against comparing every pair, and the registration of a
// crop against the rectangle it was cut from.
import { describe, expect, it } from 'vitest';
import { coarseThumb, GRAY_SIDE, matchCrop, nearestPairs, registerCrop, sampleRegion, type Box, type CropFeatures } from '../../../../src/main/inspection/croppedCopies';
import { perceptualHash } from '../../../../src/main/inspection/perceptualHash';
import { seededRandom } from '../../../../src/main/project/demo';

function unitVector(values: number[]): Float32Array {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const centred = values.map((v) => v - mean);
  const length = Math.hypot(...centred) || 1;
  return Float32Array.from(centred, (v) => v / length);
}

/** A smooth random picture at `side` × `side`: a few blobs of random brightness. */
function smoothPicture(seed: number, side: number): Float32Array {
  const random = seededRandom(seed);
  const blobs = Array.from({ length: 12 }, () => ({ x: random(), y: random(), r: 0.05 + random() * 0.25, v: random() * 255 - 128 }));
  return Float32Array.from({ length: side * side }, (_, i) => {
    const [x, y] = [(i % side) / side, Math.floor(i / side) / side];
    return Math.min(255, Math.max(0, 128 + blobs.reduce((sum, b) => sum + b.v * Math.exp(-((x - b.x) ** 2 + (y - b.y) ** 2) / (b.r * b.r)), 0)));
  });
}

/** The picture's region `box` as the 32×32 luma, 16×16 thumbnail, hash and 8×8 colour the check measures. */
function features(picture: Float32Array, side: number, box: Box, tint = [1, 1, 1]): CropFeatures {
  const region = Uint8Array.from(picture, (v) => Math.round(v));
  const gray = Uint8Array.from(sampleRegion(region, box, GRAY_SIDE, side), (v) => Math.round(v));
  const thumb = unitVector([...sampleRegion(gray, { x0: 0, x1: 1, y0: 0, y1: 1 }, 16)]);
  const small = sampleRegion(gray, { x0: 0, x1: 1, y0: 0, y1: 1 }, 8);
  const colour = Uint8Array.from({ length: 8 * 8 * 3 }, (_, i) => Math.min(255, Math.round((small[Math.floor(i / 3)] as number) * (tint[i % 3] as number))));
  return { gray, thumb, hash: perceptualHash(gray), colour };
}

const WHOLE: Box = { x0: 0, x1: 1, y0: 0, y1: 1 };

describe('cropped copies', () => {
  it("the forest finds the nearest neighbour that comparing all pairs finds, for every vector that has a close one", () => {
    const random = seededRandom(4);
    // 60 clusters of 10 noisy copies of a centre in 64 dimensions, tight ones (members correlate
    // about 0.98) and loose ones (about 0.6–0.9), plus 400 loners, all shuffled.
    const centres = Array.from({ length: 60 }, () => Array.from({ length: 64 }, () => random() - 0.5));
    const vectors = [
      ...centres.flatMap((c, k) => Array.from({ length: 10 }, () => unitVector(c.map((v) => v + (random() - 0.5) * (k % 2 ? 0.15 : 0.5))))),
      ...Array.from({ length: 400 }, () => unitVector(Array.from({ length: 64 }, () => random() - 0.5))),
    ];
    for (let i = vectors.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [vectors[i], vectors[j]] = [vectors[j] as Float32Array, vectors[i] as Float32Array];
    }
    const dot = (a: Float32Array, b: Float32Array) => a.reduce((sum, v, i) => sum + v * (b[i] as number), 0);
    const found = new Set(nearestPairs(vectors, 8, -1).map((p) => `${p.a}|${p.b}`));
    // Vectors whose nearest neighbour correlates at least 0.8 (the only pairs the check registers): the clusters' members.
    let close = 0;
    let hits = 0;
    vectors.forEach((v, i) => {
      let best = -1;
      vectors.forEach((w, j) => {
        if (j !== i && (best < 0 || dot(v, w) > dot(v, vectors[best] as Float32Array))) best = j;
      });
      if (dot(v, vectors[best] as Float32Array) < 0.8) return;
      close++;
      if (found.has(i < best ? `${i}|${best}` : `${best}|${i}`)) hits++;
    });
    expect(close).toBeGreaterThan(550);
    expect(hits / close).toBeGreaterThan(0.99);
    // Deterministic, each pair once with i < j, and identical vectors end (they cannot be split).
    const again = nearestPairs(vectors, 8, -1);
    expect(again.map((p) => `${p.a}|${p.b}`)).toEqual([...found]);
    expect(again.every((p) => p.a < p.b)).toBe(true);
    const same = Array.from({ length: 200 }, () => vectors[0] as Float32Array);
    expect(nearestPairs(same, 3).length).toBeGreaterThan(0);
    expect(nearestPairs([])).toEqual([]);
    expect(nearestPairs([vectors[0] as Float32Array])).toEqual([]);
    expect(nearestPairs([vectors[0] as Float32Array, vectors[0] as Float32Array])).toEqual([{ a: 0, b: 1, correlation: expect.closeTo(1, 5) }]);
  });

  it('finds the rectangle a crop was cut from, and tells an unrelated picture apart', () => {
    const side = 256;
    const picture = smoothPicture(1, side);
    const original = features(picture, side, WHOLE);
    for (const box of [
      { x0: 0.04, x1: 0.96, y0: 0.04, y1: 0.96 },
      { x0: 0.08, x1: 1, y0: 0, y1: 1 },
      { x0: 0, x1: 0.9, y0: 0.05, y1: 1 },
    ]) {
      const crop = features(picture, side, box);
      const found = registerCrop(original.gray, crop.gray, crop.thumb);
      expect(found.correlation).toBeGreaterThan(0.97);
      for (const edge of ['x0', 'x1', 'y0', 'y1'] as const) expect(Math.abs(found.box[edge] - box[edge])).toBeLessThanOrEqual(0.025);
      // Either may be given first: the crop is found inside the whole.
      const match = matchCrop(crop, original, 0.97);
      expect(match?.hashBits).toBeLessThanOrEqual(4);
      expect(match?.colourDifference).toBeLessThan(5);
    }
    const other = features(smoothPicture(2, side), side, WHOLE);
    expect(matchCrop(original, other, 0.97)).toBeNull();
    expect(registerCrop(original.gray, other.gray, other.thumb).correlation).toBeLessThan(0.9);
    // The same luma in other colours (a folder icon in two colours) is registered, but its colours differ.
    const recoloured = features(picture, side, { x0: 0.04, x1: 0.96, y0: 0.04, y1: 0.96 }, [0.5, 1, 1.4]);
    expect(matchCrop(recoloured, original, 0.97)?.colourDifference).toBeGreaterThan(15);
  });

  it("an image's 8×8 thumbnail is its 32×32 luma's block means, zero mean and unit length", () => {
    const gray = Uint8Array.from({ length: GRAY_SIDE * GRAY_SIDE }, (_, i) => (i % GRAY_SIDE < 16 ? 0 : 200));
    const thumb = coarseThumb(gray);
    expect(thumb).toHaveLength(64);
    expect(thumb.reduce((a, b) => a + b, 0)).toBeCloseTo(0, 6);
    expect(Math.hypot(...thumb)).toBeCloseTo(1, 6);
    expect(thumb[0]).toBeLessThan(0);
    expect(thumb[7]).toBeGreaterThan(0);
  });
});
