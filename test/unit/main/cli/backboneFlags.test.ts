// `labelloop train --backbone …`: what each value names, and a note for each flag the backbone ignores.
import { describe, expect, it } from 'vitest';
import { backboneOption, ignoredBackboneFlags } from '../../../../src/main/cli/backboneFlags';

describe('train: backbone flags', () => {
  it('names a bundled backbone, Auto with its budget, or a Keras model.json with its cut', () => {
    expect(backboneOption(undefined, undefined, undefined)).toBeUndefined();
    expect(backboneOption('inception_v3', 'mixed7', undefined)).toEqual({ kind: 'inception_v3' });
    expect(backboneOption('auto', undefined, 60)).toEqual({ kind: 'auto', budgetSeconds: 60 });
    expect(backboneOption('models/net/model.json', 'pool', undefined)).toEqual({ kind: 'keras', source: 'models/net/model.json', cutLayer: 'pool' });
  });

  it('says which given flags the chosen backbone ignores, and nothing when all apply', () => {
    expect(ignoredBackboneFlags('inception_v3', { 'cut-layer': 'mixed7', 'input-scale': '0,1', 'auto-budget': 60 })).toEqual([
      '--cut-layer applies to a Keras model.json; inception_v3 takes its features where it always does',
      '--input-scale applies to a Keras model.json; inception_v3 scales pixels as its weights expect',
      '--auto-budget applies to --backbone auto only',
    ]);
    expect(ignoredBackboneFlags('keras', { 'cut-layer': 'pool', 'input-scale': '-1,1' })).toEqual([]);
    expect(ignoredBackboneFlags('auto', { 'auto-budget': 60 })).toEqual([]);
    expect(ignoredBackboneFlags('mobilenet_v2', {})).toEqual([]);
  });
});
