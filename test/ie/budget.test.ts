// The token budget on the answer constraint: near its end it allows what can still be finished
// in the tokens left (whole words, a relation's two mentions), a generator that picks any allowed
// token (or the one that goes on longest) still ends every answer within maxNewTokens, and a word
// too long for the budget may close where it is.
import { describe, expect, it } from 'vitest';
import { withTokenBudget } from '../../src/ie/budget.ts';
import { AnswerConstraint, createAnswerConstraint, type ConstraintVocabulary } from '../../src/ie/constraint.ts';
import { createMentionMatcher } from '../../src/ie/constraint/mention-matcher.ts';
import { budgetReserve } from '../../src/ie/extract.ts';
import type { IeSchema } from '../../src/ie/schema.ts';
import { allowedIds } from '../helpers/mask.ts';
import { Rng } from '../helpers/random.ts';

const SCHEMA: IeSchema = { entityTypes: ['location', 'person'], relationTypes: [{ name: 'live in' }], eventTypes: [] };

function vocabulary(texts: readonly string[]): ConstraintVocabulary {
  const characters = new Set<string>(' {}[]",:\\/u0123456789abcdefnrt');
  for (const text of [...texts, ...SCHEMA.entityTypes, 'live in']) for (const character of text) characters.add(character);
  return { pieces: ['', ...characters, '"]}', '"]', ']}', 'LANCASTERLANCASTER'], endId: 0 };
}

