// Suggested labels: after a run, its saved model judges every unlabeled image of the project
// (the images in its root), so the grid can offer the least certain ones to label next and
// accept the rest with one key. The saved model is used as Predict uses it, so a suggestion is
// what Predict would say of the same file, whatever kind of model the run trained.
import path from 'node:path';
import type { FrozenEngine } from '../../shared/contract';
import type { UnlabeledSuggestion } from '../../shared/report';
import { loadPredictor } from '../inference/predictor';

/** Images are judged this many at a time, with progress and a cancel check between. */
const CHUNK = 64;

export interface SuggestionOutcome {
  suggestions: UnlabeledSuggestion[];
  /** Unlabeled files the model could not read, with the reason. */
  unreadable: { path: string; reason: string }[];
}

export async function suggestLabels(input: {
  runDir: string;
  projectRoot: string;
  /** Project-relative paths of the unlabeled images. */
  paths: string[];
  classes: string[];
  engine: FrozenEngine;
  onProgress?: (done: number, total: number) => void;
  isCancelled?: () => boolean;
}): Promise<SuggestionOutcome> {
  const outcome: SuggestionOutcome = { suggestions: [], unreadable: [] };
  if (input.paths.length === 0) return outcome;
  const predictor = await loadPredictor(input.runDir, { engine: input.engine });
  try {
    for (let start = 0; start < input.paths.length; start += CHUNK) {
      if (input.isCancelled?.()) break;
      const chunk = input.paths.slice(start, start + CHUNK);
      const predicted = await predictor.predict(chunk.map((p) => path.join(input.projectRoot, p)));
      chunk.forEach((relative, i) => {
        const result = predicted[i];
        if (!result?.probabilities) {
          outcome.unreadable.push({ path: relative, reason: result?.error ?? 'not predicted' });
          return;
        }
        const best = result.probabilities.indexOf(Math.max(...result.probabilities));
        outcome.suggestions.push({
          path: relative,
          suggested: input.classes[best] as string,
          probabilities: Object.fromEntries(input.classes.map((name, c) => [name, result.probabilities[c] as number])),
        });
      });
      input.onProgress?.(Math.min(start + CHUNK, input.paths.length), input.paths.length);
    }
  } finally {
    await predictor.dispose();
  }
  return outcome;
}
