// Mentions at word boundaries: the marked suffix automaton against brute force on random texts,
// the answer constraint with it (no "L" of "LANCASTER"), characters the vocabulary cannot write,
// and the gold mentions of the real datasets (all at word boundaries).
import { describe, expect, it } from 'vitest';
import { createAnswerConstraint, type ConstraintVocabulary } from '../../src/ie/constraint.ts';
import { createMentionMatcher, MENTION_EMPTY, SubstringMatcher, WordMentionMatcher, type MentionMatcher } from '../../src/ie/constraint/mention-matcher.ts';
import type { IeSchema } from '../../src/ie/schema.ts';
import { findOccurrences, isAtWordBoundaries } from '../../src/ie/spans.ts';
import { Rng } from '../helpers/random.ts';
import { readSplit, type DatasetName } from './realdata.ts';

function walk(matcher: MentionMatcher, text: string): number {
  let state = MENTION_EMPTY;
  for (let index = 0; index < text.length && state >= 0; index++) state = matcher.next(state, text.charCodeAt(index));
  return state;
}

const isWord = (character: string | undefined): boolean => character !== undefined && /[\p{L}\p{N}_]/u.test(character) && !/\p{Script=Han}/u.test(character);

const hasLetter = (text: string): boolean => /[\p{L}\p{N}]/u.test(text);
const isSpace = (character: string | undefined): boolean => character !== undefined && /\s/u.test(character);

/**
 * Brute force of the words matcher: `needle` can be read iff some occurrence in the text without
 * its trailing white space starts at a word boundary, not with a space, and has a letter or digit
 * in it or after it; it can end there iff some occurrence is at word boundaries at both ends, with
 * no space at either end and a letter or digit in it.
 */
function readable(text: string, needle: string): boolean {
  const trimmed = text.replace(/\s+$/u, '');
  return findOccurrences(trimmed, needle).some((start) => !(isWord(trimmed[start - 1]) && isWord(trimmed[start])) && !isSpace(needle[0]) &&
    (hasLetter(needle) || hasLetter(trimmed.slice(start + needle.length))));
}

function endable(text: string, needle: string): boolean {
  return findOccurrences(text, needle).some((start) => isAtWordBoundaries(text, start, needle)) && !isSpace(needle[0]) && !isSpace(needle.at(-1)) && hasLetter(needle);
}

