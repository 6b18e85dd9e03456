// Every serialized gold answer of the real dev sets, tokenized by a tokenizer built here from the
// data, must be accepted token by token (each token in the mask, the end token only at the end).
// Answers that need the occurrence form ["text", n] (not generated) are counted and rejected, and so
// are answers with a mention that cuts a word (the default mention boundaries: CASIE has a few
// annotation slips like "informatio"; conll04, wnut17 and resume-ner have none).
import { describe, expect, it } from 'vitest';
import { inferTaskKind, serializeAnswer } from '../../src/ie/answer.ts';
import { buildConstraintVocabulary, createAnswerConstraint, type ConstraintVocabulary } from '../../src/ie/constraint.ts';
import { schemaFromDataset, type IeSchema } from '../../src/ie/schema.ts';
import { isAtWordBoundaries, type IeExample } from '../../src/ie/spans.ts';
import { loadHfTokenizer, loadSentencePieceTokenizer, type Tokenizer } from '../../src/io/tokenizer.ts';
import { basePieces, bpePieces, buildByteLevelTokenizerJson, writeSentencePieceModel } from './fixtures/tokenizers.ts';
import { readSplit, type DatasetName } from './realdata.ts';

const STRUCTURE = ['{"', '{}', '": ["', '": [["', '": [{"', '", "', '"]', '"], "', '"]]', '"]}', '"]}]', '"]]}', '"], ["', '"}', '"}]', '"}, {"', '"trigger": "', 'trigger', ', "', '}', ']'];

interface Answers {
  schema: IeSchema;
  examples: { text: string; answer: string; cutsWord: boolean }[];
}

function cutsWord(example: IeExample): boolean {
  const spans = [...example.entities, ...example.events.flatMap((event) => [event.trigger, ...event.arguments])];
  return spans.some((span) => !isAtWordBoundaries(example.text, span.start, example.text.slice(span.start, span.end)));
}

function goldAnswers(dataset: DatasetName): Answers {
  const schema = schemaFromDataset(readSplit(dataset, 'train').examples);
  const task = inferTaskKind(schema);
  const examples = readSplit(dataset, 'dev').examples.map((example) => ({ text: example.text, answer: serializeAnswer(example, schema, task), cutsWord: cutsWord(example) }));
  return { schema, examples };
}

/**
 * Words of the answers: the most frequent ASCII letter/digit runs (alone, after a space, after a
 * quote; capped because the fixture's tokenizer.json builder is quadratic in the vocabulary), every
 * non-ASCII character alone (so none is left as partial UTF-8 byte tokens). Other ASCII text
 * falls back to single-byte tokens.
 */
function wordsOf(answers: Answers): string[] {
  const counts = new Map<string, number>();
  const words = new Set<string>(STRUCTURE);
  for (const { answer, text } of answers.examples) {
    for (const match of answer.matchAll(/[A-Za-z0-9]+/g)) counts.set(match[0], (counts.get(match[0]) ?? 0) + 1);
    for (const character of answer + text) if (character.charCodeAt(0) >= 0x80) words.add(character);
  }
  const frequent = [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 500);
  for (const [word] of frequent) {
    words.add(word);
    words.add(` ${word}`);
    words.add(`"${word}`);
  }
  return [...words];
}

function hfTokenizer(answers: Answers): Tokenizer {
  return loadHfTokenizer(buildByteLevelTokenizerJson(wordsOf(answers)).json, { eos_token: '<|endoftext|>' });
}

function sentencePieceTokenizer(answers: Answers): Tokenizer {
  const words = wordsOf(answers).map((word) => word.replaceAll(' ', '▁'));
  const model = writeSentencePieceModel({ pieces: [...basePieces(), ...bpePieces(words)], modelType: 'bpe', byteFallback: true });
  return loadSentencePieceTokenizer(model, { flavor: 'chatglm3' });
}

const OCCURRENCE_FORM = /", \d+\]/;

function isAllowed(mask: Uint32Array, id: number): boolean {
  return ((mask[id >> 5]! >>> (id & 31)) & 1) === 1;
}

