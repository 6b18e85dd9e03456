// The constrained loss's targets (src/ie/loss-masks.ts): each answer position's mask is the
// decoding constraint's mask after the gold prefix, it allows the gold token, and a gold token
// the constraint refuses turns that position and the rest into the plain loss (every token).
// Run with the shipped demo model's tokenizer on the real conll04 and resume-ner dev sets.
import { describe, expect, it } from 'vitest';
import { inferTaskKind, serializeAnswer } from '../../src/ie/answer.ts';
import { buildConstraintVocabulary, createAnswerConstraint } from '../../src/ie/constraint.ts';
import { answerLossMasks, keepAnswerMasksOnShare } from '../../src/ie/loss-masks.ts';
import type { TrainSequence } from '../../src/model/positions.ts';
import { buildAnswerIds, PROMPT_STYLE_CONFIG_KEY, promptStyleOf } from '../../src/ie/prompt.ts';
import { schemaFromDataset } from '../../src/ie/schema.ts';
import { encodeSftSplits, encodeTrainingExamples, loadCheckpointTokenizer } from '../../src/ie/task-data.ts';
import { directorySource } from '../../src/io/node-source.ts';
import { readSplit } from './realdata.ts';

const DEMO = 'public/models/chatuie-demo';
const tokenizer = await loadCheckpointTokenizer(directorySource(DEMO));
const vocab = buildConstraintVocabulary(tokenizer, 'glm');
const W = Math.ceil(vocab.pieces.length / 32);
const allows = (masks: Uint32Array, row: number, id: number): boolean => ((masks[row * W + (id >> 5)]! >>> (id & 31)) & 1) === 1;
const allowedCount = (masks: Uint32Array, row: number): number => {
  let n = 0;
  for (let id = 0; id < vocab.pieces.length; id++) if (allows(masks, row, id)) n++;
  return n;
};

