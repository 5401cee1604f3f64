// How the window, the listing and the run's ended.json name the model an interrupted run kept.
import type { KeptModel } from './contract';

/** "kept the model of epoch 7 (val_loss 0.21)": epochs counted from 1, as the curves show them. */
export function describeKeptModel(kept: KeptModel): string {
  const stage = kept.stage === 2 ? ', from fine-tuning' : '';
  return `kept the model of epoch ${kept.epoch + 1} (${kept.monitor} ${Number(kept.value.toPrecision(3))})${stage}`;
}
