// The embedding map's geometry, kept apart from Vue so it can be tested on hand-placed points:
// which points a lasso or a box encloses, and which point lies under the mouse. A uniform grid
// over the unit square keeps both cheap at 50,000 points: a hover looks at a few cells, not every point.

export interface Point {
  x: number;
  y: number;
}

export interface Box {
  minX: number;
  minY: number;
  maxX: number;
  maxY: number;
}

/** The box spanned by two corners, dragged in any direction. */
export function boxOf(a: Point, b: Point): Box {
  return { minX: Math.min(a.x, b.x), minY: Math.min(a.y, b.y), maxX: Math.max(a.x, b.x), maxY: Math.max(a.y, b.y) };
}

export function boundsOf(points: readonly Point[]): Box {
  const box = { minX: Infinity, minY: Infinity, maxX: -Infinity, maxY: -Infinity };
  for (const { x, y } of points) {
    box.minX = Math.min(box.minX, x);
    box.minY = Math.min(box.minY, y);
    box.maxX = Math.max(box.maxX, x);
    box.maxY = Math.max(box.maxY, y);
  }
  return box;
}

export function inBox(x: number, y: number, box: Box): boolean {
  return x >= box.minX && x <= box.maxX && y >= box.minY && y <= box.maxY;
}

/**
 * Whether (x, y) lies inside the polygon, by the even-odd rule (a ray to the right crosses its edges
 * an odd number of times), so a concave or self-crossing lasso encloses what it visibly encloses.
 */
export function inPolygon(x: number, y: number, polygon: readonly Point[]): boolean {
  let inside = false;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i++) {
    const a = polygon[i] as Point;
    const b = polygon[j] as Point;
    if (a.y > y !== b.y > y && x < ((b.x - a.x) * (y - a.y)) / (b.y - a.y) + a.x) inside = !inside;
  }
  return inside;
}

/** Points bucketed into square cells of the unit square (points outside it go to the edge cells). */
export class PointGrid {
  private readonly side: number;
  /** Cell c holds the points cellPoints[cellStart[c] .. cellStart[c + 1]). */
  private readonly cellStart: Uint32Array;
  private readonly cellPoints: Uint32Array;

  constructor(
    readonly xs: Float32Array,
    readonly ys: Float32Array,
  ) {
    // About four points per cell: a hover looks at a handful of cells of a handful of points.
    this.side = Math.max(1, Math.ceil(Math.sqrt(xs.length / 4)));
    const cells = this.side * this.side;
    const cellOf = new Uint32Array(xs.length);
    this.cellStart = new Uint32Array(cells + 1);
    for (let i = 0; i < xs.length; i++) {
      const cell = this.cell(xs[i] as number, ys[i] as number);
      cellOf[i] = cell;
      (this.cellStart[cell + 1] as number)++;
    }
    for (let c = 0; c < cells; c++) this.cellStart[c + 1] = (this.cellStart[c + 1] as number) + (this.cellStart[c] as number);
    const filled = this.cellStart.slice(0, cells);
    this.cellPoints = new Uint32Array(xs.length);
    for (let i = 0; i < xs.length; i++) this.cellPoints[(filled[cellOf[i] as number] as number)++] = i;
  }

  get size(): number {
    return this.xs.length;
  }

  private column(value: number): number {
    return Math.min(this.side - 1, Math.max(0, Math.floor(value * this.side)));
  }

  private cell(x: number, y: number): number {
    return this.column(y) * this.side + this.column(x);
  }

  /** Calls visit with every point in the cells the box touches: a superset of the points inside it. */
  private forEachNear(box: Box, visit: (index: number) => void): void {
    const [c0, c1, r0, r1] = [this.column(box.minX), this.column(box.maxX), this.column(box.minY), this.column(box.maxY)];
    for (let row = r0; row <= r1; row++) {
      for (let col = c0; col <= c1; col++) {
        const cell = row * this.side + col;
        for (let k = this.cellStart[cell] as number; k < (this.cellStart[cell + 1] as number); k++) visit(this.cellPoints[k] as number);
      }
    }
  }

  /** The points inside the box (edges included), in index order. */
  inBox(box: Box): number[] {
    const found: number[] = [];
    this.forEachNear(box, (i) => {
      if (inBox(this.xs[i] as number, this.ys[i] as number, box)) found.push(i);
    });
    return found.sort((a, b) => a - b);
  }

  /** The points inside the polygon, in index order; a polygon of fewer than three corners encloses nothing. */
  inPolygon(polygon: readonly Point[]): number[] {
    if (polygon.length < 3) return [];
    const found: number[] = [];
    this.forEachNear(boundsOf(polygon), (i) => {
      if (inPolygon(this.xs[i] as number, this.ys[i] as number, polygon)) found.push(i);
    });
    return found.sort((a, b) => a - b);
  }

  /** The point nearest to (x, y) no farther than radius, or -1 when there is none. */
  nearest(x: number, y: number, radius: number): number {
    let best = -1;
    let bestDistance = radius * radius;
    this.forEachNear({ minX: x - radius, minY: y - radius, maxX: x + radius, maxY: y + radius }, (i) => {
      const dx = (this.xs[i] as number) - x;
      const dy = (this.ys[i] as number) - y;
      const distance = dx * dx + dy * dy;
      // Ties go to the lower index, so the answer does not depend on the order cells are visited.
      if (distance < bestDistance || (distance === bestDistance && (best === -1 || i < best))) {
        best = i;
        bestDistance = distance;
      }
    });
    return best;
  }
}
