// How a heatmap looks, the same in the window's overlay and in `labelloop explain`'s PNGs.

/** Turbo-like colours from cold (0, dark blue) to hot (1, dark red): a few stops, linearly blended. */
const STOPS: [number, number, number][] = [
  [48, 18, 59],
  [70, 131, 237],
  [27, 207, 212],
  [98, 252, 108],
  [210, 233, 53],
  [254, 155, 45],
  [217, 56, 6],
  [122, 4, 3],
];

export function heatColour(value: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, value)) * (STOPS.length - 1);
  const i = Math.min(STOPS.length - 2, Math.floor(x));
  const t = x - i;
  const [a, b] = [STOPS[i] as [number, number, number], STOPS[i + 1] as [number, number, number]];
  return [0, 1, 2].map((k) => Math.round((a[k] as number) + ((b[k] as number) - (a[k] as number)) * t)) as [number, number, number];
}

/** How opaque the overlay is at a value: the chosen opacity where hottest, a third of it where coldest. */
export function heatAlpha(value: number, opacity: number): number {
  return opacity * (1 / 3 + (2 / 3) * Math.min(1, Math.max(0, value)));
}
