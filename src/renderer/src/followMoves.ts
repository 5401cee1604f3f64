import type { MoveResult } from '../../shared/contract';

/**
 * Chains one batch of moves onto where images had already gone (first path → path now); an image
 * moved back to where it started drops out. Views that hold paths from an earlier moment (a run's
 * report, the embedding map) find each image where it lies now with it.
 */
export function followMoves(movedTo: ReadonlyMap<string, string>, moves: MoveResult['moves']): Map<string, string> {
  const destination = new Map(moves.map((m) => [m.from, m.to]));
  const next = new Map<string, string>();
  for (const [origin, now] of movedTo) {
    const to = destination.get(now) ?? now;
    destination.delete(now);
    if (to !== origin) next.set(origin, to);
  }
  for (const [from, to] of destination) if (!next.has(from) && from !== to) next.set(from, to);
  return next;
}
