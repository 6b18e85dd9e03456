// Property test: random walks through the constraint — random allowed tokens from random states,
// closing tokens preferred after a random number of steps — always end in an answer the parser
// accepts (ok: true), with types from the schema and every mention a non-empty span of the input,
// none hallucinated. Along the way the mask is checked against brute force (a token is allowed
// iff its whole surface can be read).
import { describe, expect, it } from 'vitest';
import { parseAnswer, type IeTaskKind } from '../../src/ie/answer.ts';
import { AnswerConstraint, buildConstraintVocabulary, type ConstraintVocabulary } from '../../src/ie/constraint.ts';
import type { IeSchema } from '../../src/ie/schema.ts';
import { loadHfTokenizer, loadSentencePieceTokenizer, type Tokenizer } from '../../src/io/tokenizer.ts';
import { Rng } from '../helpers/random.ts';
import { basePieces, bpePieces, buildByteLevelTokenizerJson, writeSentencePieceModel } from './fixtures/tokenizers.ts';

const ENGLISH = ['Ada', 'Lovelace', 'met', 'Babbage', 'in', 'London', 'the', 'bank', 'was', 'hacked', 'by', 'thieves', 'IBM', 'paid', '$', '5', 'million', '.', ','];
const CHINESE = [...'我住在北京市中国人民银行被黑客攻击了张三是工程师。，'];
const NAMES = ['person', 'location', 'organization', 'work for', 'live in', 'Attack', 'Ransom', '地名', 'odd "name"'];
const ROLES = ['Attacker', 'Victim', 'Price', 'Place', 'Time'];
const STRUCTURE = ['{"', '{}', '": ["', '": [["', '": [{"', '", "', '"]', '"], "', '"]]', '"]}', '"]}]', '"]]}', '"], ["', '"}', '"}]', '"}, {"', '"trigger": "', '\\"', '\\\\', '\\t'];

function tokenizerWords(): string[] {
  return [...STRUCTURE, ...ENGLISH, ...ENGLISH.map((word) => ` ${word}`), ...ENGLISH.map((word) => `"${word}`), ...CHINESE, ...NAMES, ...ROLES, ' ', '"'];
}

function hfTokenizer(): Tokenizer {
  return loadHfTokenizer(buildByteLevelTokenizerJson(tokenizerWords()).json, { eos_token: '<|endoftext|>' });
}

function sentencePieceTokenizer(): Tokenizer {
  const words = tokenizerWords().map((word) => word.replaceAll(' ', '▁'));
  const model = writeSentencePieceModel({ pieces: [...basePieces(), ...bpePieces(words)], modelType: 'bpe', byteFallback: true });
  return loadSentencePieceTokenizer(model, { flavor: 'chatglm3' });
}

function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[rng.int(0, items.length)]!;
}

function subset<T>(rng: Rng, items: readonly T[], min: number): T[] {
  const chosen = items.filter(() => rng.next() < 0.5);
  while (chosen.length < min) {
    const item = pick(rng, items);
    if (!chosen.includes(item)) chosen.push(item);
  }
  return chosen;
}

function randomSchema(rng: Rng, tasks: readonly IeTaskKind[]): { schema: IeSchema; task: IeTaskKind } {
  const task = pick(rng, tasks);
  const names = subset(rng, NAMES, 3).sort(() => rng.next() - 0.5);
  const schema: IeSchema = { entityTypes: [], relationTypes: [], eventTypes: [] };
  if (task === 'ee') {
    schema.eventTypes = names.slice(0, rng.int(1, 3)).map((name) => ({ name, roles: subset(rng, ROLES, 0) }));
  } else {
    if (task !== 're') schema.entityTypes = names.slice(0, rng.int(1, 3));
    if (task !== 'ner') {
      // Some relations with head and tail types (the entity types they join), some without.
      schema.relationTypes = names.slice(2, 2 + rng.int(1, names.length - 1)).map((name) =>
        task === 'ner-re' && rng.next() < 0.5 ? { name, headTypes: subset(rng, schema.entityTypes, 1), tailTypes: subset(rng, schema.entityTypes, 1) } : { name });
    }
  }
  return { schema, task };
}

function randomInput(rng: Rng): string {
  if (rng.next() < 0.4) {
    let text = '';
    for (let index = rng.int(1, 25); index > 0; index--) text += pick(rng, CHINESE);
    return text;
  }
  const words: string[] = [];
  for (let index = rng.int(1, 14); index > 0; index--) words.push(pick(rng, ENGLISH));
  if (rng.next() < 0.3) words.splice(rng.int(0, words.length), 0, '"quoted"');
  if (rng.next() < 0.2) words.splice(rng.int(0, words.length), 0, 'back\\slash');
  if (rng.next() < 0.2) words.splice(rng.int(0, words.length), 0, 'tab\there');
  return words.join(' ');
}

/** Higher for pieces that close things; opening a new item or list is discouraged. */
function closingScore(piece: string): number {
  let score = 0;
  for (const character of piece) {
    if (character === ']' || character === '}') score += 2;
    else if (character === '"') score += 1;
    else if (character === ',' || character === '[' || character === '{') score -= 10;
  }
  return score;
}

function allowedIds(mask: Uint32Array, vocabSize: number): number[] {
  const ids: number[] = [];
  for (let id = 0; id < vocabSize; id++) if (((mask[id >> 5]! >>> (id & 31)) & 1) === 1) ids.push(id);
  return ids;
}

