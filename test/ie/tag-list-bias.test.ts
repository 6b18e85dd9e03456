import { describe, expect, it } from 'vitest';
import { promptTagVocabulary, tokenCounts } from '../../src/ie/prompt-tags.ts';
import { promptTagBias, type PromptTagScores } from '../../src/ie/tag-bias.ts';
import { answerListScan, entityStartEvidence, feedAnswerList, isWordStart, skipPotential } from '../../src/ie/tag-list-bias.ts';
import { loadCheckpointTokenizer } from '../../src/ie/task-data.ts';
import { directorySource } from '../../src/io/node-source.ts';
import { DECONCINI } from '../helpers/ie-example.ts';

const tokenizer = await loadCheckpointTokenizer(directorySource('public/models/chatuie-demo'));
const types = ['person', 'location', 'organization'];
const vocab = promptTagVocabulary(tokenizer, types, tokenizer.vocabSize, tokenCounts(tokenizer, [DECONCINI.text]));
const text = DECONCINI.text; // 'Sen. Dennis DeConcini of Arizona met Bush .'
const wordToken = (char: number): number => text.slice(0, char + 1).split(' ').length - 1;
const [person, location, organization] = types.map((type) => vocab.begin.get(type)!) as [number, number, number];
// The B tags: a person starts at "Dennis" (5, p 0.8) and at "Bush" (37, p 0.6), a location at
// "Arizona" (25, p 0.9); every other word start and type has p 0.01. Characters inside a word carry
// their word's scores (one prompt token a word), p 0.7 for a person at "DeConcini" (12) among them.
const pOf = (char: number, tag: number): number => {
  const word = text.lastIndexOf(' ', char) + 1;
  if (tag === person) return word === 5 ? 0.8 : word === 37 ? 0.6 : word === 12 ? 0.7 : 0.01;
  if (tag === location) return word === 25 ? 0.9 : 0.01;
  return 0.01;
};
const tags: PromptTagScores = { logProb: (char, tag) => Math.log(pOf(char, tag)), token: wordToken };
const evidence = entityStartEvidence(text, types, [person, location, organization], tags);
const log = Math.log;
const committed = (answer: string): number => answerListScan(evidence, answer).committed;
const skipped = (answer: string): number => answerListScan(evidence, answer).skipped;
const potential = (answer: string): number => skipPotential(evidence, answerListScan(evidence, answer));