describe('word-boundary mention matcher', () => {
  it('reads and ends exactly as the brute force says (random texts)', () => {
    const rng = new Rng(11);
    const alphabet = ['a', 'b', 'X', '1', ' ', ' ', '.', '-', '$', '中', '文', '\t', '"'];
    for (let trial = 0; trial < 60; trial++) {
      const length = rng.int(0, 14);
      let text = '';
      for (let index = 0; index < length; index++) text += alphabet[rng.int(0, alphabet.length)]!;
      const matcher = new WordMentionMatcher(text);
      const candidates = new Set<string>();
      for (let start = 0; start < text.length; start++) for (let end = start + 1; end <= text.length; end++) candidates.add(text.slice(start, end));
      for (let extra = 0; extra < 40; extra++) {
        let random = '';
        for (let index = rng.int(1, 5); index > 0; index--) random += alphabet[rng.int(0, alphabet.length)]!;
        candidates.add(random);
      }
      for (const candidate of candidates) {
        const state = walk(matcher, candidate);
        expect(state >= 0, `${JSON.stringify(candidate)} in ${JSON.stringify(text)}`).toBe(readable(text, candidate));
        expect(state >= 0 && matcher.canEnd(state), `end ${JSON.stringify(candidate)} in ${JSON.stringify(text)}`).toBe(endable(text, candidate));
        if (state >= 0) {
          // No dead ends: some character or the end follows every readable state.
          const reachable = matcher.canEnd(state) || [...new Set(text)].some((character) => matcher.next(state, character.charCodeAt(0)) >= 0);
          expect(reachable, `dead end after ${JSON.stringify(candidate)} in ${JSON.stringify(text)}`).toBe(true);
          // candidatesInto is a superset of the characters next() takes.
          const out = new Uint16Array(matcher.maxCandidates() + 4);
          const count = matcher.candidatesInto(state, out, 0);
          expect(count).toBeLessThanOrEqual(matcher.maxCandidates());
          const listed = new Set(out.subarray(0, count));
          for (const character of new Set(text)) {
            if (matcher.next(state, character.charCodeAt(0)) >= 0) expect(listed.has(character.charCodeAt(0)), `${character} after ${candidate}`).toBe(true);
          }
        }
      }
      expect(matcher.canEnd(MENTION_EMPTY)).toBe(false);
    }
  });

  it('Chinese: every character position is a boundary; Latin words inside stay whole', () => {
    const matcher = new WordMentionMatcher('我在IBM公司工作');
    for (const mention of ['我', '在', 'IBM', 'IBM公司', '公司工作', '司工']) expect(matcher.canEnd(walk(matcher, mention)), mention).toBe(true);
    for (const mention of ['IB', 'BM', 'BM公司']) {
      const state = walk(matcher, mention);
      expect(state >= 0 && matcher.canEnd(state), mention).toBe(false);
    }
  });

  it('a mention holds a letter or digit and has no space at either end', () => {
    const matcher = new WordMentionMatcher('LANCASTER , Ky . costs $1 million .  ');
    for (const mention of ['LANCASTER', 'LANCASTER , Ky .', 'Ky .', '$1 million', '$1', 'million .']) expect(matcher.canEnd(walk(matcher, mention)), mention).toBe(true);
    for (const mention of [',', '.', ', ', 'Ky . ', '$', 'costs ']) {
      const state = walk(matcher, mention);
      expect(state >= 0 && matcher.canEnd(state), mention).toBe(false);
    }
    expect(walk(matcher, ' Ky')).toBe(-1); // no leading space
    const end = new WordMentionMatcher('Ada left .  ');
    expect(walk(end, '.')).toBe(-1); // no letter in or after it (trailing spaces are not read)
    expect(walk(end, 'left . ')).toBe(-1);
    expect(end.canEnd(walk(end, 'left .'))).toBe(true);
    expect(walk(matcher, ', Ky')).toBeGreaterThanOrEqual(0);
  });

  it('a word character the vocabulary cannot write ends a word there, so no mention is stuck before it', () => {
    const strict = new WordMentionMatcher('Café au lait');
    expect(strict.canEnd(walk(strict, 'Caf'))).toBe(false);
    const matcher = new WordMentionMatcher('Café au lait', (character) => character !== 'é');
    expect(matcher.canEnd(walk(matcher, 'Caf'))).toBe(true);
    expect(matcher.canEnd(walk(matcher, 'au'))).toBe(true);
    expect(matcher.canEnd(walk(matcher, 'la'))).toBe(false);
  });

  it('no mention is offered that cannot be finished: no letter, or only through characters the vocabulary cannot write', () => {
    expect(new WordMentionMatcher('$ , .').canStart()).toBe(false);
    expect(new WordMentionMatcher('$ A').canStart()).toBe(true);
    const blocked = new WordMentionMatcher('$ · A', (character) => character !== '·');
    expect(walk(blocked, '$')).toBe(-1); // its letter lies behind "·", which cannot be written
    expect(blocked.canEnd(walk(blocked, 'A'))).toBe(true);
    expect(new WordMentionMatcher('· ·', (character) => character !== '·').canStart()).toBe(false);
    // The vocabulary is asked about whole characters, never half a surrogate pair: an emoji it has
    // no token for cannot be copied, so "im ryan " (only the emoji can follow) is no prefix. This
    // was a dead end the shipped model's decoding reached on a wnut17 tweet.
    const emoji = new WordMentionMatcher('i wish im ryan 😭 😭', (character) => character !== '😭');
    expect(walk(emoji, 'im ryan')).toBeGreaterThan(0);
    expect(emoji.canEnd(walk(emoji, 'im ryan'))).toBe(true);
    expect(walk(emoji, 'im ryan ')).toBe(-1);
    const written = new WordMentionMatcher('ryan 😭 😀', (character) => character !== '😀');
    expect(walk(written, 'ryan 😭')).toBe(-1); // 😭 shares its high half with 😀
    expect(written.canEnd(walk(new WordMentionMatcher('ryan 😭', () => true), 'ryan 😭'))).toBe(true);
  });

  it('anywhere: any non-empty substring; a text holding the marker character falls back to it', () => {
    const anywhere = createMentionMatcher('LANCASTER , Ky .', 'anywhere');
    expect(anywhere).toBeInstanceOf(SubstringMatcher);
    expect(anywhere.canEnd(walk(anywhere, 'L'))).toBe(true);
    expect(anywhere.canEnd(MENTION_EMPTY)).toBe(false);
    expect(createMentionMatcher('a\uffffb', 'words')).toBeInstanceOf(SubstringMatcher);
    expect(() => new WordMentionMatcher('a\uffffb')).toThrow(/U\+FFFF/);
  });
});