describe('constrained-loss masks', () => {
  const schema = schemaFromDataset(readSplit('conll04', 'train').examples);
  const task = inferTaskKind(schema);

  it('equal the constraint mask after each gold prefix and allow each gold token (conll04 dev)', () => {
    let narrowed = 0;
    let total = 0;
    let masked = 0;
    for (const example of readSplit('conll04', 'dev').examples.slice(0, 20)) {
      const answer = buildAnswerIds(tokenizer, 'glm', serializeAnswer(example, schema, task));
      const { masks, constrained } = answerLossMasks(vocab, schema, example.text, task, answer);
      expect(masks.length).toBe(answer.length * W);
      total += answer.length;
      masked += constrained;
      const walk = createAnswerConstraint(vocab, schema, example.text, task);
      for (let i = 0; i < constrained; i++) {
        const id = answer[i]!;
        expect(Array.from(masks.subarray(i * W, (i + 1) * W))).toEqual(Array.from(walk.allowed()));
        expect(allows(masks, i, id)).toBe(true);
        if (allowedCount(masks, i) < vocab.pieces.length / 2) narrowed++;
        walk.advance(id);
      }
      if (constrained < answer.length) expect(allows(walk.allowed(), 0, answer[constrained]!)).toBe(false);
    }
    // Most of conll04's gold answers are writable whole under this tokenizer (a few mentions are not whole tokens).
    expect(masked / total).toBeGreaterThan(0.9);
    expect(narrowed).toBeGreaterThan(100); // the masks really narrow the softmax
  });

  it('a gold token the constraint refuses turns that position and the rest into the plain loss', () => {
    const example = readSplit('conll04', 'dev').examples[0]!;
    // A mention that is not in the text: refused where its first token is.
    const invented = buildAnswerIds(tokenizer, 'glm', '{"location": ["Zzyzx Qwerty"]}');
    const { masks, constrained } = answerLossMasks(vocab, schema, example.text, task, invented);
    expect(constrained).toBeGreaterThan(0);
    expect(constrained).toBeLessThan(invented.length);
    const walk = createAnswerConstraint(vocab, schema, example.text, task);
    for (let i = 0; i < constrained; i++) {
      expect(Array.from(masks.subarray(i * W, (i + 1) * W))).toEqual(Array.from(walk.allowed()));
      walk.advance(invented[i]!);
    }
    expect(allows(walk.allowed(), 0, invented[constrained]!)).toBe(false);
    for (let i = constrained; i < invented.length; i++) expect(Array.from(masks.subarray(i * W, (i + 1) * W)).every((w) => w === 0xffffffff)).toBe(true);
  });

  it('encodeTrainingExamples attaches them and counts the masked positions (resume-ner: Chinese characters without a whole token fall back)', () => {
    const resume = schemaFromDataset(readSplit('resume-ner', 'train').examples);
    const examples = readSplit('resume-ner', 'dev').examples.slice(0, 40);
    const style = promptStyleOf({ [PROMPT_STYLE_CONFIG_KEY]: 'compact' });
    const plain = encodeTrainingExamples(examples, resume, tokenizer, 'glm', 512, inferTaskKind(resume), style);
    const masked = encodeTrainingExamples(examples, resume, tokenizer, 'glm', 512, inferTaskKind(resume), style, vocab);
    expect(plain.maskedPositions).toBeUndefined();
    expect(plain.sequences.every((s) => s.answerMasks === undefined)).toBe(true);
    expect(masked.sequences.map((s) => s.answer)).toEqual(plain.sequences.map((s) => s.answer));
    const total = masked.sequences.reduce((sum, s) => sum + s.answer.length, 0);
    expect(masked.maskedPositions!.total).toBe(total);
    let constrained = 0;
    for (const s of masked.sequences) {
      expect(s.answerMasks!.length).toBe(s.answer.length * W);
      s.answer.forEach((id, i) => expect(allows(s.answerMasks!, i, id)).toBe(true));
      for (let i = 0; i < s.answer.length && !s.answerMasks!.subarray(i * W, (i + 1) * W).every((w) => w === 0xffffffff); i++) constrained++;
    }
    expect(masked.maskedPositions!.constrained).toBe(constrained);
    expect(constrained).toBeGreaterThan(0);
    expect(constrained).toBeLessThan(total);
  });

  it('keeps the masks on the share of sequences asked, spread evenly, and leaves the rest on the plain loss', () => {
    const masks = new Uint32Array([1, 2]);
    const sequences: TrainSequence[] = Array.from({ length: 10 }, (_, i) => ({ prompt: [i], answer: [i, i + 1], answerMasks: masks }));
    const masked = (list: readonly TrainSequence[]): number[] => list.flatMap((s, i) => (s.answerMasks ? [i] : []));
    expect(masked(keepAnswerMasksOnShare(sequences, 1))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const half = keepAnswerMasksOnShare(sequences, 0.5);
    expect(masked(half)).toEqual([1, 3, 5, 7, 9]);
    expect(half.map((s) => s.answer)).toEqual(sequences.map((s) => s.answer)); // tokens untouched
    expect(half[0]).not.toHaveProperty('answerMasks');
    // Whatever else a sequence carries (prompt tags) stays with it, masked or not.
    const promptTags = { rows: [0], targets: [5], allowed: Uint32Array.of(1 << 5), weight: 0.5 };
    expect(keepAnswerMasksOnShare(sequences.map((s) => ({ ...s, promptTags })), 0.5).every((s) => s.promptTags === promptTags)).toBe(true);
    expect(masked(keepAnswerMasksOnShare(sequences, 0.3))).toEqual([3, 6, 9]);
    // An example repeated back to back (sftRepeats) with an odd count: masked in one copy, plain in the other.
    const three = sequences.slice(0, 3);
    const repeated = keepAnswerMasksOnShare([...three, ...three], 0.5);
    expect(masked(repeated)).toEqual([1, 3, 5]);
    // A sequence that had no masks stays so.
    expect(keepAnswerMasksOnShare([{ prompt: [1], answer: [2] }, { prompt: [1], answer: [2] }], 0.5)[1]).not.toHaveProperty('answerMasks');
    expect(() => keepAnswerMasksOnShare(sequences, 0)).toThrow(/share 0: must be in \(0, 1\]/);
    expect(() => keepAnswerMasksOnShare(sequences, 1.5)).toThrow(/must be in/);
  });

  it('encodes a run\'s splits with the constrained loss on the share asked (the app\'s Train setting)', () => {
    const resume = schemaFromDataset(readSplit('resume-ner', 'train').examples);
    const examples = { train: readSplit('resume-ner', 'dev').examples.slice(0, 12), dev: readSplit('resume-ner', 'test').examples.slice(0, 4) };
    const encoder = { tokenizer, family: 'glm' as const, schema: resume, task: inferTaskKind(resume), style: promptStyleOf({ [PROMPT_STYLE_CONFIG_KEY]: 'compact' }) };
    const count = (list: readonly TrainSequence[]): number => list.filter((s) => s.answerMasks !== undefined).length;
    const off = encodeSftSplits(examples, encoder, 512, vocab.pieces.length);
    expect(count(off.train.sequences) + count(off.dev.sequences)).toBe(0);
    const half = encodeSftSplits(examples, encoder, 512, vocab.pieces.length, 0.5);
    expect(half.train.sequences.map((s) => s.answer)).toEqual(off.train.sequences.map((s) => s.answer));
    expect(count(half.train.sequences)).toBe(Math.floor(off.train.sequences.length / 2));
    expect(count(half.dev.sequences)).toBe(0); // dev keeps the plain loss, comparable with a plain run's
    const all = encodeSftSplits(examples, encoder, 512, vocab.pieces.length, 1);
    expect(count(all.train.sequences)).toBe(off.train.sequences.length);
    expect(count(all.dev.sequences)).toBe(off.dev.sequences.length);
    expect(() => encodeSftSplits(examples, encoder, 512, vocab.pieces.length, 1.2)).toThrow(/share 1\.2: it must be between 0 \(off\) and 1/);
  });
});
