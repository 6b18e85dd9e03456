// Gold -> answer text -> parser -> metrics must be exactly 1.0 on the real datasets: the answer
// format and its occurrence rules lose nothing.
import { describe, expect, it } from 'vitest';
import { inferTaskKind, parseAnswer, serializeAnswer, type IeTaskKind } from '../../src/ie/answer.ts';
import { scoreExtractions, type IeMetrics } from '../../src/ie/metrics.ts';
import { schemaFromDataset } from '../../src/ie/schema.ts';
import { extractionOf } from '../../src/ie/spans.ts';
import { readSplit, type DatasetName } from './realdata.ts';

function roundTrip(dataset: DatasetName, task?: IeTaskKind): { metrics: IeMetrics; explicit: number } {
  const examples = readSplit(dataset, 'dev').examples;
  const schema = schemaFromDataset(readSplit(dataset, 'train').examples);
  let explicit = 0;
  const metrics = scoreExtractions(
    examples.map((gold) => {
      const answer = serializeAnswer(gold, schema, task ?? inferTaskKind(schema));
      explicit += (answer.match(/", \d+\]/g) ?? []).length;
      return { gold: extractionOf(gold), predicted: parseAnswer(answer, gold.text, schema) };
    }),
  );
  return { metrics, explicit };
}

function expectPerfect(metrics: IeMetrics, tables: ('entities' | 'relations' | 'relationsStrict' | 'triggers' | 'arguments')[]): void {
  expect(metrics.malformedAnswers).toBe(0);
  expect(metrics.hallucinated.count).toBe(0);
  for (const table of tables) {
    expect(metrics[table].overall.gold, table).toBeGreaterThan(0);
    expect(metrics[table].overall.f1, table).toBe(1);
    for (const score of Object.values(metrics[table].byType)) expect(score.f1).toBe(1);
  }
}

describe('round trip gold → answer → spans on the dev sets', () => {
  it('conll04 (entities + relations, strict with entity types)', () => {
    const { metrics, explicit } = roundTrip('conll04');
    expectPerfect(metrics, ['entities', 'relations', 'relationsStrict']);
    expect(metrics.entities.overall.gold).toBe(877);
    expect(metrics.relations.overall.gold).toBe(353);
    // The plain-string rules place almost every mention; [string, n] stays rare.
    expect(explicit / metrics.hallucinated.mentions).toBeLessThan(0.03);
  });

  it('conll04 relations only (arguments resolved in the text)', () => {
    const { metrics } = roundTrip('conll04', 're');
    expectPerfect(metrics, ['relations']);
    expect(metrics.entities.overall.predicted).toBe(0);
  });

  it('resume-ner (Chinese entities)', () => {
    const { metrics, explicit } = roundTrip('resume-ner');
    expectPerfect(metrics, ['entities']);
    expect(metrics.entities.overall.gold).toBe(1497);
    expect(explicit).toBe(0);
  });

  it('casie (event triggers and arguments)', () => {
    const { metrics } = roundTrip('casie');
    expectPerfect(metrics, ['triggers', 'arguments']);
    expect(metrics.triggers.overall.gold).toBe(1069);
  });

  it('wnut17 (CoNLL BIO entities)', () => {
    const { metrics } = roundTrip('wnut17');
    expectPerfect(metrics, ['entities']);
    expect(metrics.entities.overall.gold).toBe(836);
  });
});
