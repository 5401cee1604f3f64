// Near-duplicates that are crops of each other. A perceptual hash of the whole picture moves by up
// to 16–28 of its 64 bits when 4% is cut off every side (up to 26–30 for 8%; measured on generated
// faces and five real sets while this was built), as far as unrelated images of one kind, and the
// backbone's features do not even rank a copy's original first (README, "Why not the backbone's
// features"). So each image's nearest neighbours by its small thumbnail are found (a random-
// projection forest, so 50,000 images never make 50,000² comparisons), and each such pair is
// registered: the sub-rectangle of one that best matches the other's whole picture is found from
// the row and column profiles, then refined, and the pair counts as copies when the aligned
// pictures correlate, their perceptual hashes agree and their colours match.
import { seededRandom } from '../project/demo';
import { hashDistance, perceptualHash } from './perceptualHash';

/** The luma every measure here starts from: 32×32, the picture stretched to a square. */
export const GRAY_SIDE = 32;
/** The colours compared once two pictures are aligned: 8×8. */
export const COLOUR_SIDE = 8;
/** The thumbnails neighbours are looked for by: 8×8, zero mean, unit length. */
const COARSE_SIDE = 8;
/** Neighbours kept per image. */
const NEIGHBOURS = 16;
/** Trees of the forest: a pair that one tree splits apart is usually kept together by another. */
const TREES = 8;
/** Largest leaf: its images are all compared with each other. */
const LEAF = 48;
/** Neighbours whose 8×8 thumbnails correlate less than this are not registered (0.6 and 16 neighbours found a few more crops on the benchmark's real sets than 0.8 and 8). */
const NEIGHBOUR_CORRELATION = 0.6;
/** How much of each side a crop may have lost: 0, 2.5, … 15%. */
const CUTS = [0, 0.025, 0.05, 0.075, 0.1, 0.125, 0.15];
const REFINE_STEP = 0.0125;
/** A heuristic: refining is not expected to add more than this to the correlation at the profiles' rectangle. */
const REFINE_GAIN = 0.05;

export interface CropMatch {
  /** Correlation of the aligned 16×16 thumbnails, −1..1. */
  correlation: number;
  /** Bits apart, of 64, of the aligned pictures' perceptual hashes. */
  hashBits: number;
  /** Mean absolute difference of the aligned pictures' 8×8 colours, 0..255. */
  colourDifference: number;
}

/** The picture's 8×8 thumbnail from its 32×32 luma, zero mean and unit length. */
export function coarseThumb(gray: Uint8Array): Float32Array {
  const block = GRAY_SIDE / COARSE_SIDE;
  const out = new Float32Array(COARSE_SIDE * COARSE_SIDE);
  for (let y = 0; y < GRAY_SIDE; y++) for (let x = 0; x < GRAY_SIDE; x++) out[Math.floor(y / block) * COARSE_SIDE + Math.floor(x / block)] += gray[y * GRAY_SIDE + x] as number;
  return centredUnit(out);
}

/** `values`, in place, less their mean and over their length: zero mean, unit length (all zeros if they are all equal). */
export function centredUnit(values: Float32Array): Float32Array {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  for (let i = 0; i < values.length; i++) values[i] = (values[i] as number) - mean;
  const length = Math.hypot(...values) || 1;
  for (let i = 0; i < values.length; i++) values[i] = (values[i] as number) / length;
  return values;
}

/** Σ a·b: the correlation of two vectors of zero mean and unit length. */
export function dot(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i] as number) * (b[i] as number);
  return sum;
}

/**
 * Each vector's nearest others by correlation (the vectors are unit length), approximately: every
 * tree of a random-projection forest splits the vectors by the hyperplane halfway between two of
 * them, again and again, down to leaves of at most LEAF, and only vectors sharing a leaf are
 * compared. Pairs as [i, j] with i < j, once, each with its correlation. Deterministic.
 */
