import { defineStore } from 'pinia';
import { computed, ref, shallowRef } from 'vue';
import type { ImageItem } from '../../../shared/contract';
import { decideLabel } from '../../../shared/predictions';
import { useApi } from '../api/inject';
import { useDatasetStore } from './dataset';
import { useNoticesStore } from './notices';

export interface Suggestion {
  suggested: string;
  /** The suggested class's probability: low is uncertain, the images worth labeling next. */
  confidence: number;
}

export type SuggestionOrder = 'uncertain' | 'confident';

/**
 * Suggested labels for the unlabeled images, from the newest run that judged them (its report's
 * `unlabeled`), decided at that run's saved operating point as Predict decides.
 */
export const useSuggestionsStore = defineStore('suggestions', () => {
  const api = useApi();
  const notices = useNoticesStore();
  const dataset = useDatasetStore();
  const runId = ref<string | null>(null);
  const byPath = shallowRef<ReadonlyMap<string, Suggestion>>(new Map());
  const order = ref<SuggestionOrder>('uncertain');

  async function load(): Promise<void> {
    const runs = (await notices.guard(() => api.call('runs.list', {})))?.runs ?? [];
    const newest = runs.find((r) => r.hasReport);
    const report = newest ? await notices.guard(() => api.call('runs.report', { runId: newest.runId })) : undefined;
    runId.value = report ? report.runId : null;
    const point = report?.operatingPoint ?? null;
    byPath.value = new Map(
      (report?.unlabeled ?? []).map((u) => {
        const probabilities = report?.classes.map((c) => u.probabilities[c] ?? 0) ?? [];
        const suggested = decideLabel(probabilities, report?.classes ?? [], point);
        return [u.path, { suggested, confidence: u.probabilities[suggested] ?? 0 }];
      }),
    );
  }

  /** The unlabeled images among `items` that have a suggestion, least (or most) confident first. */
  function ordered(items: readonly ImageItem[]): ImageItem[] {
    const sign = order.value === 'uncertain' ? 1 : -1;
    const confidence = (item: ImageItem) => byPath.value.get(item.path)?.confidence ?? 0;
    return items.filter((i) => i.label === null && byPath.value.has(i.path)).sort((a, b) => sign * (confidence(a) - confidence(b)) || a.path.localeCompare(b.path));
  }

  const count = computed(() => dataset.items.filter((i) => i.label === null && byPath.value.has(i.path)).length);

  /** Each image to its suggested class, as one journaled step (one Ctrl+Z takes it all back); how many moved. */
  async function accept(paths: readonly string[]): Promise<number> {
    const byClass = new Map<string, string[]>();
    for (const p of paths) {
      const suggestion = byPath.value.get(p);
      if (!suggestion || dataset.byPath.get(p)?.label !== null) continue;
      byClass.set(suggestion.suggested, [...(byClass.get(suggestion.suggested) ?? []), p]);
    }
    if (byClass.size === 0) {
      if (paths.length > 0) notices.push('info', 'No suggested label for the selection: only unlabeled images a run has judged have one');
      return 0;
    }
    const result = await dataset.relabelEach([...byClass].map(([to, group]) => ({ paths: group, to })));
    return result?.moves.length ?? 0;
  }

  api.on('training.ended', () => void load());

  return { runId, byPath, order, count, load, ordered, accept };
});
