// The token budget on the answer constraint: a generator that picks any allowed token (or the
// one that goes on longest) still ends every answer within maxNewTokens, with word-boundary
// mentions too (an open mention may close inside a word once the budget runs out).
import { describe, expect, it } from 'vitest';
import { withTokenBudget } from '../../src/ie/budget.ts';
import { createAnswerConstraint, type ConstraintVocabulary } from '../../src/ie/constraint.ts';
import { budgetReserve } from '../../src/ie/extract.ts';
import type { IeSchema } from '../../src/ie/schema.ts';
import { Rng } from '../helpers/random.ts';

const SCHEMA: IeSchema = { entityTypes: ['location', 'person'], relationTypes: [{ name: 'live in' }], eventTypes: [] };

function vocabulary(texts: readonly string[]): ConstraintVocabulary {
  const characters = new Set<string>(' {}[]",:\\/u0123456789abcdefnrt');
  for (const text of [...texts, ...SCHEMA.entityTypes, 'live in']) for (const character of text) characters.add(character);
  return { pieces: ['', ...characters, '"]}', '"]', ']}', 'LANCASTERLANCASTER'], endId: 0 };
}

function allowedIds(mask: Uint32Array): number[] {
  const ids: number[] = [];
  mask.forEach((word, index) => {
    for (let bit = 0; bit < 32; bit++) if ((word >>> bit) & 1) ids.push(index * 32 + bit);
  });
  return ids;
}

describe('token budget', () => {
  it('inside a word when the budget runs low, it first offers the tokens that finish the word, then closes', () => {
    const text = 'LANCASTER , Ky .';
    const base = vocabulary([text]);
    const vocab: ConstraintVocabulary = { pieces: [...base.pieces, 'ANCASTER', 'ANCA'], endId: 0 };
    const id = (piece: string): number => vocab.pieces.indexOf(piece);
    const prefix = ['{', '"', ...'location', '"', ':', ' ', '[', '"', 'L'];
    const reserve = budgetReserve(SCHEMA);
    const constraint = withTokenBudget(createAnswerConstraint(vocab, SCHEMA, text), vocab, prefix.length + reserve, reserve);
    for (const piece of prefix) constraint.advance(id(piece));
    // "L" cannot close (not a word of the text); "ANCASTER" finishes the word, "ANCA" and "A" do not.
    expect(allowedIds(constraint.allowed()).map((tokenId) => vocab.pieces[tokenId])).toEqual(['ANCASTER']);
    constraint.advance(id('ANCASTER'));
    expect(allowedIds(constraint.allowed()).map((tokenId) => vocab.pieces[tokenId])).toEqual(['"]}']);
    constraint.advance(id('"]}'));
    expect(constraint.done).toBe(true);
    // Without a token that finishes the word, the mention closes where it is.
    const bare = withTokenBudget(createAnswerConstraint(base, SCHEMA, text), base, prefix.length + reserve, reserve);
    for (const piece of prefix) bare.advance(base.pieces.indexOf(piece));
    expect(allowedIds(bare.allowed()).map((tokenId) => base.pieces[tokenId])).toEqual(['"]}']);
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