export function nearestPairs(vectors: Float32Array[], neighbours = NEIGHBOURS, minCorrelation = NEIGHBOUR_CORRELATION): { a: number; b: number; correlation: number }[] {
  const n = vectors.length;
  // Each vector's best so far, as parallel lists sorted by correlation, highest first.
  const bestIndex = Array.from({ length: n }, () => [] as number[]);
  const bestValue = Array.from({ length: n }, () => [] as number[]);
  const offer = (i: number, j: number, value: number) => {
    const indices = bestIndex[i] as number[];
    const values = bestValue[i] as number[];
    if (indices.includes(j) || (values.length === neighbours && value <= (values[neighbours - 1] as number))) return;
    let at = values.length;
    while (at > 0 && (values[at - 1] as number) < value) at--;
    indices.splice(at, 0, j);
    values.splice(at, 0, value);
    if (indices.length > neighbours) {
      indices.pop();
      values.pop();
    }
  };
  const random = seededRandom(11);
  const dim = vectors[0]?.length ?? 0;
  for (let tree = 0; tree < TREES; tree++) {
    const stack: number[][] = [Array.from({ length: n }, (_, i) => i)];
    while (stack.length > 0) {
      const members = stack.pop() as number[];
      if (members.length <= LEAF) {
        for (let x = 0; x < members.length; x++) {
          for (let y = x + 1; y < members.length; y++) {
            const [i, j] = [members[x] as number, members[y] as number];
            const value = dot(vectors[i] as Float32Array, vectors[j] as Float32Array);
            offer(i, j, value);
            offer(j, i, value);
          }
        }
        continue;
      }
      const first = Math.floor(random() * members.length);
      // Two different members (the second drawn from the others).
      const second = (first + 1 + Math.floor(random() * (members.length - 1))) % members.length;
      const p = vectors[members[first] as number] as Float32Array;
      const q = vectors[members[second] as number] as Float32Array;
      const normal = new Float32Array(dim);
      let offset = 0;
      for (let d = 0; d < dim; d++) {
        normal[d] = (p[d] as number) - (q[d] as number);
        offset += (normal[d] as number) * (((p[d] as number) + (q[d] as number)) / 2);
      }
      const left: number[] = [];
      const right: number[] = [];
      for (const i of members) (dot(vectors[i] as Float32Array, normal) - offset < 0 ? left : right).push(i);
      // Identical vectors do not split: halve the list instead.
      if (left.length === 0 || right.length === 0) stack.push(members.slice(0, members.length >> 1), members.slice(members.length >> 1));
      else stack.push(left, right);
    }
  }
  const pairs = new Map<number, { a: number; b: number; correlation: number }>();
  bestIndex.forEach((indices, i) =>
    indices.forEach((j, k) => {
      const value = (bestValue[i] as number[])[k] as number;
      if (value < minCorrelation) return;
      const [a, b] = i < j ? [i, j] : [j, i];
      pairs.set(a * n + b, { a, b, correlation: value });
    }),
  );
  return [...pairs.values()];
}

/** The region [x0, x1] × [y0, y1] (fractions of the side) of a square single-channel picture, sampled bilinearly at `side` × `side`. */
export function sampleRegion(pixels: Uint8Array, box: Box, side: number, from = GRAY_SIDE): Float32Array {
  const out = new Float32Array(side * side);
  const at = (lo: number, hi: number, k: number) => Math.min(from - 1, Math.max(0, (lo + ((k + 0.5) / side) * (hi - lo)) * from - 0.5));
  for (let y = 0; y < side; y++) {
    const sy = at(box.y0, box.y1, y);
    const y0 = Math.min(Math.floor(sy), from - 2);
    const fy = sy - y0;
    for (let x = 0; x < side; x++) {
      const sx = at(box.x0, box.x1, x);
      const x0 = Math.min(Math.floor(sx), from - 2);
      const fx = sx - x0;
      const row = y0 * from + x0;
      const top = (pixels[row] as number) * (1 - fx) + (pixels[row + 1] as number) * fx;
      const bottom = (pixels[row + from] as number) * (1 - fx) + (pixels[row + from + 1] as number) * fx;
      out[y * side + x] = top * (1 - fy) + bottom * fy;
    }
  }
  return out;
}

export interface Box {
  x0: number;
  x1: number;
  y0: number;
  y1: number;
}

/** The mean of each column (axis 'x') or row (axis 'y') of a 32×32 luma; kept per picture, as each is registered against several. */
const profiles = new WeakMap<Uint8Array, { x: Float64Array; y: Float64Array }>();
function profile(gray: Uint8Array, axis: 'x' | 'y'): Float64Array {
  let both = profiles.get(gray);
  if (!both) {
    both = { x: new Float64Array(GRAY_SIDE), y: new Float64Array(GRAY_SIDE) };
    for (let y = 0; y < GRAY_SIDE; y++) {
      for (let x = 0; x < GRAY_SIDE; x++) {
        const v = (gray[y * GRAY_SIDE + x] as number) / GRAY_SIDE;
        both.x[x] += v;
        both.y[y] += v;
      }
    }
    profiles.set(gray, both);
  }
  return both[axis];
}

