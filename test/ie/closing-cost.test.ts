// The budget's cost model (src/ie/constraint/closing-cost.ts) against its definition: from every
// state reached by random walks, the closing cost is 1 at a finished answer and otherwise
// 1 + the least cost after any allowed one-character token other than the escape "\" (Bellman's
// equation for shortest paths), for entity, relation and event schemas, words and any-substring
// mentions, texts with quotes in them and without. A state that only an escape leads on from
// costs INFINITE_COST (the budget never enters one). The entity repeat rule is off here, as it is
// wherever the budget uses this model (its reserve lifts the rule). The relation rule stays on in
// the reserve: with it the cost is an upper bound that some one-character token lowers by at least
// one (what the budget needs), not always the exact shortest path (the second test).
import { describe, expect, it } from 'vitest';
import { AnswerConstraint, type ConstraintVocabulary } from '../../src/ie/constraint.ts';
import { INFINITE_COST } from '../../src/ie/constraint/closing-cost.ts';
import type { MentionBoundaries } from '../../src/ie/constraint/mention-matcher.ts';
import type { IeSchema } from '../../src/ie/schema.ts';
import { allowedIds } from '../helpers/mask.ts';
import { Rng } from '../helpers/random.ts';

const SCHEMAS: IeSchema[] = [
  { entityTypes: ['location', 'person'], relationTypes: [{ name: 'live in' }], eventTypes: [] },
  { entityTypes: [], relationTypes: [], eventTypes: [{ name: 'Attack', roles: ['Attacker', 'Victim'] }, { name: 'Ransom', roles: ['Price'] }] },
];
const TEXTS = ['Ada met Bob in Paris .', 'LANCASTER , Ky .', 'He said " no " twice', 'IBM paid $ 5 million'];

function vocabulary(): ConstraintVocabulary {
  const characters = new Set<string>(' {}[]",:\\/u0123456789abcdefnrt');
  for (const text of [...TEXTS, ...SCHEMAS.flatMap((s) => [...s.entityTypes, ...s.relationTypes.map((r) => r.name), ...s.eventTypes.flatMap((e) => [e.name, ...e.roles])]), 'trigger']) {
    for (const character of text) characters.add(character);
  }
  return { pieces: ['', ...characters, '"]}', '", "', 'Paris', 'LANCASTER'], endId: 0 };
}

