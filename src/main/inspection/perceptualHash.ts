// The perceptual hash the data check compares pictures by, and the search for every pair of
// hashes within a few bits of each other without comparing all pairs.

/** pHash: the 8×8 lowest frequencies of the 32×32 DCT (DC left out), each bit above or below their median. */
export function perceptualHash(gray32: Uint8Array): [number, number] {
  const N = 32;
  const cos = Array.from({ length: 8 }, (_, u) => Float64Array.from({ length: N }, (_, x) => Math.cos(((2 * x + 1) * u * Math.PI) / (2 * N))));
  const rows = Array.from({ length: N }, (_, y) => Float64Array.from({ length: 8 }, (_, u) => {
    let s = 0;
    for (let x = 0; x < N; x++) s += (gray32[y * N + x] as number) * (cos[u] as Float64Array)[x]!;
    return s;
  }));
  const coefficients: number[] = [];
  for (let v = 0; v < 8; v++) {
    for (let u = 0; u < 8; u++) {
      let s = 0;
      for (let y = 0; y < N; y++) s += (rows[y] as Float64Array)[u]! * (cos[v] as Float64Array)[y]!;
      coefficients.push(s);
    }
  }
  const ac = coefficients.slice(1);
  const median = [...ac].sort((a, b) => a - b)[Math.floor(ac.length / 2)] as number;
  let high = 0;
  let low = 0;
  coefficients.forEach((c, i) => {
    if (i === 0 || c <= median) return;
    if (i < 32) low |= 1 << i;
    else high |= 1 << (i - 32);
  });
  return [low >>> 0, high >>> 0];
}

/**
 * Every pair of hashes at most `bits` apart, without comparing all n² pairs: split the 64 bits into
 * bits + 1 bands; two hashes that differ in at most `bits` bits agree exactly on at least one band
 * (pigeonhole), so only images sharing a band's value are compared. Pairs as [i, j] with i < j, once.
 */
export function nearHashPairs(hashes: [number, number][], bits: number): [number, number][] {
  const bands = bits + 1;
  const width = Math.ceil(64 / bands);
  const bit = (h: [number, number], k: number) => (k < 32 ? (h[0] >>> k) & 1 : (h[1] >>> (k - 32)) & 1);
  // Each hash's value in each band.
  const keys = Array.from({ length: bands }, (_, band) =>
    Float64Array.from(hashes, (h) => {
      let key = 0;
      for (let k = band * width; k < Math.min(64, (band + 1) * width); k++) key = key * 2 + bit(h, k);
      return key;
    }),
  );
  const pairs: [number, number][] = [];
  for (let band = 0; band < bands; band++) {
    const buckets = new Map<number, number[]>();
    (keys[band] as Float64Array).forEach((key, i) => {
      const bucket = buckets.get(key);
      if (bucket) bucket.push(i);
      else buckets.set(key, [i]);
    });
    for (const bucket of buckets.values()) {
      for (let x = 0; x < bucket.length; x++) {
        for (let y = x + 1; y < bucket.length; y++) {
          const [i, j] = [bucket[x] as number, bucket[y] as number];
          // A pair that agrees on an earlier band was compared there.
          let earlier = false;
          for (let b = 0; b < band && !earlier; b++) earlier = (keys[b] as Float64Array)[i] === (keys[b] as Float64Array)[j];
          if (!earlier && hashDistance(hashes[i] as [number, number], hashes[j] as [number, number]) <= bits) pairs.push([i, j]);
        }
      }
    }
  }
  return pairs;
}

function popcount(v: number): number {
  let x = v - ((v >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

export function hashDistance(a: [number, number], b: [number, number]): number {
  return popcount((a[0] ^ b[0]) >>> 0) + popcount((a[1] ^ b[1]) >>> 0);
}
