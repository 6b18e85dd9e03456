import { describe, expect, it } from 'vitest';
import { ordinaryTokenIds, syntheticCopySequences } from '../../src/train/copy-task.ts';
import type { SpecialTokenIds, Tokenizer } from '../../src/io/tokenizer.ts';

/** Only the special ids matter to the copy task. */
function tokenizerWith(specialTokens: SpecialTokenIds, vocabSize: number): Tokenizer {
  const fail = (): never => { throw new Error('not used'); };
  return { format: 'tokenizer.json', vocabSize, specialTokens, encode: fail, decode: fail, tokenToId: fail, idToToken: fail };
}

const special: SpecialTokenIds = { eos: 47, eop: 47, gmask: 45, sop: 46, pad: 44, mask: 43 };
const tokenizer = tokenizerWith(special, 48);

describe('synthetic copy task', () => {
  it('draws from every id that is not special', () => {
    const ids = ordinaryTokenIds(tokenizer, 48);
    expect(ids).toHaveLength(43);
    expect(ids).toEqual(Array.from({ length: 43 }, (_, i) => i));
  });

  it('frames each random run as GLM frames the IE task: run [gMASK] <sop> → run <eop>', () => {
    const sequences = syntheticCopySequences(tokenizer, 48, { count: 400, minTokens: 3, maxTokens: 9, seed: 7 });
    expect(sequences).toHaveLength(400);
    const lengths = new Set<number>();
    const seen = new Set<number>();
    for (const { prompt, answer, answerMasks } of sequences) {
      const run = prompt.slice(0, -2);
      expect(prompt.slice(-2)).toEqual([45, 46]);
      expect(answer).toEqual([...run, 47]);
      expect(answerMasks).toBeUndefined();
      expect(run.length).toBeGreaterThanOrEqual(3);
      expect(run.length).toBeLessThanOrEqual(9);
      lengths.add(run.length);
      for (const id of run) {
        expect(id).toBeLessThan(43);
        seen.add(id);
      }
    }
    // Uniform draws: every length of the range and every ordinary id turns up in 400 runs.
    expect([...lengths].sort((a, b) => a - b)).toEqual([3, 4, 5, 6, 7, 8, 9]);
    expect(seen.size).toBe(43);
  });

  it('draws from a given alphabet, and refuses one with a special or out-of-range id', () => {
    const alphabet = [3, 5, 8, 13];
    const runs = syntheticCopySequences(tokenizer, 48, { count: 50, minTokens: 4, maxTokens: 4, seed: 2, alphabet });
    expect(new Set(runs.flatMap((sequence) => sequence.prompt.slice(0, -2)))).toEqual(new Set(alphabet));
    expect(() => syntheticCopySequences(tokenizer, 48, { count: 1, minTokens: 1, maxTokens: 2, seed: 1, alphabet: [3, 45] })).toThrow(/alphabet id 45 is special/);
    expect(() => syntheticCopySequences(tokenizer, 48, { count: 1, minTokens: 1, maxTokens: 2, seed: 1, alphabet: [3, 48] })).toThrow(/alphabet id 48 is special or not below 48/);
    expect(() => syntheticCopySequences(tokenizer, 48, { count: 1, minTokens: 1, maxTokens: 2, seed: 1, alphabet: [3] })).toThrow(/only 1 token ids/);
  });

  it('is a function of its seed', () => {
    const options = { count: 20, minTokens: 5, maxTokens: 12, seed: 3 };
    expect(syntheticCopySequences(tokenizer, 48, options)).toEqual(syntheticCopySequences(tokenizer, 48, options));
    expect(syntheticCopySequences(tokenizer, 48, { ...options, seed: 4 })).not.toEqual(syntheticCopySequences(tokenizer, 48, options));
  });

  it('writes span answers: span tokens of the same runs from an offset of at least 1', () => {
    const options = { count: 300, minTokens: 6, maxTokens: 9, seed: 5 };
    const whole = syntheticCopySequences(tokenizer, 48, options);
    const spans = syntheticCopySequences(tokenizer, 48, { ...options, span: 3 });
    const offsets = new Set<number>();
    spans.forEach(({ prompt, answer }, i) => {
      // The runs (prompts) are those without span answers.
      expect(prompt).toEqual(whole[i]!.prompt);
      const run = prompt.slice(0, -2);
      expect(answer).toHaveLength(4);
      expect(answer[3]).toBe(47);
      const copied = answer.slice(0, 3);
      const offset = [...Array(run.length - 2).keys()].find((o) => o >= 1 && run.slice(o, o + 3).join() === copied.join());
      expect(offset, `answer ${copied.join()} in run ${run.join()}`).toBeDefined();
      offsets.add(offset!);
    });
    // Every offset from 1 to the longest run's last start turns up.
    expect([...offsets].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(() => syntheticCopySequences(tokenizer, 48, { ...options, span: 6 })).toThrow(/a span of 6 tokens needs a whole number ≥ 1 below minTokens \(6\)/);
    expect(() => syntheticCopySequences(tokenizer, 48, { ...options, span: 0 })).toThrow(/a span of 0 tokens/);
  });

  it('names a bad range or a tokenizer without GLM framing tokens', () => {
    expect(() => syntheticCopySequences(tokenizer, 48, { count: 1, minTokens: 0, maxTokens: 4, seed: 1 })).toThrow(/token range \[0, 4\]/);
    expect(() => syntheticCopySequences(tokenizer, 48, { count: 1, minTokens: 5, maxTokens: 4, seed: 1 })).toThrow(/token range \[5, 4\]/);
    expect(() => syntheticCopySequences(tokenizerWith({ eos: 2 }, 48), 48, { count: 1, minTokens: 1, maxTokens: 4, seed: 1 })).toThrow(/lacks \[gMASK\], <sop> or <eop>/);
  });
});