/** Walks every gold answer through the constraint; returns how many were accepted / needed [text, n] / cut a word. */
function walkGold(answers: Answers, tokenizer: Tokenizer, vocab: ConstraintVocabulary): { accepted: number; occurrenceForm: number; cutWord: number; tokens: number } {
  let accepted = 0;
  let occurrenceForm = 0;
  let cutWord = 0;
  let tokens = 0;
  for (const { text, answer, cutsWord } of answers.examples) {
    const ids = tokenizer.encode(answer);
    expect(tokenizer.decode(ids, { skipSpecialTokens: true })).toBe(answer);
    const constraint = createAnswerConstraint(vocab, answers.schema, text);
    const needsOccurrence = OCCURRENCE_FORM.test(answer);
    let rejectedAt = -1;
    for (let index = 0; index < ids.length; index++) {
      const id = ids[index]!;
      expect(isAllowed(constraint.allowed(), vocab.endId)).toBe(false);
      if (!isAllowed(constraint.allowed(), id)) {
        rejectedAt = index;
        expect(() => constraint.advance(id)).toThrow();
        break;
      }
      constraint.advance(id);
    }
    tokens += ids.length;
    if (needsOccurrence) {
      occurrenceForm++;
      expect(rejectedAt, `${answer} uses [text, n] and must be rejected`).toBeGreaterThanOrEqual(0);
      continue;
    }
    if (cutsWord) {
      cutWord++;
      expect(rejectedAt, `${answer} has a mention that cuts a word of ${text} and must be rejected`).toBeGreaterThanOrEqual(0);
      continue;
    }
    expect(rejectedAt, `rejected at token ${rejectedAt} of ${answer} (input ${text})`).toBe(-1);
    expect(constraint.done).toBe(true);
    const mask = constraint.allowed();
    expect(isAllowed(mask, vocab.endId)).toBe(true);
    expect(mask.reduce((sum, word) => sum + (word === 0 ? 0 : 1), 0)).toBe(1);
    constraint.advance(vocab.endId);
    accepted++;
  }
  return { accepted, occurrenceForm, cutWord, tokens };
}

describe('gold answers of the dev sets are accepted token by token', () => {
  it('conll04 (entities + relations), tokenizer.json byte-level BPE', () => {
    const answers = goldAnswers('conll04');
    const tokenizer = hfTokenizer(answers);
    const { accepted, occurrenceForm, cutWord, tokens } = walkGold(answers, tokenizer, buildConstraintVocabulary(tokenizer, 'glm4-chat'));
    expect(cutWord).toBe(0);
    expect(accepted + occurrenceForm).toBe(answers.examples.length);
    expect(answers.examples.length).toBeGreaterThan(200);
    // [text, n] is needed in few answers (23 of 1,583 mentions).
    expect(occurrenceForm).toBeGreaterThan(0);
    expect(occurrenceForm / answers.examples.length).toBeLessThan(0.1);
    expect(tokens).toBeGreaterThan(5000);
  });

  it('conll04 with a SentencePiece tokenizer (dummy-prefix space, ▁ pieces)', () => {
    const answers = goldAnswers('conll04');
    const tokenizer = sentencePieceTokenizer(answers);
    const { accepted, occurrenceForm, cutWord } = walkGold(answers, tokenizer, buildConstraintVocabulary(tokenizer, 'glm3-chat'));
    expect(cutWord).toBe(0);
    expect(accepted + occurrenceForm).toBe(answers.examples.length);
    expect(occurrenceForm / answers.examples.length).toBeLessThan(0.1);
  });

  it('resume-ner (Chinese entities)', () => {
    const answers = goldAnswers('resume-ner');
    const tokenizer = hfTokenizer(answers);
    const { accepted, occurrenceForm, cutWord } = walkGold(answers, tokenizer, buildConstraintVocabulary(tokenizer, 'glm4-chat'));
    expect(occurrenceForm).toBe(0);
    expect(cutWord).toBe(0);
    expect(accepted).toBe(answers.examples.length);
  });

  it('casie (events: triggers and arguments)', () => {
    const answers = goldAnswers('casie');
    const tokenizer = hfTokenizer(answers);
    const { accepted, occurrenceForm, cutWord } = walkGold(answers, tokenizer, buildConstraintVocabulary(tokenizer, 'glm4-chat'));
    expect(accepted + occurrenceForm + cutWord).toBe(answers.examples.length);
    expect(occurrenceForm / answers.examples.length).toBeLessThan(0.1);
    expect(cutWord / answers.examples.length).toBeLessThan(0.02);
    expect(accepted).toBeGreaterThan(1000);
  });
});
