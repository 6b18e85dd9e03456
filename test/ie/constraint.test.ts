// The answer constraint on hand-written cases: the suffix automaton, the grammar (accept/reject),
// the vocabulary trie walk (mask = every token whose whole surface can be read), the vocabulary
// built from real tokenizers of both kinds.
import { describe, expect, it } from 'vitest';
import type { IeTaskKind } from '../../src/ie/answer.ts';
import { AnswerConstraint, buildConstraintVocabulary, createAnswerConstraint, type ConstraintVocabulary, type MentionBoundaries } from '../../src/ie/constraint.ts';
import { SuffixAutomaton } from '../../src/ie/constraint/suffix-automaton.ts';
import { VocabTrie } from '../../src/ie/constraint/vocab-trie.ts';
import type { IeSchema } from '../../src/ie/schema.ts';
import { loadHfTokenizer, loadSentencePieceTokenizer } from '../../src/io/tokenizer.ts';
import { basePieces, bpePieces, buildByteLevelTokenizerJson, writeSentencePieceModel } from './fixtures/tokenizers.ts';
import { Rng } from '../helpers/random.ts';

function allSubstrings(text: string): Set<string> {
  const result = new Set<string>();
  for (let start = 0; start < text.length; start++) for (let end = start + 1; end <= text.length; end++) result.add(text.slice(start, end));
  return result;
}

describe('suffix automaton', () => {
  it('accepts exactly the substrings of the text (exhaustive on small texts)', () => {
    const rng = new Rng(7);
    for (const text of ['', 'a', 'abab', 'abcbc', 'mississippi', '中文中文字', 'aaaaaa', '"\\"\\']) {
      const automaton = new SuffixAutomaton(text);
      expect(automaton.stateCount).toBeLessThanOrEqual(Math.max(text.length + 1, 2 * text.length - 1));
      const substrings = allSubstrings(text);
      for (const substring of substrings) expect(automaton.contains(substring), substring).toBe(true);
      // Random strings over the text's alphabet plus one foreign character.
      const alphabet = [...new Set([...text, 'z'])];
      for (let trial = 0; trial < 300; trial++) {
        const length = rng.int(1, 7);
        let candidate = '';
        for (let index = 0; index < length; index++) candidate += alphabet[rng.int(0, alphabet.length)]!;
        expect(automaton.contains(candidate), candidate).toBe(substrings.has(candidate));
      }
    }
  });

  it('records control-character transitions for the escape states', () => {
    const automaton = new SuffixAutomaton('a\tb\u0001c');
    expect(automaton.controlMask[0]).toBe((1 << 9) | (1 << 1));
    expect(automaton.controlMask[automaton.walk('a')]).toBe(1 << 9);
    expect(automaton.controlMask[automaton.walk('b')]).toBe(1 << 1);
    expect(automaton.controlMask[automaton.walk('c')]).toBe(0);
  });
});

describe('vocabulary trie', () => {
  it('finds every piece by walking its characters and leaves out excluded and empty ones', () => {
    const pieces = ['', 'ab', 'a', 'abc', 'b', 'ab', '中', 'x'];
    const trie = new VocabTrie(pieces, (id) => id !== 7);
    const idsAt = (piece: string): number[] => {
      let node = 0;
      for (const character of piece) node = node < 0 ? -1 : trie.child(node, character.charCodeAt(0));
      if (node < 0) return [];
      return [...trie.tokenIds.subarray(trie.tokenStart[node]!, trie.tokenStart[node + 1]!)];
    };
    expect(idsAt('ab')).toEqual([1, 5]);
    expect(idsAt('a')).toEqual([2]);
    expect(idsAt('abc')).toEqual([3]);
    expect(idsAt('中')).toEqual([6]);
    expect(idsAt('x')).toEqual([]);
    expect(trie.maxDepth).toBe(3);
    expect(trie.childCount(0)).toBe(3); // a b 中
  });
});

// A vocabulary of single characters (and a few longer pieces), end token id 0.
function characterVocabulary(texts: readonly string[], extra: readonly string[] = []): ConstraintVocabulary {
  const characters = new Set<string>();
  for (const text of texts) for (const character of text) characters.add(character);
  for (const character of ' {}[]",:\\/u0123456789abcdefnrtABCDEF') characters.add(character);
  return { pieces: ['', ...characters, ...extra], endId: 0 };
}

