// The app's Train settings → SftOptions: length grouping comes from the setting, and a run
// record saved before the setting existed resumes without it (as it was trained).
import { describe, expect, it } from 'vitest';
import type { TrainSettings } from '../../src/worker/api.ts';
import { sftOptionsFor } from '../../src/worker/engine.ts';
import { DEFAULT_TRAIN_SETTINGS } from '../../src/state/train-slice.ts';

describe('sftOptionsFor', () => {
  it('passes the length-grouping setting through; an older record without it trains ungrouped', () => {
    expect(sftOptionsFor(DEFAULT_TRAIN_SETTINGS).groupByLength).toBe(8);
    expect(sftOptionsFor({ ...DEFAULT_TRAIN_SETTINGS, groupByLength: 3 }).groupByLength).toBe(3);
    const { groupByLength: _unused, ...older } = DEFAULT_TRAIN_SETTINGS;
    expect(sftOptionsFor(older as TrainSettings).groupByLength).toBe(0);
    expect(sftOptionsFor({ ...DEFAULT_TRAIN_SETTINGS, steps: 40, batchSize: 2 })).toMatchObject({ steps: 40, batchSize: 2, seed: 1 });
  });

  it('passes the dropout setting through; off by default and for an older record without it', () => {
    expect(sftOptionsFor(DEFAULT_TRAIN_SETTINGS).hiddenDropout).toBe(0);
    expect(sftOptionsFor({ ...DEFAULT_TRAIN_SETTINGS, hiddenDropout: 0.1 }).hiddenDropout).toBe(0.1);
    const { hiddenDropout: _unused, ...older } = DEFAULT_TRAIN_SETTINGS;
    expect(sftOptionsFor(older as TrainSettings).hiddenDropout).toBe(0);
  });
});
