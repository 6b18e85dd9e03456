// Byte-level BPE training: the written tokenizer.json loads through loadHfTokenizer, round-trips
// English, Chinese and JSON answers exactly, carries ChatGLM-6B's special tokens where the
// prompt framing finds them, compresses text, and is the same for the same input.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { GLM_SPECIAL_TOKENS, preTokenize, trainByteLevelBpe, WORDS_SPLIT_PATTERN } from '../../src/io/bpe-trainer.ts';
import { loadHfTokenizer } from '../../src/io/tokenizer.ts';
import { answerEndId, buildPromptIds } from '../../src/ie/prompt.ts';
import { DATA_DIR } from '../ie/realdata.ts';

function texts(dataset: string, count: number): string[] {
  return readFileSync(path.join(DATA_DIR, dataset, 'train.jsonl'), 'utf8').split('\n').filter(Boolean).slice(0, count)
    .map((line) => (JSON.parse(line) as { text: string }).text);
}

const corpus = [...texts('conll04', 300), ...texts('resume-ner', 300)];

describe('trainByteLevelBpe', () => {
  const trained = trainByteLevelBpe(corpus, { vocabSize: 1200 });
  const tokenizer = loadHfTokenizer(trained.tokenizerJson, trained.tokenizerConfig);

  it('writes a tokenizer.json of the asked size that loadHfTokenizer reads', () => {
    expect(trained.vocabSize).toBe(1200);
    expect(tokenizer.vocabSize).toBe(1200);
    expect(tokenizer.format).toBe('tokenizer.json');
  });

  it('round-trips English, Chinese, JSON answers and odd whitespace exactly', () => {
    const samples = [
      ...corpus.slice(0, 5), ...corpus.slice(-5),
      '{"person": ["Ada Lovelace", "Babbage"], "work for": [["Ada Lovelace", "Analytical Society"]]}',
      '{"name": ["张三"], "organization": ["北京大学"], "title": [["经理", 2]]}',
      "  two  spaces, a\ttab\nand a newline; it's 1999-2024 — ok? 😀",
    ];
    for (const text of samples) expect(tokenizer.decode(tokenizer.encode(text))).toBe(text);
  });

  it('has the ChatGLM-6B special tokens where the glm prompt framing looks for them', () => {
    for (const name of GLM_SPECIAL_TOKENS) expect(tokenizer.tokenToId(name)).toBe(trained.specialIds[name]);
    const { gmask, sop, eop, mask, smask, eos, pad } = tokenizer.specialTokens;
    expect([gmask, sop, eop, mask, smask, pad]).toEqual([
      trained.specialIds['[gMASK]'], trained.specialIds['<sop>'], trained.specialIds['<eop>'],
      trained.specialIds['[MASK]'], trained.specialIds['[sMASK]'], trained.specialIds['<pad>'],
    ]);
    expect(eos).toBe(eop);
    expect(buildPromptIds(tokenizer, 'glm', 'Ada').slice(-2)).toEqual([gmask, sop]);
    expect(answerEndId(tokenizer, 'glm')).toBe(eop);
    // Special token names in text are still encoded as one token each (added tokens).
    expect(tokenizer.encode('[gMASK]')).toEqual([gmask]);
  });

  it('merges reduce the token count well below one token per byte', () => {
    const english = corpus.slice(0, 50).join('\n');
    const chinese = corpus.slice(-50).join('\n');
    const bytes = (text: string): number => new TextEncoder().encode(text).length;
    expect(tokenizer.encode(english).length).toBeLessThan(bytes(english) * 0.45);
    expect(tokenizer.encode(chinese).length).toBeLessThan(bytes(chinese) * 0.6);
    const fewer = loadHfTokenizer(trainByteLevelBpe(corpus, { vocabSize: 400 }).tokenizerJson, trained.tokenizerConfig);
    expect(tokenizer.encode(english).length).toBeLessThan(fewer.encode(english).length);
  });

  it('is deterministic, also when the texts come in another order', () => {
    const again = trainByteLevelBpe(corpus, { vocabSize: 1200 });
    expect(JSON.stringify(again.tokenizerJson)).toBe(JSON.stringify(trained.tokenizerJson));
    const reversed = trainByteLevelBpe([...corpus].reverse(), { vocabSize: 1200 });
    expect(JSON.stringify(reversed.tokenizerJson)).toBe(JSON.stringify(trained.tokenizerJson));
  });

  it('pre-tokenizes like the Split pre-tokenizer: no piece lost, spaces kept with words', () => {
    const text = "Ada's  book, 2024!\n中文 text";
    expect(preTokenize(text).join('')).toBe(text);
    expect(preTokenize(text)).toContain(' book');
  });

  it('with the words split, writes a word as the same tokens in a text and in a JSON answer, and still round-trips', () => {
    const words = trainByteLevelBpe(corpus, { vocabSize: 1200, split: 'words' });
    const wordsTokenizer = loadHfTokenizer(words.tokenizerJson, words.tokenizerConfig);
    expect(JSON.stringify(words.tokenizerJson)).toContain(JSON.stringify(WORDS_SPLIT_PATTERN));
    const text = 'Ada Lovelace met Charles Babbage in London .';
    const answer = '{"person": ["Ada Lovelace", "Charles Babbage"], "location": ["London"]}';
    const textIds = wordsTokenizer.encode(text);
    const answerIds = wordsTokenizer.encode(answer);
    const occurs = (ids: number[], run: number[]): boolean => ids.some((_, i) => run.every((id, j) => ids[i + j] === id));
    for (const mention of ['Ada Lovelace', 'Charles Babbage', 'London']) {
      const ids = wordsTokenizer.encode(mention);
      expect(occurs(textIds, ids)).toBe(true);
      expect(occurs(answerIds, ids)).toBe(true);
    }
    // The GLM-4 split (the default) writes "Charles" after a quote as other tokens than after a space.
    const glm4Charles = tokenizer.encode(' Charles Babbage');
    expect(occurs(tokenizer.encode(text), glm4Charles)).toBe(true);
    expect(occurs(tokenizer.encode(answer), glm4Charles)).toBe(false);
    for (const sample of [answer, corpus[3]!, corpus[corpus.length - 2]!, "  two  spaces, a\ttab\nit's 😀"]) {
      expect(wordsTokenizer.decode(wordsTokenizer.encode(sample))).toBe(sample);
    }
    expect(preTokenize("Ada's  book", WORDS_SPLIT_PATTERN)).toEqual(['Ada', "'s", '  ', 'book']);
  });

  it('stops early when the texts run out of pairs, and refuses a vocabulary below bytes + specials', () => {
    const small = trainByteLevelBpe(['ab ab ab'], { vocabSize: 5000 });
    expect(small.vocabSize).toBeLessThan(5000);
    expect(loadHfTokenizer(small.tokenizerJson, small.tokenizerConfig).decode(loadHfTokenizer(small.tokenizerJson).encode('ab ab'))).toBe('ab ab');
    expect(() => trainByteLevelBpe(['x'], { vocabSize: 100 })).toThrow(/vocabSize/);
  });
});