describe('tag-guided decoding: how many mentions each entity list holds', () => {
  it('finds the word starts of a text and the best B tag at or after a character', () => {
    expect([0, 3, 5, 12, 22, 42].map((p) => isWordStart(text, p))).toEqual([true, true, true, true, true, true]);
    expect([1, 4, 6, 13].map((p) => isWordStart(text, p))).toEqual([false, false, false, false]); // inside a word, or a space
    expect(evidence.bestStartAfter(0, 0)).toBeCloseTo(0.8, 9);
    expect(evidence.bestStartAfter(0, 6)).toBeCloseTo(0.7, 9); // "DeConcini", not the inside of "Dennis"
    expect(evidence.bestStartAfter(0, 21)).toBeCloseTo(0.6, 9); // "Bush"
    expect(evidence.bestStartAfter(0, 38)).toBeCloseTo(0.01, 9);
    expect(evidence.bestStartAfter(0, text.length)).toBe(0);
    expect(evidence.bestStartAfter(1, 0)).toBeCloseTo(0.9, 9);
  });

  it('adds up the decisions an answer commits to: another mention after each one, or the list\'s end', () => {
    expect(committed('{"person": ["Dennis')).toBe(0); // lists opened and mentions begun commit nothing
    expect(committed('{"person": ["Dennis DeConcini"')).toBe(0);
    expect(committed('{"person": ["Dennis DeConcini", ')).toBeCloseTo(log(0.6), 9); // another person after character 21: "Bush"
    expect(committed('{"person": ["Dennis DeConcini", "Bush"]')).toBeCloseTo(log(0.6) + log(0.99), 9); // nothing after "Bush"
    expect(committed('{"person": ["Dennis DeConcini"], ')).toBeCloseTo(log(0.4), 9); // closed before "Bush"
    expect(committed('{"person": ["Dennis"], ')).toBeCloseTo(log(0.3), 9); // after "Dennis", "DeConcini" (0.7) could start one
    expect(committed('{"location": ["Arizona"], "organization": ["Sen."]}')).toBeCloseTo(log(0.99) + log(0.99), 9);
    expect(committed('{}')).toBe(0);
    // A relation's key ends the entity lists: nothing after it is scored.
    const relation = answerListScan(evidence, '{"person": ["Bush"], "live in": [["Bush", "Arizona"], ');
    expect(relation.phase).toBe('done');
    expect(relation.committed).toBeCloseTo(log(0.99), 9);
    // A mention is placed at its first word start after the last one, else at its first anywhere.
    expect(committed('{"person": [["Bush", 1], ')).toBeCloseTo(log(0.01), 9); // the pair form: after "Bush" only "." starts a word
    expect(committed('{"person": ["Bush", "Dennis", ')).toBeCloseTo(log(0.01) + log(0.7), 9); // "Dennis" before "Bush": placed at 5
    expect(committed('{"person": ["say \\"Bush\\"", ')).toBeCloseTo(log(0.8), 9); // an escaped quote does not end it; not in the text: placed nowhere, from 0
    // Keys out of schema order, or a broken answer: past what can be scored.
    expect(answerListScan(evidence, '{"location": ["Arizona"], "person": [').phase).toBe('done');
    expect(answerListScan(evidence, '{"person": ["Bush"]x').phase).toBe('done');
  });

  it('adds up the entity types an answer passes over without a list, and scores a key written in part by its best completion', () => {
    // Best p(B) in the text: person 0.8 ("Dennis"), location 0.9 ("Arizona"), organization 0.01.
    expect(skipped('{"person": ["Dennis"], "location": ["Arizona"]')).toBe(0);
    expect(skipped('{"location": [')).toBeCloseTo(log(0.2), 9); // person passed over
    expect(skipped('{"organization": [')).toBeCloseTo(log(0.2) + log(0.1), 9);
    expect(skipped('{"person": ["Bush"]}')).toBeCloseTo(log(0.1) + log(0.99), 9); // the answer's end passes over the rest
    expect(skipped('{}')).toBeCloseTo(log(0.2) + log(0.1) + log(0.99), 9);
    expect(skipped('{"person": ["Bush"], "live in": [')).toBeCloseTo(log(0.1) + log(0.99), 9); // so does a relation's key
    expect(committed('{}')).toBe(0); // the list decisions are a sum of their own
    // A key in part: the first type at or after the next that it can still become; none: all passed over.
    expect(potential('{"')).toBe(0);
    expect(potential('{"lo')).toBeCloseTo(log(0.2), 9);
    expect(potential('{"o')).toBeCloseTo(log(0.2) + log(0.1), 9);
    expect(potential('{"li')).toBeCloseTo(log(0.2) + log(0.1) + log(0.99), 9); // only "live in"
    expect(potential('{"person": ["Bush"], "')).toBe(0);
    expect(potential('{"person": ["Bush"]')).toBe(0); // outside a key: what it has passed over
    expect(potential('{"person": ["Bush"], "location": ["Arizona"], "live in": [')).toBeCloseTo(log(0.99), 9);
  });

  it('carries a scan on by any split of the text as if it read the whole', () => {
    const answers = ['{"person": ["Dennis DeConcini", "Bush"], "location": ["Arizona"], "live in": [["Dennis DeConcini", "Arizona"]]}', '{"organization": [["Sen.", 1]]}', '{}'];
    for (const answer of answers) {
      for (let cut = 0; cut <= answer.length; cut++) {
        const carried = feedAnswerList(evidence, answerListScan(evidence, answer.slice(0, cut)), answer.slice(cut));
        expect(carried).toEqual(answerListScan(evidence, answer));
      }
    }
  });

  it('biases each allowed token by λ_list · the change it makes to the committed decisions, alone or with λ', () => {
    const comma = tokenizer.encode(',')[0]!;
    const close = tokenizer.encode(']')[0]!;
    expect(tokenizer.decode([comma])).toBe(',');
    expect(tokenizer.decode([close])).toBe(']');
    const allowed = new Uint32Array(Math.ceil(tokenizer.vocabSize / 32));
    for (const id of [comma, close]) allowed[id >> 5]! |= 1 << (id & 31);
    const options = { tokenizer, vocab, entityTypes: types, text, tags, vocabSize: tokenizer.vocabSize, decodeAnswer: (ids: readonly number[]) => tokenizer.decode(ids) };
    const bias = promptTagBias({ ...options, lambda: 0, listLambda: 2 });
    const row = bias.next(tokenizer.encode('{"person": ["Dennis DeConcini"'), allowed)!;
    expect(row[comma]).toBeCloseTo(2 * log(0.6), 5); // another person after "DeConcini": "Bush"
    expect(row[close]).toBeCloseTo(2 * log(0.4), 5);
    expect(row.filter((v) => v !== 0)).toHaveLength(2);
    // Past the entity lists: nothing to score.
    expect(bias.next(tokenizer.encode('{"live in": [["Bush"'), allowed)).toBeNull();
    // With λ at an opening the two add up: λ · log p(B) of the word start, and λ_list · 0 (a mention's first characters commit nothing).
    const both = promptTagBias({ ...options, lambda: 1, listLambda: 2 });
    const bush = tokenizer.encode('Bush')[0]!;
    const onlyBush = new Uint32Array(allowed.length);
    onlyBush[bush >> 5]! |= 1 << (bush & 31);
    expect(both.next(tokenizer.encode('{"person": ["'), onlyBush)![bush]).toBeCloseTo(log(0.6), 5);
    expect(() => promptTagBias({ ...options, lambda: 0, listLambda: -1 })).toThrow(/λ_list -1/);
  });

  it('biases each allowed token by λ_skip · the change it makes to the cost of the types passed over', () => {
    const [brace, comma] = ['}', ','].map((piece) => tokenizer.encode(piece)[0]!) as [number, number];
    expect(tokenizer.decode([brace])).toBe('}');
    const allowed = new Uint32Array(Math.ceil(tokenizer.vocabSize / 32));
    for (const id of [brace, comma]) allowed[id >> 5]! |= 1 << (id & 31);
    const options = { tokenizer, vocab, entityTypes: types, text, tags, vocabSize: tokenizer.vocabSize, decodeAnswer: (ids: readonly number[]) => tokenizer.decode(ids) };
    const row = promptTagBias({ ...options, lambda: 0, skipLambda: 2 }).next(tokenizer.encode('{"person": ["Bush"]'), allowed)!;
    expect(row[brace]).toBeCloseTo(2 * (log(0.1) + log(0.99)), 5); // the end passes over location and organization
    expect(row[comma]).toBe(0); // another key: at its best, location's, which passes over nothing
    // With λ_list the two add up: `}` after a closed list decides no mention; `]` before it decided the list's end.
    const both = promptTagBias({ ...options, lambda: 0, listLambda: 1, skipLambda: 2 }).next(tokenizer.encode('{"person": ["Bush"]'), allowed)!;
    expect(both[brace]).toBeCloseTo(row[brace]!, 5);
    expect(() => promptTagBias({ ...options, lambda: 0, skipLambda: Number.POSITIVE_INFINITY })).toThrow(/λ_skip Infinity/);
  });
});
