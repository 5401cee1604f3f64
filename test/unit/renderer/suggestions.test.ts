// @vitest-environment happy-dom
// Suggested labels in the grid: the newest run's judgement of the unlabeled images, least
// confident first (or most), at the run's operating point, accepted with one key as one undo step.
import { createPinia, setActivePinia } from 'pinia';
import { createApp } from 'vue';
import { describe, expect, it } from 'vitest';
import { API_KEY } from '../../../src/renderer/src/api/inject';
import { useDatasetStore } from '../../../src/renderer/src/stores/dataset';
import { useLabelingStore } from '../../../src/renderer/src/stores/labeling';
import { useSuggestionsStore } from '../../../src/renderer/src/stores/suggestions';
import type { TrainingReport } from '../../../src/shared/report';
import { FakeApi } from './fakeApi';

function setup(operatingPoint?: TrainingReport['operatingPoint']) {
  const api = FakeApi.withItems(['NG', 'OK'], [{ path: 'a.jpg' }, { path: 'b.jpg' }, { path: 'c.jpg' }, { path: 'd.jpg' }, { path: 'OK/x.jpg', label: 'OK' }]);
  const suggestion = (path: string, pNG: number) => ({ path, suggested: pNG > 0.5 ? 'NG' : 'OK', probabilities: { NG: pNG, OK: 1 - pNG } });
  // d.jpg came into the project after the run: it has no suggestion.
  api.reports.set('r1', { runId: 'r1', classes: ['NG', 'OK'], samples: [], unlabeled: [suggestion('a.jpg', 0.1), suggestion('b.jpg', 0.55), suggestion('c.jpg', 0.7)], operatingPoint } as unknown as TrainingReport);
  const app = createApp({});
  const pinia = createPinia();
  app.provide(API_KEY, api).use(pinia);
  setActivePinia(pinia);
  return { api, ...app.runWithContext(() => ({ dataset: useDatasetStore(), labeling: useLabelingStore(), suggestions: useSuggestionsStore() })) };
}

describe('suggested labels', () => {
  it('lists the unlabeled images a run judged, least confident first or most, and accepts a selection as one undo step', async () => {
    const { api, dataset, labeling, suggestions } = setup();
    await dataset.refresh();
    await suggestions.load();
    expect(suggestions.count).toBe(3);
    labeling.setFilter('suggested');
    // Confidence of the suggested class: b 0.55 (NG), c 0.70 (NG), a 0.90 (OK).
    expect(labeling.visible.map((i) => i.path)).toEqual(['b.jpg', 'c.jpg', 'a.jpg']);
    suggestions.order = 'confident';
    expect(labeling.visible.map((i) => i.path)).toEqual(['a.jpg', 'c.jpg', 'b.jpg']);

    // "A" on a selection of two: each to its own suggested class, in one relabel step.
    labeling.click(0);
    labeling.click(2, { shift: true });
    labeling.click(1, { ctrl: true });
    expect([...labeling.selected].sort()).toEqual(['a.jpg', 'b.jpg']);
    await labeling.acceptSuggestions();
    expect(api.calls.filter((c) => c.route === 'dataset.relabelEach').map((c) => c.input)).toEqual([
      { groups: [{ paths: ['a.jpg'], to: 'OK' }, { paths: ['b.jpg'], to: 'NG' }] },
    ]);
    expect(dataset.byPath.get('OK/a.jpg')?.label).toBe('OK');
    expect(dataset.byPath.get('NG/b.jpg')?.label).toBe('NG');
    expect(labeling.visible.map((i) => i.path)).toEqual(['c.jpg']);
    expect(suggestions.count).toBe(1);
    // One undo takes both back.
    await dataset.undo();
    expect(['a.jpg', 'b.jpg'].map((p) => dataset.byPath.get(p)?.label)).toEqual([null, null]);
  });

  it('decides at the run\'s saved operating point, and accepts nothing for an image without a suggestion', async () => {
    const { api, dataset, labeling, suggestions } = setup({ positiveClass: 'OK', threshold: 0.4 } as TrainingReport['operatingPoint']);
    await dataset.refresh();
    await suggestions.load();
    // b: p(OK) 0.45 ≥ 0.4, so OK (at 45%), where the most probable class would have said NG.
    expect(suggestions.byPath.get('b.jpg')).toEqual({ suggested: 'OK', confidence: expect.closeTo(0.45, 9) });
    labeling.setFilter('all');
    labeling.click(labeling.visible.findIndex((i) => i.path === 'd.jpg'));
    await labeling.acceptSuggestions();
    expect(api.calls.some((c) => c.route === 'dataset.relabelEach')).toBe(false);
  });
});