describe('closing cost of the token budget', () => {
  it('satisfies its shortest-path equation over one-character tokens in every state random walks reach', () => {
    const vocab = vocabulary();
    const rng = new Rng(11);
    const singles = vocab.pieces.map((piece, id) => ({ piece, id })).filter(({ piece, id }) => id !== vocab.endId && piece.length === 1 && piece !== '\\');
    let checked = 0;
    let finite = 0;
    for (const schema of SCHEMAS) {
      for (const text of TEXTS) {
        for (const boundaries of ['words', 'anywhere'] as MentionBoundaries[]) {
          // Exact shortest paths: both rules off.
          const fresh = (): AnswerConstraint => new AnswerConstraint(vocab, schema, text, schema.eventTypes.length > 0 ? 'ee' : 'ner-re', { mentionBoundaries: boundaries, allowRepeatedEntities: true, freeRelationArguments: true });
          for (let walk = 0; walk < 12; walk++) {
            const path: number[] = [];
            const constraint = fresh();
            for (let step = 0; step < 40 && !constraint.done; step++) {
              const cost = constraint.closingCost;
              let best = Infinity;
              for (const { id } of singles) {
                if (!allowedIds(constraint.allowed()).includes(id)) continue;
                const next = fresh();
                for (const token of path) next.advance(token);
                next.advance(id);
                best = Math.min(best, next.closingCost);
              }
              const where = `${JSON.stringify(text)} (${boundaries}) after ${JSON.stringify(constraint.answerText)}`;
              // Only an escape leads on from "said " in 'He said " no "': such states cost INFINITE_COST.
              if (cost >= INFINITE_COST) expect(best, where).toBeGreaterThanOrEqual(INFINITE_COST);
              else expect(cost, where).toBe(1 + best);
              checked++;
              if (cost < INFINITE_COST) finite++;
              const ids = allowedIds(constraint.allowed()).filter((id) => id !== vocab.endId);
              const id = ids[rng.int(0, ids.length)]!;
              // Stay out of escapes (their states cost "infinitely": the budget never enters one).
              if (vocab.pieces[id] === '\\') break;
              constraint.advance(id);
              path.push(id);
            }
            if (constraint.done) expect(constraint.closingCost).toBe(1);
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(400);
    expect(finite).toBeGreaterThan(0.9 * checked);
  });

  it('with the relation rule on, stays an upper bound that some one-character token lowers by at least one', () => {
    // The rule stays on in the budget's reserve: a relation argument costs its candidates (the
    // entities the answer named), the tail at most the dearest cheapest tail of the affordable heads.
    const schema: IeSchema = {
      entityTypes: ['location', 'person'],
      relationTypes: [{ name: 'live in', headTypes: ['person'], tailTypes: ['location'] }, { name: 'kill', headTypes: ['person'], tailTypes: ['person'] }],
      eventTypes: [],
    };
    const texts = ['Ada met Bob in Paris .', 'Bo and Alexandra met in Rome and Paris', 'He said " no " to Ada in Rome'];
    // Half the walks start with the entities written, so that many reach the relations.
    const named = ['{"location": ["Paris"], "person": ["Ada", "Bob"], ', '{"location": ["Rome", "Paris"], "person": ["Alexandra", "Bo"], ', '{"location": ["Rome"], "person": ["Ada", "He"], '];
    const characters = new Set<string>(' {}[]",:\\/u0123456789abcdefnrt');
    for (const text of [...texts, 'location person live in kill']) for (const character of text) characters.add(character);
    const vocab: ConstraintVocabulary = { pieces: ['', ...characters, '"]}', '", "', 'Paris'], endId: 0 };
    const singles = vocab.pieces.map((piece, id) => ({ piece, id })).filter(({ piece, id }) => id !== vocab.endId && piece.length === 1 && piece !== '\\');
    const rng = new Rng(12);
    let relationStates = 0;
    let checked = 0;
    for (const [textIndex, text] of texts.entries()) {
      /** The constraint after `answer`, read one character (token) at a time. */
      const replay = (answer: string): AnswerConstraint => {
        const constraint = new AnswerConstraint(vocab, schema, text, 'ner-re', { mentionBoundaries: 'words', allowRepeatedEntities: true });
        for (const character of answer) constraint.advance(vocab.pieces.indexOf(character));
        return constraint;
      };
      const cheapestNext = (constraint: AnswerConstraint): { piece: string; cost: number } => {
        const allowed = allowedIds(constraint.allowed());
        let best = { piece: '', cost: Infinity };
        for (const { id, piece } of singles) {
          if (!allowed.includes(id)) continue;
          const cost = replay(constraint.answerText + piece).closingCost;
          if (cost < best.cost) best = { piece, cost };
        }
        return best;
      };
      for (let walk = 0; walk < 30; walk++) {
        const constraint = replay(walk % 2 === 0 ? '' : named[textIndex]!);
        for (let step = 0; step < 70 && !constraint.done; step++) {
          const cost = constraint.closingCost;
          const where = `${JSON.stringify(text)} after ${JSON.stringify(constraint.answerText)}`;
          if (cost < INFINITE_COST) {
            // Consistent: a one-character token lowers it by at least one ...
            expect(cheapestNext(constraint).cost, where).toBeLessThanOrEqual(cost - 1);
            // ... and an upper bound: descending greedily finishes in at most `cost` tokens, the end token included.
            if (step % 3 === 0) {
              let descent = constraint;
              let used = 1;
              while (!descent.done) {
                descent = replay(descent.answerText + cheapestNext(descent).piece);
                used++;
              }
              expect(used, `${where}: finished as ${descent.answerText}`).toBeLessThanOrEqual(cost);
            }
            if (/\[\["[^\]]*$/.test(constraint.answerText)) relationStates++;
            checked++;
          }
          const ids = allowedIds(constraint.allowed()).filter((id) => id !== vocab.endId);
          const id = ids[rng.int(0, ids.length)]!;
          if (vocab.pieces[id] === '\\') break;
          constraint.advance(id);
        }
      }
    }
    expect(checked).toBeGreaterThan(1000);
    expect(relationStates).toBeGreaterThan(200);
  });
});

