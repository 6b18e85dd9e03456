import { describe, expect, it } from 'vitest';
import { promptTagVocabulary, tokenCounts } from '../../src/ie/prompt-tags.ts';
import { bestWordStart, mentionEndScore, mentionPiece, openingMentionType, openMention, promptTagBias, recommendedTagBias, type PromptTagScores } from '../../src/ie/tag-bias.ts';
import { NO_TAG_SCALES, tagBiasLabel, tagGuidanceParts } from '../../src/ie/tag-label.ts';
import { loadCheckpointTokenizer } from '../../src/ie/task-data.ts';
import { directorySource } from '../../src/io/node-source.ts';
import { DECONCINI } from '../helpers/ie-example.ts';

const tokenizer = await loadCheckpointTokenizer(directorySource('public/models/chatuie-demo'));
const types = ['person', 'location', 'organization'];
const vocab = promptTagVocabulary(tokenizer, types, tokenizer.vocabSize, tokenCounts(tokenizer, [DECONCINI.text]));
const text = DECONCINI.text; // 'Sen. Dennis DeConcini of Arizona met Bush .'
/** Prompt tokens as a byte-level BPE splits this text: one per word, with the space before it. */
const wordToken = (char: number): number => text.slice(0, char + 1).split(' ').length - 1;