/**
 * Correlation of `values` with `target` (zero mean, unit length): Σ v·t over the spread of v, so
 * v need not be centred or normalised first (Σ t = 0). This is the inner loop of registration.
 */
function correlationWith(sum: number, sumSquares: number, dotTarget: number, count: number): number {
  const spread = Math.sqrt(Math.max(sumSquares - (sum * sum) / count, 0));
  return spread > 1e-9 ? dotTarget / spread : 0;
}

/** Every pair of cuts (low, high) of CUTS, and where each of its 16 stretched samples falls in a 32-value profile (index and weight of the next value). */
const CUT_PAIRS = CUTS.flatMap((low) => CUTS.map((high) => [low, high] as [number, number]));
const STRETCH_INDEX = new Int32Array(CUT_PAIRS.length * 16);
const STRETCH_WEIGHT = new Float64Array(CUT_PAIRS.length * 16);
CUT_PAIRS.forEach(([low, high], c) => {
  for (let k = 0; k < 16; k++) {
    const s = Math.min(GRAY_SIDE - 1, Math.max(0, (low + ((k + 0.5) / 16) * (1 - high - low)) * GRAY_SIDE - 0.5));
    const i = Math.min(Math.floor(s), GRAY_SIDE - 2);
    STRETCH_INDEX[c * 16 + k] = i;
    STRETCH_WEIGHT[c * 16 + k] = s - i;
  }
});

/** The k-th of the 16 samples of cut pair `c`'s stretch of a 32-value profile. */
function stretchSample(values: Float64Array, c: number, k: number): number {
  const i = STRETCH_INDEX[c * 16 + k] as number;
  const f = STRETCH_WEIGHT[c * 16 + k] as number;
  return (values[i] as number) * (1 - f) + (values[i + 1] as number) * f;
}

/** The cut off each end of one axis of `whole` that makes its profile best match `part`'s whole profile. */
function bestCuts(whole: Float64Array, part: Float64Array): [number, number] {
  // Cut pair 0 cuts nothing: the part's whole profile at 16 samples.
  const target = centredUnit(Float32Array.from({ length: 16 }, (_, k) => stretchSample(part, 0, k)));
  let best = 0;
  let bestValue = -Infinity;
  for (let c = 0; c < CUT_PAIRS.length; c++) {
    // The stretch's correlation with the target, without building the stretch.
    let [sum, sumSquares, dotTarget] = [0, 0, 0];
    for (let k = 0; k < 16; k++) {
      const v = stretchSample(whole, c, k);
      sum += v;
      sumSquares += v * v;
      dotTarget += v * (target[k] as number);
    }
    const value = correlationWith(sum, sumSquares, dotTarget, 16);
    if (value > bestValue) [best, bestValue] = [c, value];
  }
  return CUT_PAIRS[best] as [number, number];
}

/** A registration in progress: the rectangle of `whole` and how well `part`'s whole picture matches it. */
interface Alignment {
  whole: Uint8Array;
  partThumb: Float32Array;
  box: Box;
  correlation: number;
}

/**
 * Correlation of `whole`'s region `box`, sampled at 16×16 as sampleRegion does, with `partThumb`
 * (zero mean, unit length). sampleRegion's loop is written out here on purpose: sharing it through
 * a callback or per-call axis tables made the comparing phase 1.5–2.4× slower (measured on 32,498
 * pairs of 3,000 faces, the same matches).
 */
function alignmentScore(whole: Uint8Array, box: Box, partThumb: Float32Array): number {
  const side = 16;
  const at = (lo: number, hi: number, k: number) => Math.min(GRAY_SIDE - 1, Math.max(0, (lo + ((k + 0.5) / side) * (hi - lo)) * GRAY_SIDE - 0.5));
  const columns = Array.from({ length: side }, (_, x) => {
    const sx = at(box.x0, box.x1, x);
    const x0 = Math.min(Math.floor(sx), GRAY_SIDE - 2);
    return { x0, fx: sx - x0 };
  });
  let [sum, sumSquares, dotTarget] = [0, 0, 0];
  for (let y = 0; y < side; y++) {
    const sy = at(box.y0, box.y1, y);
    const y0 = Math.min(Math.floor(sy), GRAY_SIDE - 2);
    const fy = sy - y0;
    for (let x = 0; x < side; x++) {
      const { x0, fx } = columns[x] as { x0: number; fx: number };
      const row = y0 * GRAY_SIDE + x0;
      const top = (whole[row] as number) * (1 - fx) + (whole[row + 1] as number) * fx;
      const bottom = (whole[row + GRAY_SIDE] as number) * (1 - fx) + (whole[row + GRAY_SIDE + 1] as number) * fx;
      const v = top * (1 - fy) + bottom * fy;
      sum += v;
      sumSquares += v * v;
      dotTarget += v * (partThumb[y * side + x] as number);
    }
  }
  return correlationWith(sum, sumSquares, dotTarget, side * side);
}