function randomWalks(tokenizer: Tokenizer, vocab: ConstraintVocabulary, walks: number, seed: number, tasks: readonly IeTaskKind[] = ['ner', 're', 'ner-re', 'ee']): { steps: number; mentions: number; relations: number } {
  const rng = new Rng(seed);
  let totalSteps = 0;
  let mentions = 0;
  let relations = 0;
  for (let walk = 0; walk < walks; walk++) {
    const { schema, task } = randomSchema(rng, tasks);
    const input = randomInput(rng);
    const constraint = new AnswerConstraint(vocab, schema, input, task);
    const freeSteps = rng.int(0, 80);
    const ids: number[] = [];
    for (let step = 0; ; step++) {
      expect(step, 'walk too long').toBeLessThan(400);
      const allowed = allowedIds(constraint.allowed(), vocab.pieces.length);
      if (allowed.length === 0) throw new Error(`dead end after ${JSON.stringify(constraint.answerText)} (input ${JSON.stringify(input)}, schema ${JSON.stringify(schema)})`);
      if (constraint.done) {
        expect(allowed).toEqual([vocab.endId]);
        constraint.advance(vocab.endId);
        break;
      }
      expect(allowed).not.toContain(vocab.endId);
      if (walk < 60 || step % 8 === 0) {
        const expected = vocab.pieces.flatMap((piece, id) => (id !== vocab.endId && constraint.canRead(piece) ? [id] : []));
        expect(allowed).toEqual(expected);
      }
      let choices = allowed;
      if (step >= freeSteps) {
        const best = Math.max(...allowed.map((id) => closingScore(vocab.pieces[id]!)));
        choices = allowed.filter((id) => closingScore(vocab.pieces[id]!) === best);
      }
      const id = pick(rng, choices);
      constraint.advance(id);
      ids.push(id);
    }
    totalSteps += ids.length;
    const text = tokenizer.decode(ids, { skipSpecialTokens: true });
    expect(text.trimStart()).toBe(constraint.answerText.trimStart());
    const parsed = parseAnswer(text, input, schema);
    if (!parsed.ok) throw new Error(`walk ${walk}: ${parsed.error}\nanswer: ${text}\ninput: ${input}`);
    const answer = parsed.answer;
    expect(answer.hallucinated).toEqual([]);
    const typeNames = [...schema.entityTypes, ...schema.relationTypes.map((relation) => relation.name), ...schema.eventTypes.map((event) => event.name)];
    const spans = [
      ...answer.entities,
      ...answer.relations.flatMap((relation) => [relation.head, relation.tail]),
      ...answer.events.flatMap((event) => [event.trigger, ...event.arguments]),
    ];
    for (const item of [...answer.entities, ...answer.relations, ...answer.events]) expect(typeNames).toContain(item.type);
    for (const event of answer.events) {
      const roles = schema.eventTypes.find((type) => type.name === event.type)!.roles;
      for (const argument of event.arguments) expect(roles).toContain(argument.role);
    }
    // With entity lists, a relation joins two different entities of the answer, of its types.
    if (task === 'ner-re') {
      for (const relation of answer.relations) {
        const signature = schema.relationTypes.find((type) => type.name === relation.type)!;
        expect(relation.head.text).not.toBe(relation.tail.text);
        for (const [argument, types] of [[relation.head, signature.headTypes], [relation.tail, signature.tailTypes]] as const) {
          const named = answer.entities.filter((entity) => entity.text === argument.text);
          expect(named.length, `${argument.text} of ${text} is no entity of the answer`).toBeGreaterThan(0);
          if (types !== undefined) expect(named.some((entity) => types.includes(entity.type)), `${argument.text}: ${text}`).toBe(true);
        }
      }
      relations += answer.relations.length;
    }
    for (const span of spans) {
      expect(span.end).toBeGreaterThan(span.start);
      expect(input.slice(span.start, span.end)).toBe(span.text);
    }
    // Every mention string was placed, except repeats of an event argument beyond its occurrences
    // in the text (duplicates are not prevented; the parser drops them without an issue).
    expect(spans.length).toBeLessThanOrEqual(answer.mentionCount);
    if (task !== 'ee') expect(spans.length).toBe(answer.mentionCount);
    mentions += answer.mentionCount;
  }
  return { steps: totalSteps, mentions, relations };
}

describe('random walks end in valid answers', () => {
  it('byte-level BPE tokenizer.json: 600 walks', () => {
    const tokenizer = hfTokenizer();
    const { steps, mentions, relations } = randomWalks(tokenizer, buildConstraintVocabulary(tokenizer, 'glm4-chat'), 600, 11);
    expect(steps).toBeGreaterThan(6000);
    expect(mentions).toBeGreaterThan(600);
    expect(relations).toBeGreaterThan(0);
  });

  it('SentencePiece (ChatGLM3 layout): 400 walks', () => {
    const tokenizer = sentencePieceTokenizer();
    const { steps, mentions, relations } = randomWalks(tokenizer, buildConstraintVocabulary(tokenizer, 'glm3-chat'), 400, 12);
    expect(steps).toBeGreaterThan(4000);
    expect(mentions).toBeGreaterThan(400);
    expect(relations).toBeGreaterThan(0);
  });

  it('entities + relations (the relation rule: arguments are entities of the answer): 300 walks', () => {
    const tokenizer = hfTokenizer();
    const { relations } = randomWalks(tokenizer, buildConstraintVocabulary(tokenizer, 'glm4-chat'), 300, 13, ['ner-re']);
    expect(relations).toBeGreaterThan(50);
  });
});
