// The card's description of an SFT run: the copy task alone names no IE settings it did not train.
import { describe, expect, it } from 'vitest';
import { DEMO_PRESETS } from '../../src/train/demo/config.ts';
import { sftStageDescription } from '../../src/train/demo/model-card.ts';

describe('model card: an SFT run\'s description', () => {
  it('says the copy task alone for share 1, without the IE examples\' repeats or losses', () => {
    const first = sftStageDescription(DEMO_PRESETS['small-copy-2'], true);
    expect(first).toBe('the copy task alone (runs of 8–16 random tokens written back verbatim; the IE examples for the dev loss only)');
    const continued = sftStageDescription(DEMO_PRESETS['small-continued-18'], false);
    expect(continued).toMatch(/^from the model above: fresh AdamW, .*: the copy task alone \(runs of 8–32 random tokens/);
    expect(continued).not.toMatch(/IE answers|mixed loss|times per epoch/);
  });

  it('says when the copy runs are span answers, alone or mixed in', () => {
    const alone = { ...DEMO_PRESETS['small-copy-2'], sftSyntheticCopy: { share: 1, minTokens: 16, maxTokens: 24, span: 8 } };
    expect(sftStageDescription(alone, true)).toBe('the copy task alone (runs of 16–24 random tokens, 8 of them from a random offset written back (the answer starts mid-run); the IE examples for the dev loss only)');
    const mixed = { ...DEMO_PRESETS['small-copy-ie'], sftSyntheticCopy: { share: 0.3, minTokens: 16, maxTokens: 24, span: 8 } };
    expect(sftStageDescription(mixed, false)).toMatch(/the copy task \(runs of 16–24 random tokens, 8 of them from a random offset written back \(the answer starts mid-run\)\) as 30% of the training sequences$/);
  });

  it('lists an IE run\'s data, repeats, mixed loss and copy share', () => {
    const text = sftStageDescription(DEMO_PRESETS['small-copy-ie'], false);
    expect(text).toMatch(/^more SFT on the same data, from the model above/);
    expect(text).toContain('batches grouped by length over 16 steps, conll04 examples 3 times per epoch, the mixed loss');
    expect(text).toContain('on 50% of the training sequences');
    expect(text).toMatch(/the copy task \(runs of 8–16 random tokens written back verbatim\) as 30% of the training sequences$/);
    expect(sftStageDescription(DEMO_PRESETS.small, true)).toBe('IE answers, conll04 + wnut17 + resume-ner together, each under its own schema');
  });
});
