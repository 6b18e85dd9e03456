// The readers on the real datasets: counts as ../shared/data/README.md states them.
import { describe, expect, it } from 'vitest';
import { readSplit, type DatasetName, type SplitName } from '../ie/realdata.ts';

function totals(dataset: DatasetName, split: SplitName) {
  const { examples, problems } = readSplit(dataset, split);
  return {
    sentences: examples.length,
    entities: examples.reduce((sum, example) => sum + example.entities.length, 0),
    relations: examples.reduce((sum, example) => sum + example.relations.length, 0),
    events: examples.reduce((sum, example) => sum + example.events.length, 0),
    arguments: examples.reduce((sum, example) => sum + example.events.reduce((inner, event) => inner + event.arguments.length, 0), 0),
    problems: problems.length,
  };
}

describe('real datasets load with the README counts and no problems', () => {
  it('conll04: 910 / 243 / 288 sentences; train 3,393 entities, 1,273 relations', () => {
    expect(totals('conll04', 'train')).toEqual({ sentences: 910, entities: 3393, relations: 1273, events: 0, arguments: 0, problems: 0 });
    expect(totals('conll04', 'dev')).toMatchObject({ sentences: 243, entities: 877, relations: 353, problems: 0 });
    expect(totals('conll04', 'test')).toMatchObject({ sentences: 288, entities: 1079, relations: 422, problems: 0 });
  });

  it('resume-ner: 3,821 / 463 / 477 sentences; 13,440 train entities', () => {
    expect(totals('resume-ner', 'train')).toEqual({ sentences: 3821, entities: 13440, relations: 0, events: 0, arguments: 0, problems: 0 });
    expect(totals('resume-ner', 'dev')).toMatchObject({ sentences: 463, entities: 1497, problems: 0 });
    expect(totals('resume-ner', 'test')).toMatchObject({ sentences: 477, entities: 1630, problems: 0 });
  });

  it('casie: 10,839 / 1,761 / 3,456 sentences with 5,007 / 1,069 / 2,095 events', () => {
    expect(totals('casie', 'train')).toEqual({ sentences: 10839, entities: 0, relations: 0, events: 5007, arguments: 13026, problems: 0 });
    expect(totals('casie', 'dev')).toMatchObject({ sentences: 1761, events: 1069, arguments: 2668, problems: 0 });
    expect(totals('casie', 'test')).toMatchObject({ sentences: 3456, events: 2095, arguments: 5461, problems: 0 });
  });

  it('wnut17 (CoNLL BIO): 3,394 / 1,009 / 1,287 sentences; one entity per B- tag', () => {
    // Entity counts equal the B- tag counts of the files (train 1,975, dev 836, test 1,079).
    expect(totals('wnut17', 'train')).toEqual({ sentences: 3394, entities: 1975, relations: 0, events: 0, arguments: 0, problems: 0 });
    expect(totals('wnut17', 'dev')).toMatchObject({ sentences: 1009, entities: 836, problems: 0 });
    expect(totals('wnut17', 'test')).toMatchObject({ sentences: 1287, entities: 1079, problems: 0 });
  });

  it('every span of every set repeats the text at its offsets', () => {
    for (const dataset of ['conll04', 'resume-ner', 'casie', 'wnut17'] as const) {
      for (const example of readSplit(dataset, 'dev').examples) {
        for (const entity of example.entities) expect(example.text.slice(entity.start, entity.end)).toBe(entity.text);
        for (const event of example.events) {
          expect(example.text.slice(event.trigger.start, event.trigger.end)).toBe(event.trigger.text);
          for (const argument of event.arguments) expect(example.text.slice(argument.start, argument.end)).toBe(argument.text);
        }
      }
    }
  });

  it('wnut17 sentence text is the tokens joined by single spaces', () => {
    const first = readSplit('wnut17', 'dev').examples[1]!;
    expect(first.id).toBe('wnut17-dev-1');
    expect(first.text.startsWith("You should ' ve stayed on Redondo Beach Blvd .")).toBe(true);
    // "Redondo B-location / Beach I-location / Blvd I-location" after 26 characters of text.
    expect(first.entities[0]).toEqual({ type: 'location', start: 26, end: 44, text: 'Redondo Beach Blvd' });
  });
});