describe('the answer constraint with word-boundary mentions (the default)', () => {
  const schema: IeSchema = { entityTypes: ['location', 'person'], relationTypes: [], eventTypes: [] };
  const input = 'LANCASTER , Ky . -- Ada met "Bob"';
  const characters = new Set([...input, ...' {}[]",:\\/u0123456789abcdefnrt', ...'locationperson']);
  const extra = ['LAN', 'CASTER', 'L', 'Ky', ' .', '"]}', '"', 'Ad'];
  const vocab: ConstraintVocabulary = { pieces: ['', ...characters, ...extra], endId: 0 };
  const allowed = (constraint: { allowed(): Uint32Array }): Set<string> => {
    const mask = constraint.allowed();
    return new Set(vocab.pieces.filter((_, id) => ((mask[id >> 5]! >>> (id & 31)) & 1) === 1));
  };
  const feed = (answer: string, mentionBoundaries?: 'words' | 'anywhere'): ReturnType<typeof createAnswerConstraint> => {
    const constraint = createAnswerConstraint(vocab, schema, input, 'ner', mentionBoundaries ? { mentionBoundaries } : {});
    for (const character of answer) constraint.advance(vocab.pieces.indexOf(character));
    return constraint;
  };

  it('does not let a mention close inside a word, and says so in the mask', () => {
    const afterL = feed('{"location": ["L');
    const mask = allowed(afterL);
    expect(mask.has('"')).toBe(false);
    expect(mask.has('"]}')).toBe(false);
    expect(mask.has('A')).toBe(true);
    expect(mask.has('CASTER')).toBe(false); // "LCASTER" is not in the input
    const afterLan = feed('{"location": ["LAN');
    expect(allowed(afterLan).has('CASTER')).toBe(true);
    expect(allowed(afterLan).has('"')).toBe(false);
    const whole = feed('{"location": ["LANCASTER');
    expect(allowed(whole).has('"')).toBe(true);
    expect(allowed(whole).has(' ')).toBe(true); // "LANCASTER , Ky ." goes on
    // A mention cannot start inside a word either.
    expect(allowed(feed('{"location": ["')).has('A')).toBe(true); // "A" of "Ada" starts a word
    expect(allowed(feed('{"person": ["')).has('d')).toBe(false);
    // With "anywhere" the old behaviour: "L" may close.
    expect(allowed(feed('{"location": ["L', 'anywhere')).has('"')).toBe(true);
  });

  it('accepts whole-word answers to the end, quotes and punctuation included', () => {
    const answer = '{"location": ["LANCASTER , Ky .", "Ky"], "person": ["Ada", "\\"Bob\\"", "Bob"]}';
    const constraint = feed(answer);
    expect(constraint.done).toBe(true);
  });
});

describe('gold mentions of the real datasets lie at word boundaries', () => {
  const count = (dataset: DatasetName): { mentions: number; cut: number } => {
    let mentions = 0;
    let cut = 0;
    for (const split of ['train', 'dev', 'test'] as const) {
      for (const example of readSplit(dataset, split).examples) {
        const spans = [...example.entities, ...example.events.flatMap((event) => [event.trigger, ...event.arguments])];
        for (const span of spans) {
          mentions++;
          if (!isAtWordBoundaries(example.text, span.start, example.text.slice(span.start, span.end))) cut++;
        }
      }
    }
    return { mentions, cut };
  };

  it('conll04, wnut17 and resume-ner: every one; CASIE: all but a few annotation slips', () => {
    for (const dataset of ['conll04', 'wnut17', 'resume-ner'] as const) {
      const { mentions, cut } = count(dataset);
      expect(mentions, dataset).toBeGreaterThan(1000);
      expect(cut, dataset).toBe(0);
    }
    const casie = count('casie');
    expect(casie.cut).toBeGreaterThan(0);
    expect(casie.cut / casie.mentions).toBeLessThan(0.002);
  });
});