const SCHEMA: IeSchema = {
  entityTypes: ['person', 'organization'],
  relationTypes: [{ name: 'work for' }, { name: 'live in' }],
  eventTypes: [],
};
const EVENTS: IeSchema = {
  entityTypes: [],
  relationTypes: [],
  eventTypes: [
    { name: 'Databreach', roles: ['Attacker', 'Victim'] },
    { name: 'Ransom', roles: ['Price'] },
  ],
};
const INPUT = 'Ada Lovelace joined the Analytical Society ; hackers stole data from the bank , a "big" one \\ really\tso\u0001.';

/** Feeds `answer` one character at a time; checks mask and advance agree at every step. */
function accepts(schema: IeSchema, input: string, answer: string, task?: IeTaskKind, mentionBoundaries: MentionBoundaries = 'anywhere', allowRepeatedEntities = false, freeRelationArguments = false, allowNestedEntities = false): boolean {
  const vocab = characterVocabulary([input, answer]);
  const constraint = createAnswerConstraint(vocab, schema, input, task, { mentionBoundaries, allowRepeatedEntities, freeRelationArguments, allowNestedEntities });
  for (const character of answer) {
    const id = vocab.pieces.indexOf(character);
    const mask = constraint.allowed();
    const inMask = ((mask[id >> 5]! >>> (id & 31)) & 1) === 1;
    let advanced = true;
    try {
      constraint.advance(id);
    } catch {
      advanced = false;
    }
    expect(advanced, `mask and advance disagree on ${JSON.stringify(character)}`).toBe(inMask);
    if (!advanced) return false;
  }
  return constraint.done;
}

