// Characters no token covers whole (a rare Chinese character of a small vocabulary) are spelled
// in single-byte tokens inside mentions (ConstraintVocabulary.byteIds): between a character's
// first and last byte only its next byte is allowed, and the decoded answer is the character.
// Checked with a byte-level BPE tokenizer.json and a SentencePiece model with byte fallback,
// by random walks (every walk parses, no hallucinated span, mask = brute force), under a token
// budget, and on the real resume-ner dev set with the shipped demo model's tokenizer.
import { describe, expect, it } from 'vitest';
import { inferTaskKind, parseAnswer, serializeAnswer } from '../../src/ie/answer.ts';
import { withTokenBudget } from '../../src/ie/budget.ts';
import { AnswerConstraint, buildConstraintVocabulary, ConstraintError, type ConstraintVocabulary, type TokenConstraint } from '../../src/ie/constraint.ts';
import { schemaFromDataset, type IeSchema } from '../../src/ie/schema.ts';
import { loadCheckpointTokenizer } from '../../src/ie/task-data.ts';
import { directorySource } from '../../src/io/node-source.ts';
import { loadHfTokenizer, loadSentencePieceTokenizer, type Tokenizer } from '../../src/io/tokenizer.ts';
import { Rng } from '../helpers/random.ts';
import { basePieces, bpePieces, buildByteLevelTokenizerJson, writeSentencePieceModel } from './fixtures/tokenizers.ts';
import { readSplit } from './realdata.ts';

const STRUCTURE = ['{"', '": ["', '", "', '"]', '"], "', '"]}', '{}', '"', '"}'];
/** Characters the tokenizers have whole; RARE has none of its own (2-, 3- and 4-byte UTF-8). */
const COMMON = [...'张三在北京工作。我住上海市'];
const RARE = [...'璐犇龘é'].concat(['𠀋']);
const NAMES = ['person', 'location'];
const SCHEMA: IeSchema = { entityTypes: NAMES, relationTypes: [], eventTypes: [] };

function words(): string[] {
  return [...STRUCTURE, ...COMMON, ...NAMES, ' ', '{', '}', '[', ']', ':', ',', ...'0123456789abcdefnrtu\\'];
}

const tokenizers: [string, 'glm4-chat' | 'glm3-chat', () => Tokenizer][] = [
  ['byte-level BPE tokenizer.json', 'glm4-chat', () => loadHfTokenizer(buildByteLevelTokenizerJson(words()).json, { eos_token: '<|endoftext|>' })],
  ['SentencePiece with byte fallback', 'glm3-chat', () => loadSentencePieceTokenizer(
    writeSentencePieceModel({ pieces: [...basePieces(), ...bpePieces(words().map((word) => word.replaceAll(' ', '▁')))], modelType: 'bpe', byteFallback: true }),
    { flavor: 'chatglm3' })],
];

function allowedIds(mask: Uint32Array, size: number): number[] {
  const ids: number[] = [];
  for (let id = 0; id < size; id++) if (((mask[id >> 5]! >>> (id & 31)) & 1) === 1) ids.push(id);
  return ids;
}

/**
 * Writes `text` through the constraint: at each step the longest allowed token whose surface
 * starts the rest, else the byte tokens of its first character; null when neither is allowed.
 */
function writeThrough(constraint: TokenConstraint, vocab: ConstraintVocabulary, text: string): number[] | null {
  const ids: number[] = [];
  let rest = text;
  while (rest.length > 0) {
    const allowed = allowedIds(constraint.allowed(), vocab.pieces.length);
    let best = -1;
    for (const id of allowed) if (vocab.pieces[id]!.length > 0 && rest.startsWith(vocab.pieces[id]!) && (best < 0 || vocab.pieces[id]!.length > vocab.pieces[best]!.length)) best = id;
    if (best >= 0) {
      constraint.advance(best);
      ids.push(best);
      rest = rest.slice(vocab.pieces[best]!.length);
      continue;
    }
    const character = String.fromCodePoint(rest.codePointAt(0)!);
    const bytes = [...new TextEncoder().encode(character)].map((byte) => vocab.byteIds?.[byte] ?? -1);
    for (const id of bytes) {
      if (!allowedIds(constraint.allowed(), vocab.pieces.length).includes(id)) return null;
      constraint.advance(id);
      ids.push(id);
    }
    rest = rest.slice(character.length);
  }
  return ids;
}

