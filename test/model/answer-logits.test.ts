// Teacher forcing reads the same distributions as decoding the answer one token at a time.
import { describe, expect, it } from 'vitest';
import { answerLogits, stepLogits } from '../../src/model/logits.ts';
import { expectClose } from '../helpers/compare.ts';
import { tinyModel } from '../helpers/tiny-model.ts';

describe('answerLogits', () => {
  for (const family of ['glm', 'glm2'] as const) {
    it(`row k is the step-by-step decoding's logits for answer[k] (${family})`, async () => {
      const tiny = await tinyModel(family, 31);
      const prompt = [1, 2, 8, 9, 5];
      const answer = [3, 4, 7, 6];
      const steps = await stepLogits(tiny.model, prompt, answer.slice(0, -1));
      const expected = [steps[0]!.at(-1)!, ...steps.slice(1).map((step) => step[0]!)];
      const rows = await answerLogits(tiny.model, prompt, answer);
      expect(rows).toHaveLength(answer.length);
      rows.forEach((row, k) => expectClose(row, expected[k]!, { atol: 1e-5, rtol: 1e-4 }, `row ${k}`));
      // A one-token answer is the prompt's last row alone.
      const single = await answerLogits(tiny.model, prompt, [3]);
      expect(single).toHaveLength(1);
      expectClose(single[0]!, expected[0]!, { atol: 1e-5, rtol: 1e-4 }, 'one-token answer');
      await expect(answerLogits(tiny.model, prompt, [])).rejects.toThrow(/the prompt and the answer need a token each/);
    });
  }
});