/** The rectangle of `whole` (which may have lost up to 15% of each side) that the profiles say `part` is. */
function profileAlignment(whole: Uint8Array, part: Uint8Array, partThumb: Float32Array): Alignment {
  const [x0, x1] = bestCuts(profile(whole, 'x'), profile(part, 'x'));
  const [y0, y1] = bestCuts(profile(whole, 'y'), profile(part, 'y'));
  const box = { x0, x1: 1 - x1, y0, y1: 1 - y1 };
  return { whole, partThumb, box, correlation: alignmentScore(whole, box, partThumb) };
}

/** The alignment refined a side at a time in steps of 1.25%, while that helps (two rounds at most). */
function refined(start: Alignment): Alignment {
  let { box, correlation } = start;
  for (let round = 0; round < 2; round++) {
    let moved = false;
    for (const side of ['x0', 'x1', 'y0', 'y1'] as const) {
      for (const step of [-REFINE_STEP, REFINE_STEP]) {
        const candidate = { ...box, [side]: Math.min(1, Math.max(0, box[side] + step)) };
        if (candidate.x1 - candidate.x0 < 0.6 || candidate.y1 - candidate.y0 < 0.6) continue;
        const value = alignmentScore(start.whole, candidate, start.partThumb);
        if (value > correlation) [box, correlation, moved] = [candidate, value, true];
      }
    }
    if (!moved) break;
  }
  return { ...start, box, correlation };
}

/** How well `part`'s whole picture matches a sub-rectangle of `whole`, and which rectangle. */
export function registerCrop(whole: Uint8Array, part: Uint8Array, partThumb: Float32Array): { correlation: number; box: Box } {
  const { correlation, box } = refined(profileAlignment(whole, part, partThumb));
  return { correlation, box };
}

/** What registering a picture needs of it (the data check measures it once per image). */
export interface CropFeatures {
  /** 32×32 luma. */
  gray: Uint8Array;
  /** 16×16 luma, zero mean and unit length. */
  thumb: Float32Array;
  /** The perceptual hash of `gray`. */
  hash: [number, number];
  /** 8×8 sRGB, 3 bytes a pixel. */
  colour: Uint8Array;
}

/**
 * Whether `a` and `b` are copies one of which is cropped: aligned both ways by the profiles (either
 * may be the crop), the better alignment refined; only where its correlation reaches `minCorrelation`, the
 * perceptual hash and colours of the aligned pictures (distinct pictures of one kind can share
 * their luma: a folder icon in two colours, two generated faces).
 */
export function matchCrop(a: CropFeatures, b: CropFeatures, minCorrelation: number): CropMatch | null {
  const aInB = profileAlignment(b.gray, a.gray, a.thumb);
  const bInA = profileAlignment(a.gray, b.gray, b.thumb);
  const [whole, part, start] = aInB.correlation >= bInA.correlation ? [b, a, aInB] : [a, b, bInA];
  // Refining moves the sides by a few percent and gains a few hundredths at most: hopeless pairs stop here.
  if (start.correlation < minCorrelation - REFINE_GAIN) return null;
  const found = refined(start);
  if (found.correlation < minCorrelation) return null;
  const aligned = Uint8Array.from(sampleRegion(whole.gray, found.box, GRAY_SIDE), (v) => Math.round(v));
  return { correlation: found.correlation, hashBits: hashDistance(perceptualHash(aligned), part.hash), colourDifference: colourDifference(whole.colour, found.box, part.colour) };
}

/** Mean absolute difference (0..255) between `part`'s 8×8 colours and those of `whole`'s region `box`. */
function colourDifference(whole: Uint8Array, box: Box, part: Uint8Array): number {
  let total = 0;
  for (let c = 0; c < 3; c++) {
    const plane = Uint8Array.from({ length: COLOUR_SIDE * COLOUR_SIDE }, (_, i) => whole[i * 3 + c] as number);
    const region = sampleRegion(plane, box, COLOUR_SIDE, COLOUR_SIDE);
    for (let i = 0; i < region.length; i++) total += Math.abs((region[i] as number) - (part[i * 3 + c] as number));
  }
  return total / (COLOUR_SIDE * COLOUR_SIDE * 3);
}
