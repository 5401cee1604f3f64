// The embedding map's geometry on hand-placed points: what a lasso (concave too) and a box enclose,
// and which point a hover finds; then the grid index against brute force on 50,000 scattered points.
import { describe, expect, it } from 'vitest';
import { boxOf, inBox, inPolygon, type Point, PointGrid } from '../../../src/renderer/src/mapGeometry';

// Values exact in binary, so distances tie exactly where a test says they do.
const POINTS: Point[] = [
  { x: 0.125, y: 0.125 }, // 0: the U's left arm
  { x: 0.5, y: 0.5 }, // 1: inside the U's notch
  { x: 0.875, y: 0.125 }, // 2: the U's right arm
  { x: 0.5, y: 0.25 }, // 3: inside the notch
  { x: 0.25, y: 0.875 }, // 4: the U's bottom
  { x: 0.75, y: 0.75 }, // 5: the U's bottom, beside the notch
];
const gridOf = (points: readonly Point[]) => new PointGrid(Float32Array.from(points, (p) => p.x), Float32Array.from(points, (p) => p.y));

/** A U open at the top (y grows downward): its notch reaches from y 0 to 0.625 between x 0.375 and 0.625. */
const U: Point[] = [
  { x: 0, y: 0 },
  { x: 0.375, y: 0 },
  { x: 0.375, y: 0.625 },
  { x: 0.625, y: 0.625 },
  { x: 0.625, y: 0 },
  { x: 1, y: 0 },
  { x: 1, y: 1 },
  { x: 0, y: 1 },
];

describe('map geometry', () => {
  it('a concave lasso encloses the points in its arms and bottom, not those in its notch', () => {
    expect(POINTS.map((p) => inPolygon(p.x, p.y, U))).toEqual([true, false, true, false, true, true]);
    expect(gridOf(POINTS).inPolygon(U)).toEqual([0, 2, 4, 5]);
    // The same lasso walked the other way round encloses the same points.
    expect(gridOf(POINTS).inPolygon([...U].reverse())).toEqual([0, 2, 4, 5]);
  });

  it('a triangle encloses exactly the points inside it; fewer than three corners enclose nothing', () => {
    const triangle = [{ x: 0, y: 0 }, { x: 1, y: 0 }, { x: 0.5, y: 0.6 }];
    // (0.125, 0.125) lies just inside the edge from (0,0) to (0.5,0.6), which passes x = 0.104 at that height.
    expect(gridOf(POINTS).inPolygon(triangle)).toEqual([0, 1, 2, 3]);
    expect(gridOf(POINTS).inPolygon([{ x: 0, y: 0 }, { x: 1, y: 1 }])).toEqual([]);
  });

  it('a box dragged in any direction holds the points inside it, edges included', () => {
    const box = boxOf({ x: 0.5, y: 0.5 }, { x: 0.0625, y: 0.0625 });
    expect(box).toEqual({ minX: 0.0625, minY: 0.0625, maxX: 0.5, maxY: 0.5 });
    expect(inBox(0.5, 0.25, box)).toBe(true);
    expect(inBox(0.5001, 0.25, box)).toBe(false);
    expect(gridOf(POINTS).inBox(box)).toEqual([0, 1, 3]);
    expect(gridOf(POINTS).inBox(boxOf({ x: 0.6, y: 0.6 }, { x: 0.9, y: 0.9 }))).toEqual([5]);
    expect(gridOf(POINTS).inBox(boxOf({ x: 0.26, y: 0.3 }, { x: 0.3, y: 0.4 }))).toEqual([]);
  });

  it('hover finds the nearest point within the radius and nothing beyond it', () => {
    const grid = gridOf(POINTS);
    expect(grid.nearest(0.52, 0.5, 0.05)).toBe(1);
    // 0.125 from point 1 and from point 3: beyond a radius of 0.1, and a tie within 0.2 goes to the lower index.
    expect(grid.nearest(0.5, 0.375, 0.1)).toBe(-1);
    expect(grid.nearest(0.5, 0.375, 0.2)).toBe(1);
    expect(grid.nearest(0.5, 0.3, 0.2)).toBe(3);
    expect(grid.nearest(0.125, 0.125, 0)).toBe(0);
    expect(gridOf([]).nearest(0.5, 0.5, 1)).toBe(-1);
  });

  it('at 50,000 points, the grid answers as a look at every point would (points outside 0..1 too)', () => {
    let seed = 7;
    const random = () => (seed = (seed * 48_271) % 2_147_483_647) / 2_147_483_647;
    const points = Array.from({ length: 50_000 }, () => ({ x: random() * 1.1 - 0.05, y: random() * 1.1 - 0.05 }));
    const grid = gridOf(points);
    const xs = grid.xs;
    const ys = grid.ys;
    const every = (keep: (x: number, y: number) => boolean) => points.flatMap((_, i) => (keep(xs[i] as number, ys[i] as number) ? [i] : []));

    const box = boxOf({ x: 0.3, y: 0.2 }, { x: -0.1, y: 0.55 });
    expect(grid.inBox(box)).toEqual(every((x, y) => inBox(x, y, box)));
    const star = Array.from({ length: 10 }, (_, k) => {
      const radius = k % 2 === 0 ? 0.45 : 0.15;
      return { x: 0.5 + radius * Math.cos((k * Math.PI) / 5), y: 0.5 + radius * Math.sin((k * Math.PI) / 5) };
    });
    const inStar = grid.inPolygon(star);
    expect(inStar).toEqual(every((x, y) => inPolygon(x, y, star)));
    expect(inStar.length).toBeGreaterThan(1000);

    for (const [x, y, radius] of [[0.5, 0.5, 0.01], [0.01, 0.99, 0.03], [1.04, -0.04, 0.02], [0.33, 0.66, 0.001]] as const) {
      const distances = points.map((_, i) => Math.hypot((xs[i] as number) - x, (ys[i] as number) - y));
      const closest = distances.reduce((best, d, i) => (d < (distances[best] as number) ? i : best), 0);
      expect(grid.nearest(x, y, radius)).toBe((distances[closest] as number) <= radius ? closest : -1);
    }
  });
});
