import { describe, expect, it } from 'vitest';
import { promptTagVocabulary, tokenCounts } from '../../src/ie/prompt-tags.ts';
import { bestWordStart, mentionPiece, openingMentionType, promptTagBias, recommendedTagBias } from '../../src/ie/tag-bias.ts';
import { loadCheckpointTokenizer } from '../../src/ie/task-data.ts';
import { directorySource } from '../../src/io/node-source.ts';
import { DECONCINI } from '../helpers/ie-example.ts';

const tokenizer = await loadCheckpointTokenizer(directorySource('public/models/chatuie-demo'));
const types = ['person', 'location', 'organization'];
const vocab = promptTagVocabulary(tokenizer, types, tokenizer.vocabSize, tokenCounts(tokenizer, [DECONCINI.text]));
const text = DECONCINI.text; // 'Sen. Dennis DeConcini of Arizona met Bush .'

describe('tag-guided decoding', () => {
  it('takes the model\'s recommended λ where every entity type of the schema has a tag, and says why it is off elsewhere', () => {
    const recommending = { ...vocab, decodingBias: 2 };
    const greedy = { constrained: true, beams: 1 };
    expect(recommendedTagBias(recommending, ['location', 'person'], greedy)).toEqual({ lambda: 2, off: null });
    expect(recommendedTagBias(vocab, types, greedy)).toEqual({ lambda: 0, off: null }); // tags, no recommendation
    expect(recommendedTagBias(null, types, greedy)).toEqual({ lambda: 0, off: null });
    expect(recommendedTagBias(recommending, [], greedy)).toEqual({ lambda: 0, off: null });
    expect(recommendedTagBias({ ...vocab, decodingBias: 0 }, types, greedy)).toEqual({ lambda: 0, off: null });
    expect(recommendedTagBias(recommending, types, { constrained: true, beams: 4 })).toEqual({ lambda: 0, off: "the model's tag-guided decoding (λ 2) is off: it works with greedy or sampled decoding, not beam search" });
    expect(recommendedTagBias(recommending, types, { constrained: false, beams: 1 })).toEqual({ lambda: 0, off: "the model's tag-guided decoding (λ 2) is off: it guides constrained decoding only" });
    expect(recommendedTagBias(recommending, ['person', 'drug', 'gene'], greedy).off).toBe(
      "the model's tag-guided decoding (λ 2) is off: entity types drug, gene of the schema have no prompt tag (the model tags person, location, organization)");
  });

  it('knows when the answer opens a mention, and of which entity type', () => {
    expect(openingMentionType('{"person": ["', types)).toBe('person');
    expect(openingMentionType('{"person": ["Dennis DeConcini", "', types)).toBe('person');
    expect(openingMentionType('{"person": ["Bush"], "location": ["', types)).toBe('location');
    expect(openingMentionType('{"person": ["Den', types)).toBeNull(); // inside a mention
    expect(openingMentionType('{"person": ["Bush"', types)).toBeNull(); // a mention just closed
    expect(openingMentionType('{"person": ["Bush"], "', types)).toBeNull(); // a key opens, not a mention
    expect(openingMentionType('{"live in": [["', types)).toBeNull(); // a relation's argument
    expect(openingMentionType('{"event": ["', types)).toBeNull(); // not an entity type of the schema
  });

  it('scores a piece by the best word start of the text it begins, never inside a word', () => {
    const score = (p: number): number => -p; // earlier is better: the first word start wins
    expect(bestWordStart(text, 'De', score)).toBe(-5); // "Dennis" at 5 and "DeConcini" at 12
    expect(bestWordStart(text, 'DeC', score)).toBe(-12);
    expect(bestWordStart(text, 'Con', score)).toBe(-Infinity); // only inside "DeConcini"
    expect(bestWordStart(text, '', score)).toBe(-Infinity);
    expect(bestWordStart(text, '.', score)).toBe(-3); // punctuation is its own word
    expect(mentionPiece(tokenizer, tokenizer.encode(' "St')[0]!)).not.toMatch(/^[\s"]/);
  });

  it('biases the allowed tokens at a mention\'s opening by λ · the best log p(B-type) of their word starts, and nothing elsewhere', () => {
    // Tags that say "a location begins at Arizona (character 25)" and nothing else.
    const begin = vocab.begin.get('location')!;
    const tagLogProb = (char: number, tag: number): number => (tag === begin && char === 25 ? -0.1 : -5);
    const bias = promptTagBias({ tokenizer, vocab, entityTypes: types, text, tagLogProb, lambda: 2, vocabSize: tokenizer.vocabSize, decodeAnswer: (ids) => tokenizer.decode(ids) });
    const opening = tokenizer.encode('{"location": ["');
    const ar = tokenizer.encode('Arizona')[0]!; // the first token of the mention as the answer writes it
    const bush = tokenizer.encode('Bush')[0]!;
    const words = Math.ceil(tokenizer.vocabSize / 32);
    const allowed = new Uint32Array(words);
    for (const id of [ar, bush]) allowed[id >> 5]! |= 1 << (id & 31);
    const row = bias.next(opening, allowed)!;
    expect(row).not.toBeNull();
    expect(row[ar]).toBeCloseTo(2 * -0.1, 5);
    expect(row[bush]).toBeCloseTo(2 * -5, 5);
    expect(row.filter((v) => v !== 0)).toHaveLength(2); // only the allowed tokens are scored
    // Not at an opening: no bias; no tokens yet: none either.
    expect(bias.next(tokenizer.encode('{"location": ["Ari'), allowed)).toBeNull();
    expect(bias.next([], allowed)).toBeNull();
    expect(() => promptTagBias({ tokenizer, vocab, entityTypes: types, text, tagLogProb, lambda: 0, vocabSize: tokenizer.vocabSize, decodeAnswer: () => '' })).toThrow(/λ 0 must be a positive number/);
  });
});