describe('answer grammar', () => {
  it('accepts well-formed answers in the serializer format', () => {
    const accepted: [IeSchema, string][] = [
      [SCHEMA, '{}'],
      [SCHEMA, ' {}'],
      [SCHEMA, '{"person": ["Ada Lovelace", "hackers"]}'],
      [SCHEMA, '{"person": ["Ada"], "organization": ["Analytical Society"], "work for": [["Ada", "Analytical Society"]]}'],
      [{ ...SCHEMA, entityTypes: [] }, '{"live in": [["Ada", "the bank"], ["hackers", "bank"]]}'], // relations only: any mentions
      [SCHEMA, '{"person": ["Ada", "hackers"], "organization": ["the bank"], "live in": [["Ada", "the bank"], ["hackers", "the bank"], ["Ada", "hackers"]]}'],
      [SCHEMA, '{"person": ["\\"big\\"", "\\\\ really", "y\\tso\\u0001.", "a \\"b"]}'],
      [EVENTS, '{"Databreach": [{"trigger": "stole", "Attacker": ["hackers"], "Victim": ["the bank", "Ada"]}]}'],
      [EVENTS, '{"Databreach": [{"trigger": "stole"}, {"trigger": "joined", "Victim": ["Ada"]}], "Ransom": [{"trigger": "data", "Price": ["big"]}]}'],
    ];
    for (const [schema, answer] of accepted) expect(accepts(schema, INPUT, answer), answer).toBe(true);
    // Any position of Chinese text is a word boundary (nested mentions allowed: "北京" occurs once, inside "北京市").
    expect(accepts({ entityTypes: ['地名'], relationTypes: [], eventTypes: [] }, '我住在北京市。', '{"地名": ["北京市", "北京"]}', undefined, 'words', false, false, true)).toBe(true);
    expect(accepts({ entityTypes: ['地名'], relationTypes: [], eventTypes: [] }, '我住在北京市。', '{"地名": ["北京市", "住在"]}', undefined, 'words')).toBe(true);
  });

  it('rejects everything else', () => {
    const rejected: [IeSchema, string, IeTaskKind?][] = [
      [SCHEMA, '{"animal": ["Ada"]}'], // unknown type
      [SCHEMA, '{"person": ["Bob"]}'], // not in the input
      [SCHEMA, '{"person": ["Ada  Lovelace"]}'],
      [SCHEMA, '{"person": [""]}'], // empty mention
      [SCHEMA, '{"person": []}'], // empty list
      [SCHEMA, '{"organization": ["Ada"], "person": ["Ada"]}'], // keys out of schema order
      [SCHEMA, '{"person": ["Ada"], "person": ["Ada"]}'], // repeated key
      [SCHEMA, '{"person":["Ada"]}'], // separators
      [SCHEMA, '{"person": ["Ada"],"organization": ["bank"]}'],
      [SCHEMA, '{ "person": ["Ada"]}'],
      [SCHEMA, '{"work for": ["Ada"]}'], // entity shape for a relation
      [SCHEMA, '{"work for": [["Ada"]]}'],
      [SCHEMA, '{"work for": [["Ada", "bank", "data"]]}'],
      [SCHEMA, '{"person": [["Ada", 1]]}'], // occurrence form not generated
      [SCHEMA, '{"person": ["Ada", 1]}'],
      [SCHEMA, '{"person": [""big""]}'], // raw quote inside a mention
      [SCHEMA, '{"person": ["\\/"]}'], // escapes JSON.stringify does not write
      [SCHEMA, '{"person": ["y\\u0009so"]}'],
      [SCHEMA, '{"person": ["so\\u0001."]}'.replace('\\u0001', '\\u0002')],
      [SCHEMA, '{"person": ["so\\U0001."]}'],
      [SCHEMA, '{"person": ["y\tso"]}'], // raw control character
      [SCHEMA, '{"person": ["Ada"]} '], // text after the object
      [SCHEMA, '  {}'],
      [SCHEMA, '{"work for": [["Ada", "bank"]]}', 'ner'], // relation type in an NER task
      [SCHEMA, '{"person": ["Ada"]}', 're'],
      [EVENTS, '{"Databreach": [{"Attacker": ["hackers"]}]}'], // no trigger
      [EVENTS, '{"Databreach": [{"trigger": "stole", "Price": ["big"]}]}'], // role of another event type
      [EVENTS, '{"Databreach": [{"trigger": "stole", "Victim": ["bank"], "Attacker": ["hackers"]}]}'], // role order
      [EVENTS, '{"Databreach": [{"trigger": "stole", "Attacker": ["hackers"], "Attacker": ["bank"]}]}'],
      [EVENTS, '{"Databreach": [{"trigger": ["stole"]}]}'],
      [EVENTS, '{"Databreach": {"trigger": "stole"}}'],
    ];
    for (const [schema, answer, task] of rejected) expect(accepts(schema, INPUT, answer, task), answer).toBe(false);
  });

  it('an entity text goes under one type, and under it at most as often as it occurs (unless allowed)', () => {
    const input = 'Ada Lovelace met Ada in London .';
    const ner: IeSchema = { entityTypes: ['location', 'person'], relationTypes: [{ name: 'live in' }], eventTypes: [] };
    const cases: [string, boolean][] = [
      ['{"location": ["London"], "person": ["Ada", "Ada"]}', true], // "Ada" occurs twice (once inside "Ada Lovelace")
      ['{"person": ["Ada", "Ada", "Ada"]}', false], // a third time
      ['{"location": ["London"], "person": ["London"]}', false], // a second type
      ['{"location": ["Ada"], "person": ["Ada Lovelace"]}', true], // another text
      ['{"location": ["London"], "person": ["Ada"], "live in": [["Ada", "London"]]}', true], // relation arguments repeat entities
    ];
    for (const boundaries of ['words', 'anywhere'] as const) {
      for (const [answer, ok] of cases) {
        expect(accepts(ner, input, answer, undefined, boundaries), `${boundaries}: ${answer}`).toBe(ok);
        expect(accepts(ner, input, answer, undefined, boundaries, false, false, true), `${boundaries}, nested allowed: ${answer}`).toBe(ok);
        expect(accepts(ner, input, answer, undefined, boundaries, true), `${boundaries}, repeats allowed: ${answer}`).toBe(true);
      }
    }
    // A prefix that can only end in a forbidden text is refused at its first character that leaves
    // no other end ("Ada " can only become "Ada Lovelace"), so the answer never reaches a dead end.
    // (Nested mentions allowed here: by that part, "Ada" is used up inside "Ada Lovelace" already.)
    const vocab = characterVocabulary([input, 'person location']);
    const constraint = createAnswerConstraint(vocab, ner, 'Ada Lovelace', 'ner', { mentionBoundaries: 'words', allowNestedEntities: true });
    for (const character of '{"location": ["Ada Lovelace"], "person": ["Ada') constraint.advance(vocab.pieces.indexOf(character));
    const allowedPieces = (): string[] => vocab.pieces.filter((_, id) => ((constraint.allowed()[id >> 5]! >>> (id & 31)) & 1) === 1);
    expect(allowedPieces()).toEqual(['"']);
    // When every mention is taken, the rule is off for that list rather than leave it no mention.
    const taken = createAnswerConstraint(vocab, ner, 'Ada', 'ner', { mentionBoundaries: 'words', allowNestedEntities: true });
    for (const character of '{"location": ["Ada"], "person": ["') taken.advance(vocab.pieces.indexOf(character));
    expect(vocab.pieces.filter((_, id) => ((taken.allowed()[id >> 5]! >>> (id & 31)) & 1) === 1)).toEqual(['A']);
    // The budget's reserve (allowedWithin) lifts the rule: its cost model does not know it.
    expect(constraint.allowedWithin!(100).some((word) => word !== 0)).toBe(true);
    expect(allowedPieces()).toEqual([' ', '"']);
  });

  it('the mentions that begin with a text are no more than it occurs, under any type (unless nested mentions are allowed)', () => {
    const input = 'Ada Lovelace met Ada in London .';
    const ner: IeSchema = { entityTypes: ['location', 'person'], relationTypes: [], eventTypes: [] };
    const cases: [string, boolean][] = [
      ['{"person": ["Ada Lovelace", "Ada"]}', true], // "Ada" occurs twice: two mentions begin with it
      ['{"person": ["Ada Lovelace", "Ada", "Ada"]}', false], // three
      ['{"person": ["Ada", "Ada", "Ada Lovelace"]}', false], // in either order
      ['{"location": ["Ada Lovelace"], "person": ["Ada", "Ada"]}', false], // under any type
      ['{"person": ["Ada Lovelace met", "Ada Lovelace"]}', false], // "Ada Lovelace" occurs once
      ['{"location": ["London"], "person": ["Lovelace", "Ada Lovelace", "Ada"]}', true], // "Lovelace" is inside, not at the start
    ];
    for (const boundaries of ['words', 'anywhere'] as const) {
      for (const [answer, ok] of cases) {
        expect(accepts(ner, input, answer, undefined, boundaries), `${boundaries}: ${answer}`).toBe(ok);
        expect(accepts(ner, input, answer, undefined, boundaries, false, false, true), `${boundaries}, nested allowed: ${answer}`).toBe(true);
      }
    }
    expect(accepts({ entityTypes: ['地名'], relationTypes: [], eventTypes: [] }, '我住在北京市。', '{"地名": ["北京市", "北京"]}', undefined, 'words')).toBe(false);
    // A used-up text is a dead prefix: after "Ada Lovelace" (once in the input) a new mention may
    // stop at "Ada", but not go on past it, since every longer mention there begins with "Ada Lovelace".
    const short = 'Ada Lovelace met Ada';
    const vocab = characterVocabulary([short, 'person location']);
    const constraint = createAnswerConstraint(vocab, ner, short, 'ner', { mentionBoundaries: 'words' });
    for (const character of '{"person": ["Ada Lovelace", "Ada') constraint.advance(vocab.pieces.indexOf(character));
    const allowedPieces = (): string[] => vocab.pieces.filter((_, id) => ((constraint.allowed()[id >> 5]! >>> (id & 31)) & 1) === 1);
    expect(allowedPieces()).toEqual(['"']);
    const nested = createAnswerConstraint(vocab, ner, short, 'ner', { mentionBoundaries: 'words', allowNestedEntities: true });
    for (const character of '{"person": ["Ada Lovelace", "Ada') nested.advance(vocab.pieces.indexOf(character));
    expect(vocab.pieces.filter((_, id) => ((nested.allowed()[id >> 5]! >>> (id & 31)) & 1) === 1)).toEqual([' ', '"']);
  });

  it('a relation argument is an entity the answer named, of the relation\'s types, and the tail is not the head (unless free)', () => {
    const input = 'Ada Lovelace met Bob in London and Paris .';
    const schema: IeSchema = {
      entityTypes: ['location', 'person'],
      relationTypes: [{ name: 'live in', headTypes: ['person'], tailTypes: ['location'] }, { name: 'kill', headTypes: ['person'], tailTypes: ['person'] }],
      eventTypes: [],
    };
    const cases: [string, boolean][] = [
      ['{"location": ["London"], "person": ["Ada Lovelace"], "live in": [["Ada Lovelace", "London"]]}', true],
      ['{"location": ["London", "Paris"], "person": ["Ada Lovelace", "Bob"], "live in": [["Bob", "Paris"], ["Ada Lovelace", "London"]], "kill": [["Bob", "Ada Lovelace"]]}', true],
      ['{"location": ["London"], "person": ["Ada Lovelace"], "live in": [["London", "Ada Lovelace"]]}', false], // head and tail types swapped
      ['{"location": ["London"], "person": ["Ada Lovelace"], "live in": [["Ada", "London"]]}', false], // a part of an entity
      ['{"location": ["London"], "person": ["Ada Lovelace"], "live in": [["Ada Lovelace", "Paris"]]}', false], // a text the answer did not name
      ['{"person": ["Ada Lovelace", "Bob"], "kill": [["Bob", "Bob"]]}', false], // the tail repeats the head
      ['{"person": ["Bob"], "kill": [["Bob", "Bob"]]}', false],
      ['{"live in": [["Bob", "London"]]}', false], // no entities at all
    ];
    for (const boundaries of ['words', 'anywhere'] as const) {
      for (const [answer, ok] of cases) {
        expect(accepts(schema, input, answer, undefined, boundaries), `${boundaries}: ${answer}`).toBe(ok);
        expect(accepts(schema, input, answer, undefined, boundaries, false, true), `${boundaries}, free: ${answer}`).toBe(true);
      }
    }
    const vocab = characterVocabulary([input, 'person location live in kill']);
    const allowedAfter = (answer: string, text = input): string[] => {
      const constraint = createAnswerConstraint(vocab, schema, text, 'ner-re');
      for (const character of answer) constraint.advance(vocab.pieces.indexOf(character));
      return vocab.pieces.filter((_, id) => ((constraint.allowed()[id >> 5]! >>> (id & 31)) & 1) === 1);
    };
    // No relation can be written (one person, no location): the answer may only end.
    expect(allowedAfter('{"person": ["Bob"]')).toEqual(['}']);
    // After the head "Bob", the only other person is the tail; after "Ada" only " Lovelace" goes on.
    expect(allowedAfter('{"person": ["Ada Lovelace", "Bob"], "kill": [["Bob", "')).toEqual(['A']);
    expect(allowedAfter('{"person": ["Ada Lovelace", "Bob"], "kill": [["Ada')).toEqual([' ']);
    // A relation whose head types have no entity is not offered; the other one is.
    expect(allowedAfter('{"location": ["Paris"], "person": ["Bob"], ')).toEqual(['"']);
    expect(allowedAfter('{"location": ["Paris"], "person": ["Bob"], "')).toEqual(['l']);
    // An escaped quote is allowed exactly where an entity's text has one.
    const quoted = 'Ada "Ace" Lovelace met Bob .';
    const escapes = characterVocabulary([quoted, 'person kill']);
    const named = '{"person": ["Ada \\"Ace\\" Lovelace", "Bob"], "kill": [["Bob", "Ada ';
    const walk = createAnswerConstraint(escapes, schema, quoted, 'ner-re', { mentionBoundaries: 'anywhere' });
    for (const character of named) walk.advance(escapes.pieces.indexOf(character));
    expect(escapes.pieces.filter((_, id) => ((walk.allowed()[id >> 5]! >>> (id & 31)) & 1) === 1)).toEqual(['\\']);
    expect(accepts(schema, quoted, `${named}\\"Ace\\" Lovelace"]]}`, undefined, 'anywhere')).toBe(true);
    // The budget's reserve (allowedWithin) keeps the rule (its cost model knows it); its last
    // resort, mentions that close anywhere, lifts it.
    const budgeted = createAnswerConstraint(vocab, schema, input, 'ner-re');
    for (const character of '{"person": ["Bob"]') budgeted.advance(vocab.pieces.indexOf(character));
    const pieces = (mask: Uint32Array): string[] => vocab.pieces.filter((_, id) => ((mask[id >> 5]! >>> (id & 31)) & 1) === 1);
    expect(pieces(budgeted.allowedWithin!(100))).toEqual(['}']);
    budgeted.closeMentionsAnywhere!();
    expect(pieces(budgeted.allowed())).toEqual(['}', ',']);
  });

  it('allows the end token only after the closing brace, and nothing else then', () => {
    const vocab = characterVocabulary([INPUT]);
    const constraint = createAnswerConstraint(vocab, SCHEMA, INPUT);
    const id = (character: string): number => vocab.pieces.indexOf(character);
    expect(() => constraint.advance(vocab.endId)).toThrow(/end token is not allowed/);
    constraint.advance(id('{'));
    expect(constraint.done).toBe(false);
    constraint.advance(id('}'));
    expect(constraint.done).toBe(true);
    const mask = constraint.allowed();
    expect([...mask].reduce((sum, word) => sum + popcount(word), 0)).toBe(1);
    expect(mask[0]! & 1).toBe(1);
    expect(() => constraint.advance(id(' '))).toThrow(/only the end token/);
    constraint.advance(vocab.endId);
    expect(constraint.done).toBe(true);
  });

  it('an empty input allows only {}', () => {
    expect(accepts(SCHEMA, '', '{}')).toBe(true);
    const vocab = characterVocabulary([INPUT]);
    const constraint = createAnswerConstraint(vocab, SCHEMA, '');
    constraint.advance(vocab.pieces.indexOf('{'));
    expect(allowedPieces(vocab, constraint)).toEqual(['}']);
  });
});