for (const [label, family, make] of tokenizers) {
  describe(`byte-spelled characters (${label})`, () => {
    const tokenizer = make();
    const vocab = buildConstraintVocabulary(tokenizer, family);

    it('finds the single-byte tokens, and spells a rare character of a mention in them', () => {
      expect(vocab.byteIds).toHaveLength(256);
      expect(tokenizer.decode([...new TextEncoder().encode('璐')].map((byte) => vocab.byteIds![byte]!))).toBe('璐');
      for (const character of RARE) expect(vocab.pieces).not.toContain(character);
      const input = '张璐在北京工作。';
      const constraint = new AnswerConstraint(vocab, SCHEMA, input, 'ner');
      const answer = '{"person": ["张璐"], "location": ["北京"]}';
      const ids = writeThrough(constraint, vocab, answer)!;
      expect(ids).not.toBeNull();
      expect(constraint.done).toBe(true);
      expect(constraint.answerText).toBe(answer);
      expect(tokenizer.decode(ids, { skipSpecialTokens: true })).toBe(answer);
      const parsed = parseAnswer(answer, input, SCHEMA);
      expect(parsed.ok && parsed.answer.entities.map((entity) => [entity.type, entity.text])).toEqual([['person', '张璐'], ['location', '北京']]);

      // Without byte tokens in the vocabulary the character cannot be read at all.
      const withoutBytes = new AnswerConstraint({ pieces: vocab.pieces, endId: vocab.endId }, SCHEMA, input, 'ner');
      expect(writeThrough(withoutBytes, vocab, answer)).toBeNull();
    });

    it('between the first and last byte only the next byte is allowed; anything else is refused', () => {
      const constraint = new AnswerConstraint(vocab, SCHEMA, '龘犇', 'ner');
      expect(writeThrough(constraint, vocab, '{"person": ["')).not.toBeNull();
      const bytes = [...new TextEncoder().encode('龘')].map((byte) => vocab.byteIds![byte]!);
      expect(allowedIds(constraint.allowed(), vocab.pieces.length)).toContain(bytes[0]);
      constraint.advance(bytes[0]!);
      expect(allowedIds(constraint.allowed(), vocab.pieces.length)).toEqual([bytes[1]]);
      expect(constraint.answerText).toBe('{"person": ["'); // the character reads only once whole
      expect(() => constraint.advance(vocab.byteIds![0x41]!)).toThrow(ConstraintError);
      constraint.advance(bytes[1]!);
      constraint.advance(bytes[2]!);
      expect(constraint.answerText).toBe('{"person": ["龘');
      // A byte that begins no character of the input is never allowed.
      const foreign = vocab.byteIds![new TextEncoder().encode('é')[0]!]!;
      expect(allowedIds(constraint.allowed(), vocab.pieces.length)).not.toContain(foreign);
    });

    it('random walks over inputs with rare characters: masks equal brute force, every answer parses, no hallucinated span, budgets hold', () => {
      const rng = new Rng(label.length);
      const pick = <T,>(items: readonly T[]): T => items[rng.int(0, items.length)]!;
      let spelledMentions = 0;
      for (let walk = 0; walk < 60; walk++) {
        let input = '';
        for (let index = rng.int(2, 16); index > 0; index--) input += rng.next() < 0.35 ? pick(RARE) : pick(COMMON);
        const inner = new AnswerConstraint(vocab, SCHEMA, input, 'ner');
        const maxTokens = walk % 3 === 0 ? rng.int(4, 30) : 400;
        const constraint = maxTokens < 400 ? withTokenBudget(inner, vocab, maxTokens) : inner;
        const spelled = new Set(RARE.filter((character) => input.includes(character)));
        const leadIds = new Set([...spelled].map((character) => vocab.byteIds![new TextEncoder().encode(character)[0]!]!));
        const freeSteps = rng.int(0, 40);
        const ids: number[] = [];
        let pending = 0; // bytes left of the character being spelled
        for (let step = 0; ; step++) {
          expect(step).toBeLessThan(maxTokens);
          const allowed = allowedIds(constraint.allowed(), vocab.pieces.length);
          expect(allowed.length).toBeGreaterThan(0);
          if (constraint.done) {
            constraint.advance(vocab.endId);
            break;
          }
          if (pending > 0) {
            // Inside a spelled character: one next byte (of each candidate character).
            expect(allowed.every((id) => vocab.pieces[id] === '')).toBe(true);
          } else if (maxTokens === 400) {
            // Brute force between characters: readable pieces, plus first bytes of readable spelled characters.
            const expected = new Set(vocab.pieces.flatMap((piece, id) => (id !== vocab.endId && inner.canRead(piece) ? [id] : [])));
            for (const character of spelled) if (inner.canRead(character)) expected.add(vocab.byteIds![new TextEncoder().encode(character)[0]!]!);
            expect(allowed).toEqual([...expected].sort((a, b) => a - b));
          }
          let choices = allowed;
          if (step >= freeSteps) {
            const closing = allowed.filter((id) => /[\]}"]/.test(vocab.pieces[id]!));
            if (closing.length > 0) choices = closing;
          } else if (allowed.some((id) => leadIds.has(id)) && rng.next() < 0.5) {
            choices = allowed.filter((id) => leadIds.has(id));
          }
          const id = pick(choices);
          constraint.advance(id);
          ids.push(id);
          if (pending > 0) pending--;
          else if (leadIds.has(id) && vocab.pieces[id] === '') {
            const lead = vocab.byteIds!.indexOf(id);
            pending = lead >= 0xf0 ? 3 : lead >= 0xe0 ? 2 : 1;
          }
        }
        expect(pending).toBe(0);
        const text = tokenizer.decode(ids, { skipSpecialTokens: true });
        expect(text.trimStart()).toBe(inner.answerText.trimStart());
        const parsed = parseAnswer(text, input, SCHEMA);
        if (!parsed.ok) throw new Error(`walk ${walk}: ${parsed.error}\nanswer: ${text}\ninput: ${input}`);
        expect(parsed.answer.hallucinated).toEqual([]);
        for (const entity of parsed.answer.entities) {
          expect(input).toContain(entity.text);
          if ([...spelled].some((character) => entity.text.includes(character))) spelledMentions++;
        }
      }
      expect(spelledMentions).toBeGreaterThan(5);
    });
  });
}

