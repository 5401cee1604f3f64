// @vitest-environment happy-dom
// The heatmaps store: one ask per run, page, class and scale; a slower older answer never replaces
// a newer ask; another run's maps never stay on screen; a failed ask leaves nothing stale.
import { createPinia, setActivePinia } from 'pinia';
import { createApp } from 'vue';
import { describe, expect, it } from 'vitest';
import { API_KEY } from '../../../src/renderer/src/api/inject';
import { useHeatmapsStore } from '../../../src/renderer/src/stores/heatmaps';

type Answer = { method: 'cam'; resize: 'stretch'; entries: { path: string; predicted: string; class: string; grid: number[][] }[]; unreadable: never[] };

function setup() {
  const asked: { input: { runId: string; paths: string[]; className?: string }; resolve: (answer: Answer) => void; reject: (error: Error) => void }[] = [];
  const api = {
    call: (_route: string, input: { runId: string; paths: string[]; className?: string }) =>
      new Promise<Answer>((resolve, reject) => {
        asked.push({ input, resolve, reject });
      }),
  };
  const app = createApp({});
  const pinia = createPinia();
  // Only the one route the store calls is answered.
  app.provide(API_KEY, api as never).use(pinia);
  setActivePinia(pinia);
  return { asked, heatmaps: app.runWithContext(() => useHeatmapsStore()) };
}
const answer = (path: string, klass: string): Answer => ({ method: 'cam', resize: 'stretch', entries: [{ path, predicted: 'OK', class: klass, grid: [[1]] }], unreadable: [] });
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('heatmaps store', () => {
  it('asks once per run, page, class and scale, and a slower older answer never wins over a newer ask', async () => {
    const { asked, heatmaps } = setup();
    const first = heatmaps.load('r1', ['a.jpg']);
    await heatmaps.load('r1', ['a.jpg']); // the same ask again: nothing new is sent
    expect(asked).toHaveLength(1);
    asked[0]?.resolve(answer('a.jpg', 'OK'));
    await first;
    expect(heatmaps.byPath.get('a.jpg')?.class).toBe('OK');
    // Class "NG" asked, then back to "predicted" before NG answers: NG's late answer is dropped.
    heatmaps.className = 'NG';
    const ng = heatmaps.load('r1', ['a.jpg']);
    heatmaps.className = null;
    const back = heatmaps.load('r1', ['a.jpg']);
    expect(asked.map((a) => a.input.className)).toEqual([undefined, 'NG', undefined]);
    asked[2]?.resolve(answer('a.jpg', 'OK'));
    await back;
    asked[1]?.resolve(answer('a.jpg', 'NG'));
    await ng;
    expect(heatmaps.byPath.get('a.jpg')?.class).toBe('OK');
    expect(heatmaps.loading).toBe(false);
  });

  it("clears another run's maps at once, and a failed ask leaves nothing stale and may be asked again", async () => {
    const { asked, heatmaps } = setup();
    const first = heatmaps.load('r1', ['a.jpg']);
    asked[0]?.resolve(answer('a.jpg', 'OK'));
    await first;
    const other = heatmaps.load('r2', ['a.jpg']);
    await settle();
    expect(heatmaps.byPath.size).toBe(0);
    asked[1]?.reject(new Error('Run r2 has no saved model'));
    await other;
    expect(heatmaps.byPath.size).toBe(0);
    expect(heatmaps.loading).toBe(false);
    const again = heatmaps.load('r2', ['a.jpg']);
    expect(asked).toHaveLength(3);
    asked[2]?.resolve(answer('a.jpg', 'OK'));
    await again;
    expect(heatmaps.byPath.get('a.jpg')?.class).toBe('OK');
  });
});