function popcount(word: number): number {
  let count = 0;
  for (let bits = word >>> 0; bits !== 0; bits >>>= 1) count += bits & 1;
  return count;
}

function allowedPieces(vocab: ConstraintVocabulary, constraint: { allowed(): Uint32Array }): string[] {
  const mask = constraint.allowed();
  return vocab.pieces.filter((_, id) => ((mask[id >> 5]! >>> (id & 31)) & 1) === 1);
}

describe('mask over multi-character tokens', () => {
  it('a token may end a mention and go on with the structure; the mask is every readable token', () => {
    const input = 'Ada met Bob at IBM .';
    const extra = ['Ada', ' met', '"Ada', '"]', '", "', '"], "', '"]}', '": ["', '{"', 'person', 'Ad', 'a"', 'Bob"]}', 'IBM .', 'xyz', '"}'];
    const vocab = characterVocabulary([input, 'person organization'], extra);
    const constraint = new AnswerConstraint(vocab, SCHEMA, input, 'ner', { mentionBoundaries: 'anywhere' });
    const take = (piece: string): void => constraint.advance(vocab.pieces.indexOf(piece));
    take('{"');
    take('person');
    take('": ["');
    const allowed = allowedPieces(vocab, constraint);
    // Brute force: a token is allowed iff its whole surface can be read.
    const expected = vocab.pieces.filter((piece, id) => id !== vocab.endId && constraint.canRead(piece));
    expect(allowed).toEqual(expected);
    expect(allowed).toContain('Ada');
    expect(allowed).toContain('IBM .');
    expect(allowed).not.toContain('"Ada');
    expect(allowed).not.toContain('xyz');
    expect(allowed).not.toContain('"'); // empty mention
    take('Ad');
    expect(allowedPieces(vocab, constraint)).toEqual(expect.arrayContaining(['a"', 'a', '"', '"]', '", "', '"]}', '"], "']));
    take('a"');
    take(', "'.slice(0, 1)); // ","
    take(' ');
    take('"');
    take('Bob"]}');
    expect(constraint.done).toBe(true);
    expect(constraint.answerText).toBe('{"person": ["Ada", "Bob"]}');
  });
});