describe('tag-guided decoding', () => {
  it('takes the model\'s recommended λ where every entity type of the schema has a tag, and says why it is off elsewhere', () => {
    const recommending = { ...vocab, decodingBias: 2 };
    const greedy = { constrained: true, beams: 1 };
    expect(recommendedTagBias(recommending, ['location', 'person'], greedy)).toEqual({ ...NO_TAG_SCALES, lambda: 2, off: null });
    expect(recommendedTagBias(vocab, types, greedy)).toEqual({ ...NO_TAG_SCALES, off: null }); // tags, no recommendation
    expect(recommendedTagBias(null, types, greedy)).toEqual({ ...NO_TAG_SCALES, off: null });
    expect(recommendedTagBias(recommending, [], greedy)).toEqual({ ...NO_TAG_SCALES, off: null });
    expect(recommendedTagBias({ ...vocab, decodingBias: 0 }, types, greedy)).toEqual({ ...NO_TAG_SCALES, off: null });
    expect(recommendedTagBias(recommending, types, { constrained: true, beams: 4 })).toEqual({ ...NO_TAG_SCALES, off: "the model's tag-guided decoding (λ 2) is off: it works with greedy or sampled decoding, not beam search" });
    expect(recommendedTagBias(recommending, types, { constrained: false, beams: 1 })).toEqual({ ...NO_TAG_SCALES, off: "the model's tag-guided decoding (λ 2) is off: it guides constrained decoding only" });
    expect(recommendedTagBias(recommending, ['person', 'drug', 'gene'], greedy).off).toBe(
      "the model's tag-guided decoding (λ 2) is off: entity types drug, gene of the schema have no prompt tag (the model tags person, location, organization)");
    // A recommended λ_end comes with the λ, or alone, and is off where the λ would be.
    expect(recommendedTagBias({ ...recommending, decodingEndBias: 1 }, types, greedy)).toEqual({ ...NO_TAG_SCALES, lambda: 2, endLambda: 1, off: null });
    expect(recommendedTagBias({ ...vocab, decodingEndBias: 1 }, types, greedy)).toEqual({ ...NO_TAG_SCALES, endLambda: 1, off: null });
    expect(recommendedTagBias({ ...recommending, decodingEndBias: 1 }, types, { constrained: true, beams: 2 }).off).toBe(
      "the model's tag-guided decoding (λ 2, λ_end 1) is off: it works with greedy or sampled decoding, not beam search");
    // A recommended λ_list likewise.
    expect(recommendedTagBias({ ...recommending, decodingEndBias: 1, decodingListBias: 2 }, types, greedy)).toEqual({ lambda: 2, endLambda: 1, listLambda: 2, skipLambda: 0, off: null });
    expect(recommendedTagBias({ ...vocab, decodingSkipBias: 2 }, types, greedy)).toEqual({ lambda: 0, endLambda: 0, listLambda: 0, skipLambda: 2, off: null });
    expect(recommendedTagBias({ ...vocab, decodingListBias: 2 }, types, greedy)).toEqual({ lambda: 0, endLambda: 0, listLambda: 2, skipLambda: 0, off: null });
    expect(recommendedTagBias({ ...vocab, decodingListBias: 2 }, types, { constrained: false, beams: 1 }).off).toBe(
      "the model's tag-guided decoding (λ_list 2) is off: it guides constrained decoding only");
    expect(tagBiasLabel({ lambda: 0, endLambda: 3, listLambda: 0, skipLambda: 0 })).toBe('λ_end 3');
    expect(tagBiasLabel({ lambda: 2, endLambda: 2, listLambda: 1.5, skipLambda: 0 })).toBe('λ 2, λ_end 2, λ_list 1.5');
    expect(tagBiasLabel({ lambda: 2, endLambda: 2, listLambda: 2, skipLambda: 1 })).toBe('λ 2, λ_end 2, λ_list 2, λ_skip 1');
    expect(tagBiasLabel(NO_TAG_SCALES)).toBe('');
    // The tooltip's words: one part for each scale > 0, in order.
    expect(tagGuidanceParts(NO_TAG_SCALES)).toEqual([]);
    const parts = tagGuidanceParts({ ...NO_TAG_SCALES, lambda: 2, skipLambda: 1 });
    expect(parts).toHaveLength(2);
    expect(parts[0]).toMatch(/^where the answer opens a mention of a type, each allowed word gets λ · /);
    expect(parts[1]).toMatch(/^an entity type the answer passes over without a list costs λ_skip · /);
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
    const tags: PromptTagScores = { logProb: (char, tag) => (tag === begin && char === 25 ? -0.1 : -5), token: wordToken };
    const bias = promptTagBias({ tokenizer, vocab, entityTypes: types, text, tags, lambda: 2, vocabSize: tokenizer.vocabSize, decodeAnswer: (ids) => tokenizer.decode(ids) });
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
    // Not at an opening (and no end scale): no bias; no tokens yet: none either.
    expect(bias.next(tokenizer.encode('{"location": ["Ari'), allowed)).toBeNull();
    expect(bias.next([], allowed)).toBeNull();
    expect(() => promptTagBias({ tokenizer, vocab, entityTypes: types, text, tags, lambda: 0, vocabSize: tokenizer.vocabSize, decodeAnswer: () => '' })).toThrow(/λ 0, λ_end 0, λ_list 0 and λ_skip 0 must be numbers ≥ 0, one of them > 0/);
    expect(() => promptTagBias({ tokenizer, vocab, entityTypes: types, text, tags, lambda: 1, endLambda: -1, vocabSize: tokenizer.vocabSize, decodeAnswer: () => '' })).toThrow(/λ_end -1/);
  });

  it('reads the mention an answer has open, with its characters so far', () => {
    expect(openMention('{"person": ["', types)).toEqual({ type: 'person', prefix: '' });
    expect(openMention('{"person": ["Bush", "Den', types)).toEqual({ type: 'person', prefix: 'Den' });
    expect(openMention('{"person": ["say \\"hi', types)).toEqual({ type: 'person', prefix: 'say "hi' });
    expect(openMention('{"person": ["say \\', types)).toBeNull(); // within an escape
    expect(openMention('{"person": ["say \\u00', types)).toBeNull();
    expect(openMention('{"person": ["Bush"', types)).toBeNull();
    expect(openMention('{"live in": [["Den', types)).toBeNull();
  });

  // The I tag says "DeConcini" (prompt token 2, characters 11–20) continues a mention: p(I) 0.9 there, 0.1 elsewhere.
  const inside = vocab.inside;
  const tags: PromptTagScores = { logProb: (char, tag) => (tag === inside ? Math.log(wordToken(char) === 2 ? 0.9 : 0.1) : Math.log(0.05)), token: wordToken };

  it('scores a token inside a mention by p(I) of the prompt token it goes on into, or 1 − p(I) of the one it closes before', () => {
    const end = (prefix: string, piece: string): number | null => mentionEndScore(text, prefix, piece, tags, inside);
    expect(end('Dennis', ' DeConcini')).toBeCloseTo(Math.log(0.9), 6); // enters "DeConcini"
    expect(end('Dennis', ' De')).toBeCloseTo(Math.log(0.9), 6);
    expect(end('Dennis', '"')).toBeCloseTo(Math.log(0.1), 6); // closes before it
    expect(end('Dennis', '"],')).toBeCloseTo(Math.log(0.1), 6);
    expect(end('Sen.', ' Dennis')).toBeCloseTo(Math.log(0.1), 6);
    expect(end('Sen.', '"')).toBeCloseTo(Math.log(0.9), 6);
    expect(end('Den', 'nis')).toBe(0); // inside one prompt token: the tags do not tell
    expect(end('Den', 'nis"')).toBeCloseTo(Math.log(0.1), 6); // goes on inside the token, closes before the next
    expect(end('De', 'C')).toBe(0); // "DeConcini", not "Dennis"
    expect(end('Dennis', ' Bush')).toBeNull(); // fits no occurrence
    expect(end('Dennis', '\\"')).toBeNull(); // an escape
    expect(end('.', '"')).toBe(0); // at the text's end
    expect(end('Bush', '"')).toBeCloseTo(Math.log(0.9), 6);
  });

  it('biases the allowed tokens inside a mention by λ_end · their end score, and only there when λ is 0', () => {
    const bias = promptTagBias({ tokenizer, vocab, entityTypes: types, text, tags, lambda: 0, endLambda: 3, vocabSize: tokenizer.vocabSize, decodeAnswer: (ids) => tokenizer.decode(ids) });
    const quote = tokenizer.encode('"')[0]!;
    const on = tokenizer.encode(' DeConcini')[0]!; // " De" or longer: enters "DeConcini"
    const bush = tokenizer.encode(' Bush')[0]!; // allowed here only for the test: fits no occurrence
    expect(tokenizer.decode([quote])).toBe('"');
    const allowed = new Uint32Array(Math.ceil(tokenizer.vocabSize / 32));
    for (const id of [quote, on, bush]) allowed[id >> 5]! |= 1 << (id & 31);
    const row = bias.next(tokenizer.encode('{"person": ["Dennis'), allowed)!;
    expect(row[quote]).toBeCloseTo(3 * Math.log(0.1), 5);
    expect(row[on]).toBeCloseTo(3 * Math.log(0.9), 5);
    expect(row[bush]).toBe(0);
    expect(row.filter((v) => v !== 0)).toHaveLength(2);
    expect(bias.next(tokenizer.encode('{"person": ["'), allowed)).toBeNull(); // an opening: λ is 0
    expect(bias.next(tokenizer.encode('{"person": ["Dennis"], "'), allowed)).toBeNull();
  });
});
