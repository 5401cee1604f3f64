// `labelloop train`'s backbone flags: which backbone they name, and which of them the chosen one ignores.
import { BundledBackbone, type TrainingConfig, type TrainingConfigInput } from '../../shared/contract';

/** `--backbone`: a bundled backbone by name, `auto`, `small_cnn` (none: a CNN from scratch), else a Keras model.json path or URL. */
export function backboneOption(value: string | undefined, { cutLayer, autoBudget, cnnSize }: { cutLayer?: string; autoBudget?: number; cnnSize?: number }): TrainingConfigInput['backbone'] {
  if (value === undefined) return undefined;
  if (value === 'auto') return { kind: 'auto', budgetSeconds: autoBudget };
  // The contract checks the size: a wrong one is refused in words, never replaced.
  if (value === 'small_cnn') return { kind: 'small_cnn', inputSize: cnnSize as 32 | undefined };
  const bundled = BundledBackbone.safeParse(value);
  return bundled.success ? { kind: bundled.data } : { kind: 'keras', source: value, cutLayer };
}

/** Flags given that the chosen backbone does not use, each in words, so none is dropped silently. */
export function ignoredBackboneFlags(kind: TrainingConfig['backbone']['kind'], values: { 'cut-layer'?: string; 'input-scale'?: string; 'auto-budget'?: number; 'cnn-size'?: number; 'cnn-branch'?: string; 'input-size'?: number; 'head-fit'?: string }): string[] {
  const notes: string[] = [];
  if (kind !== 'keras') {
    if (values['cut-layer'] !== undefined) notes.push(`--cut-layer applies to a Keras model.json; ${kind} takes its features where it always does`);
    if (values['input-scale'] !== undefined) notes.push(`--input-scale applies to a Keras model.json; ${kind} scales pixels as its weights expect`);
  }
  if (kind !== 'auto' && values['auto-budget'] !== undefined) notes.push('--auto-budget applies to --backbone auto only');
  if (kind !== 'small_cnn' && values['cnn-size'] !== undefined) notes.push('--cnn-size applies to --backbone small_cnn only');
  if (kind === 'small_cnn') {
    if (values['input-size'] !== undefined) notes.push('--input-size sets a backbone\'s input; the small CNN takes --cnn-size');
    if (values['head-fit'] !== undefined) notes.push('--head-fit applies to a head on backbone features; the small CNN trains with the epoch settings');
    if (values['cnn-branch'] !== undefined) notes.push('--cnn-branch adds a CNN beside a frozen backbone\'s head; the small CNN is the whole model already');
  }
  return notes;
}
