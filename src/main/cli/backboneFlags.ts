// `labelloop train`'s backbone flags: which backbone they name, and which of them the chosen one ignores.
import { BundledBackbone, type TrainingConfig, type TrainingConfigInput } from '../../shared/contract';

/** `--backbone`: a bundled backbone by name, `auto`, else a Keras model.json path or URL. */
export function backboneOption(value: string | undefined, cutLayer: string | undefined, autoBudget: number | undefined): TrainingConfigInput['backbone'] {
  if (value === undefined) return undefined;
  if (value === 'auto') return { kind: 'auto', budgetSeconds: autoBudget };
  const bundled = BundledBackbone.safeParse(value);
  return bundled.success ? { kind: bundled.data } : { kind: 'keras', source: value, cutLayer };
}

/** Flags given that the chosen backbone does not use, each in words, so none is dropped silently. */
export function ignoredBackboneFlags(kind: TrainingConfig['backbone']['kind'], values: { 'cut-layer'?: string; 'input-scale'?: string; 'auto-budget'?: number }): string[] {
  const notes: string[] = [];
  if (kind !== 'keras') {
    if (values['cut-layer'] !== undefined) notes.push(`--cut-layer applies to a Keras model.json; ${kind} takes its features where it always does`);
    if (values['input-scale'] !== undefined) notes.push(`--input-scale applies to a Keras model.json; ${kind} scales pixels as its weights expect`);
  }
  if (kind !== 'auto' && values['auto-budget'] !== undefined) notes.push('--auto-budget applies to --backbone auto only');
  return notes;
}
