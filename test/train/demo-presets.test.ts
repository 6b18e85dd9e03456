// The preset table's own consistency: what --warm-start and the SFT stage would otherwise refuse
// only after a run has spent its first stages.
import { describe, expect, it } from 'vitest';
import { DEMO_PRESETS, demoGlmConfig, type DemoPreset } from '../../src/train/demo/config.ts';
import { balancedOutputScale } from '../../src/train/residual-balance.ts';

const presets = Object.values(DEMO_PRESETS) as DemoPreset[];
const specials = { pad: 0, mask: 1, gmask: 2, sop: 3, eop: 4 };

describe('demo presets', () => {
  it('are keyed by their own names', () => {
    for (const [key, preset] of Object.entries(DEMO_PRESETS)) expect(preset.name).toBe(key);
  });

  it('continue only a preset that exists, with the same model shape (what --warm-start checks)', () => {
    const continuing = presets.filter((p) => p.continues !== undefined);
    expect(continuing.map((p) => p.name)).toContain('small-continued-12');
    for (const preset of continuing) {
      const previous = (DEMO_PRESETS as Record<string, DemoPreset | undefined>)[preset.continues!];
      expect(previous, `${preset.name} continues ${preset.continues}`).toBeDefined();
      expect(JSON.stringify(previous!.model), preset.name).toBe(JSON.stringify(preset.model));
      expect(previous!.continues, `${preset.name} must not continue itself`).not.toBe(preset.name);
    }
  });

  it('train the copy task alone only without the other SFT mixtures', () => {
    for (const preset of presets.filter((p) => p.sftSyntheticCopy?.share === 1)) {
      expect(preset.sftLanguageModelling, preset.name).toBeUndefined();
      expect(preset.sftTaggedText, preset.name).toBeUndefined();
    }
  });

  it('give small-copy the balance at s ≈ 20, a third of small-balanced-3\'s', () => {
    const scaleOf = (name: 'small-copy' | 'small-balanced-3'): number => {
      const preset = DEMO_PRESETS[name];
      const config = demoGlmConfig(preset.model, specials);
      return balancedOutputScale(config, preset.model.initStd, preset.model.balancedResidual);
    };
    expect(scaleOf('small-copy')).toBeCloseTo(20, 1);
    expect(scaleOf('small-balanced-3')).toBeCloseTo(59.9, 1);
    expect(DEMO_PRESETS['small-copy'].model.mimetic).toEqual({ qk: 1, vo: 1 });
    expect(DEMO_PRESETS['small-copy'].tokenizerSplit).toBe('words');
  });

  it('chain small-copy-2 (the copy task alone, no pretraining) into small-copy-ie (the IE task with copy runs)', () => {
    const copy = DEMO_PRESETS['small-copy-2'];
    const ie = DEMO_PRESETS['small-copy-ie'];
    expect(copy.pretrain.steps).toBe(0);
    expect(copy.sftSyntheticCopy?.share).toBe(1);
    expect(copy.model).toEqual(DEMO_PRESETS['small-copy'].model);
    expect(ie.continues).toBe('small-copy-2');
    expect(ie.tokenizerSplit).toBe('words');
    expect(ie.sftSyntheticCopy?.share).toBeGreaterThan(0);
    expect(ie.sftSyntheticCopy?.share).toBeLessThan(1);
    expect(ie.sftConstrainedLoss).toBe(true);
  });

  it('give small-induct small-copy-ie\'s IE recipe from scratch, with the circuit instead of the copy-first stage', () => {
    const induct = DEMO_PRESETS['small-induct'];
    const ie = DEMO_PRESETS['small-copy-ie'];
    expect(induct.continues).toBeUndefined();
    expect(induct.pretrain.steps).toBe(0);
    expect(induct.model.inductionCircuit).toEqual({ match: 4, write: 8, copy: 3 });
    expect(induct.model.mimetic).toBeUndefined();
    expect(induct.model.balancedResidual).toBe(ie.model.balancedResidual);
    expect(induct.tokenizerSplit).toBe('words');
    // The IE recipe is small-copy-ie's; only the copy runs differ: span answers, shorter than the shortest run.
    expect(induct.sft).toEqual(ie.sft);
    for (const key of ['sftRepeats', 'sftConstrainedLoss', 'sftConstrainedShare', 'devF1', 'eval'] as const) expect(induct[key]).toEqual(ie[key]);
    const copy = induct.sftSyntheticCopy!;
    expect(copy.share).toBe(ie.sftSyntheticCopy!.share);
    expect(copy.span).toBeLessThan(copy.minTokens);
  });

  it('give small-continued-22 small-continued-20\'s recipe and decoding scales from its model, at half its peak learning rate', () => {
    const cool = DEMO_PRESETS['small-continued-22'];
    const shipped = DEMO_PRESETS['small-continued-20'];
    expect(cool.continues).toBe('small-continued-20');
    expect(cool.sft).toEqual({ ...shipped.sft, lr: shipped.sft.lr / 2 });
    expect(cool.seed).not.toBe(shipped.seed);
    for (const key of ['model', 'sftRepeats', 'sftConstrainedLoss', 'sftConstrainedShare', 'sftPromptTags', 'devF1', 'eval'] as const) expect(cool[key], key).toEqual(shipped[key]);
  });
});
