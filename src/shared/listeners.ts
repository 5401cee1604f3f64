/** Event listeners by name, shared by the two client transports (preload and web client). */
export function createListenerRegistry() {
  const byEvent = new Map<string, Set<(payload: unknown) => void>>();
  return {
    add(event: string, listener: (payload: never) => void): () => void {
      const set = byEvent.get(event) ?? new Set();
      byEvent.set(event, set);
      const wrapped = listener as (payload: unknown) => void;
      set.add(wrapped);
      return () => set.delete(wrapped);
    },
    dispatch(event: string, payload: unknown): void {
      for (const listener of byEvent.get(event) ?? []) listener(payload);
    },
  };
}
