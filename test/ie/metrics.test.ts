import { describe, expect, it } from 'vitest';
import { parseAnswer, serializeAnswer } from '../../src/ie/answer.ts';
import { IeMetricsAccumulator, formatMetricsTable, prf, scoreExtractions } from '../../src/ie/metrics.ts';
import type { IeSchema } from '../../src/ie/schema.ts';
import { extractionOf, type IeExample } from '../../src/ie/spans.ts';

const SCHEMA: IeSchema = {
  entityTypes: ['person', 'location'],
  relationTypes: [{ name: 'live in', headTypes: ['person'], tailTypes: ['location'] }],
  eventTypes: [{ name: 'Attack', roles: ['Attacker', 'Target'] }],
};

const TEXT = 'Ada lived in London ; Bob lived in Paris .';
const GOLD: IeExample = {
  id: 'g',
  text: TEXT,
  entities: [
    { type: 'person', start: 0, end: 3, text: 'Ada' },
    { type: 'location', start: 13, end: 19, text: 'London' },
    { type: 'person', start: 22, end: 25, text: 'Bob' },
    { type: 'location', start: 35, end: 40, text: 'Paris' },
  ],
  relations: [
    { type: 'live in', head: 0, tail: 1 },
    { type: 'live in', head: 2, tail: 3 },
  ],
  events: [],
};

describe('prf', () => {
  it('computes P, R, F1 and is 0 on empty denominators', () => {
    expect(prf(2, 4, 8)).toEqual({ tp: 2, predicted: 4, gold: 8, precision: 0.5, recall: 0.25, f1: 1 / 3 });
    expect(prf(0, 0, 3)).toMatchObject({ precision: 0, recall: 0, f1: 0 });
  });
});

describe('strict micro metrics', () => {
  it('scores a perfect answer 1.0 everywhere', () => {
    const metrics = scoreExtractions([{ gold: extractionOf(GOLD), predicted: parseAnswer(serializeAnswer(GOLD, SCHEMA, 'ner-re'), TEXT, SCHEMA) }]);
    for (const table of [metrics.entities, metrics.relations, metrics.relationsStrict]) expect(table.overall.f1).toBe(1);
    expect(metrics.malformedAnswers).toBe(0);
    expect(metrics.hallucinated).toEqual({ count: 0, mentions: 8, byKind: {} });
  });

  it('counts wrong types, wrong spans, missing and hallucinated mentions', () => {
    // person Ada ok; London typed person (wrong type); "Bob lived" (wrong span); Paris missing;
    // "Rome" hallucinated; one relation right, one with a wrong tail; one untyped relation argument.
    const answer = '{"person": ["Ada", "London", "Bob lived", "Rome"], "live in": [["Ada", "London"], ["Bob", "Paris"]]}';
    const parsed = parseAnswer(answer, TEXT, SCHEMA);
    expect(parsed.ok).toBe(true);
    const metrics = scoreExtractions([{ gold: extractionOf(GOLD), predicted: parsed }]);
    expect(metrics.entities.overall).toMatchObject({ tp: 1, predicted: 3, gold: 4 });
    expect(metrics.entities.byType.person).toMatchObject({ tp: 1, predicted: 3, gold: 2 });
    expect(metrics.entities.byType.location).toMatchObject({ tp: 0, predicted: 0, gold: 2 });
    // Relations by spans: both are right ("Bob" and "Paris" are found in the text).
    expect(metrics.relations.overall).toMatchObject({ tp: 2, predicted: 2, gold: 2 });
    // Strict: Ada-London has London typed person (wrong); Bob/Paris are no entities of the answer.
    expect(metrics.relationsStrict.overall).toMatchObject({ tp: 0, predicted: 2, gold: 2 });
    expect(metrics.hallucinated).toMatchObject({ count: 1, mentions: 8, byKind: { entity: 1 } });
  });

  it('counts malformed answers and their issues, scoring what could be read', () => {
    const accumulator = new IeMetricsAccumulator();
    accumulator.add(extractionOf(GOLD), parseAnswer('{"person": ["Ada", "Bo', TEXT, SCHEMA)); // truncated
    accumulator.add(extractionOf(GOLD), parseAnswer('{"person": "Ada"}', TEXT, SCHEMA)); // wrong type
    accumulator.add(extractionOf(GOLD), parseAnswer('{"city": ["Paris"], "location": ["Paris"]}', TEXT, SCHEMA)); // unknown type
    accumulator.add(extractionOf(GOLD), parseAnswer('{"location": ["Berlin"]}', TEXT, SCHEMA)); // not in text: not malformed
    const metrics = accumulator.result();
    expect(metrics.examples).toBe(4);
    expect(metrics.malformedAnswers).toBe(3);
    expect(metrics.issues).toEqual({ syntax: 1, 'wrong-shape': 1, 'unknown-type': 1 });
    expect(metrics.entities.overall).toMatchObject({ tp: 2, predicted: 2, gold: 16 });
    expect(metrics.hallucinated).toMatchObject({ count: 1, mentions: 3 });
  });

  it('scores triggers by span + event type and arguments by span + role + event type', () => {
    const text = 'Rebels attacked the fort and attacked the town .';
    const gold: IeExample = {
      id: 'ev',
      text,
      entities: [],
      relations: [],
      events: [
        { type: 'Attack', trigger: { start: 7, end: 15, text: 'attacked' }, arguments: [{ role: 'Attacker', start: 0, end: 6, text: 'Rebels' }, { role: 'Target', start: 16, end: 24, text: 'the fort' }] },
        { type: 'Attack', trigger: { start: 29, end: 37, text: 'attacked' }, arguments: [{ role: 'Target', start: 38, end: 46, text: 'the town' }] },
      ],
    };
    const answer = '{"Attack": [{"trigger": "attacked", "Attacker": ["Rebels"], "Target": ["the town"]}, {"trigger": "attacked", "Attacker": ["Rebels"]}]}';
    const metrics = scoreExtractions([{ gold: extractionOf(gold), predicted: parseAnswer(answer, text, SCHEMA) }]);
    expect(metrics.triggers.overall).toMatchObject({ tp: 2, predicted: 2, gold: 2 });
    // Rebels/Attacker counted once (duplicates within an example count once); "the town" is right.
    expect(metrics.arguments.overall).toMatchObject({ tp: 2, predicted: 2, gold: 3 });
    expect(metrics.arguments.byType['Attack / Target']).toMatchObject({ tp: 1, predicted: 1, gold: 2 });
    expect(formatMetricsTable(metrics)).toMatch(/Event arguments[\s\S]*Attack \/ Target +100\.00 +50\.00 +66\.67/);
  });
});