describe('byte-spelled characters on real data (resume-ner dev, the demo model tokenizer)', () => {
  it('every gold answer can be written whole; without byte spelling over a third cannot', async () => {
    const tokenizer = await loadCheckpointTokenizer(directorySource('public/models/chatuie-demo'));
    const vocab = buildConstraintVocabulary(tokenizer, 'glm');
    expect(vocab.byteIds).toHaveLength(256);
    const schema = schemaFromDataset(readSplit('resume-ner', 'train').examples);
    const task = inferTaskKind(schema);
    const examples = readSplit('resume-ner', 'dev').examples;
    let withBytes = 0;
    let withoutBytes = 0;
    for (const example of examples) {
      const answer = serializeAnswer(example, schema, task);
      const written = writeThrough(new AnswerConstraint(vocab, schema, example.text, task), vocab, answer);
      if (written !== null) {
        withBytes++;
        expect(tokenizer.decode(written, { skipSpecialTokens: true })).toBe(answer);
      }
      if (writeThrough(new AnswerConstraint({ pieces: vocab.pieces, endId: vocab.endId }, schema, example.text, task), vocab, answer) !== null) withoutBytes++;
    }
    expect(withBytes).toBe(examples.length);
    expect(withoutBytes).toBeLessThan(examples.length * 0.67);
  });
});
