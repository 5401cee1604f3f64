// `labelloop train --backbone …`: what each value names, and a note for each flag the backbone ignores.
import { describe, expect, it } from 'vitest';
import { backboneOption, ignoredBackboneFlags } from '../../../../src/main/cli/backboneFlags';
import { TrainingConfig } from '../../../../src/shared/contract';

describe('train: backbone flags', () => {
  it('names a bundled backbone, Auto with its budget, a small CNN with its size, or a Keras model.json with its cut', () => {
    expect(backboneOption(undefined, {})).toBeUndefined();
    expect(backboneOption('inception_v3', { cutLayer: 'mixed7' })).toEqual({ kind: 'inception_v3' });
    expect(backboneOption('auto', { autoBudget: 60 })).toEqual({ kind: 'auto', budgetSeconds: 60 });
    expect(backboneOption('small_cnn', { cnnSize: 64 })).toEqual({ kind: 'small_cnn', inputSize: 64 });
    expect(backboneOption('models/net/model.json', { cutLayer: 'pool' })).toEqual({ kind: 'keras', source: 'models/net/model.json', cutLayer: 'pool' });
  });

  it('gives the small CNN 32 px and the tutorial decay by default, and refuses a size it does not take', () => {
    expect(TrainingConfig.parse({ backbone: backboneOption('small_cnn', {}) }).backbone).toEqual({ kind: 'small_cnn', inputSize: 32, decayPerEpoch: 0.96 });
    const refused = TrainingConfig.safeParse({ backbone: backboneOption('small_cnn', { cnnSize: 50 }) });
    expect(refused.success).toBe(false);
    expect(refused.error?.issues[0]?.path).toEqual(['backbone', 'inputSize']);
    // Stage 2 fine-tunes MobileNetV2's blocks: a CNN from scratch has none.
    expect(TrainingConfig.safeParse({ backbone: { kind: 'small_cnn' }, fineTuneBlocks: 2 }).success).toBe(false);
  });

  it('says which given flags the chosen backbone ignores, and nothing when all apply', () => {
    expect(ignoredBackboneFlags('inception_v3', { 'cut-layer': 'mixed7', 'input-scale': '0,1', 'auto-budget': 60, 'cnn-size': 64 })).toEqual([
      '--cut-layer applies to a Keras model.json; inception_v3 takes its features where it always does',
      '--input-scale applies to a Keras model.json; inception_v3 scales pixels as its weights expect',
      '--auto-budget applies to --backbone auto only',
      '--cnn-size applies to --backbone small_cnn only',
    ]);
    expect(ignoredBackboneFlags('small_cnn', { 'cnn-size': 64, 'input-size': 160, 'head-fit': 'converged', 'cnn-branch': 'on' })).toEqual([
      "--input-size sets a backbone's input; the small CNN takes --cnn-size",
      '--head-fit applies to a head on backbone features; the small CNN trains with the epoch settings',
      "--cnn-branch adds a CNN beside a frozen backbone's head; the small CNN is the whole model already",
    ]);
    expect(ignoredBackboneFlags('inception_v3', { 'cnn-branch': 'on' })).toEqual([]);
    expect(ignoredBackboneFlags('keras', { 'cut-layer': 'pool', 'input-scale': '-1,1' })).toEqual([]);
    expect(ignoredBackboneFlags('auto', { 'auto-budget': 60 })).toEqual([]);
    expect(ignoredBackboneFlags('mobilenet_v2', {})).toEqual([]);
  });
});