describe('token budget', () => {
  it('near the end of the budget, it allows what can still be finished in the tokens left, one per character', () => {
    const text = 'LANCASTER , Ky .';
    const base = vocabulary([text]);
    const vocab: ConstraintVocabulary = { pieces: [...base.pieces, 'ANCASTER', 'ANCA', 'LANCASTER'], endId: 0 };
    const id = (piece: string): number => vocab.pieces.indexOf(piece);
    const prefix = ['{', '"', ...'location', '"', ':', ' ', '[', '"', 'L'];
    const reserve = budgetReserve(SCHEMA);
    const pieces = (constraint: { allowed(): Uint32Array }): string[] => allowedIds(constraint.allowed()).map((tokenId) => vocab.pieces[tokenId]!).sort();
    // Within the reserve, "L" goes on to the end of its word however it is cut ("L" cannot close: not a word).
    const loose = withTokenBudget(createAnswerConstraint(vocab, SCHEMA, text), vocab, prefix.length + reserve, reserve);
    for (const piece of prefix) loose.advance(id(piece));
    expect(pieces(loose)).toEqual(['A', 'ANCA', 'ANCASTER']);
    // The cost after "L": "ANCASTER" (8), the quote, "]}" and the end token.
    const inner = createAnswerConstraint(vocab, SCHEMA, text) as AnswerConstraint;
    for (const piece of prefix) inner.advance(id(piece));
    expect(inner.closingCost).toBe(8 + 1 + 2 + 1);
    inner.advance(id('ANCASTER'));
    expect(inner.closingCost).toBe(1 + 2 + 1);
    // Reached in one token with 5 left (1 more than its cost), the word's end allows only the
    // tokens that close: not " " (on to "LANCASTER ,", which would cost 5 after it); with 6 left, " " too.
    const opening = prefix.slice(0, -1);
    const wordEnd = (left: number): string[] => {
      const constraint = withTokenBudget(createAnswerConstraint(vocab, SCHEMA, text), vocab, opening.length + 1 + left, reserve);
      for (const piece of [...opening, 'LANCASTER']) constraint.advance(id(piece));
      return pieces(constraint);
    };
    expect(wordEnd(5)).toEqual(['"', '"]', '"]}']);
    expect(wordEnd(6)).toContain(' ');
  });

  it('a mention too long for the budget: it first offers the tokens that finish the word in one, then closes where it is', () => {
    const text = 'LANCASTERLANCASTERLANCASTERLANCASTERLANCASTER , Ky .';
    const base = vocabulary([text]);
    const vocab: ConstraintVocabulary = { pieces: [...base.pieces, 'ANCASTERLANCASTERLANCASTERLANCASTERLANCASTER', 'ANCA'], endId: 0 };
    const id = (piece: string): number => vocab.pieces.indexOf(piece);
    const prefix = ['{', '"', ...'location', '"', ':', ' ', '[', '"', 'L'];
    const reserve = budgetReserve(SCHEMA);
    const constraint = withTokenBudget(createAnswerConstraint(vocab, SCHEMA, text), vocab, prefix.length + reserve, reserve);
    for (const piece of prefix) constraint.advance(id(piece));
    expect(allowedIds(constraint.allowed()).map((tokenId) => vocab.pieces[tokenId])).toEqual(['ANCASTERLANCASTERLANCASTERLANCASTERLANCASTER']);
    constraint.advance(id('ANCASTERLANCASTERLANCASTERLANCASTERLANCASTER'));
    expect(allowedIds(constraint.allowed()).map((tokenId) => vocab.pieces[tokenId])).toContain('"]}');
    // Without a token that finishes the word, the mention may close where it is.
    const bare = withTokenBudget(createAnswerConstraint(base, SCHEMA, text), base, prefix.length + reserve, reserve);
    for (const piece of prefix) bare.advance(base.pieces.indexOf(piece));
    expect(allowedIds(bare.allowed()).map((tokenId) => base.pieces[tokenId])).toContain('"]}');
  });

  it('a relation begun near the end of the budget still gets whole words in both its mentions', () => {
    const rng = new Rng(5);
    const texts = ['Ada met Bob in Paris .', 'LANCASTER , Ky .', 'KARBALA , Iraq ( AP )'];
    const vocab = vocabulary(texts);
    const reserve = budgetReserve(SCHEMA);
    for (const text of texts) {
      const words = createMentionMatcher(text, 'words');
      for (const extra of [0, 3, 8, 20]) {
        for (let trial = 0; trial < 10; trial++) {
          const opening = ['{', ...'"live in": [["'];
          // The relation rule off, so that a relation can open the answer (with it, relations take
          // entities of the answer, which are whole words anyway).
          const constraint = withTokenBudget(createAnswerConstraint(vocab, SCHEMA, text, undefined, { freeRelationArguments: true }), vocab, opening.length + extra + 14, reserve);
          for (const piece of opening) constraint.advance(vocab.pieces.indexOf(piece));
          let answer = opening.join('');
          for (let used = opening.length; ; used++) {
            expect(used, `over budget: ${answer}`).toBeLessThan(opening.length + extra + 14);
            const ids = allowedIds(constraint.allowed());
            // A rambling generator: anything but a closer or the end token while it can.
            const rambling = ids.filter((tokenId) => tokenId !== vocab.endId && !/^["\]}]/.test(vocab.pieces[tokenId]!));
            const pool = rambling.length > 0 ? rambling : ids;
            const tokenId = pool[rng.int(0, pool.length)]!;
            constraint.advance(tokenId);
            if (tokenId === vocab.endId) break;
            answer += vocab.pieces[tokenId]!;
          }
          const mentions = (JSON.parse(answer) as Record<string, string[][]>)['live in']!.flat();
          for (const mention of mentions) {
            let state = 0;
            for (let index = 0; index < mention.length && state >= 0; index++) state = words.next(state, mention.charCodeAt(index));
            expect(state >= 0 && words.canEnd(state), `${JSON.stringify(mention)} of ${JSON.stringify(text)} is not a run of whole words (${answer})`).toBe(true);
          }
        }
      }
    }
  });

  it('ends every answer within maxNewTokens, even when the generator would go on inside a long word', () => {
    const rng = new Rng(3);
    const texts = ['LANCASTERLANCASTERLANCASTERLANCASTER , Ky .', 'Ada met Bob in Paris .', '我住在北京市。', 'supercalifragilisticexpialidocious words'];
    const vocab = vocabulary(texts);
    for (const text of texts) {
      for (const maxTokens of [30, 45, 80]) {
        for (let trial = 0; trial < 20; trial++) {
          const constraint = withTokenBudget(createAnswerConstraint(vocab, SCHEMA, text), vocab, maxTokens, budgetReserve(SCHEMA));
          let used = 0;
          let ended = false;
          while (used < maxTokens) {
            const ids = allowedIds(constraint.allowed());
            expect(ids.length, `dead end in ${JSON.stringify(text)}`).toBeGreaterThan(0);
            // Half the trials ramble: never the end token or a closer when anything else is allowed.
            const rambling = trial % 2 === 0 ? ids.filter((id) => id !== vocab.endId && !vocab.pieces[id]!.startsWith('"') && !vocab.pieces[id]!.startsWith(']') && !vocab.pieces[id]!.startsWith('}')) : [];
            const pool = rambling.length > 0 ? rambling : ids;
            const id = pool[rng.int(0, pool.length)]!;
            constraint.advance(id);
            used++;
            if (id === vocab.endId) {
              ended = true;
              break;
            }
          }
          expect(ended, `no end within ${maxTokens} tokens for ${JSON.stringify(text)}`).toBe(true);
        }
      }
    }
  });
});