describe('token-level dead ends', () => {
  it('leaves out names with a character no single token covers, and mentions when no input character has one', () => {
    const input = 'Ada met Bob';
    // "organization" has a "z" and a "g": no token of its own for either.
    const vocab: ConstraintVocabulary = { pieces: ['', ...new Set(' {}[]",:\\unrt0123456789abcdefABCDEF' + input + 'person'), 'organization', 'zg'], endId: 0 };
    const answer = (text: string): boolean => {
      const constraint = createAnswerConstraint(vocab, SCHEMA, input, 'ner');
      try {
        for (const character of text) constraint.advance(vocab.pieces.indexOf(character));
      } catch {
        return false;
      }
      return constraint.done;
    };
    expect(answer('{"person": ["Ada"]}')).toBe(true);
    const constraint = createAnswerConstraint(vocab, SCHEMA, input, 'ner');
    for (const character of '{"') constraint.advance(vocab.pieces.indexOf(character));
    expect(allowedPieces(vocab, constraint)).toEqual(['p']); // not "o" of organization
    // Mentions: input characters without tokens -> only {}.
    const noMentions = createAnswerConstraint(vocab, SCHEMA, 'zzz', 'ner');
    noMentions.advance(vocab.pieces.indexOf('{'));
    expect(allowedPieces(vocab, noMentions)).toEqual(['}']);
    expect(() => createAnswerConstraint({ pieces: ['', 'a'], endId: 0 }, SCHEMA, input)).toThrow(/no token for "\{"/);
  });
});

describe('constraint vocabulary from tokenizers', () => {
  it('tokenizer.json: surfaces of byte-level tokens; partial UTF-8 and special tokens are empty', () => {
    const { json, specialIds } = buildByteLevelTokenizerJson([' Ada', '{"', '中']);
    const tokenizer = loadHfTokenizer(json, { eos_token: '<|endoftext|>' });
    const vocab = buildConstraintVocabulary(tokenizer, 'glm4-chat');
    expect(buildConstraintVocabulary(tokenizer, 'glm4-chat')).toBe(vocab); // cached
    expect(vocab.endId).toBe(specialIds['<|endoftext|>']);
    expect(vocab.pieces.length).toBe(tokenizer.vocabSize);
    const id = (text: string): number => {
      const ids = tokenizer.encode(text);
      expect(ids).toHaveLength(1);
      return ids[0]!;
    };
    expect(vocab.pieces[id(' Ada')]).toBe(' Ada');
    expect(vocab.pieces[id('{"')]).toBe('{"');
    expect(vocab.pieces[id('中')]).toBe('中');
    expect(vocab.pieces['a'.charCodeAt(0)]).toBe('a'); // byte tokens 0..255 in byte order
    expect(vocab.pieces[0xe4]).toBe(''); // a lone UTF-8 lead byte
    expect(vocab.pieces[specialIds['<|user|>']!]).toBe('');
    expect(vocab.pieces[specialIds['[gMASK]']!]).toBe('');
  });

  it('SentencePiece: "▁x" reads " x" (the dummy prefix is not lost), byte pieces of ASCII are kept', () => {
    const model = writeSentencePieceModel({ pieces: [...basePieces(), ...bpePieces(['▁Ada', '{"', '中'])], modelType: 'bpe', byteFallback: true });
    const tokenizer = loadSentencePieceTokenizer(model, { flavor: 'chatglm3' });
    const vocab = buildConstraintVocabulary(tokenizer, 'glm3-chat');
    expect(vocab.endId).toBe(2);
    expect(vocab.pieces[tokenizer.tokenToId('▁Ada')!]).toBe(' Ada');
    expect(vocab.pieces[tokenizer.tokenToId('▁')!]).toBe(' ');
    expect(vocab.pieces[tokenizer.tokenToId('<0x22>')!]).toBe('"');
    expect(vocab.pieces[tokenizer.tokenToId('<0xE4>')!]).toBe('');
    expect(vocab.pieces[tokenizer.tokenToId('<unk>')!]).toBe('');
    expect(vocab.pieces[tokenizer.specialTokens.user!]).toBe('');
    // An answer encoded by SentencePiece starts with the dummy-prefix space, which is allowed.
    const answer = '{"person": ["Ada"]}';
    const ids = tokenizer.encode(answer);
    expect(vocab.pieces[ids[0]!]!.startsWith(' ')).toBe(true);
    const constraint = createAnswerConstraint(vocab, { entityTypes: ['person'], relationTypes: [], eventTypes: [] }, 'Ada joined .');
    for (const tokenId of ids) constraint.advance(tokenId);
    expect(constraint.done).toBe(true);
    expect(tokenizer.decode([...ids, vocab.endId], { skipSpecialTokens: true })).toBe(answer);
  });
});
